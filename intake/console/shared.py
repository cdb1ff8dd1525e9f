"""Small helpers several console pages share: the directory's names, invites, the admin-only check."""

from __future__ import annotations

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.accounts import add_invite
from intake.console import texts
from intake.console.core import actor_of, fail, now_utc, services_of, user_of
from intake.console_users import ConsoleRole
from intake.errors import InvalidRequest
from intake.models import COMMUNITIES, DEPARTMENTS, Role

__all__ = ["directory_names", "create_invite", "require_admin"]


async def directory_names(request: web.Request) -> tuple[list[str], list[str]]:
    """(active department names, active community names)."""
    async with services_of(request).engine.connect() as conn:
        departments = (await conn.execute(
            sa.select(DEPARTMENTS.c.name).where(DEPARTMENTS.c.active.is_(True)).order_by(DEPARTMENTS.c.name))).scalars().all()
        communities = (await conn.execute(
            sa.select(COMMUNITIES.c.name).where(COMMUNITIES.c.active.is_(True)).order_by(COMMUNITIES.c.id))).scalars().all()
    return list(departments), list(communities)


async def create_invite(request: web.Request, role_value: str, target: str) -> str:
    """A binding code for a clerk (department) or a head (community); raises IntakeError with what was wrong."""
    try:
        role = Role(role_value)
    except ValueError:
        raise InvalidRequest(texts.BAD_CHOICE.format(field="角色", value=role_value)) from None
    actor, now = actor_of(request), now_utc()

    async def unit(c: AsyncConnection) -> str:
        return await add_invite(c, role=role, department=target if role is not Role.head else None,
                                community=target if role is Role.head else None, now=now, created_by=actor)

    result: str = await services_of(request).writer.submit(unit)
    return result


def require_admin(request: web.Request) -> None:
    """Pages only administrators may even read (console users)."""
    if user_of(request).role != ConsoleRole.admin.value:
        fail(request, 403, texts.ADMIN_ONLY)
