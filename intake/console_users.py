"""Console users: argon2 password hashes, login with throttling, and the first admin of a fresh install.

Password checks are CPU work (argon2 is slow on purpose), so the console reads the
hash with :func:`get_admin_user`, checks it off the event loop with
:func:`check_password`, and records the outcome with :func:`record_login` in a
writer unit. :func:`verify_login` does all three on one connection (CLI, tests).
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
from intake.errors import Forbidden, InvalidRequest
from intake.store.models import ADMIN_USERS
from intake.store.values import ConsoleRole

__all__ = [
    "ConsoleRole",
    "AdminView",
    "LoginRefused",
    "MAX_FAILED_LOGINS",
    "LOCK_MINUTES",
    "FIRST_ADMIN",
    "hash_password",
    "check_password",
    "add_admin_user",
    "get_admin_user",
    "get_admin_by_id",
    "list_admin_users",
    "set_admin_password",
    "set_admin_active",
    "record_login",
    "verify_login",
    "ensure_first_admin",
]

MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 15
MIN_PASSWORD = 8
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
    failed_logins: int
    locked_until: dt.datetime | None

    @property
    def can_write(self) -> bool:
        return self.active and self.role == ConsoleRole.admin.value

    def is_locked(self, now: dt.datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


class LoginRefused(Forbidden):
    """Wrong credentials, an inactive user or a locked account; the message says which and what to do."""

    def __init__(self, message: str, *, locked_until: dt.datetime | None = None) -> None:
        super().__init__(message)
        self.locked_until = locked_until


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
    ADMIN_USERS.c.failed_logins, ADMIN_USERS.c.locked_until,
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
    password_hash: str | None = None, actor: str = "system",
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
                failed_logins=0, created_at=now)
        .returning(ADMIN_USERS.c.id)
    )
    user_id = int(result.scalar_one())
    await add_audit(conn, actor=actor, entity="admin_user", entity_id=user_id, action="create",
                    after={"username": username, "role": role}, now=now)
    return user_id


async def _existing(conn: AsyncConnection, user_id: int) -> AdminView:
    user = await get_admin_by_id(conn, user_id=user_id)
    if user is None:
        raise InvalidRequest(f"没有编号为 {user_id} 的后台用户,请从“后台用户”页面进入。")
    return user


async def set_admin_password(
    conn: AsyncConnection, *, user_id: int, password_hash: str, actor: str, now: dt.datetime
) -> AdminView:
    """Reset a user's password (hash from :func:`hash_password`); also lifts a login lock."""
    user = await _existing(conn, user_id)
    await conn.execute(sa.update(ADMIN_USERS).where(ADMIN_USERS.c.id == user_id).values(
        password_hash=password_hash, failed_logins=0, locked_until=None))
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
        if user.role == ConsoleRole.admin.value and user.active:
            admins = (await conn.execute(sa.select(sa.func.count()).select_from(ADMIN_USERS).where(
                ADMIN_USERS.c.role == ConsoleRole.admin.value, ADMIN_USERS.c.active.is_(True)))).scalar_one()
            if int(admins) <= 1:
                raise InvalidRequest("这是最后一位启用的管理员,停用后将无人能管理后台。请先创建或启用另一位管理员。")
    await conn.execute(sa.update(ADMIN_USERS).where(ADMIN_USERS.c.id == user_id).values(active=active))
    await add_audit(conn, actor=actor, entity="admin_user", entity_id=user_id,
                    action="activate" if active else "deactivate",
                    before={"active": user.active}, after={"active": active}, now=now)
    return await _existing(conn, user_id)


async def record_login(conn: AsyncConnection, *, user_id: int, ok: bool, now: dt.datetime) -> AdminView:
    """Count a failure (locking after MAX_FAILED_LOGINS) or reset the counter after a success."""
    if ok:
        await conn.execute(
            sa.update(ADMIN_USERS).where(ADMIN_USERS.c.id == user_id).values(failed_logins=0, locked_until=None)
        )
    else:
        row = (await conn.execute(sa.select(ADMIN_USERS.c.failed_logins).where(ADMIN_USERS.c.id == user_id))).one()
        failures = int(row.failed_logins) + 1
        values: dict[str, object] = {"failed_logins": failures}
        if failures >= MAX_FAILED_LOGINS:
            values["locked_until"] = now + dt.timedelta(minutes=LOCK_MINUTES)
            values["failed_logins"] = 0
            await add_audit(conn, actor="system", entity="admin_user", entity_id=user_id, action="lock",
                            after={"locked_minutes": LOCK_MINUTES}, now=now)
        await conn.execute(sa.update(ADMIN_USERS).where(ADMIN_USERS.c.id == user_id).values(**values))
    user = await get_admin_by_id(conn, user_id=user_id)
    assert user is not None
    return user


def describe_lock(locked_until: dt.datetime, now: dt.datetime) -> str:
    minutes = max(1, int((locked_until - now).total_seconds() // 60) + 1)
    return (f"登录失败次数过多,该账号已暂时锁定,请 {minutes} 分钟后再试;"
            "如忘记密码,请让管理员用 `jianfu admin create` 重新创建账号。")


WRONG_CREDENTIALS = "用户名或密码不正确。请检查大小写和输入法后重试(连续失败 5 次将锁定 15 分钟)。"
INACTIVE = "该账号已停用,请联系管理员。"


async def verify_login(conn: AsyncConnection, *, username: str, password: str, now: dt.datetime) -> AdminView:
    """Check a login and record its outcome; raises LoginRefused with a message that says what to do."""
    user = await get_admin_user(conn, username=username)
    if user is not None and user.is_locked(now):
        assert user.locked_until is not None
        raise LoginRefused(describe_lock(user.locked_until, now), locked_until=user.locked_until)
    ok = check_password(user.password_hash if user else None, password)
    if user is None:
        raise LoginRefused(WRONG_CREDENTIALS)
    user = await record_login(conn, user_id=user.id, ok=ok, now=now)
    if not ok:
        if user.locked_until is not None and user.is_locked(now):
            raise LoginRefused(describe_lock(user.locked_until, now), locked_until=user.locked_until)
        raise LoginRefused(WRONG_CREDENTIALS)
    if not user.active:
        raise LoginRefused(INACTIVE)
    return user


async def ensure_first_admin(conn: AsyncConnection) -> tuple[str, str] | None:
    """On a fresh install, create user "admin" with a random password and return (username, password)."""
    count = (await conn.execute(sa.select(sa.func.count()).select_from(ADMIN_USERS))).scalar_one()
    if count:
        return None
    password = secrets.token_urlsafe(12)
    await add_admin_user(conn, username=FIRST_ADMIN, password=password, role=ConsoleRole.admin.value)
    return FIRST_ADMIN, password
