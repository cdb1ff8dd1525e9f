"""Scopes in the console: every page reads through :func:`read_conn`, whose connection carries the user's
:class:`~intake.scope.Scope` (the filter itself is :func:`intake.scope.install_scope_filter`, in one place).

:func:`scope_middleware` guards what a URL names before any handler runs: an id or code in the path
that the user's scope cannot see answers 404 (as if it did not exist, so ids cannot be probed), and
the deployment-wide routes (the lists, rule learning, console users, the directory's additions) answer
403 to a scoped user.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.console import texts
from bot.console.core import USER, fail, services_of
from intake.org.names import split_qualified
from intake.reports.runner import ReportJob, run_report
from intake.scope import EVERYTHING, SCOPE_OPTION, Scope, resolve_scope
from intake.store.models import (
    ACCOUNTS,
    COMMUNITIES,
    COUNTER_ENTRIES,
    DEPARTMENTS,
    DIGESTS,
    DISTRICTS,
    INVITES,
    OUTBOX,
    TASKS,
)
from intake.store.models_catalogue import FORMS, PLATFORMS
from intake.store.values import OrgLevel

__all__ = ["SCOPE", "scope_of", "read_conn", "scope_middleware", "ROUTE_OBJECTS", "WHOLE_DEPLOYMENT_ROUTES",
           "is_visible_community", "is_own_department", "require_target_in_scope", "run_scoped"]

T = TypeVar("T")
SCOPE = web.RequestKey("console_scope", Scope)

# route name → (path part, the column it names): the object must be in the user's scope
ROUTE_OBJECTS: dict[str, tuple[tuple[str, sa.Column[object]], ...]] = {
    **{name: (("code", TASKS.c.code),) for name in ("task", "task_original", "task_correct", "task_admit",
                                                    "task_refuse")},
    "department_active": (("id", DEPARTMENTS.c.id),),
    **{name: (("id", COMMUNITIES.c.id),) for name in ("community_update", "community_work", "community_work_xlsx")},
    "counter_correct": (("id", COMMUNITIES.c.id), ("entry", COUNTER_ENTRIES.c.id)),
    **{name: (("id", ACCOUNTS.c.id),) for name in ("account_bind", "account_unbind", "account_active")},
    "invite_revoke": (("id", INVITES.c.id),),
    **{name: (("id", OUTBOX.c.id),) for name in ("outbox_retry", "inbox_read")},
    "digest": (("id", DIGESTS.c.id),),
    "form_decision": (("id", FORMS.c.id),),
    "platform_update": (("id", PLATFORMS.c.id),),
}
# what a scoped user may not do at all: users and the tree are the deployment's (a district admin edits its own
# district's lists; a street's users are refused there: bot.console.shared.writable_list_district)
WHOLE_DEPLOYMENT_ROUTES = frozenset({
    "users", "user_password", "user_active",
    "user_sessions_end", "department_add", "community_add", "org", "org_import", "org_move",
})
# pages a scoped user may read but not post to: the catalogue's forms are the district's; the simulator
# speaks as any chat account
WHOLE_DEPLOYMENT_WRITES = frozenset({"catalogue", "simulator"})


def scope_of(request: web.Request) -> Scope:
    scope: Scope = request.get(SCOPE, EVERYTHING)
    return scope


@contextlib.asynccontextmanager
async def read_conn(request: web.Request) -> AsyncIterator[AsyncConnection]:
    """A read connection that sees only the user's scope (every console page reads through one)."""
    async with services_of(request).engine.connect() as conn:
        scope = scope_of(request)
        if not scope.is_everything:
            await conn.execution_options(**{SCOPE_OPTION: scope})
        yield conn


async def run_scoped(request: web.Request, job: ReportJob[T]) -> T:
    """A report job (digest, dashboard) off the serving loop, on a connection that sees only the user's scope."""
    scope = scope_of(request)

    async def confined(conn: AsyncConnection) -> T:
        if not scope.is_everything:
            await conn.execution_options(**{SCOPE_OPTION: scope})
        return await job(conn)

    services = services_of(request)
    return await run_report(services.reports, services.engine, confined)


async def _is_visible(request: web.Request, column: sa.Column[object], raw: str) -> bool:
    value: object = raw.strip().upper() if column is TASKS.c.code else raw
    if column is not TASKS.c.code:
        try:
            value = int(raw)
        except ValueError:
            return False
    async with read_conn(request) as conn:
        return (await conn.execute(sa.select(sa.func.count()).where(column == value))).scalar() == 1


async def is_visible_community(request: web.Request, name: str) -> bool:
    scope = scope_of(request)
    return scope.is_everything or name in scope.community_names


async def is_own_department(request: web.Request, name: str) -> bool:
    """A department a scoped user may act for (its own level's offices); everyone else: any."""
    scope = scope_of(request)
    if scope.is_everything:
        return True
    district, plain = split_qualified(name)  # "乙区/宣传部": that district's (intake.org.names)
    stmt = sa.select(DEPARTMENTS.c.id).where(DEPARTMENTS.c.name == plain)
    if district is not None:
        stmt = stmt.join(DISTRICTS, DISTRICTS.c.id == DEPARTMENTS.c.district_id).where(DISTRICTS.c.name == district)
    async with read_conn(request) as conn:
        found = (await conn.execute(stmt)).scalars()
        return any(i in scope.own_department_ids for i in found)


async def require_target_in_scope(request: web.Request, role: str, target: str) -> None:
    """An invite or a binding made by a scoped user names a community or an office of its own scope."""
    if scope_of(request).is_everything:
        return
    if role == "head":
        if not await is_visible_community(request, target):
            fail(request, 403, texts.SCOPE_COMMUNITY.format(name=target))
    elif not (role == "clerk" and await is_own_department(request, target)):
        fail(request, 403, texts.SCOPE_DEPARTMENT.format(name=target))


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def scope_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The user's scope on the request, and the guard of what its URL names (after the session middleware)."""
    user = request.get(USER)
    if user is None or user.scope_level is None:
        return await handler(request)
    async with services_of(request).engine.connect() as conn:
        scope = await resolve_scope(conn, level=user.scope_level, scope_id=user.scope_id)
    request[SCOPE] = scope
    route = request.match_info.route.name or ""
    if route in WHOLE_DEPLOYMENT_ROUTES or (route in WHOLE_DEPLOYMENT_WRITES and request.method == "POST"):
        fail(request, 403, texts.SCOPE_WHOLE_ONLY)
    if route == "department_active" and request.match_info.get("id", "") not in {str(i) for i in scope.own_department_ids}:
        fail(request, 403, texts.SCOPE_WHOLE_ONLY)
    pages = scope.digest_scopes | ({"district"} if scope.level is OrgLevel.district else set())
    if "scope" in request.match_info and request.match_info["scope"] not in pages:
        fail(request, 404, texts.SCOPE_NOT_FOUND)  # /digests/{month}/{scope}…: another street's or the district's
    for part, column in ROUTE_OBJECTS.get(route, ()):
        if not await _is_visible(request, column, request.match_info.get(part, "")):
            fail(request, 404, texts.SCOPE_NOT_FOUND)
    return await handler(request)
