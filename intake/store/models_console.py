"""The console's server-side sessions and login throttling (issue 15). Imported by ``intake.store.models``,
which re-exports them.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Field, SQLModel

from intake.store.columns import _table, _ts

__all__ = ["ConsoleSession", "LoginThrottle", "CONSOLE_SESSIONS", "LOGIN_THROTTLE"]


class ConsoleSession(SQLModel, table=True):
    """A console login, held on the server: the cookie carries only its token, whose SHA-256 is the key."""

    __tablename__ = "console_sessions"
    token_hash: str = Field(max_length=64, primary_key=True)
    user_id: int = Field(foreign_key="admin_users.id", index=True)
    created_at: dt.datetime = _ts()
    last_seen_at: dt.datetime = _ts()
    ended_at: dt.datetime | None = _ts(nullable=True)
    ended_reason: str | None = Field(default=None, max_length=32)  # logout / password / deactivated / ended_all
    client: str = Field(default="", max_length=64)


class LoginThrottle(SQLModel, table=True):
    """Failed console logins per username ("user:NAME") and per client ("client:ADDRESS")."""

    __tablename__ = "login_throttle"
    key: str = Field(max_length=160, primary_key=True)
    failures: int = 0
    last_failed_at: dt.datetime = _ts()
    retry_at: dt.datetime | None = _ts(nullable=True)


CONSOLE_SESSIONS = _table(ConsoleSession)
LOGIN_THROTTLE = _table(LoginThrottle)
