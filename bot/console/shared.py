"""Small helpers several console pages share: the directory's names, invites, the admin-only check."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.console import texts
from bot.console.core import actor_of, fail, now_utc, redirect, services_of, user_of
from bot.console.scoping import get_admin_invite_scope, read_conn, require_target_in_scope, scope_of
from intake import tasks
from intake.accounts import add_invite
from intake.console_users import ConsoleRole
from intake.errors import IntakeError, InvalidRequest, NotFound
from intake.rules_store import get_latest_overrides
from intake.store.models import COMMUNITIES, DEPARTMENTS, Role

__all__ = ["XLSX", "directory_names", "create_invite", "get_own_department_id", "require_admin", "int_param", "submit_or_back", "refresh_rules",
           "rules_doc", "task_text"]

T = TypeVar("T")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def int_param(request: web.Request, name: str = "id", *, message: str = "编号应当是数字。") -> int:
    """A numeric part of the URL; 404 with ``message`` when it is not a number."""
    try:
        return int(request.match_info[name])
    except ValueError:
        fail(request, 404, message)


async def submit_or_back(request: web.Request, unit: Callable[[AsyncConnection], Awaitable[T]], *, back: str) -> T:
    """Run ``unit`` through the writer; a refused change goes back to page ``back`` with the reason."""
    try:
        return await services_of(request).writer.submit(unit)
    except IntakeError as exc:
        redirect(request, back, flash=str(exc), level="error")


async def directory_names(request: web.Request) -> tuple[list[str], list[str]]:
    """(active department names, active community names)."""
    async with read_conn(request) as conn:
        departments = (await conn.execute(
            sa.select(DEPARTMENTS.c.name).where(DEPARTMENTS.c.active.is_(True)).order_by(DEPARTMENTS.c.name))).scalars().all()
        communities = (await conn.execute(
            sa.select(COMMUNITIES.c.name).where(COMMUNITIES.c.active.is_(True)).order_by(COMMUNITIES.c.id))).scalars().all()
    return list(departments), list(communities)


async def create_invite(request: web.Request, role_value: str, target: str) -> str:
    """A binding code for a clerk (department), a head (community) or an admin (a scope: ``street:ID`` …, "" for
    everything); raises IntakeError with what was wrong, 403 for a target outside the user's scope."""
    try:
        role = Role(role_value)
    except ValueError:
        raise InvalidRequest(texts.BAD_CHOICE.format(field="角色", value=role_value)) from None
    level: str | None = None
    scope_id: int | None = None
    if role is Role.admin:
        level, scope_id = await get_admin_invite_scope(request, target)
    else:
        await require_target_in_scope(request, role.value, target)
    department_id = await get_own_department_id(request, target) if role is Role.clerk else None
    actor, now = actor_of(request), now_utc()

    async def unit(c: AsyncConnection) -> str:
        return await add_invite(c, role=role, department=target if role is Role.clerk else None,
                                community=target if role is Role.head else None, now=now, created_by=actor,
                                scope_level=level, scope_id=scope_id, department_id=department_id)

    result: str = await services_of(request).writer.submit(unit)
    return result


async def get_own_department_id(request: web.Request, name: str) -> int | None:
    """A scoped user's own office of that name (乙街道's admin inviting 街道办 means 乙街道's, not the first one)."""
    scope = scope_of(request)
    if scope.is_everything:
        return None
    async with read_conn(request) as conn:
        found = (await conn.execute(sa.select(DEPARTMENTS.c.id).where(DEPARTMENTS.c.name == name)
                                    .order_by(DEPARTMENTS.c.id))).scalars().all()
    return next((int(i) for i in found if i in scope.own_department_ids), None)


def require_admin(request: web.Request) -> None:
    """Pages only administrators may even read (console users)."""
    if user_of(request).role != ConsoleRole.admin.value:
        fail(request, 403, texts.ADMIN_ONLY)


async def refresh_rules(request: web.Request) -> None:
    services = services_of(request)
    async with services.engine.connect() as conn:  # the deployment's rules, whoever reads them
        await services.rules.refresh(conn)


async def rules_doc(request: web.Request) -> tuple[dict[str, Any], dict[str, Any]]:
    """(effective rules, current override document)."""
    services = services_of(request)
    async with services.engine.connect() as conn:  # the deployment's rules, whoever reads them
        await services.rules.refresh(conn)
        current = await get_latest_overrides(conn)
    return services.rules.current.data, current


async def task_text(request: web.Request, code: str) -> tasks.TaskText:
    """The task's text, department and keywords, or the 404 page that says how to find the task."""
    async with read_conn(request) as conn:
        try:
            return await tasks.get_task_text(conn, code=code)
        except NotFound as exc:
            fail(request, 404, str(exc))
