"""The organisation tree (组织架构): districts → streets → communities with their staff, its history, an
Excel import (the importer of ``jianfu org import``) and a download of the same sheet.

Who may change what (the scope decides, the page shows only the allowed forms):

* the whole deployment's admins: everything, and the import (a sheet may name any district);
* a district's admins: their district's streets (add, rename) and communities (add, rename, move
  between the district's streets, staff);
* a street's admins: their own communities' staff counts only;
* a community's users and viewers: read only.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from aiohttp import web
from openpyxl import Workbook

from bot.console import forms, texts
from bot.console.core import actor_of, fail, now_utc, redirect, render, services_of
from bot.console.scoping import read_conn, scope_of
from bot.console.shared import XLSX, int_param, submit_or_back
from intake.errors import IntakeError
from intake.org import OrgChanges, apply_org_rows, list_org_tree, list_org_versions
from intake.org.edits import MAX_STAFF, add_street, add_street_community, rename_street, update_org_community
from intake.org.importer import OrgSheetError, read_org_sheet
from intake.org.tree import OrgRowsRefused
from intake.scope import Scope
from intake.store.values import OrgLevel

__all__ = ["OrgRights", "org_rights", "handle_org", "handle_org_xlsx", "handle_org_import", "handle_street_add",
           "handle_street_update", "handle_street_community_add", "handle_org_community_update"]


@dataclass(frozen=True)
class OrgRights:
    import_sheet: bool  # upload a sheet of the whole tree
    streets: bool  # add and rename streets, add, rename and move communities
    staff: bool  # set staff counts


def org_rights(scope: Scope) -> OrgRights:
    whole = scope.is_everything
    district = whole or scope.level is OrgLevel.district
    return OrgRights(import_sheet=whole, streets=district, staff=district or scope.level is OrgLevel.street)


async def handle_org(request: web.Request, *, problems: tuple[str, ...] = (), status: int = 200) -> web.Response:
    async with read_conn(request) as conn:
        tree = await list_org_tree(conn)
        versions = await list_org_versions(conn)  # the whole tree's history: only the whole deployment's users
    streets = [(s["id"], f"{d['name']} / {s['name']}") for d in tree for s in d["streets"]]
    return render(request, "org.html", {"tree": tree, "versions": versions, "streets": streets,
                                        "rights": org_rights(scope_of(request)), "problems": problems,
                                        "max_staff": MAX_STAFF}, status=status)


async def handle_org_xlsx(request: web.Request) -> web.StreamResponse:
    """The tree as the sheet the import reads (edit it and import it again)."""
    async with read_conn(request) as conn:
        tree = await list_org_tree(conn)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "组织架构"
    sheet.append(["市", "区", "街道", "社区", "工作人员数"])
    for d in tree:
        for s in d["streets"]:
            for c in s["communities"]:
                sheet.append([d["city"] or "", d["name"], s["name"], c["name"], c["staff"]])
    out = io.BytesIO()
    book.save(out)
    return web.Response(body=out.getvalue(), content_type=XLSX,
                        headers={"Content-Disposition": "attachment; filename*=UTF-8''org.xlsx"})


def _done(request: web.Request, changes: OrgChanges) -> web.StreamResponse:
    if changes.version is None:
        redirect(request, "org", flash=texts.ORG_NO_CHANGE)
    redirect(request, "org", flash=texts.ORG_SAVED.format(version=changes.version, lines=";".join(changes.lines)))


async def handle_org_import(request: web.Request) -> web.StreamResponse:
    """One sheet, all or nothing: a sheet with unreadable rows imports nothing and the page lists every row."""
    upload = (await request.post()).get("sheet")
    if not isinstance(upload, web.FileField):
        redirect(request, "org", flash=texts.ORG_NO_FILE, level="error")
    name = unquote(upload.filename or "sheet.xlsx")  # some clients send filename*=UTF-8''…
    try:
        rows = read_org_sheet(upload.file.read(), name=name)
    except OrgSheetError as exc:
        return await handle_org(request, problems=(str(exc), *exc.problems), status=400)
    actor, now = actor_of(request), now_utc()
    try:
        changes = await services_of(request).writer.submit(lambda c: apply_org_rows(
            c, rows=rows, source=f"console:{name}", author=actor, now=now))
    except OrgRowsRefused as exc:  # another district's community of the same name: nothing written
        return await handle_org(request, problems=(str(exc), *exc.problems), status=400)
    except IntakeError as exc:
        redirect(request, "org", flash=str(exc), level="error")
    if changes.version is None:
        redirect(request, "org", flash=texts.ORG_NO_CHANGE)
    redirect(request, "org", flash=texts.ORG_IMPORTED.format(rows=len(rows), changes=len(changes.lines),
                                                            version=changes.version))


def _require(request: web.Request, allowed: bool, message: str) -> None:
    if not allowed:
        fail(request, 403, message)


async def handle_street_add(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    scope = scope_of(request)
    _require(request, org_rights(scope).streets, texts.ORG_DISTRICT_ONLY)
    try:
        district_id = int(forms.text(form, "district", limit=16) or "0")
    except ValueError:
        district_id = 0
    if not scope.is_everything and district_id not in scope.district_ids:
        fail(request, 404, texts.SCOPE_NOT_FOUND)
    name, actor, now = forms.text(form, "name", limit=80), actor_of(request), now_utc()
    return _done(request, await submit_or_back(
        request, lambda c: add_street(c, district_id=district_id, name=name, actor=actor, now=now), back="org"))


async def handle_street_update(request: web.Request) -> web.StreamResponse:
    street_id = int_param(request)
    _require(request, org_rights(scope_of(request)).streets, texts.ORG_DISTRICT_ONLY)
    name, actor, now = forms.text(await request.post(), "name", limit=80), actor_of(request), now_utc()
    return _done(request, await submit_or_back(
        request, lambda c: rename_street(c, street_id=street_id, name=name, actor=actor, now=now), back="org"))


def _staff(request: web.Request, form: Any) -> int | None:
    try:
        return forms.optional_int(form, "staff", label="工作人员数", minimum=1)
    except forms.FormError:
        redirect(request, "org", flash=texts.ORG_STAFF_BAD, level="error")


async def handle_street_community_add(request: web.Request) -> web.StreamResponse:
    street_id = int_param(request)
    _require(request, org_rights(scope_of(request)).streets, texts.ORG_DISTRICT_ONLY)
    form = await request.post()
    name, staff, actor, now = forms.text(form, "name", limit=80), _staff(request, form) or 8, actor_of(request), now_utc()
    return _done(request, await submit_or_back(request, lambda c: add_street_community(
        c, street_id=street_id, name=name, staff=staff, actor=actor, now=now), back="org"))


async def handle_org_community_update(request: web.Request) -> web.StreamResponse:
    """Staff (a street's admins and up); name and street (a district's admins and up, within their district)."""
    community_id = int_param(request)
    form = await request.post()
    scope, rights = scope_of(request), org_rights(scope_of(request))
    _require(request, rights.staff, texts.ORG_STAFF_ONLY)
    name = forms.text(form, "name", limit=80) or None
    street = forms.text(form, "street", limit=16)
    street_id = int(street) if street.isdigit() else None
    if (name is not None or street_id is not None) and not rights.streets:
        fail(request, 403, texts.ORG_STAFF_ONLY)
    if street_id is not None and not scope.is_everything and street_id not in scope.street_ids:
        fail(request, 403, texts.ORG_STREET_OUTSIDE)
    staff, actor, now = _staff(request, form), actor_of(request), now_utc()
    try:
        changes = await services_of(request).writer.submit(lambda c: update_org_community(
            c, community_id=community_id, name=name, street_id=street_id, staff=staff, actor=actor, now=now))
    except IntakeError as exc:
        redirect(request, "org", flash=str(exc), level="error")
    return _done(request, changes)
