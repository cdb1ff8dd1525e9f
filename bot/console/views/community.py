"""A community's page in the console: its counter work of a month (certificates, inspections, meetings,
secondments, platforms), each entry correctable or removable by an admin, and its ledgers as Excel."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from aiohttp import web

from bot.console import forms
from bot.console.core import actor_of, fail, now_utc, redirect, render, services_of
from bot.console.scoping import read_conn
from bot.console.shared import int_param, submit_or_back
from intake.calendar import month_bounds, parse_month
from intake.counter import (
    CounterFormatError,
    get_counter_entry,
    is_counter_line,
    list_counter_entries,
    parse_counter_line,
    update_counter_entry,
)
from intake.errors import BadFilter
from intake.reports.ledgers import LEDGERS, build_counter_workbook
from intake.store.models import COMMUNITIES

__all__ = ["handle_community_work", "handle_counter_xlsx", "handle_counter_correct"]

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _community(request: web.Request) -> tuple[int, str]:
    community_id = int_param(request, "id")
    async with read_conn(request) as conn:
        name = (await conn.execute(sa.select(COMMUNITIES.c.name).where(COMMUNITIES.c.id == community_id))).scalar()
    if name is None:
        fail(request, 404, f"没有编号为 {community_id} 的社区。")
    return community_id, str(name)


def _month(request: web.Request) -> str:
    month = request.query.get("month", "").strip() or now_utc().astimezone(services_of(request).settings.tz).strftime("%Y-%m")
    try:
        parse_month(month)
    except BadFilter as exc:
        fail(request, 400, str(exc))
    return month


async def _entries(request: web.Request, community_id: int, month: str) -> list[Any]:
    start, end = month_bounds(month, services_of(request).settings.tz)
    async with read_conn(request) as conn:
        return await list_counter_entries(conn, community_id=community_id, first=start.date(),
                                          last=(end - dt.timedelta(days=1)).date())


async def handle_community_work(request: web.Request) -> web.StreamResponse:
    community_id, name = await _community(request)
    month = _month(request)
    entries = await _entries(request, community_id, month)
    titles = {kind: spec[0] for kind, spec in LEDGERS.items()}
    return render(request, "community.html", {"community": name, "community_id": community_id, "month": month,
                                              "entries": entries, "titles": titles})


async def handle_counter_xlsx(request: web.Request) -> web.StreamResponse:
    community_id, name = await _community(request)
    month = _month(request)
    data = build_counter_workbook(await _entries(request, community_id, month), community=name, period=month)
    filename = f"{name}台账-证明迎检会议-{month}.xlsx"
    return web.Response(body=data, content_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename=counter.xlsx; filename*=UTF-8''{quote(filename)}"})


async def handle_counter_correct(request: web.Request) -> web.StreamResponse:
    """An admin's correction of one entry: the line re-read (same forms as the chat), or the entry removed."""
    entry_id = int_param(request, "entry")
    community_id, _ = await _community(request)
    form = await request.post()
    back_id = str(community_id)
    line_text = " ".join(forms.text(form, "line", limit=200).split())
    day = forms.optional_date(form, "day")
    remove = form.get("remove") == "1"
    line = None
    if not remove:
        problem = "不是一条登记(应以 证明、检查、会议、借调 或 平台 开头)"
        try:
            line = parse_counter_line(line_text) if is_counter_line(line_text) else None
        except CounterFormatError as exc:
            problem = exc.problem
        if line is None:
            redirect(request, "community_work", flash=f"未保存:{problem}。请按聊天中的格式填写,如“证明 3 银行 贷款资信”。",
                     level="error", id=back_id)
    services, actor, now = services_of(request), actor_of(request), now_utc()

    async def unit(conn: Any) -> Any:
        entry = await get_counter_entry(conn, entry_id=entry_id)
        if entry.community_id != community_id:
            fail(request, 404, "该登记不属于这个社区。")
        return await update_counter_entry(conn, entry_id=entry_id, line=line, day=day, raw_text=line_text,
                                          rules=services.rules.current, actor=actor, now=now)

    await submit_or_back(request, unit, back="directory")
    redirect(request, "community_work", flash="已删除这条登记。" if remove else "已更正。", id=back_id)
