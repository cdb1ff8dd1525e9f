"""The form catalogue (报表目录), the platform list and the yearly burden report in the console.

* ``/admin/catalogue`` — every form with its department, fields, sends, communities and submissions,
  the 重复采集 it repeats; admins add a form and decide keep / merge into / stop.
* ``/admin/platforms`` — platforms named in notices; admins rename and merge them.
* ``/admin/report?year=&scope=`` — the burden report as a page (chart inline), and
  ``/admin/report.{md,docx,pdf}`` the same report as a download.
"""

from __future__ import annotations

import base64
import re
import tempfile
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.console import forms, texts
from bot.console.core import actor_of, fail, now_utc, redirect, render, services_of
from bot.console.markdown import link_task_codes, markdown_to_html
from bot.console.scoping import read_conn, scope_of
from bot.console.shared import directory_names, int_param, submit_or_back
from intake.catalogue import forms as catalogue
from intake.catalogue import platforms
from intake.catalogue.notice import get_form_rules
from intake.catalogue.queries import list_catalogue
from intake.catalogue.texts import DECISION_ZH, RECURRENCE_ZH, SOURCE_ZH
from intake.errors import IntakeError, NotFound
from intake.reports.burden import build_burden_report
from intake.reports.burden_model import BurdenReport
from intake.reports.burden_render import FORMATS, render_chart_png, render_markdown, write_report
from intake.reports.chart import CjkFontMissing
from intake.store.models import DISTRICTS, STREETS, FormDecision, FormSource
from intake.store.values import OrgLevel

__all__ = ["handle_catalogue", "handle_form_add", "handle_form_decision", "handle_platforms",
           "handle_platform_update", "handle_report", "handle_report_file"]

MIME = {"md": "text/markdown; charset=utf-8", "pdf": "application/pdf",
        "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


async def handle_catalogue(request: web.Request) -> web.StreamResponse:
    async with read_conn(request) as conn:
        rows = await list_catalogue(conn)
    departments, _ = await directory_names(request)
    return render(request, "catalogue.html", {
        "forms": rows, "departments": departments, "decisions": DECISION_ZH, "sources": SOURCE_ZH,
        "recurrences": RECURRENCE_ZH,
    })


async def handle_form_add(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        name = forms.text(form, "name", limit=200, required=texts.FORM_NAME_REQUIRED)
        department = forms.text(form, "department", limit=64) or None
        listed = forms.text(form, "fields", limit=4000)
        recurrence = forms.choice(form, "recurrence", RECURRENCE_ZH, label="周期", allow_empty=True)
    except forms.FormError as exc:
        redirect(request, "catalogue", flash=str(exc), level="error")
    fields = [f.strip() for f in re.split(r"[\n,,、;;]", listed) if f.strip()]
    actor, now = actor_of(request), now_utc()
    rules = get_form_rules(services_of(request).settings.rule_paths)

    async def unit(conn: AsyncConnection) -> catalogue.FormEntry:
        return await catalogue.add_form(conn, name=name, department=department, department_id=None, fields=fields,
                                        source=FormSource.console, now=now, rules=rules, recurrence=recurrence,
                                        actor=actor)

    entry = await submit_or_back(request, unit, back="catalogue")
    message = texts.FORM_ADDED.format(name=entry.name) if entry.created else texts.FORM_UPDATED.format(name=entry.name)
    if entry.repeat is not None:
        message += " " + texts.FORM_REPEAT.format(total=entry.repeat.total, shared=entry.repeat.shared,
                                                  department=entry.repeat.earlier_department or "其他部门",
                                                  earlier=entry.repeat.earlier)
    redirect(request, "catalogue", flash=message, level="warn" if entry.repeat else "ok")


async def handle_form_decision(request: web.Request) -> web.StreamResponse:
    form_id = int_param(request)
    form = await request.post()
    try:
        decision = FormDecision(str(forms.choice(form, "decision", DECISION_ZH, label="决定")))
        merge_into = forms.optional_int(form, "merge_into", label="并入的表", minimum=1)
        note = forms.text(form, "note", limit=500)
    except forms.FormError as exc:
        redirect(request, "catalogue", flash=str(exc), level="error")
    actor, now = actor_of(request), now_utc()

    async def unit(conn: AsyncConnection) -> catalogue.FormEntry:
        return await catalogue.update_form_decision(conn, form_id=form_id, decision=decision, merge_into_id=merge_into,
                                                    note=note, actor=actor, now=now)

    entry = await submit_or_back(request, unit, back="catalogue")
    redirect(request, "catalogue", flash=texts.FORM_DECIDED.format(
        name=entry.name, decision=DECISION_ZH[entry.decision] + (f"《{entry.merge_into}》" if entry.merge_into else "")))


async def handle_platforms(request: web.Request) -> web.StreamResponse:
    async with read_conn(request) as conn:
        rows = await platforms.list_platforms(conn)
    return render(request, "platforms.html", {"platforms": rows})


async def handle_platform_update(request: web.Request) -> web.StreamResponse:
    """One form per platform: a new display name and/or the platform it is merged into ("" undoes it)."""
    platform_id = int_param(request)
    form = await request.post()
    try:
        name = forms.text(form, "display_name", limit=64)
        into = forms.optional_int(form, "merge_into", label="并入的平台", minimum=1)
    except forms.FormError as exc:
        redirect(request, "platforms", flash=str(exc), level="error")
    actor, now = actor_of(request), now_utc()

    async def unit(conn: AsyncConnection) -> None:
        if name:
            await platforms.rename_platform(conn, platform_id=platform_id, display_name=name, actor=actor, now=now)
        await platforms.merge_platform(conn, platform_id=platform_id, into_id=into, actor=actor, now=now)

    await submit_or_back(request, unit, back="platforms")
    redirect(request, "platforms", flash=texts.PLATFORM_SAVED)


def _year_and_scope(request: web.Request) -> tuple[int, str | None]:
    raw = request.query.get("year", "").strip() or str(now_utc().astimezone(services_of(request).settings.tz).year)
    if not raw.isdigit() or len(raw) != 4:
        fail(request, 400, texts.REPORT_BAD_YEAR.format(year=raw))
    return int(raw), request.query.get("scope", "").strip() or None


async def _areas(request: web.Request) -> list[tuple[str, str]]:
    """The report's areas the user may choose, (``--scope`` value, label): districts and streets of the tree,
    then communities; a scoped user gets only those of their own scope (read through the scoped connection)."""
    level = scope_of(request).level
    async with read_conn(request) as conn:
        districts = [] if level not in (None, OrgLevel.district) else (await conn.execute(
            sa.select(DISTRICTS.c.name).order_by(DISTRICTS.c.id))).scalars().all()
        streets = [] if level is OrgLevel.community else (await conn.execute(
            sa.select(STREETS.c.name).order_by(STREETS.c.id))).scalars().all()
    _, communities = await directory_names(request)
    return ([(f"district:{n}", f"{n}(区)") for n in districts] + [(f"street:{n}", f"{n}(街道)") for n in streets]
            + [(f"community:{n}", n) for n in communities])


async def _build(request: web.Request) -> BurdenReport:
    year, scope = _year_and_scope(request)
    services = services_of(request)
    items = {code: item.text for code, item in services.rules.current.items.items()}
    async with read_conn(request) as conn:  # months the sweep kept are read back (month_rollups)
        try:
            return await build_burden_report(conn, year=year, scope=scope, settings=services.settings,
                                             item_texts=items, now=now_utc())
        except NotFound:  # not on the tree, or outside the user's own scope (as if it did not exist)
            fail(request, 404, texts.REPORT_BAD_SCOPE.format(scope=scope or ""))
        except IntakeError as exc:
            fail(request, 400, str(exc))


def _task_href(request: web.Request) -> str:
    return str(request.app.router["task"].url_for(code="CODE")).replace("CODE", "{code}")


async def handle_report(request: web.Request) -> web.StreamResponse:
    report = await _build(request)
    chart = ""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            png = render_chart_png(report, Path(tmp) / "chart.png")
            chart = "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")
        except CjkFontMissing:
            chart = ""
    markdown = render_markdown(report)
    return render(request, "report.html", {
        "report": report, "body": link_task_codes(markdown_to_html(markdown), _task_href(request)), "chart": chart, "areas": await _areas(request),
        "query": {"year": str(report.year), "scope": report.scope}, "formats": FORMATS,
    })


async def handle_report_file(request: web.Request) -> web.StreamResponse:
    fmt = request.match_info["fmt"]
    if fmt not in FORMATS:
        fail(request, 404, texts.REPORT_BAD_FORMAT.format(fmt=fmt))
    report = await _build(request)
    if fmt == "md":  # no file beside it to hold the chart: the page shows it
        body = render_markdown(report).encode("utf-8")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                body = write_report(report, fmt=fmt, path=Path(tmp) / f"report.{fmt}").read_bytes()
            except CjkFontMissing:
                fail(request, 409, texts.CHART_NO_FONT)
    filename = quote(f"{report.title}.{fmt}")
    return web.Response(body=body, headers={"Content-Type": MIME[fmt],
                                            "Content-Disposition": f"attachment; filename*=UTF-8''{filename}"})
