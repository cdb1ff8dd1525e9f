"""Small helpers several console pages share: the directory's names, invites, the admin-only check."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.console import texts
from bot.console.core import actor_of, fail, now_utc, redirect, services_of, user_of
from bot.console.scoping import read_conn, require_target_in_scope, scope_of
from intake import tasks
from intake.accounts import add_invite
from intake.console_users import ConsoleRole
from intake.errors import IntakeError, InvalidRequest, NotFound
from intake.org.names import qualified_name, split_qualified
from intake.rules_store import get_latest_overrides
from intake.store.models import COMMUNITIES, DEPARTMENTS, DISTRICTS, Role
from intake.store.values import OrgLevel

__all__ = ["XLSX", "directory_names", "create_invite", "require_admin", "int_param", "submit_or_back", "refresh_rules",
           "rules_doc", "task_text", "list_district", "writable_list_district",
           "target_district"]

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


async def directory_names(request: web.Request, *, qualified: bool = False) -> tuple[list[str], list[str]]:
    """(active department names, active community names). `qualified` (the invite and binding pickers): a
    department name several districts (or the city) share is given as "区名/部门" (市/部门 for the city's)."""
    async with read_conn(request) as conn:
        departments = (await conn.execute(
            sa.select(DEPARTMENTS.c.name, DISTRICTS.c.name.label("district"))
            .outerjoin(DISTRICTS, DISTRICTS.c.id == DEPARTMENTS.c.district_id)
            .where(DEPARTMENTS.c.active.is_(True)).order_by(DEPARTMENTS.c.name, DISTRICTS.c.name))).all()
        communities = (await conn.execute(
            sa.select(COMMUNITIES.c.name).where(COMMUNITIES.c.active.is_(True)).order_by(COMMUNITIES.c.id))).scalars().all()
    shared = Counter(str(r.name) for r in departments)
    names = [qualified_name(str(r.name), district=r.district, ambiguous=qualified and shared[str(r.name)] > 1)
             for r in departments]
    return list(dict.fromkeys(names)), list(communities)


async def target_district(request: web.Request, target: str) -> tuple[str | None, str]:
    """(district, name) of a picked department or community: "区名/名称" as written, else the scoped
    user's own district (a district or street admin's invite is for its district's department)."""
    district, name = split_qualified(target)
    scope = scope_of(request)
    if district is not None or scope.is_everything or not scope.district_ids:
        return district, name
    async with services_of(request).engine.connect() as conn:
        found = (await conn.execute(sa.select(DISTRICTS.c.name).where(DISTRICTS.c.id == min(scope.district_ids))))
        return found.scalar(), name


async def create_invite(request: web.Request, role_value: str, target: str) -> str:
    """A binding code for a clerk (department) or a head (community); raises IntakeError with what was wrong."""
    try:
        role = Role(role_value)
    except ValueError:
        raise InvalidRequest(texts.BAD_CHOICE.format(field="角色", value=role_value)) from None
    await require_target_in_scope(request, role.value, target)
    district, name = await target_district(request, target)
    actor, now = actor_of(request), now_utc()

    async def unit(c: AsyncConnection) -> str:
        return await add_invite(c, role=role, department=name if role is not Role.head else None,
                                community=name if role is Role.head else None, district=district, now=now,
                                created_by=actor)

    result: str = await services_of(request).writer.submit(unit)
    return result


def require_admin(request: web.Request) -> None:
    """Pages only administrators may even read (console users)."""
    if user_of(request).role != ConsoleRole.admin.value:
        fail(request, 403, texts.ADMIN_ONLY)


async def refresh_rules(request: web.Request) -> None:
    services = services_of(request)
    async with services.engine.connect() as conn:  # the deployment's rules, whoever reads them
        await services.rules.refresh(conn)


def list_district(request: web.Request) -> int | None:
    """Whose lists a page reads and edits: a scoped user's district; for the whole deployment the
    ``district`` query parameter (a district's own lists), else the city default (None)."""
    scope = scope_of(request)
    if scope.is_everything:
        raw = request.query.get("district", "")
        return int(raw) if raw.isdigit() else None
    return min(scope.district_ids) if scope.district_ids else None


async def writable_list_district(request: web.Request) -> int | None:
    """The level a rule edit (a list, a learnt keyword, an admission) is saved to, or 403.

    Streets and communities set no lists and may not loosen their district's (docs: README, 分级准入)."""
    scope = scope_of(request)
    if scope.level in (OrgLevel.street, OrgLevel.community):
        fail(request, 403, texts.LISTS_NOT_FOR_STREETS)
    district_id = list_district(request)
    if district_id is not None:
        async with services_of(request).engine.connect() as conn:
            if (await conn.execute(sa.select(DISTRICTS.c.id).where(DISTRICTS.c.id == district_id))).first() is None:
                fail(request, 404, texts.LISTS_NO_DISTRICT.format(id=district_id))
    return district_id


async def rules_doc(request: web.Request) -> tuple[dict[str, Any], dict[str, Any]]:
    """(effective rules of the request's level, that level's own override document): see list_district."""
    services = services_of(request)
    district_id = list_district(request)
    async with services.engine.connect() as conn:  # the deployment's rules, whoever reads them
        await services.rules.refresh(conn)
        current = await get_latest_overrides(conn, district_id=district_id)
    return services.rules.for_district(district_id).data, current


async def task_text(request: web.Request, code: str) -> tasks.TaskText:
    """The task's text, department and keywords, or the 404 page that says how to find the task."""
    async with read_conn(request) as conn:
        try:
            return await tasks.get_task_text(conn, code=code)
        except NotFound as exc:
            fail(request, 404, str(exc))
