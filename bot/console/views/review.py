"""The review queue: admitting an unlisted task as a new assist item, or refusing it."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.console import forms, overrides, queries, texts
from bot.console.core import actor_of, now_utc, redirect, render, services_of
from bot.console.scoping import read_conn
from bot.console.shared import refresh_rules, rules_doc, task_text, writable_list_district
from bot.console.views.tasks import form_error
from intake import tasks
from intake.errors import IntakeError
from intake.reports.export import TaskFilters
from intake.store.models import TaskStatus

__all__ = ["handle_review", "handle_admit", "handle_refuse"]


REVIEW_PAGE = 50


async def handle_review(request: web.Request) -> web.StreamResponse:
    """The queue a page at a time, the longest waiting first, with the number waiting in all."""
    services = services_of(request)
    filters = TaskFilters(status=TaskStatus.pending_review, sort="old")
    keyset, number = queries.keyset_of(request.query, descending=False)
    async with read_conn(request) as conn:
        result = await queries.list_task_page(conn, filters=filters, tz=services.settings.tz, keyset=keyset,
                                              page=number, page_size=REVIEW_PAGE)
    rules, _ = await rules_doc(request)
    # the number waiting is the page's own count, read up to paging.COUNT_CAP ("1,000+" beyond): a bounded
    # walk of the (status, time) index however many wait (a full count was 3 s at 10,000,000 tasks)
    return render(request, "review.html", {"page": result,
                                           "next_item": overrides.next_assist_code(rules)})


async def handle_admit(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    code = request.match_info["code"].upper()
    district_id = await writable_list_district(request)  # admitting adds to the lists: not a street's to do
    form = await request.post()
    try:
        name = forms.text(form, "name", limit=120)
        basis = forms.text(form, "basis", limit=300)
        funding = forms.text(form, "funding", limit=200)
        duration = forms.text(form, "duration", limit=100)
        amount = forms.optional_float(form, "amount_yuan", label="经费金额")
        keywords = overrides.split_keywords(forms.text(form, "keywords", limit=300))
    except forms.FormError as exc:
        return await form_error(request, code, str(exc))
    missing = [label for label, value in (("事项名称", name), ("法定依据", basis), ("经费保障", funding),
                                          ("期限", duration)) if not value]
    if missing:
        return await form_error(request, code, texts.ADMIT_NEEDS.format(missing="、".join(missing)))
    task = await task_text(request, code)
    rules, current = await rules_doc(request)
    item = overrides.next_assist_code(rules)
    new_doc = overrides.add_assist_item(
        rules, current, code=item, name=name, keywords=keywords or list(task.keywords)[:6], basis=basis,
        funding=funding, duration=duration, department=task.department, task_code=code)
    actor, now = actor_of(request), now_utc()

    async def unit(conn: AsyncConnection) -> tasks.Admission:
        return await tasks.admit_task(conn, code=code, item=item, name=name, basis=basis, funding=funding,
                                      duration=duration, amount_yuan=amount, overrides=new_doc,
                                      district_id=district_id, actor=actor, now=now, settings=services.settings)

    try:
        result = await services.writer.submit(unit)
    except IntakeError as exc:
        return await form_error(request, code, str(exc))
    await refresh_rules(request)
    redirect(request, "task", code=code,
             flash=texts.ADMITTED.format(code=code, item=result.item, targets=result.targets))


async def handle_refuse(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    code = request.match_info["code"].upper()
    form = await request.post()
    reason = forms.text(form, "reason", limit=500)
    if not reason:
        return await form_error(request, code, texts.REFUSE_NEEDS_REASON)
    actor, now = actor_of(request), now_utc()

    async def unit(conn: AsyncConnection) -> str:
        return await tasks.refuse_task(conn, code=code, reason=reason, actor=actor, now=now,
                                       settings=services.settings)

    try:
        await services.writer.submit(unit)
    except IntakeError as exc:
        return await form_error(request, code, str(exc))
    await refresh_rules(request)  # the refusal is a labelled notice for the second opinion from now on
    redirect(request, "review", flash=texts.REFUSED.format(code=code))
