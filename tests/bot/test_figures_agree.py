"""Every page and format shows the same figures for the same month: the dashboard, the digest page and its
JSON and workbook, and the chat digest. One month is seeded with every case the figures define."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from bot.keys import SERVICES
from intake.reports.figures import NO_DEPARTMENT, Scope, ScopeKind, get_figures
from intake.reports.monthly import send_monthly_digests
from intake.store.models import COMMUNITIES, OUTBOX
from intake.store.models import TASK_TARGETS as TARGETS
from tests.conftest import make_settings
from tests.console_support import add_user, build_app, login
from tests.fake_wechat_api import add_task, at, insert, running_services

D = dt.date
FIGURE = re.compile(r'<b data-figure="(\w+)">([^<]*)</b>')


@pytest.fixture
def settings(sqlite_url):
    return make_settings(sqlite_url)


async def seed(engine: Any) -> None:
    async with engine.connect() as conn:
        ids = dict((await conn.execute(sa.select(COMMUNITIES.c.name, COMMUNITIES.c.id))).all())
    xf, hp = ids["幸福社区"], ids["和平社区"]
    # assist, unfunded, 400 households, both communities: 幸福 done on time, 和平 done late
    _, (t_xf, t_hp) = await add_task(engine, received_at=at("2025-11-03 10:00"), community_ids=[xf, hp],
                                     due=D(2025, 11, 20), kind="survey", quantity_value=400, quantity_unit="户")
    async with engine.begin() as conn:
        for target, done in ((t_xf, at("2025-11-20 18:00")), (t_hp, at("2025-11-22 10:00"))):
            await conn.execute(sa.update(TARGETS).where(TARGETS.c.id == target).values(status="done", done_at=done))
    # negative list, admitted by an admin (accepted): not refused; short notice; still open after its due day
    await add_task(engine, received_at=at("2025-11-10 09:00"), community_ids=[xf], due=D(2025, 11, 12),
                   listing="negative", short_notice=True, department="城管局")
    # negative list, refused
    await add_task(engine, received_at=at("2025-11-11 09:00"), community_ids=[xf], listing="negative",
                   status="refused", target_status="refused", department="城管局", kind="levy")
    # assist, unfunded but withdrawn: not counted as unfunded
    await add_task(engine, received_at=at("2025-11-12 09:00"), community_ids=[hp], status="withdrawn",
                   target_status="withdrawn")
    # a duplicate, without a department, service
    await add_task(engine, received_at=at("2025-11-13 09:00"), community_ids=[xf, hp], department=None,
                   kind="service", nature="service", listing="duty", duplicate_of=1, funded=True)
    await add_task(engine, received_at=at("2025-10-13 09:00"), community_ids=[xf])  # the trend's October


def _dashboard(html: str) -> dict[str, str]:
    return dict(FIGURE.findall(html))


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


async def test_dashboard_digest_workbook_and_chat_show_the_same_figures(aiohttp_client, settings) -> None:
    client = await aiohttp_client(build_app(settings))
    services = client.server.app[SERVICES]
    await add_user(services.engine)
    await seed(services.engine)
    await login(client)
    now = dt.datetime.now(dt.UTC)
    async with services.engine.connect() as conn:
        figures = await get_figures(conn, month="2025-11", scope=Scope(ScopeKind.district), settings=settings,
                                    now=now)
    total, timely = figures.total, figures.timeliness
    # the definitions, worked by hand
    assert (total.tasks, total.refused, total.unfunded, total.short_notice, total.duplicates) == (5, 1, 1, 1, 1)
    assert (timely.due, timely.on_time, timely.late, timely.overdue, timely.not_yet_due) == (3, 1, 1, 1, 0)
    assert NO_DEPARTMENT in dict(figures.by_department)

    board = _dashboard(await (await client.get("/admin/", params={"month": "2025-11"})).text())
    expected = {"tasks": str(total.tasks), "refused": str(total.refused), "unfunded": str(total.unfunded),
                "short_notice": str(total.short_notice), "duplicates": str(total.duplicates),
                "unlisted": str(total.unlisted), "hours": f"{total.hours:.1f}",
                "administrative_share": _pct(total.administrative_share)}
    assert board == expected  # no on-time figures: they belong to a community's own digest only

    data = await (await client.get("/admin/digests/2025-11/district/digest.json")).json()
    assert (data["tasks"], data["refused"], data["unfunded_assist"], data["short_notice"], data["duplicates"],
            data["estimated_hours"]) == (
        total.tasks, total.refused, total.unfunded, total.short_notice, total.duplicates, total.hours)
    assert not {"due", "on_time", "overdue", "not_yet_due", "on_time_rate"} & set(data)
    assert NO_DEPARTMENT in [row["department"] for row in data["by_department"]]

    page = await (await client.get("/admin/digests/2025-11/district")).text()
    assert f"收到任务 <strong>{total.tasks}</strong> 件" in page
    assert "逾期未完成" not in page and "按时率" not in page

    book = load_workbook(io.BytesIO(await (await client.get("/admin/digests/2025-11/district/digest.xlsx")).read()))
    overview = {row[0]: row[1] for row in book["概览"].iter_rows(values_only=True)}
    assert (overview["收到任务"], overview["费未随事转"], overview["临时急件"], overview["重复派发"],
            overview["估算工时"]) == (
        total.tasks, total.unfunded, total.short_notice, total.duplicates, total.hours)
    assert "逾期未完成" not in overview and "按时率" not in overview

    assert await send_monthly_digests(services, now=now, month="2025-11", only_if_due=False) >= 1
    async with services.engine.connect() as conn:
        chat = (await conn.execute(sa.select(OUTBOX.c.body).where(OUTBOX.c.recipient == "admins"))).scalar_one()
    assert f"收到任务 {total.tasks} 件" in chat
    assert (f"费未随事转 {total.unfunded},临时急件 {total.short_notice},重复派发 {total.duplicates}" in chat)
    assert "逾期未完成" not in chat and "按时率" not in chat

    # a community's own digest carries its on-time figures, the same in every format
    async with services.engine.connect() as conn:
        own = (await get_figures(conn, month="2025-11", scope=Scope(ScopeKind.community, "幸福社区"),
                                 settings=settings, now=now)).timeliness
    data = await (await client.get("/admin/digests/2025-11/幸福社区/digest.json")).json()
    assert (data["due"], data["on_time"], data["overdue"], data["not_yet_due"]) == (
        own.due, own.on_time, own.overdue, own.not_yet_due)
    page = await (await client.get("/admin/digests/2025-11/幸福社区")).text()
    assert f"逾期未完成 {own.overdue},未到期 {own.not_yet_due}" in page


async def test_one_community_shows_the_same_figures_on_the_dashboard_and_its_digest(aiohttp_client, settings) -> None:
    client = await aiohttp_client(build_app(settings))
    services = client.server.app[SERVICES]
    await add_user(services.engine)
    await seed(services.engine)
    await login(client)
    board = _dashboard(await (await client.get("/admin/", params={"month": "2025-11", "community": "幸福社区"})).text())
    data = await (await client.get("/admin/digests/2025-11/幸福社区/digest.json")).json()
    assert (board["tasks"], board["refused"], board["unfunded"], board["duplicates"], board["hours"]) == (
        str(data["tasks"]), str(data["refused"]), str(data["unfunded_assist"]), str(data["duplicates"]),
        f"{data['estimated_hours']:.1f}")
    assert "on_time_rate" not in board and "overdue" not in board
    assert data["tasks"] == 4  # survey, both negative-list tasks, the duplicate
    resp = await client.get("/admin/", params={"community": "无此社区"})
    assert resp.status == 404 and "全部社区" in await resp.text()


async def test_tasks_due_later_this_month_are_not_yet_due_rather_than_overdue(sqlite_url) -> None:
    """On 3 December a task due on 20 December is 未到期; one due on 1 December and still open is 逾期."""
    settings = make_settings(sqlite_url)
    async with running_services(settings) as services:
        xf = await insert(services.engine, "communities", name="幸福社区", staff=8)
        for day in (1, 3, 20, 31):
            await add_task(services.engine, received_at=at("2026-11-28 10:00"), community_ids=[xf],
                           due=D(2026, 12, day))
        async with services.engine.connect() as conn:
            figures = await get_figures(conn, month="2026-12", scope=Scope(ScopeKind.district), settings=settings,
                                        now=at("2026-12-03 10:00"))
            later = await get_figures(conn, month="2026-12", scope=Scope(ScopeKind.district), settings=settings,
                                      now=at("2027-01-05 10:00"))
    t = figures.timeliness
    assert (t.due, t.overdue, t.not_yet_due, t.on_time_rate) == (4, 1, 3, 0.0)  # due on the 3rd: still that day
    assert (later.timeliness.overdue, later.timeliness.not_yet_due) == (4, 0)


async def test_admin_without_a_slash_leads_to_the_console_logged_in_or_not(aiohttp_client, settings) -> None:
    client = await aiohttp_client(build_app(settings))
    await add_user(client.server.app[SERVICES].engine)
    resp = await client.get("/admin", allow_redirects=False)
    assert (resp.status, resp.headers["Location"]) == (302, "/admin/")
    await login(client)
    resp = await client.get("/admin", allow_redirects=False)
    assert (resp.status, resp.headers["Location"]) == (302, "/admin/")
    assert (await client.get("/admin")).status == 200
