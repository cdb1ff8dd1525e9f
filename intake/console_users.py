"""Console users: argon2 password hashes, login with back-off, and the first admin of a fresh install.

Password checks are CPU work (argon2 is slow on purpose), so the console reads the
hash with :func:`get_admin_user`, checks it off the event loop with
:func:`check_password`, and records the outcome with :func:`record_login` in a
writer unit. :func:`verify_login` does all of it on one connection (CLI, tests).
Failed logins slow down further tries (:mod:`intake.console_sessions`); they never lock.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.audit import add_audit
from intake.console_sessions import (
    CLIENT_BACKOFF,
    USER_BACKOFF,
    SessionEnd,
    add_login_failure,
    clear_login_failures,
    end_user_sessions,
    get_login_wait,
)
from intake.errors import Forbidden, InvalidRequest
from intake.store.models import ADMIN_USERS
from intake.store.values import ConsoleRole, OrgLevel

__all__ = [
    "ConsoleRole",
    "AdminView",
    "LoginRefused",
    "throttle_keys",
    "FIRST_ADMIN",
    "hash_password",
    "check_password",
    "add_admin_user",
    "get_admin_user",
    "get_admin_by_id",
    "list_admin_users",
    "set_admin_password",
    "set_admin_active",
    "end_admin_sessions",
    "record_login",
    "verify_login",
    "ensure_first_admin",
    "count_whole_admins",
]

MIN_PASSWORD = 8
WHOLE_LEVELS: tuple[str | None, ...] = (None, OrgLevel.city.value)  # scopes that see the whole deployment
FIRST_ADMIN = "admin"
_hasher = PasswordHasher()
# checked against when the username does not exist, so both paths cost the same time
_DUMMY_HASH = _hasher.hash("jianfu-no-such-user")


@dataclass(frozen=True)
class AdminView:
    id: int
    username: str
    role: str
    active: bool
    password_hash: str
    scope_level: str | None = None  # OrgLevel; None: the whole deployment (intake.scope)
    scope_id: int | None = None

    @property
    def can_write(self) -> bool:
        return self.active and self.role == ConsoleRole.admin.value


class LoginRefused(Forbidden):
    """Wrong credentials, an inactive user, or a try that must wait; the message says which and what to do."""

    def __init__(self, message: str, *, wait: dt.timedelta | None = None) -> None:
        super().__init__(message)
        self.wait = wait


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidRequest(f"密码至少 {MIN_PASSWORD} 位,请换一个更长的密码。")
    return _hasher.hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    """Constant-effort check: an unknown user is checked against a dummy hash."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


_columns = (
    ADMIN_USERS.c.id, ADMIN_USERS.c.username, ADMIN_USERS.c.role, ADMIN_USERS.c.active, ADMIN_USERS.c.password_hash,
    ADMIN_USERS.c.scope_level, ADMIN_USERS.c.scope_id,
)


def _view(row: Any) -> AdminView | None:
    return AdminView(**row._mapping) if row is not None else None


async def get_admin_user(conn: AsyncConnection, *, username: str) -> AdminView | None:
    row = (await conn.execute(sa.select(*_columns).where(ADMIN_USERS.c.username == username.strip()))).first()
    return _view(row)


async def get_admin_by_id(conn: AsyncConnection, *, user_id: int) -> AdminView | None:
    row = (await conn.execute(sa.select(*_columns).where(ADMIN_USERS.c.id == user_id))).first()
    return _view(row)


async def list_admin_users(conn: AsyncConnection) -> list[AdminView]:
    rows = (await conn.execute(sa.select(*_columns).order_by(ADMIN_USERS.c.id))).all()
    return [AdminView(**r._mapping) for r in rows]


async def add_admin_user(
    conn: AsyncConnection, *, username: str, password: str = "", role: str = ConsoleRole.admin, now: dt.datetime | None = None,
    password_hash: str | None = None, actor: str = "system", scope_level: str | None = None, scope_id: int | None = None,
) -> int:
    """Create a console user; raises InvalidRequest for a taken name, a bad role or a short password.

    Pass ``password_hash`` (from :func:`hash_password`, computed off the event loop) instead of
    ``password`` where argon2's cost must not hold a writer unit.
    """
    username = username.strip()
    if not username or len(username) > 64:
        raise InvalidRequest("用户名不能为空,且不超过 64 个字符。")
    if role not in {r.value for r in ConsoleRole}:
        raise InvalidRequest(f"角色 {role!r} 无效:只能是 admin(可修改)或 viewer(只读)。")
    if await get_admin_user(conn, username=username) is not None:
        raise InvalidRequest(f"用户名 {username} 已存在,请换一个用户名。")
    now = now or dt.datetime.now(dt.UTC)
    result = await conn.execute(
        sa.insert(ADMIN_USERS)
        .values(username=username, password_hash=password_hash or hash_password(password), role=role, active=True,
                scope_level=scope_level, scope_id=scope_id, created_at=now)
        .returning(ADMIN_USERS.c.id)
    )
    user_id = int(result.scalar_one())
    await add_audit(conn, actor=actor, entity="admin_user", entity_id=user_id, action="create",
                    after={"username": username, "role": role,
                           "scope": f"{scope_level}:{scope_id}" if scope_level else None}, now=now)
    return user_id


async def _existing(conn: AsyncConnection, user_id: int) -> AdminView:
    user = await get_admin_by_id(conn, user_id=user_id)
    if user is None:
        raise InvalidRequest(f"没有编号为 {user_id} 的后台用户,请从“后台用户”页面进入。")
    return user


async def set_admin_password(
    conn: AsyncConnection, *, user_id: int, password_hash: str, actor: str, now: dt.datetime,
    keep_token: str | None = None,
) -> AdminView:
    """Reset a user's password (hash from :func:`hash_password`); ends all their sessions but ``keep_token``'s
    (one's own change keeps the session it was made in), and clears their username's failed logins."""
    user = await _existing(conn, user_id)
    await conn.execute(sa.update(ADMIN_USERS).where(ADMIN_USERS.c.id == user_id).values(password_hash=password_hash))
    await end_user_sessions(conn, user_id=user_id, reason=SessionEnd.password, now=now, keep_token=keep_token)
    await clear_login_failures(conn, key=throttle_keys(user.username, None)[0])
    await add_audit(conn, actor=actor, entity="admin_user", entity_id=user_id, action="reset_password",
                    after={"username": user.username}, now=now)
    return await _existing(conn, user_id)


async def set_admin_active(
    conn: AsyncConnection, *, user_id: int, active: bool, actor_id: int, actor: str, now: dt.datetime
) -> AdminView:
    """Deactivate (their sessions end at the next request) or reactivate a user.

    Refuses to deactivate yourself or the last active admin, so the console never locks everyone out.
    """
    user = await _existing(conn, user_id)
    if not active:
        if user_id == actor_id:
            raise InvalidRequest("不能停用自己正在使用的账号。请让另一位管理员操作。")
        is_whole = user.role == ConsoleRole.admin.value and user.active and user.scope_level in WHOLE_LEVELS
        if is_whole and await count_whole_admins(conn) <= 1:  # district and street admins do not count
            raise InvalidRequest("这是最后一位管理全部范围的管理员(区、街道管理员不能管理后台用户和组织架构),"
                                 "停用后将无人能管理后台。请先创建或启用另一位全部范围的管理员。")
    await conn.execute(sa.update(ADMIN_USERS).where(ADMIN_USERS.c.id == user_id).values(active=active))
    if not active:
        await end_user_sessions(conn, user_id=user_id, reason=SessionEnd.deactivated, now=now)
    await add_audit(conn, actor=actor, entity="admin_user", entity_id=user_id,
                    action="activate" if active else "deactivate",
                    before={"active": user.active}, after={"active": active}, now=now)
    return await _existing(conn, user_id)


async def end_admin_sessions(
    conn: AsyncConnection, *, user_id: int, actor: str, now: dt.datetime
) -> tuple[AdminView, int]:
    """An admin's "end all sessions": every open session of the user ends now; (user, how many)."""
    user = await _existing(conn, user_id)
    count = await end_user_sessions(conn, user_id=user_id, reason=SessionEnd.ended_all, now=now)
    await add_audit(conn, actor=actor, entity="admin_user", entity_id=user_id, action="end_sessions",
                    after={"username": user.username, "sessions": count}, now=now)
    return user, count


def throttle_keys(username: str, client: str | None) -> list[str]:
    """The back-off keys of a login: the username as typed (known or not) and the client's address."""
    keys = [f"user:{username.strip()[:64]}"]
    if client is not None:
        keys.append(f"client:{client[:64]}")
    return keys


async def record_login(
    conn: AsyncConnection, *, username: str, client: str | None, user_id: int | None, ok: bool, now: dt.datetime
) -> None:
    """Count a failure against the username and the client, or clear the username's count on success
    (a client's count is left to fade: a login of one's own must not reset a guesser's budget)."""
    user_key, *client_key = throttle_keys(username, client)
    if ok and user_id is not None:
        await clear_login_failures(conn, key=user_key)
        return
    await add_login_failure(conn, key=user_key, backoff=USER_BACKOFF, now=now)
    for key in client_key:
        await add_login_failure(conn, key=key, backoff=CLIENT_BACKOFF, now=now)


def describe_wait(wait: dt.timedelta) -> str:
    seconds = max(1, int(wait.total_seconds() + 0.999))
    span = f"{seconds} 秒" if seconds < 120 else f"{-(-seconds // 60)} 分钟"
    return f"登录尝试过于频繁,请 {span}后再试。如忘记密码,请让另一位管理员在“后台用户”中重置。"


WRONG_CREDENTIALS = "用户名或密码不正确。请检查大小写和输入法后重试(连续输错后,每次重试需要等待更久)。"
INACTIVE = "该账号已停用,请联系管理员。"


async def verify_login(
    conn: AsyncConnection, *, username: str, password: str, now: dt.datetime, client: str | None = None
) -> AdminView:
    """Check a login and record its outcome; raises LoginRefused with a message that says what to do.

    The same answer for an unknown user and a wrong password; a try that must wait is not checked."""
    wait = await get_login_wait(conn, keys=throttle_keys(username, client), now=now)
    if wait:
        raise LoginRefused(describe_wait(wait), wait=wait)
    user = await get_admin_user(conn, username=username)
    ok = check_password(user.password_hash if user else None, password)
    await record_login(conn, username=username, client=client, user_id=user.id if user else None, ok=ok, now=now)
    if user is None or not ok:
        raise LoginRefused(WRONG_CREDENTIALS)
    if not user.active:
        raise LoginRefused(INACTIVE)
    return user


async def count_whole_admins(conn: AsyncConnection) -> int:
    """Active admins of the whole deployment: scoped admins (a district's, a street's) do not count, since
    only a whole-deployment admin manages users, the tree and the city's lists."""
    whole = [level for level in WHOLE_LEVELS if level is not None]
    stmt = sa.select(sa.func.count()).select_from(ADMIN_USERS).where(
        ADMIN_USERS.c.role == ConsoleRole.admin.value, ADMIN_USERS.c.active.is_(True),
        sa.or_(ADMIN_USERS.c.scope_level.is_(None), ADMIN_USERS.c.scope_level.in_(whole)))
    return int((await conn.execute(stmt)).scalar_one())


async def ensure_first_admin(conn: AsyncConnection) -> tuple[str, str] | None:
    """When no active admin of the whole deployment exists (a fresh install, or only district and street
    admins were created), create one — "admin", or "admin2"… when taken — and return (username, password)."""
    if await count_whole_admins(conn):
        return None
    taken = set((await conn.execute(sa.select(ADMIN_USERS.c.username))).scalars())
    username = next(name for n in range(1, 1000) if (name := FIRST_ADMIN if n == 1 else f"{FIRST_ADMIN}{n}") not in taken)
    password = secrets.token_urlsafe(12)
    await add_admin_user(conn, username=username, password=password, role=ConsoleRole.admin.value)
    return username, password
