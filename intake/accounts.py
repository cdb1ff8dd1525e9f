"""Accounts, invites and binding. Repository functions are keyword-only, take the connection, never commit."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.audit import add_audit
from intake.errors import Forbidden, InvalidRequest, NotFound
from intake.org.names import (
    CITY_PREFIX,
    check_unambiguous_department,
    get_community_by_name,
    get_department_by_name,
    get_invite_district,
    get_or_add_department,
)
from intake.scope import describe_scope, resolve_scope
from intake.store.models import ACCOUNTS, COMMUNITIES, DEPARTMENTS, DISTRICTS, INVITES, STREETS, Role
from intake.store.pending import pending_of
from intake.store.sqlite_fast import Prepared

__all__ = [
    "AccountView",
    "BindResult",
    "get_account",
    "touch_account",
    "add_invite",
    "bind_account",
    "BindRefused",
    "hash_invite_code",
    "revoke_invite",
    "set_binding",
    "deactivate_account",
    "set_dialogue",
    "clear_dialogue",
    "get_or_add_department",
    "get_department_by_name",
    "get_invite_target",
    "get_community_by_name",
    "seed_directory",
]

INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed on phones
FREE_BIND_TRIES = 3  # wrong codes an account may send before each further try must wait
BIND_DELAY = dt.timedelta(minutes=1)  # then 1, 2, 4 ... minutes
MAX_BIND_DELAY = dt.timedelta(hours=6)


class BindRefused(InvalidRequest):
    """A 绑定 that did not bind: the code is unknown, used, expired or revoked (one answer for all, so
    the answer tells nothing about which codes exist), or this account must wait (``retry_at``)."""

    def __init__(self, *, retry_at: dt.datetime | None) -> None:
        super().__init__("invite code refused" if retry_at is None else "too many wrong invite codes")
        self.retry_at = retry_at


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
    district_id: int | None = None  # the bound department's district, or the community's street's
    street_id: int | None = None  # the bound street office's street, or the community's
    scope_level: str | None = None  # an admin's reach (intake.scope); None: the whole deployment
    scope_id: int | None = None

    @property
    def is_bound(self) -> bool:
        return self.active and self.role is not None


@dataclass(frozen=True)
class BindResult:
    role: str
    target: str  # department or community name
    rebound: bool
    district: str | None = None  # the district of the department or community (several share a deployment)


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
    sa.func.coalesce(DEPARTMENTS.c.district_id, STREETS.c.district_id).label("district_id"),
    sa.func.coalesce(DEPARTMENTS.c.street_id, COMMUNITIES.c.street_id).label("street_id"),
    ACCOUNTS.c.scope_level,
    ACCOUNTS.c.scope_id,
)


# the hot-path statements are built once: SQLAlchemy then only binds values (compiled-statement cache)
# one statement for setting and clearing (None). Sent with the write batch's other pending rows (PostgreSQL's
# writer, intake.store.pending), in account order: per account in the order set, one lock order in every process
_SET_DIALOGUE = Prepared(
    sa.update(ACCOUNTS).where(ACCOUNTS.c.id == sa.bindparam("account"))
    .values(dialogue_state=sa.bindparam("state", type_=ACCOUNTS.c.dialogue_state.type),
            dialogue_task_id=sa.bindparam("task", type_=ACCOUNTS.c.dialogue_task_id.type),
            dialogue_expires_at=sa.bindparam("expires", type_=ACCOUNTS.c.dialogue_expires_at.type)),
    flush_order="account",
)
_SELECT_ACCOUNT = Prepared(
    sa.select(*_account_columns)
    .select_from(ACCOUNTS)
    .outerjoin(DEPARTMENTS, DEPARTMENTS.c.id == ACCOUNTS.c.department_id)
    .outerjoin(COMMUNITIES, COMMUNITIES.c.id == ACCOUNTS.c.community_id)
    .outerjoin(STREETS, STREETS.c.id == COMMUNITIES.c.street_id)
    .where(ACCOUNTS.c.channel == sa.bindparam("channel"), ACCOUNTS.c.external_id == sa.bindparam("external_id")),
    sees_pending=True,  # get_account lays the batch's dialogue states not sent yet over what it reads
)


async def get_account(conn: AsyncConnection, *, channel: str, external_id: str) -> AccountView | None:
    rows = await _SELECT_ACCOUNT.mappings(conn, {"channel": channel, "external_id": external_id})
    if not rows:
        return None
    row = rows[0]
    pending = pending_of(conn)
    for later in pending.rows_of(_SET_DIALOGUE) if pending is not None else ():  # in the order they were set
        if later["account"] == row["id"]:
            row.update(dialogue_state=later["state"], dialogue_task_id=later["task"], dialogue_expires_at=later["expires"])
    return AccountView(**row)


async def set_dialogue(
    conn: AsyncConnection, *, account_id: int, state: str, task_id: int | None, expires_at: dt.datetime
) -> None:
    await _SET_DIALOGUE.later(conn, {"account": account_id, "state": state, "task": task_id, "expires": expires_at})


async def clear_dialogue(conn: AsyncConnection, *, account_id: int) -> None:
    await _SET_DIALOGUE.later(conn, {"account": account_id, "state": None, "task": None, "expires": None})


async def touch_account(
    conn: AsyncConnection, *, channel: str, external_id: str, now: dt.datetime, reactivate: bool = False
) -> int:
    """Record that the user wrote to us (opens WeChat's 48-hour reply window); creates the row if new.

    `reactivate` (a re-subscribe) turns an account that unsubscribed back on, binding intact; an
    account an admin disabled (``disabled_at``) stays disabled until an admin enables it.
    """
    values: dict[str, object] = {"last_seen_at": now}
    if reactivate:
        values["active"] = sa.case((ACCOUNTS.c.disabled_at.is_(None), sa.true()), else_=ACCOUNTS.c.active)
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


def hash_invite_code(code: str) -> str:
    """What is stored of a code: its SHA-256 (codes are random, 40 bits, single-use and expire in days)."""
    return hashlib.sha256(code.strip().upper().encode("utf-8")).hexdigest()


async def add_invite(
    conn: AsyncConnection,
    *,
    role: Role,
    department: str | None = None,
    community: str | None = None,
    now: dt.datetime,
    valid_days: int = 7,
    created_by: str = "cli",
    district: str | None = None,
    scope_level: str | None = None,
    scope_id: int | None = None,
    department_id: int | None = None,
) -> str:
    """Create a single-use binding code for a clerk of `department`, a head of `community`, or an admin
    (of the whole deployment, or of the district, street or community `scope_level`/`scope_id`).
    `department_id` names the department when its name alone is ambiguous (each street has a 街道办).

    The code is returned once, to be shown to whoever made it; only its hash and its last 2
    characters (the hint) are stored, so no page or log can show it again.
    """
    community_id = None
    district_id = await get_invite_district(conn, name=district)
    if role is Role.clerk and not department:
        raise InvalidRequest("部门联络员的邀请码需要指定部门(--department 名称)")
    if scope_level is not None and role is not Role.admin:
        raise InvalidRequest("只有管理员的邀请码可以限定范围(--scope);联络员和社区负责人按部门、社区区分。")
    if department and role is not Role.head and department_id is None:  # a clerk's, or the office an admin works in
        if district is None:
            await check_unambiguous_department(conn, name=department)
        department_id = await get_department_by_name(conn, name=department, district_id=district_id,
                                                     city=district == CITY_PREFIX)
        if department_id is None:
            where = f"{district}的" if district else ""
            raise NotFound(f"没有名为“{department}”的{where}部门:请先在管理后台添加,或检查名称(及 --district 区名)")
    if role is Role.head:
        if not community:
            raise InvalidRequest("社区书记/主任的邀请码需要指定社区(--community 名称)")
        community_id = await get_community_by_name(conn, name=community, district_id=district_id)
        if community_id is None:
            where = f"{district}没有" if district else "没有"
            raise NotFound(f"{where}名为“{community}”的社区:请检查组织架构(config.toml 的 [[district]] 或 jianfu org import)")
    code = _new_code()
    await conn.execute(sa.insert(INVITES).values(
        code_hash=hash_invite_code(code), hint=code[-2:], role=role.value, department_id=department_id,
        community_id=community_id, expires_at=now + dt.timedelta(days=valid_days), created_by=created_by,
        created_at=now, scope_level=scope_level, scope_id=scope_id,
    ))
    await add_audit(
        conn, actor=created_by, entity="invite", entity_id=None, action="create",
        after={"hint": code[-2:], "role": role.value, "department": department, "community": community,
               "district": district, "scope": f"{scope_level}:{scope_id}" if scope_level else None}, now=now,
    )
    return code


async def set_binding(
    conn: AsyncConnection, *, account_id: int, role: str, department_id: int | None, community_id: int | None,
    now: dt.datetime, scope_level: str | None = None, scope_id: int | None = None,
) -> None:
    """Bind an account to a role and its department or community (an admin: and its scope; none is the whole
    deployment), active, with no pending question. Any binding replaces the scope the account had."""
    await conn.execute(
        sa.update(ACCOUNTS)
        .where(ACCOUNTS.c.id == account_id)
        .values(
            role=role,
            department_id=department_id,
            community_id=community_id,
            scope_level=scope_level,
            scope_id=scope_id,
            active=True,
            bound_at=now,
            dialogue_state=None,
            dialogue_task_id=None,
            dialogue_expires_at=None,
        )
    )


async def revoke_invite(conn: AsyncConnection, *, invite_id: int, actor: str, now: dt.datetime) -> str:
    """Revoke an unused code; returns its hint. Raises NotFound / InvalidRequest (used or revoked already)."""
    invite = (await conn.execute(sa.select(INVITES.c.hint, INVITES.c.used_at, INVITES.c.revoked_at)
                                 .where(INVITES.c.id == invite_id))).first()
    if invite is None:
        raise NotFound(f"没有编号为 {invite_id} 的邀请码,请从“邀请码”页面操作。")
    if invite.used_at is not None or invite.revoked_at is not None:
        raise InvalidRequest(f"邀请码 …{invite.hint} 已被使用或已作废,无需再作废。")
    await conn.execute(sa.update(INVITES).where(INVITES.c.id == invite_id).values(revoked_at=now, revoked_by=actor))
    await add_audit(conn, actor=actor, entity="invite", entity_id=invite_id, action="revoke",
                    after={"hint": invite.hint}, now=now)
    return str(invite.hint)


async def _bind_refused(conn: AsyncConnection, *, account_id: int, failures: int, now: dt.datetime) -> BindRefused:
    """Count a wrong code; past FREE_BIND_TRIES the account's next try waits, twice as long each time."""
    failures += 1
    retry_at = None
    if failures >= FREE_BIND_TRIES:
        retry_at = now + min(BIND_DELAY * (1 << min(failures - FREE_BIND_TRIES, 30)), MAX_BIND_DELAY)
    await conn.execute(sa.update(ACCOUNTS).where(ACCOUNTS.c.id == account_id)
                       .values(bind_failures=failures, bind_retry_at=retry_at))
    return BindRefused(retry_at=None)


async def _usable_invite(conn: AsyncConnection, code: str, now: dt.datetime) -> Any:
    invite = (await conn.execute(sa.select(INVITES).where(INVITES.c.code_hash == hash_invite_code(code)))).first()
    if invite is None or invite.used_at is not None or invite.revoked_at is not None or invite.expires_at < now:
        return None
    return invite


async def bind_account(
    conn: AsyncConnection, *, channel: str, external_id: str, code: str, now: dt.datetime
) -> BindResult:
    """Bind the account with a code; raises BindRefused (any bad code, or too many tries) or Forbidden
    (an account an admin disabled cannot re-enable itself with a new code)."""
    code = code.strip().upper()
    account_id = await touch_account(conn, channel=channel, external_id=external_id, now=now)
    before = (await conn.execute(sa.select(
        ACCOUNTS.c.role, ACCOUNTS.c.department_id, ACCOUNTS.c.community_id, ACCOUNTS.c.disabled_at,
        ACCOUNTS.c.bind_failures, ACCOUNTS.c.bind_retry_at).where(ACCOUNTS.c.id == account_id))).one()
    if before.disabled_at is not None:
        raise Forbidden("account disabled by an admin")
    if before.bind_retry_at is not None and before.bind_retry_at > now:
        raise BindRefused(retry_at=before.bind_retry_at)
    invite = await _usable_invite(conn, code, now)
    if invite is None:
        raise await _bind_refused(conn, account_id=account_id, failures=before.bind_failures, now=now)
    await set_binding(conn, account_id=account_id, role=invite.role, department_id=invite.department_id,
                      community_id=invite.community_id, scope_level=invite.scope_level, scope_id=invite.scope_id,
                      now=now)
    await conn.execute(sa.update(ACCOUNTS).where(ACCOUNTS.c.id == account_id)
                       .values(bind_failures=0, bind_retry_at=None))
    await conn.execute(sa.update(INVITES).where(INVITES.c.id == invite.id).values(used_at=now, used_by=account_id))
    target, district = await _invite_target(conn, invite)
    await add_audit(
        conn, actor=f"account:{account_id}", entity="account", entity_id=account_id, action="bind",
        before={"role": before.role, "department_id": before.department_id, "community_id": before.community_id},
        after={"role": invite.role, "target": target, "district": district, "invite": invite.id}, now=now,
    )
    return BindResult(role=invite.role, target=target, rebound=before.role is not None, district=district)


async def get_invite_target(conn: AsyncConnection, *, code: str) -> str:
    """What a code binds to, as its texts name it: "乙区 宣传部", or the name alone outside any district."""
    invite = (await conn.execute(sa.select(INVITES.c.department_id, INVITES.c.community_id, INVITES.c.scope_level,
                                           INVITES.c.scope_id)
                                 .where(INVITES.c.code_hash == hash_invite_code(code)))).one()
    target, district = await _invite_target(conn, invite)
    return f"{district} {target}" if district else target


async def _invite_target(conn: AsyncConnection, invite: Any) -> tuple[str, str | None]:
    """(the department or community an invite binds to, its district's name when it has one)."""
    if invite.department_id is not None:
        row = (await conn.execute(
            sa.select(DEPARTMENTS.c.name, DISTRICTS.c.name.label("district"))
            .outerjoin(DISTRICTS, DISTRICTS.c.id == DEPARTMENTS.c.district_id)
            .where(DEPARTMENTS.c.id == invite.department_id))).one()
        return str(row.name), row.district
    if invite.community_id is not None:
        row = (await conn.execute(
            sa.select(COMMUNITIES.c.name, DISTRICTS.c.name.label("district"))
            .outerjoin(STREETS, STREETS.c.id == COMMUNITIES.c.street_id)
            .outerjoin(DISTRICTS, DISTRICTS.c.id == STREETS.c.district_id)
            .where(COMMUNITIES.c.id == invite.community_id))).one()
        return str(row.name), row.district
    if invite.scope_level is not None:
        return describe_scope(await resolve_scope(conn, level=invite.scope_level, scope_id=invite.scope_id)), None
    return "区减负办", None


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


