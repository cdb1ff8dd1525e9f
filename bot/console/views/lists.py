"""The community work-item lists: edit a section, see a past version of the rules."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.console import forms, overrides, queries, texts
from bot.console.core import actor_of, fail, now_utc, redirect, render, services_of
from bot.console.scoping import read_conn, scope_of
from bot.console.shared import int_param, list_district, refresh_rules, rules_doc, writable_list_district
from bot.console.views.learning import build_rule_change_effect, is_undo_confirmed
from intake.rules_store import save_overrides
from intake.scope import describe_scope
from intake.store.values import OrgLevel

__all__ = ["handle_lists", "handle_list_save", "handle_list_version"]


async def _lists_context(request: web.Request) -> dict[str, Any]:
    services = services_of(request)
    rules, current = await rules_doc(request)
    district_id = list_district(request)
    async with read_conn(request) as conn:
        versions = await queries.list_rule_versions(conn, district_id=district_id)
        districts = await queries.list_district_names(conn)
    scope = scope_of(request)
    return {
        "sections": texts.LIST_SECTIONS,
        "entries": {s: overrides.section_entries(rules, s) for s in overrides.SECTIONS},
        "texts_": {s: overrides.section_text(rules, s) for s in overrides.SECTIONS},
        "versions": versions, "rules_version": services.rules.for_district(district_id).version,
        "districts": districts, "district_id": district_id, "can_choose_district": scope.is_everything,
        "can_edit_lists": scope.level not in (OrgLevel.street, OrgLevel.community),
        "list_level": (texts.LISTS_LEVEL_CITY if district_id is None else texts.LISTS_LEVEL_DISTRICT.format(
            name=districts.get(district_id, describe_scope(scope)))),
        "open_section": request.query.get("section", ""), "form_error": "", "draft": {}, "undone": (),
    }


async def handle_lists(request: web.Request) -> web.StreamResponse:
    return render(request, "lists.html", await _lists_context(request))


async def handle_list_save(request: web.Request) -> web.StreamResponse:
    section = request.match_info["section"]
    if section not in overrides.SECTIONS:
        fail(request, 404, f"没有名为“{section}”的清单,请从“清单管理”页面进入。")
    district_id = await writable_list_district(request)
    form = await request.post()
    body = forms.text(form, "body", limit=200_000)
    note = forms.text(form, "note", limit=200) or f"编辑{texts.LIST_SECTIONS[section]}"
    rules, current = await rules_doc(request)
    try:
        new_doc = overrides.apply_section_text(rules, current, section, body)
    except overrides.OverrideError as exc:
        context = await _lists_context(request)
        context.update(form_error=str(exc), open_section=section, draft={section: body})
        return render(request, "lists.html", context, status=400)
    effect = await build_rule_change_effect(request, new_doc)
    if not is_undo_confirmed(form, effect):  # shown before it is saved: the edit would undo a correction
        context = await _lists_context(request)
        context.update(form_error=texts.UNDO_CONFIRM.format(count=effect.undone_cases), open_section=section,
                       draft={section: body}, undone=effect.undone)
        return render(request, "lists.html", context, status=409)
    actor, now = actor_of(request), now_utc()

    async def unit(conn: AsyncConnection) -> int:
        return await save_overrides(conn, content=new_doc, actor=actor, note=note, now=now, district_id=district_id)

    version = await services_of(request).writer.submit(unit)
    await refresh_rules(request)
    query = {"section": section, **({"district": str(district_id)} if district_id is not None else {})}
    redirect(request, "lists", query=query,
             flash=texts.LIST_SAVED.format(section=texts.LIST_SECTIONS[section], version=version))


async def handle_list_version(request: web.Request) -> web.StreamResponse:
    version_id = int_param(request, message="版本号应当是数字。")
    async with read_conn(request) as conn:
        found = await queries.get_rule_version(conn, version_id=version_id)
    if found is None:
        fail(request, 404, f"没有第 {version_id} 版规则,请从“清单管理”的历史记录进入。")
    return render(request, "rule_version.html", {
        "version": found, "content": json.dumps(found["content"], ensure_ascii=False, indent=2)})
