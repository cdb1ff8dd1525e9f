"""层层加码 in the yearly report: a street office's forwards, taken in through the chat edge, are counted per
forwarding office in 存在问题 with the worst case quoted, and the advice names the office. The counts are
held to the log."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from intake.reports.burden import build_burden_report
from intake.reports.burden_render import render_markdown
from intake.reports.measures import ESCALATED
from intake.store.models import TASKS
from intake.store.values import Role
from tests.peer import MovingClock, WeChatPeer

TZ = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 11, 27, 10, 0, tzinfo=TZ)
FORWARDS = (
    # five days earlier, and photos the issuer did not ask for
    "【示范街道】转发区民政局通知:请各社区于12月10日前报送高龄老人花名册。街道要求:请各社区于12月5日前报街道,另请附入户照片。",
    # two days earlier only
    "【示范街道】转发区卫健委通知:请各社区于12月18日前报送家庭医生签约台账。街道要求:请各社区于12月16日前报街道。",
    # a plain forward: no 层层加码
    "【示范街道】转发区人社局通知:请各社区于12月20日前报送就业困难人员名单。",
)


async def test_forwards_that_add_are_counted_per_office_with_the_worst_quoted(aiohttp_client: Any, settings: Any,
                                                                             engine: Any) -> None:
    from bot.app import create_app
    from tests.bot.test_intake_chat import bound

    client = await aiohttp_client(create_app(settings, background=False, clock=MovingClock(NOW.timestamp())))
    clerk = await bound(client, WeChatPeer(settings), "o-street-clerk", Role.clerk, "街道办")
    for i, text in enumerate(FORWARDS):
        await clerk.say(text, at=NOW + dt.timedelta(minutes=i))
    async with engine.connect() as conn:
        logged = (await conn.execute(sa.select(TASKS.c.code, TASKS.c.deadline, TASKS.c.issuer_deadline)
                                     .where(TASKS.c.forwarded_by_id.is_not(None), ESCALATED)
                                     .order_by(TASKS.c.id))).all()
        report = await build_burden_report(conn, year=2026, scope=None, settings=settings, item_texts={}, now=NOW)
    assert len(logged) == 2  # the plain forward is not 层层加码
    (office,) = report.forwarding
    assert office.office.endswith("街道办")
    assert (office.escalated, office.earlier, office.added_work, office.most_days) == (2, 2, 1, 5)
    assert report.forwarding_total == len(logged)
    worst = report.forwarding_quotes[0]
    assert worst.code == logged[0].code  # five days earlier, and more work: quoted first
    assert worst.note == "原通知截止12月10日,转发要求12月5日截止,提前5天,转发时另加工作"
    text = render_markdown(report)
    assert f"层层加码(转发时提前截止时间或增加工作)2件:{office.office} 2 件(提前截止2件、增加工作1件,最多提前5天)" in text
    assert f"> {worst.code}({office.office}转发民政局)" in text
    advice = next(r for r in report.recommendations if r.topic == "层层加码")
    assert f"{office.office}(2)" in advice.text and "最多提前5天" in advice.text and advice.source == "Q8"
    assert any(s.id == "Q8" for s in report.sources)


async def test_a_year_without_forwards_says_so_and_advises_nothing_about_them(settings: Any, engine: Any) -> None:
    async with engine.connect() as conn:
        report = await build_burden_report(conn, year=2026, scope=None, settings=settings, item_texts={}, now=NOW)
    assert report.forwarding == () and "层层加码(转发时提前截止时间或增加工作):全年没有。" in render_markdown(report)
    assert all(r.topic != "层层加码" for r in report.recommendations)
