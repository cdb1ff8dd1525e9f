"""层层加码: a street forwards a district notice with an earlier deadline or more work. Both deadlines are
kept, the task is due at the earlier one, and the receipt, the console and the digest say so."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from classifiers import classify, load_rules
from intake.reports.render import render_markdown
from intake.store.models import TASKS
from intake.store.values import Role
from tests.console_support import add_user, login
from tests.peer import MovingClock, WeChatPeer

TZ = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 11, 27, 10, 0, tzinfo=TZ)
FORWARD = ("【示范街道】转发区民政局通知:请各社区于12月10日前报送高龄老人花名册。"
           "街道要求:请各社区于12月5日前报街道,另请附入户照片。")


def test_a_forward_with_an_earlier_deadline_is_due_then_and_keeps_the_issuers_date() -> None:
    c = classify(FORWARD, now=NOW, sender_department="街道办", rules=load_rules())
    assert c.department == "民政局"
    assert (c.deadline, c.issuer_deadline) == (dt.date(2026, 12, 5), dt.date(2026, 12, 10))
    assert c.escalation == ("deadline", "work")
    assert "照片" in c.evidence["forwarding"].words


def test_a_plain_forward_or_a_notice_of_ones_own_is_not_escalated() -> None:
    rules = load_rules()
    plain = classify("【示范街道】转发区民政局通知:请各社区于12月10日前报送高龄老人花名册。", now=NOW,
                     sender_department="街道办", rules=rules)
    own = classify("【区民政局】请各社区于12月10日前报送高龄老人花名册,12月5日前报初稿。", now=NOW,
                   sender_department="民政局", rules=rules)
    assert plain.escalation == () and plain.deadline == dt.date(2026, 12, 10) and plain.issuer_deadline is None
    assert own.escalation == ()


async def test_the_street_clerks_forward_is_flagged_in_receipt_console_and_digest(aiohttp_client: Any,
                                                                                 settings: Any, engine: Any) -> None:
    from bot.app import create_app
    from intake.reports.digest import build_digest
    from tests.bot.test_intake_chat import bound

    client = await aiohttp_client(create_app(settings, background=False, clock=MovingClock(NOW.timestamp())))
    clerk = await bound(client, WeChatPeer(settings), "o-street-clerk", Role.clerk, "街道办")
    receipt = (await clerk.say(FORWARD, at=NOW)).content
    assert "层层加码:街道办转发时提前截止时间、增加工作" in receipt
    assert "按转发要求 12月5日 截止(原通知截止 12月10日)" in receipt
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(TASKS).where(TASKS.c.department == "民政局"))).one()
        digest = await build_digest(conn, month="2026-11", community=None, settings=settings, now=NOW)
    assert (row.deadline, row.issuer_deadline, row.forwarded_by) == (dt.date(2026, 12, 5), dt.date(2026, 12, 10),
                                                                     "街道办")
    assert row.forwarded_by_id is not None and row.escalation == ["deadline", "work"]
    assert digest.escalations == (("街道办", 1),)
    assert "层层加码(转发时提前截止或增加工作):街道办 1 件" in render_markdown(digest)
    await add_user(engine)
    await login(client)
    page = await (await client.get(f"/admin/tasks/{row.code}")).text()
    assert 'id="escalation"' in page and "原通知截止 12月10日" in page
