"""The directory (departments, communities), chat accounts and invites."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.console import forms, queries, texts
from bot.console.boards import BOARDS
from bot.console.core import actor_of, now_utc, redirect, render, services_of
from bot.console.scoping import list_admin_scopes, read_conn, require_target_in_scope, scope_of
from bot.console.shared import (
    create_invite,
    directory_names,
    get_own_department_id,
    int_param,
    submit_or_back,
    target_district,
)
from intake import directory
from intake.accounts import revoke_invite
from intake.calendar import month_key
from intake.errors import IntakeError
from intake.reports.rollups import get_counted_open, get_department_tasks
from intake.store.models import Role

__all__ = ["handle_directory", "handle_department_add", "handle_department_active", "handle_community_add", "handle_community_update", "handle_accounts", "handle_account_bind", "handle_account_unbind", "handle_account_active", "handle_invites", "handle_invite_add", "handle_invite_revoke"]


async def handle_directory(request: web.Request) -> web.StreamResponse:
    """Departments with their tasks of the last 13 months (the dashboard's table: summed from this month's kept
    dashboard when there is one, else from the rollups and the open month), clerks; communities with their
    open assignments (the scheduler's count when recent, else counted now) and heads."""
    settings, now = services_of(request).settings, now_utc()
    month = month_key(now, settings.tz)
    kept = request.app[BOARDS].peek((scope_of(request).key, month, ""))
    async with read_conn(request) as conn:
        departments = await queries.list_departments(conn)
        counted = await get_counted_open(conn, settings=settings, now=now)  # the scheduler's recent count
        communities = await queries.list_communities(conn, counted_open=counted[0] if counted else None)
        tasks = ({name: sum(row.values()) for name, row in queries.group_months(kept.board.months).items()}
                 if kept is not None else
                 await get_department_tasks(conn, month=month, settings=settings, now=now))
    return render(request, "directory.html", {"departments": departments, "communities": communities,
                                              "department_tasks": tasks,
                                              "open_as_of": counted[1].astimezone(settings.tz) if counted else None})


async def _submit(request: web.Request, unit: Any, *, back: str, ok: str = texts.SAVED) -> web.StreamResponse:
    await submit_or_back(request, unit, back=back)
    redirect(request, back, flash=ok)


async def handle_department_add(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    name = forms.text(form, "name", limit=64)
    actor, now = actor_of(request), now_utc()
    return await _submit(request, lambda c: directory.add_department(c, name=name, actor=actor, now=now),
                         back="directory", ok=f"已添加部门“{name}”。")


async def handle_department_active(request: web.Request) -> web.StreamResponse:
    department_id = int_param(request)
    active = forms.flag(await request.post(), "active")
    actor, now = actor_of(request), now_utc()
    return await _submit(request, lambda c: directory.set_department_active(
        c, department_id=department_id, active=active, actor=actor, now=now), back="directory")


async def handle_community_add(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        name = forms.text(form, "name", limit=64)
        staff = forms.optional_int(form, "staff", label="工作人员数", minimum=1) or 8
    except forms.FormError as exc:
        redirect(request, "directory", flash=str(exc), level="error")
    actor, now = actor_of(request), now_utc()
    return await _submit(request, lambda c: directory.add_community(c, name=name, staff=staff, actor=actor, now=now),
                         back="directory", ok=f"已添加社区“{name}”。")


async def handle_community_update(request: web.Request) -> web.StreamResponse:
    community_id = int_param(request)
    form = await request.post()
    try:
        staff = forms.optional_int(form, "staff", label="工作人员数", minimum=1) or 8
        webhook = forms.text(form, "robot_webhook", limit=512)
        if webhook and not webhook.startswith("https://"):
            raise forms.FormError("群机器人地址应以 https:// 开头(在企业微信群 → 添加群机器人 中复制)。")
    except forms.FormError as exc:
        redirect(request, "directory", flash=str(exc), level="error")
    active = forms.flag(form, "active")
    actor, now = actor_of(request), now_utc()
    return await _submit(request, lambda c: directory.update_community(
        c, community_id=community_id, staff=staff, active=active, robot_webhook=webhook or None, actor=actor,
        now=now), back="directory")


async def handle_accounts(request: web.Request) -> web.StreamResponse:
    async with read_conn(request) as conn:
        accounts = await queries.list_accounts(conn)
    departments, communities = await directory_names(request, qualified=True)
    return render(request, "accounts.html", {"accounts": accounts, "departments": departments,
                                             "communities": communities})


async def handle_account_bind(request: web.Request) -> web.StreamResponse:
    account_id = int_param(request)
    form = await request.post()
    role = forms.text(form, "role", limit=16)
    target = forms.text(form, "target", limit=64)
    await require_target_in_scope(request, role, target)
    district, name = await target_district(request, target)
    actor, now = actor_of(request), now_utc()
    department = name if role in (Role.clerk, Role.admin) else None
    community = name if role == Role.head else None
    office = await get_own_department_id(request, name) if role == Role.clerk else None
    return await _submit(request, lambda c: directory.bind_account_to(
        c, account_id=account_id, role=role, department=department, community=community, district=district,
        actor=actor, now=now, department_id=office),
        back="accounts", ok=f"账号 {account_id} 已绑定为{texts.ROLE_ZH.get(role, role)}({target})。")


async def handle_account_unbind(request: web.Request) -> web.StreamResponse:
    account_id = int_param(request)
    actor, now = actor_of(request), now_utc()
    return await _submit(request, lambda c: directory.unbind_account(c, account_id=account_id, actor=actor, now=now),
                         back="accounts", ok=f"账号 {account_id} 已解除绑定。")


async def handle_account_active(request: web.Request) -> web.StreamResponse:
    account_id = int_param(request)
    active = forms.flag(await request.post(), "active")
    actor, now = actor_of(request), now_utc()
    return await _submit(request, lambda c: directory.set_account_active(
        c, account_id=account_id, active=active, actor=actor, now=now), back="accounts",
        ok=f"账号 {account_id} 已{'启用' if active else '停用'}。")


async def handle_invites(request: web.Request, *, new_code: str = "") -> web.StreamResponse:
    async with read_conn(request) as conn:
        invites = await queries.list_invites(conn)
    departments, communities = await directory_names(request, qualified=True)
    return render(request, "invites.html", {"invites": invites, "departments": departments, "new_code": new_code,
                                            "communities": communities, "now": now_utc(),
                                            "admin_scopes": await list_admin_scopes(request)})


async def handle_invite_add(request: web.Request) -> web.StreamResponse:
    """The new code is shown once, in this response only (no redirect, no flash in a cookie)."""
    form = await request.post()
    try:
        code = await create_invite(request, forms.text(form, "role", limit=16), forms.text(form, "target", limit=64))
    except IntakeError as exc:
        redirect(request, "invites", flash=str(exc), level="error")
    return await handle_invites(request, new_code=code)


async def handle_invite_revoke(request: web.Request) -> web.StreamResponse:
    invite_id = int_param(request)
    actor, now = actor_of(request), now_utc()
    hint = await submit_or_back(request, lambda c: revoke_invite(c, invite_id=invite_id, actor=actor, now=now),
                                back="invites")
    redirect(request, "invites", flash=texts.INVITE_REVOKED.format(hint=hint))
