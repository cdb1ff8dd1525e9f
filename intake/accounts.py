"""Accounts, invites and binding. Repository functions are keyword-only, take the connection, never commit."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.audit import add_audit
from intake.errors import InvalidRequest, NotFound
from intake.store.models import ACCOUNTS, COMMUNITIES, DEPARTMENTS, INVITES, Role
from intake.store.sqlite_fast import Prepared

__all__ = [
    "AccountView",
    "BindResult",
    "get_account",
    "touch_account",
    "add_invite",
    "bind_account",
    "set_binding",
    "deactivate_account",
    "set_dialogue",
    "clear_dialogue",
    "get_or_add_department",
    "get_department_by_name",
    "get_community_by_name",
    "seed_directory",
]

INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed on phones


@dataclass(frozen=True)
class AccountView:
    id: int
    channel: str
    external_id: str
    role: str | None
    active: bool
    department_id: int | None
    department: str | None
    community_id: int | None
    community: str | None
    dialogue_state: str | None
    dialogue_task_id: int | None
    dialogue_expires_at: dt.datetime | None
    last_seen_at: dt.datetime | None

    @property
    def is_bound(self) -> bool:
        return self.active and self.role is not None


@dataclass(frozen=True)
class BindResult:
    role: str
    target: str  # department or community name
    rebound: bool


_account_columns = (
    ACCOUNTS.c.id,
    ACCOUNTS.c.channel,
    ACCOUNTS.c.external_id,
    ACCOUNTS.c.role,
    ACCOUNTS.c.active,
    ACCOUNTS.c.department_id,
    DEPARTMENTS.c.name.label("department"),
    ACCOUNTS.c.community_id,
    COMMUNITIES.c.name.label("community"),
    ACCOUNTS.c.dialogue_state,
    ACCOUNTS.c.dialogue_task_id,
    ACCOUNTS.c.dialogue_expires_at,
    ACCOUNTS.c.last_seen_at,
)


# the hot-path statements are built once: SQLAlchemy then only binds values (compiled-statement cache)
_SELECT_ACCOUNT = Prepared(
    sa.select(*_account_columns)
    .select_from(ACCOUNTS)
    .outerjoin(DEPARTMENTS, DEPARTMENTS.c.id == ACCOUNTS.c.department_id)
    .outerjoin(COMMUNITIES, COMMUNITIES.c.id == ACCOUNTS.c.community_id)
    .where(ACCOUNTS.c.channel == sa.bindparam("channel"), ACCOUNTS.c.external_id == sa.bindparam("external_id"))
)
_SELECT_DEPARTMENT_ID = sa.select(DEPARTMENTS.c.id).where(DEPARTMENTS.c.name == sa.bindparam("name"))


async def get_account(conn: AsyncConnection, *, channel: str, external_id: str) -> AccountView | None:
    rows = await _SELECT_ACCOUNT.mappings(conn, {"channel": channel, "external_id": external_id})
    return AccountView(**rows[0]) if rows else None


async def touch_account(
    conn: AsyncConnection, *, channel: str, external_id: str, now: dt.datetime, reactivate: bool = False
) -> int:
    """Record that the user wrote to us (opens WeChat's 48-hour reply window); creates the row if new.

    `reactivate` (a re-subscribe) turns an account that unsubscribed back on, binding intact.
    """
    values: dict[str, object] = {"last_seen_at": now}
    if reactivate:
        values["active"] = True
    result = await conn.execute(
        sa.update(ACCOUNTS)
        .where(ACCOUNTS.c.channel == channel, ACCOUNTS.c.external_id == external_id)
        .values(**values)
        .returning(ACCOUNTS.c.id)
    )
    account_id = result.scalar_one_or_none()
    if account_id is not None:
        return int(account_id)
    result = await conn.execute(
        sa.insert(ACCOUNTS)
        .values(channel=channel, external_id=external_id, active=True, last_seen_at=now, created_at=now)
        .returning(ACCOUNTS.c.id)
    )
    return int(result.scalar_one())


async def get_department_by_name(conn: AsyncConnection, *, name: str) -> int | None:
    value = (await conn.execute(_SELECT_DEPARTMENT_ID, {"name": name})).scalar_one_or_none()
    return int(value) if value is not None else None


async def get_or_add_department(conn: AsyncConnection, *, name: str) -> int:
    existing = await get_department_by_name(conn, name=name)
    if existing is not None:
        return existing
    result = await conn.execute(sa.insert(DEPARTMENTS).values(name=name).returning(DEPARTMENTS.c.id))
    return int(result.scalar_one())


async def get_community_by_name(conn: AsyncConnection, *, name: str) -> int | None:
    value = (await conn.execute(sa.select(COMMUNITIES.c.id).where(COMMUNITIES.c.name == name))).scalar_one_or_none()
    return int(value) if value is not None else None


async def seed_directory(
    conn: AsyncConnection, *, departments: list[str], communities: list[tuple[str, int]]
) -> None:
    """Insert configured departments and communities that are not there yet (never overwrites edits)."""
    for name in departments:
        await get_or_add_department(conn, name=name)
    for name, staff in communities:
        if await get_community_by_name(conn, name=name) is None:
            await conn.execute(sa.insert(COMMUNITIES).values(name=name, staff=staff))


def _new_code() -> str:
    return "".join(secrets.choice(INVITE_ALPHABET) for _ in range(8))


async def add_invite(
    conn: AsyncConnection,
    *,
    role: Role,
    department: str | None = None,
    community: str | None = None,
    now: dt.datetime,
    valid_days: int = 7,
    created_by: str = "cli",
) -> str:
    """Create a single-use binding code for a clerk of `department` or a head of `community`."""
    department_id = community_id = None
    if role is Role.clerk and not department:
        raise InvalidRequest("部门联络员的邀请码需要指定部门(--department 名称)")
    if department and role is not Role.head:  # a clerk's department, or the office an admin works in
        department_id = await get_department_by_name(conn, name=department)
        if department_id is None:
            raise NotFound(f"没有名为“{department}”的部门:请先在管理后台添加,或检查名称")
    if role is Role.head:
        if not community:
            raise InvalidRequest("社区书记/主任的邀请码需要指定社区(--community 名称)")
        community_id = await get_community_by_name(conn, name=community)
        if community_id is None:
            raise NotFound(f"没有名为“{community}”的社区:请检查 config.toml 的 [district] communities")
    code = _new_code()
    await conn.execute(
        sa.insert(INVITES).values(
            code=code,
            role=role.value,
            department_id=department_id,
            community_id=community_id,
            expires_at=now + dt.timedelta(days=valid_days),
            created_by=created_by,
            created_at=now,
        )
    )
    await add_audit(
        conn, actor=created_by, entity="invite", entity_id=None, action="create",
        after={"code": code, "role": role.value, "department": department, "community": community}, now=now,
    )
    return code


async def set_binding(
    conn: AsyncConnection, *, account_id: int, role: str, department_id: int | None, community_id: int | None,
    now: dt.datetime,
) -> None:
    """Bind an account to a role and its department or community, active, with no pending question."""
    await conn.execute(
        sa.update(ACCOUNTS)
        .where(ACCOUNTS.c.id == account_id)
        .values(
            role=role,
            department_id=department_id,
            community_id=community_id,
            active=True,
            bound_at=now,
            dialogue_state=None,
            dialogue_task_id=None,
            dialogue_expires_at=None,
        )
    )


async def bind_account(
    conn: AsyncConnection, *, channel: str, external_id: str, code: str, now: dt.datetime
) -> BindResult:
    code = code.strip().upper()
    invite = (await conn.execute(sa.select(INVITES).where(INVITES.c.code == code))).first()
    if invite is None:
        raise NotFound(code)
    if invite.used_at is not None:
        raise InvalidRequest(f"邀请码 {code} 已被使用,每个邀请码只能绑定一个账号。请向管理员申请新的邀请码。")
    if invite.expires_at < now:
        raise InvalidRequest(f"邀请码 {code} 已过期,请向管理员申请新的邀请码。")
    account_id = await touch_account(conn, channel=channel, external_id=external_id, now=now)
    before = (await conn.execute(sa.select(ACCOUNTS.c.role, ACCOUNTS.c.department_id, ACCOUNTS.c.community_id).where(ACCOUNTS.c.id == account_id))).one()
    await set_binding(conn, account_id=account_id, role=invite.role, department_id=invite.department_id,
                      community_id=invite.community_id, now=now)
    await conn.execute(
        sa.update(INVITES).where(INVITES.c.id == invite.id).values(used_at=now, used_by=account_id)
    )
    if invite.department_id is not None:
        target = (await conn.execute(sa.select(DEPARTMENTS.c.name).where(DEPARTMENTS.c.id == invite.department_id))).scalar_one()
    elif invite.community_id is not None:
        target = (await conn.execute(sa.select(COMMUNITIES.c.name).where(COMMUNITIES.c.id == invite.community_id))).scalar_one()
    else:
        target = "区减负办"
    await add_audit(
        conn, actor=f"account:{account_id}", entity="account", entity_id=account_id, action="bind",
        before=dict(before._mapping), after={"role": invite.role, "target": target, "invite": code}, now=now,
    )
    return BindResult(role=invite.role, target=str(target), rebound=before.role is not None)


async def deactivate_account(conn: AsyncConnection, *, channel: str, external_id: str, now: dt.datetime, actor: str) -> bool:
    result = await conn.execute(
        sa.update(ACCOUNTS)
        .where(ACCOUNTS.c.channel == channel, ACCOUNTS.c.external_id == external_id, ACCOUNTS.c.active.is_(True))
        .values(active=False)
        .returning(ACCOUNTS.c.id)
    )
    account_id = result.scalar_one_or_none()
    if account_id is None:
        return False
    await add_audit(conn, actor=actor, entity="account", entity_id=int(account_id), action="deactivate",
                    before={"active": True}, after={"active": False}, now=now)
    return True


async def set_dialogue(
    conn: AsyncConnection, *, account_id: int, state: str, task_id: int | None, expires_at: dt.datetime
) -> None:
    await conn.execute(
        sa.update(ACCOUNTS)
        .where(ACCOUNTS.c.id == account_id)
        .values(dialogue_state=state, dialogue_task_id=task_id, dialogue_expires_at=expires_at)
    )


async def clear_dialogue(conn: AsyncConnection, *, account_id: int) -> None:
    await conn.execute(
        sa.update(ACCOUNTS)
        .where(ACCOUNTS.c.id == account_id)
        .values(dialogue_state=None, dialogue_task_id=None, dialogue_expires_at=None)
    )
