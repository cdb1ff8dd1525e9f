"""Console sessions held on the server, and the back-off of failed logins.

A session is a row keyed by the SHA-256 of a random token; the browser holds only the token (in a
signed cookie). It ends at once on logout, on a password change, on deactivation and on an admin's
"end all sessions", and by itself after an idle timeout and an absolute timeout.

Failed logins are counted per username (``user:NAME``, whether or not the user exists, so the
answer never tells which names are real) and per client (``client:ADDRESS``). Past a few free
tries each further try must wait, twice as long each time, up to a cap: there is no hard lock, so
the right password still gets in after a short wait even while someone guesses at the same name.
A success clears only its own username's count; a client's count is never cleared by a success
(a guesser cannot reset it by logging in to an account of their own), it fades after
``FAILURES_FADE``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.store.models import CONSOLE_SESSIONS, LOGIN_THROTTLE

__all__ = [
    "SessionEnd",
    "LiveSession",
    "Backoff",
    "USER_BACKOFF",
    "CLIENT_BACKOFF",
    "add_session",
    "get_live_session",
    "update_session_seen",
    "is_seen_stale",
    "end_session",
    "end_user_sessions",
    "get_login_wait",
    "add_login_failure",
    "clear_login_failures",
    "prune_sessions",
    "prune_login_throttle",
]

SEEN_RESOLUTION = dt.timedelta(minutes=1)  # last_seen_at is written at most this often per session
FAILURES_FADE = dt.timedelta(hours=1)  # a count not added to for this long starts again from zero


class SessionEnd(StrEnum):
    """Why a session ended (``console_sessions.ended_reason``)."""

    logout = "logout"
    password = "password"
    deactivated = "deactivated"
    ended_all = "ended_all"


@dataclass(frozen=True)
class LiveSession:
    token_hash: str
    user_id: int
    last_seen_at: dt.datetime


@dataclass(frozen=True)
class Backoff:
    free: int  # failures allowed before the first wait
    first: dt.timedelta  # the first wait; each further failure doubles it
    cap: dt.timedelta

    def wait_after(self, failures: int) -> dt.timedelta:
        if failures < self.free:
            return dt.timedelta(0)
        return min(self.first * (1 << min(failures - self.free, 30)), self.cap)


USER_BACKOFF = Backoff(free=3, first=dt.timedelta(seconds=2), cap=dt.timedelta(minutes=5))
CLIENT_BACKOFF = Backoff(free=10, first=dt.timedelta(seconds=2), cap=dt.timedelta(minutes=15))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def add_session(conn: AsyncConnection, *, user_id: int, client: str, now: dt.datetime) -> str:
    """Start a session; returns its token (for the cookie). Only the token's hash is stored."""
    token = secrets.token_urlsafe(32)
    await conn.execute(sa.insert(CONSOLE_SESSIONS).values(
        token_hash=_hash(token), user_id=user_id, created_at=now, last_seen_at=now, client=client[:64]))
    return token


async def get_live_session(
    conn: AsyncConnection, *, token: str, now: dt.datetime, idle: dt.timedelta, absolute: dt.timedelta
) -> LiveSession | None:
    """The session of ``token`` if it has not ended, been idle longer than ``idle`` or lived ``absolute``."""
    if not token:
        return None
    c = CONSOLE_SESSIONS.c
    row = (await conn.execute(sa.select(c.token_hash, c.user_id, c.created_at, c.last_seen_at, c.ended_at)
                              .where(c.token_hash == _hash(token)))).first()
    if row is None or row.ended_at is not None:
        return None
    if now - row.last_seen_at > idle or now - row.created_at > absolute:
        return None
    return LiveSession(token_hash=row.token_hash, user_id=row.user_id, last_seen_at=row.last_seen_at)


def is_seen_stale(session: LiveSession, now: dt.datetime) -> bool:
    """Whether ``last_seen_at`` is old enough to be worth a write."""
    return now - session.last_seen_at >= SEEN_RESOLUTION


async def update_session_seen(conn: AsyncConnection, *, token_hash: str, now: dt.datetime) -> None:
    await conn.execute(sa.update(CONSOLE_SESSIONS).where(CONSOLE_SESSIONS.c.token_hash == token_hash)
                       .values(last_seen_at=now))


async def end_session(conn: AsyncConnection, *, token: str, reason: str, now: dt.datetime) -> None:
    c = CONSOLE_SESSIONS.c
    await conn.execute(sa.update(CONSOLE_SESSIONS).where(c.token_hash == _hash(token), c.ended_at.is_(None))
                       .values(ended_at=now, ended_reason=reason))


async def end_user_sessions(
    conn: AsyncConnection, *, user_id: int, reason: str, now: dt.datetime, keep_token: str | None = None
) -> int:
    """End every open session of a user (but the one of ``keep_token``); returns how many ended."""
    c = CONSOLE_SESSIONS.c
    statement = sa.update(CONSOLE_SESSIONS).where(c.user_id == user_id, c.ended_at.is_(None))
    if keep_token:
        statement = statement.where(c.token_hash != _hash(keep_token))
    result = await conn.execute(statement.values(ended_at=now, ended_reason=reason))
    return int(result.rowcount or 0)


async def get_login_wait(conn: AsyncConnection, *, keys: list[str], now: dt.datetime) -> dt.timedelta:
    """How long a login for these throttle keys must still wait (zero: it may try now)."""
    c = LOGIN_THROTTLE.c
    rows = (await conn.execute(sa.select(c.retry_at).where(c.key.in_(keys), c.retry_at.is_not(None)))).all()
    latest: dt.datetime = max((row.retry_at for row in rows), default=now)
    return max(latest - now, dt.timedelta(0))


async def add_login_failure(conn: AsyncConnection, *, key: str, backoff: Backoff, now: dt.datetime) -> None:
    c = LOGIN_THROTTLE.c
    row = (await conn.execute(sa.select(c.failures, c.last_failed_at).where(c.key == key))).first()
    failures = 1 if row is None or now - row.last_failed_at > FAILURES_FADE else int(row.failures) + 1
    wait = backoff.wait_after(failures)
    values = {"failures": failures, "last_failed_at": now, "retry_at": now + wait if wait else None}
    if row is None:
        await conn.execute(sa.insert(LOGIN_THROTTLE).values(key=key, **values))
    else:
        await conn.execute(sa.update(LOGIN_THROTTLE).where(c.key == key).values(**values))


async def clear_login_failures(conn: AsyncConnection, *, key: str) -> None:
    await conn.execute(sa.delete(LOGIN_THROTTLE).where(LOGIN_THROTTLE.c.key == key))


# --- pruning (intake.prune) -------------------------------------------------------------------------


async def prune_sessions(conn: AsyncConnection, *, seen_before: dt.datetime, limit: int) -> int:
    """Delete at most ``limit`` sessions last used before ``seen_before``; returns how many.

    ``last_seen_at`` stops moving once a session ends or expires, and a live session was seen within
    the idle timeout: with ``seen_before`` older than that, only dead sessions go.
    """
    c = CONSOLE_SESSIONS.c
    dead = sa.select(c.token_hash).where(c.last_seen_at < seen_before).limit(limit)
    result = await conn.execute(sa.delete(CONSOLE_SESSIONS).where(c.token_hash.in_(dead.scalar_subquery())))
    return int(result.rowcount or 0)


async def prune_login_throttle(conn: AsyncConnection, *, now: dt.datetime, limit: int) -> int:
    """Delete at most ``limit`` throttle rows that no longer count; returns how many.

    A row whose last failure is older than ``FAILURES_FADE`` and whose wait is over counts as no
    failure at all (:func:`add_login_failure` starts again from one), so deleting it changes nothing.
    """
    c = LOGIN_THROTTLE.c
    faded = sa.select(c.key).where(
        c.last_failed_at < now - FAILURES_FADE, sa.or_(c.retry_at.is_(None), c.retry_at < now)
    ).limit(limit)
    result = await conn.execute(sa.delete(LOGIN_THROTTLE).where(c.key.in_(faded.scalar_subquery())))
    return int(result.rowcount or 0)
