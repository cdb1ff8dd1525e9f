"""Learning from corrections in the console: suggested trigger words, a preview of what accepting one does
to the corrections kept so far, and the check that a rule edit does not silently undo a correction.

Accepting a suggestion is an ordinary versioned rule edit (the override document, `save_overrides`).
Before it is saved, every kept correction is read again with the current and with the proposed rules;
a change that would undo one is shown, and saved only when the admin ticks "仍然保存".
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.console import forms, overrides, texts
from bot.console.core import actor_of, fail, now_utc, redirect, render, services_of
from bot.console.scoping import read_conn, scope_of
from bot.console.shared import list_district, refresh_rules, writable_list_district
from classifiers.learning import (
    LabelledCase,
    RuleChangeEffect,
    compare_rules,
    read_cases,
    suggest_triggers,
)
from intake.corrections import build_eval_lines, list_correction_examples
from intake.rules_store import get_latest_overrides, save_overrides
from intake.scope import SCOPE_OPTION, resolve_scope
from intake.store.values import OrgLevel

__all__ = ["build_rule_change_effect", "handle_accept", "handle_preview", "handle_suggest", "is_undo_confirmed"]

CONFIRM_FIELD = "confirm_undo"


async def _cases(request: web.Request) -> tuple[list[LabelledCase], dict[str, Any], dict[str, Any]]:
    """(kept corrections as labelled cases, effective rules data, current override document)."""
    services = services_of(request)
    district_id = list_district(request)
    await refresh_rules(request)  # every level's rules, read unscoped
    async with read_conn(request) as conn:  # a district admin's corrections are its district's (the scope)
        if district_id is not None and scope_of(request).is_everything:  # a district's lists: its corrections
            district = await resolve_scope(conn, level=OrgLevel.district.value, scope_id=district_id)
            await conn.execution_options(**{SCOPE_OPTION: district})
        examples = await list_correction_examples(conn)
        current = await get_latest_overrides(conn, district_id=district_id)
    cases = read_cases(build_eval_lines(examples, tz=services.settings.tz))
    return cases, services.rules.for_district(district_id).data, current


async def build_rule_change_effect(request: web.Request, new_doc: dict[str, Any]) -> RuleChangeEffect:
    """What saving `new_doc` (the request's level's document: see list_district) would do to every kept
    correction the user can see (the proposed rules are built off the loop)."""
    services = services_of(request)
    cases, _, _ = await _cases(request)
    if not cases:
        return RuleChangeEffect(cases=0, undone=(), fixed=())
    district_id = list_district(request)
    current = services.rules.for_district(district_id)
    proposed = await asyncio.to_thread(services.rules.build_for, district_id, new_doc)
    return await asyncio.to_thread(compare_rules, cases, current, proposed)


def is_undo_confirmed(form: Any, effect: RuleChangeEffect) -> bool:
    return not effect.undone or form.get(CONFIRM_FIELD) == "1"


def _value_text(rules: dict[str, Any], field: str, value: str) -> str:
    if field == "kind":
        return str(texts.KIND_ZH.get(value, value))
    return str(rules["items"].get(value, {}).get("text", ""))


async def handle_suggest(request: web.Request) -> web.StreamResponse:
    field = request.query.get("field", "item")
    if field not in texts.LEARN_FIELDS:
        fail(request, 400, texts.LEARN_BAD_FIELD)
    cases, rules, _ = await _cases(request)
    services = services_of(request)
    suggestions = await asyncio.to_thread(suggest_triggers, cases, services.rules.current, field=field)
    return render(request, "learning.html", {
        "field": field, "fields": texts.LEARN_FIELDS, "cases": len(cases), "suggestions": suggestions,
        "value_text": {s.value: _value_text(rules, field, s.value) for s in suggestions},
        "empty": texts.LEARN_NO_CORRECTIONS, "nav": "lists",
    })


async def _proposal(request: web.Request, form: Any) -> tuple[str, str, str, dict[str, Any], dict[str, Any]]:
    """(field, value, word, effective rules data, proposed override document) from a suggestion form."""
    field = forms.text(form, "field", limit=8)
    value = forms.text(form, "value", limit=32)
    word = forms.text(form, "word", limit=32)
    if field not in texts.LEARN_FIELDS:
        fail(request, 400, texts.LEARN_BAD_FIELD)
    _, rules, current = await _cases(request)
    try:
        new_doc = overrides.add_keyword(rules, current, field=field, value=value, keyword=word)
    except overrides.OverrideError as exc:
        fail(request, 400, str(exc))
    return field, value, word, rules, new_doc


def _render_preview(request: web.Request, *, field: str, value: str, word: str, rules: dict[str, Any],
                    effect: RuleChangeEffect, error: str = "", status: int = 200) -> web.Response:
    return render(request, "learning_preview.html", {
        "field": field, "value": value, "word": word, "label": texts.LEARN_FIELDS[field],
        "value_text": _value_text(rules, field, value), "effect": effect, "form_error": error, "nav": "lists",
        "confirm_field": CONFIRM_FIELD,
    }, status=status)


async def handle_preview(request: web.Request) -> web.StreamResponse:
    await writable_list_district(request)
    form = await request.post()
    field, value, word, rules, new_doc = await _proposal(request, form)
    effect = await build_rule_change_effect(request, new_doc)
    return _render_preview(request, field=field, value=value, word=word, rules=rules, effect=effect)


async def handle_accept(request: web.Request) -> web.StreamResponse:
    district_id = await writable_list_district(request)
    form = await request.post()
    field, value, word, rules, new_doc = await _proposal(request, form)
    effect = await build_rule_change_effect(request, new_doc)
    if not is_undo_confirmed(form, effect):
        return _render_preview(request, field=field, value=value, word=word, rules=rules, effect=effect,
                               error=texts.UNDO_CONFIRM.format(count=effect.undone_cases), status=409)
    label = texts.LEARN_FIELDS[field]
    note = texts.LEARN_NOTE.format(word=word, label=label, value=value)
    actor, now = actor_of(request), now_utc()

    async def unit(conn: AsyncConnection) -> int:
        return await save_overrides(conn, content=new_doc, actor=actor, note=note, now=now, district_id=district_id)

    version = await services_of(request).writer.submit(unit)
    await refresh_rules(request)
    redirect(request, "rule_suggest", query={"field": field},
             flash=texts.LEARN_ACCEPTED.format(word=word, label=label, value=value, version=version))
