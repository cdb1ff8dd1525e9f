"""The intake log (filters, CSV and Excel) and one task: its evidence and the correction form."""

from __future__ import annotations

import asyncio
import io
from typing import Any
from urllib.parse import quote

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.console import forms, overrides, queries, texts
from bot.console.core import actor_of, fail, now_utc, redirect, render, services_of, session_of
from bot.console.scoping import read_conn
from bot.console.shared import (
    XLSX,
    directory_names,
    refresh_rules,
    rules_doc,
    task_text,
    writable_list_district,
)
from bot.console.views.learning import build_rule_change_effect, is_undo_confirmed
from intake import tasks
from intake.errors import IntakeError
from intake.media import original_path
from intake.reports.export import FilterError, TaskFilters, iter_task_records
from intake.reports.export import write_csv as export_csv
from intake.reports.workbooks import build_tasks_workbook
from intake.texts_notify import format_escalation

__all__ = ["handle_tasks", "handle_tasks_csv", "handle_tasks_xlsx", "task_context", "handle_task", "form_error",
           "handle_task_correct", "handle_task_original"]

# pictures shown inline on the task page, by their first bytes; every other original is only downloaded
_INLINE_IMAGES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"))


def _filters(request: web.Request) -> TaskFilters:
    try:  # the search is cut with the dictionary of the rules in force, as notices are
        return TaskFilters.from_query(request.query, rules=services_of(request).rules.current)
    except FilterError as exc:
        fail(request, 400, str(exc))


def _page_number(request: web.Request) -> int:
    try:
        return max(1, int(request.query.get("page", "1")))
    except ValueError:
        return 1


async def handle_tasks(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    filters = _filters(request)
    keyset, page = queries.keyset_of(request.query)
    if filters.sort == "deadline":
        page = _page_number(request)
    async with read_conn(request) as conn:
        result = await queries.list_task_page(conn, filters=filters, tz=services.settings.tz, keyset=keyset,
                                              page=page)
    departments, communities = await directory_names(request)
    params = filters.query_params()
    return render(request, "tasks.html", {
        "page": result, "filters": filters, "params": params, "departments": departments,
        "communities": communities,
    })


async def _records(request: web.Request, filters: TaskFilters) -> list[dict[str, Any]]:
    services = services_of(request)
    async with read_conn(request) as conn:
        return [r async for r in iter_task_records(conn, filters=filters, tz=services.settings.tz)]


def _stamp(request: web.Request) -> str:
    return now_utc().astimezone(services_of(request).settings.tz).strftime("%Y%m%d-%H%M")


async def handle_tasks_csv(request: web.Request) -> web.StreamResponse:
    records = await _records(request, _filters(request))
    out = io.StringIO()
    export_csv(records, out)
    body = ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: Excel opens UTF-8 Chinese correctly
    return web.Response(body=body, content_type="text/csv", charset="utf-8", headers={
        "Content-Disposition": f"attachment; filename=jianfu-tasks-{_stamp(request)}.csv"})


async def handle_tasks_xlsx(request: web.Request) -> web.StreamResponse:
    records = await _records(request, _filters(request))
    data = await asyncio.get_running_loop().run_in_executor(None, build_tasks_workbook, records)
    return web.Response(body=data, content_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename=jianfu-tasks-{_stamp(request)}.xlsx"})


async def task_context(request: web.Request, code: str) -> dict[str, Any]:
    services = services_of(request)
    async with read_conn(request) as conn:
        detail = await queries.get_task_detail(conn, code=code, tz=services.settings.tz)
    if detail is None:
        fail(request, 404, texts.TASK_NOT_FOUND.format(code=code))
    departments, communities = await directory_names(request)
    rules, _ = await rules_doc(request)
    task = detail["task"]
    return {
        **detail, "departments": departments, "communities": communities,
        "items": {code: e.get("text", "") for code, e in rules["items"].items()},
        "item_text": rules["items"].get(task["item"] or "", {}).get("text", ""),
        "next_item": overrides.next_assist_code(rules),
        "form_error": "", "undone": (),
        "escalation": format_escalation(escalation=task["escalation"], office=task["forwarded_by"],
                                        deadline=task["deadline"], deadline_time=task["deadline_time"],
                                        issuer_deadline=task["issuer_deadline"],
                                        issuer_deadline_time=task["issuer_deadline_time"]),
    }


async def handle_task(request: web.Request) -> web.StreamResponse:
    context = await task_context(request, request.match_info["code"])
    return render(request, "task.html", context)


async def form_error(request: web.Request, code: str, message: str) -> web.Response:
    context = await task_context(request, code)
    context["form_error"] = message
    return render(request, "task.html", context, status=400)


async def handle_task_correct(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    code = request.match_info["code"].upper()
    form = await request.post()
    try:
        changes = forms.parse_correction(form)
        keyword = forms.text(form, "rule_keyword", limit=32)
        rule_field = forms.text(form, "rule_field", limit=16) or "kind"
    except forms.FormError as exc:
        return await form_error(request, code, str(exc))
    raw = (await task_text(request, code)).raw_text
    new_overrides = None
    note = None
    rule_district_id = None
    if keyword:
        rule_district_id = await writable_list_district(request)  # a keyword rule is a list edit
        if keyword not in raw:
            return await form_error(request, code, texts.KEYWORD_NOT_IN_TEXT.format(keyword=keyword))
        value = changes.get(rule_field) or ""
        if not value:
            return await form_error(request, code, f"要为“{texts.FIELD_ZH.get(rule_field, rule_field)}”添加关键词,"
                                                    "请先在上面填写该字段的正确值。")
        rules, current = await rules_doc(request)
        try:
            new_overrides = overrides.add_keyword(rules, current, field=rule_field, value=str(value), keyword=keyword)
        except overrides.OverrideError as exc:
            return await form_error(request, code, str(exc))
        note = f"更正 {code}:关键词“{keyword}”→ {texts.FIELD_ZH.get(rule_field, rule_field)} {value}"
        effect = await build_rule_change_effect(request, new_overrides)
        if not is_undo_confirmed(form, effect):  # the keyword would undo earlier corrections: shown first
            context = await task_context(request, code)
            context.update(form_error=texts.UNDO_CONFIRM.format(count=effect.undone_cases), undone=effect.undone)
            return render(request, "task.html", context, status=409)
    actor, now = actor_of(request), now_utc()

    async def unit(conn: AsyncConnection) -> tasks.Correction:
        return await tasks.correct_task(conn, code=code, changes=changes, actor=actor, now=now,
                                          settings=services.settings, overrides=new_overrides, rule_note=note,
                                          rule_district_id=rule_district_id)

    try:
        result = await services.writer.submit(unit)
    except IntakeError as exc:
        return await form_error(request, code, str(exc))
    session = session_of(request)
    if result.changed:
        fields = "、".join(texts.FIELD_ZH.get(k, k) for k in result.changed)
        session.add_flash("ok", texts.CORRECTED.format(code=code, fields=fields))
    if result.rule_version is not None:
        await refresh_rules(request)
        session.add_flash("ok", texts.RULE_ADDED.format(keyword=keyword, version=result.rule_version))
    redirect(request, "task", code=code)


async def handle_task_original(request: web.Request) -> web.StreamResponse:
    """The original file a task was read from: a download (``?inline=1`` shows a picture in the page)."""
    services = services_of(request)
    code = request.match_info["code"].upper()
    async with read_conn(request) as conn:
        detail = await queries.get_task_detail(conn, code=code, tz=services.settings.tz)
    if detail is None:
        fail(request, 404, texts.TASK_NOT_FOUND.format(code=code))
    task = detail["task"]
    path = original_path(services.settings.media_dir, task["source_sha256"]) if task.get("source_sha256") else None
    if path is None or not path.is_file():
        fail(request, 404, texts.ORIGINAL_MISSING.format(code=code))
    with path.open("rb") as fh:
        head = fh.read(8)
    inline = next((kind for magic, kind in _INLINE_IMAGES if head.startswith(magic)), None)
    name = task.get("source_name") or f"{code}-original"
    if request.query.get("inline") == "1" and inline is not None:
        return web.FileResponse(path, headers={"Content-Type": inline, "Content-Disposition": "inline"})
    return web.FileResponse(path, headers={
        "Content-Type": "application/octet-stream",
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})
