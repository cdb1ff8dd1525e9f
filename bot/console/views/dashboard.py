"""The dashboard of one month, and the per-community ledger workbook (台账)."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.console import charts, queries, texts
from bot.console.boards import BOARDS
from bot.console.core import fail, now_utc, render, services_of
from bot.console.scoping import read_conn, run_scoped, scope_of
from bot.console.shared import XLSX, directory_names
from intake.calendar import month_key, shift_month
from intake.errors import NotFound
from intake.org.names import get_community_district
from intake.outbox import count_by_status
from intake.reports.export import FilterError, TaskFilters
from intake.reports.workbooks import build_ledger_workbook
from intake.store.models import OutboxStatus

__all__ = ["handle_dashboard", "handle_ledger", "handle_ledger_xlsx"]


def _month_now(request: web.Request) -> str:
    return month_key(now_utc(), services_of(request).settings.tz)


async def handle_dashboard(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    month = request.query.get("month", "").strip() or _month_now(request)
    community = request.query.get("community", "").strip()
    try:
        TaskFilters.from_query({"month": month})
    except FilterError as exc:
        fail(request, 400, str(exc))
    when = now_utc()

    async def build(conn: AsyncConnection) -> queries.Dashboard:
        return await queries.build_dashboard(conn, month=month, settings=services.settings, now=when,
                                             community=community)

    try:  # kept a minute per scope; an older one is shown while it is built again (bot/console/boards.py)
        kept = await request.app[BOARDS].get(
            (scope_of(request).key, month, community), lambda: run_scoped(request, build), now=when)
    except NotFound:
        fail(request, 404, texts.DASHBOARD_BAD_COMMUNITY.format(community=community))
    board = kept.board
    async with read_conn(request) as conn:
        digests = (await queries.list_digests(conn))[:12]
        outbox_dead = (await count_by_status(conn)).get(OutboxStatus.dead.value, 0)
    _, communities = await directory_names(request)
    cur = board.current
    return render(request, "dashboard.html", {
        "board": board, "cur": cur, "total": cur.total, "month": month,
        "as_of": (board.counted_at or kept.built_at).astimezone(services.settings.tz),
        "counted_every": services.settings.schedule.open_month_minutes if board.counted_at else 0,
        "community": community, "communities": communities,
        "prev_month": shift_month(month, -1), "next_month": shift_month(month, 1),
        "chart_departments": charts.bar_chart([(d, c.tasks) for d, c in cur.by_department[:15]],
                                              title="本月各部门派发任务数"),
        "chart_kinds": charts.bar_chart([(texts.KIND_ZH.get(k, k), c.tasks) for k, c in cur.by_kind],
                                        title="本月任务类型"),
        "chart_trend": charts.stacked_months(
            [(f.month[2:], f.total.administrative, f.total.service) for f in board.months],
            labels=("行政事务", "服务性事务"), title="近13个月任务量:行政事务与服务性事务"),
        # no on-time rates here: they belong to a community's own digest only (no completion tracking)
        "dept_table": queries.group_months(board.months), "digests": digests, "outbox_dead": outbox_dead,
    })


async def handle_ledger(request: web.Request) -> web.StreamResponse:
    _, communities = await directory_names(request)
    return render(request, "ledger.html", {"communities": communities, "month": ""})


async def handle_ledger_xlsx(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    community = request.query.get("community", "").strip()
    month = request.query.get("month", "").strip()
    _, communities = await directory_names(request)
    if community not in communities:
        fail(request, 400, texts.EXPORT_NEEDS_COMMUNITY)
    try:
        TaskFilters.from_query({"month": month})
    except FilterError as exc:
        fail(request, 400, str(exc))
    async with read_conn(request) as conn:
        district = await get_community_district(conn, name=community) or services.settings.district.name
        data = await build_ledger_workbook(conn, community=community, tz=services.settings.tz, month=month,
                                           district=district)

    filename = f"{community}台账{('-' + month) if month else ''}.xlsx"
    return web.Response(body=data, content_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename=ledger.xlsx; filename*=UTF-8''{quote(filename)}"})
