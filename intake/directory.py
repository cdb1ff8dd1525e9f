"""The directory an admin keeps: departments, communities and the chat accounts bound to them.

Each function runs inside a writer unit (one transaction) and never commits, and writes an
audit entry (who, before, after).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.accounts import set_binding
from intake.audit import add_audit
from intake.errors import InvalidRequest, NotFound
from intake.org.names import (
    CITY_PREFIX,
    check_unambiguous_department,
    get_community_by_name,
    get_department_by_name,
    get_invite_district,
)
from intake.store.models import ACCOUNTS, COMMUNITIES, DEPARTMENTS, Role
from intake.texts_notify import (
    ACCOUNT_NOT_FOUND,
    BAD_CHOICE,
    BIND_NEEDS_TARGET,
    NAME_EXISTS,
    NAME_REQUIRED,
)

__all__ = [
    "add_department",
    "set_department_active",
    "add_community",
    "update_community",
    "bind_account_to",
    "unbind_account",
    "set_account_active",
]


def _check_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidRequest(NAME_REQUIRED)
    if len(name) > 64:
        raise InvalidRequest("名称不超过 64 个字。")
    return name


async def add_department(conn: AsyncConnection, *, name: str, actor: str, now: dt.datetime) -> int:
    name = _check_name(name)
    if await get_department_by_name(conn, name=name) is not None:
        raise InvalidRequest(NAME_EXISTS.format(name=name))
    department_id = int((await conn.execute(
        sa.insert(DEPARTMENTS).values(name=name, active=True, created_at=now).returning(DEPARTMENTS.c.id))).scalar_one())
    await add_audit(conn, actor=actor, entity="department", entity_id=department_id, action="create",
                    after={"name": name}, now=now)
    return department_id


async def set_department_active(conn: AsyncConnection, *, department_id: int, active: bool, actor: str,
                                now: dt.datetime) -> None:
    result = await conn.execute(sa.update(DEPARTMENTS).where(DEPARTMENTS.c.id == department_id).values(active=active)
                                .returning(DEPARTMENTS.c.id))
    if result.scalar_one_or_none() is None:
        raise NotFound(f"没有编号为 {department_id} 的部门。")
    await add_audit(conn, actor=actor, entity="department", entity_id=department_id, action="set_active",
                    after={"active": active}, now=now)


async def add_community(conn: AsyncConnection, *, name: str, staff: int, actor: str, now: dt.datetime) -> int:
    name = _check_name(name)
    if await get_community_by_name(conn, name=name) is not None:
        raise InvalidRequest(NAME_EXISTS.format(name=name))
    community_id = int((await conn.execute(
        sa.insert(COMMUNITIES).values(name=name, staff=staff, active=True, created_at=now).returning(COMMUNITIES.c.id)
    )).scalar_one())
    await add_audit(conn, actor=actor, entity="community", entity_id=community_id, action="create",
                    after={"name": name, "staff": staff}, now=now)
    return community_id


async def update_community(conn: AsyncConnection, *, community_id: int, staff: int, active: bool,
                           robot_webhook: str | None, actor: str, now: dt.datetime) -> None:
    before = (await conn.execute(
        sa.select(COMMUNITIES.c.staff, COMMUNITIES.c.active, COMMUNITIES.c.robot_webhook).where(COMMUNITIES.c.id == community_id)
    )).first()
    if before is None:
        raise NotFound(f"没有编号为 {community_id} 的社区。")
    after = {"staff": staff, "active": active, "robot_webhook": robot_webhook or None}
    await conn.execute(sa.update(COMMUNITIES).where(COMMUNITIES.c.id == community_id).values(**after))
    await add_audit(conn, actor=actor, entity="community", entity_id=community_id, action="update",
                    before=dict(before._mapping), after=after, now=now)


async def _account(conn: AsyncConnection, account_id: int) -> Any:
    row = (await conn.execute(
        sa.select(ACCOUNTS.c.id, ACCOUNTS.c.role, ACCOUNTS.c.department_id, ACCOUNTS.c.community_id, ACCOUNTS.c.active)
        .where(ACCOUNTS.c.id == account_id))).first()
    if row is None:
        raise NotFound(ACCOUNT_NOT_FOUND.format(id=account_id))
    return row


async def bind_account_to(conn: AsyncConnection, *, account_id: int, role: str, department: str | None,
                          community: str | None, actor: str, now: dt.datetime, district: str | None = None) -> None:
    """Bind an account; `district` (a name, 市 for the city) says whose department or community is meant."""
    before = await _account(conn, account_id)
    department_id = community_id = None
    district_id = await get_invite_district(conn, name=district)
    if role in (Role.clerk, Role.admin):
        if district is None and department:
            await check_unambiguous_department(conn, name=department)
        department_id = await get_department_by_name(conn, name=department or "", district_id=district_id,
                                                     city=district == CITY_PREFIX)
        if department_id is None:
            raise InvalidRequest(BIND_NEEDS_TARGET)
    elif role == Role.head:
        community_id = await get_community_by_name(conn, name=community or "", district_id=district_id)
        if community_id is None:
            raise InvalidRequest(BIND_NEEDS_TARGET)
    else:
        raise InvalidRequest(BAD_CHOICE.format(field="角色", value=role))
    await set_binding(conn, account_id=account_id, role=role, department_id=department_id,
                      community_id=community_id, now=now)
    await add_audit(conn, actor=actor, entity="account", entity_id=account_id, action="bind",
                    before=dict(before._mapping),
                    after={"role": role, "department": department if department_id else None,
                           "community": community if community_id else None}, now=now)


async def unbind_account(conn: AsyncConnection, *, account_id: int, actor: str, now: dt.datetime) -> None:
    before = await _account(conn, account_id)
    await conn.execute(sa.update(ACCOUNTS).where(ACCOUNTS.c.id == account_id).values(
        role=None, department_id=None, community_id=None, dialogue_state=None, dialogue_task_id=None,
        dialogue_expires_at=None))
    await add_audit(conn, actor=actor, entity="account", entity_id=account_id, action="unbind",
                    before=dict(before._mapping), after={"role": None}, now=now)


async def set_account_active(conn: AsyncConnection, *, account_id: int, active: bool, actor: str,
                             now: dt.datetime) -> None:
    """An admin's disable holds (``disabled_at``) until an admin enables the account: a re-follow or a
    new invite code does not undo it."""
    before = await _account(conn, account_id)
    await conn.execute(sa.update(ACCOUNTS).where(ACCOUNTS.c.id == account_id).values(
        active=active, disabled_at=None if active else now, bind_failures=0, bind_retry_at=None))
    await add_audit(conn, actor=actor, entity="account", entity_id=account_id,
                    action="activate" if active else "deactivate",
                    before={"active": before.active}, after={"active": active}, now=now)
