"""Hot-path statements on the asyncpg connection itself, inside SQLAlchemy's transaction.

Through SQLAlchemy's asyncpg adapter every statement costs an execution context, a greenlet hop,
the adapter's own prepare cache and a result object: on two cores that was more CPU per notice than
PostgreSQL spent on it. :class:`intake.store.sqlite_fast.Prepared` compiles each statement once for
the asyncpg dialect (``$1::VARCHAR`` placeholders, SQLAlchemy's bind processors for the values, so
what is stored is what SQLAlchemy stores) and runs it here with asyncpg's ``fetch`` / ``executemany``
(asyncpg keeps the prepared statements; ``executemany`` sends all rows in one round trip). It does so
only inside a transaction already open on the server, so nothing ever runs outside the caller's.

asyncpg's errors come out as the SQLAlchemy errors the callers rely on: a constraint violation as
``IntegrityError`` (a race between processes), a lost connection as ``OperationalError`` with the
SQLAlchemy connection invalidated (the writer answers 503 or reconnects), anything else as
``DBAPIError``. :data:`ENABLED` off (tests' parity check) sends everything through SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["ENABLED", "driver_of", "fetch", "execute_many", "translate"]

ENABLED = True

# SQLSTATE classes (the first two characters) and the SQLAlchemy error each becomes
_BY_CLASS: dict[str, type[sa.exc.DBAPIError]] = {
    "23": sa.exc.IntegrityError, "22": sa.exc.DataError, "42": sa.exc.ProgrammingError,
    "08": sa.exc.OperationalError, "40": sa.exc.OperationalError, "53": sa.exc.OperationalError,
    "55": sa.exc.OperationalError, "57": sa.exc.OperationalError, "58": sa.exc.OperationalError,
}
_LOST = (asyncpg.exceptions.PostgresConnectionError, OSError, TimeoutError)
_ERRORS = (asyncpg.PostgresError, asyncpg.exceptions.InterfaceError, asyncpg.exceptions.InternalClientError,
           OSError, TimeoutError)


async def driver_of(conn: AsyncConnection, *, autocommit: bool = False) -> Any | None:
    """The asyncpg connection under ``conn`` once its transaction is open on the server; else None (other
    drivers, the fast path off, or no BEGIN sent yet: SQLAlchemy's adapter sends it with its first
    statement, so the first statement of a transaction goes through SQLAlchemy). ``autocommit``: the
    caller's connection is in autocommit mode, where asyncpg runs each statement as its own transaction,
    as SQLAlchemy does there: the driver whether or not a transaction is open."""
    if not ENABLED or conn.dialect.driver != "asyncpg":
        return None
    sync = conn.sync_connection
    if sync is None or sync.closed or sync.invalidated:
        return None  # SQLAlchemy's own path says what is wrong
    raw = sync.connection.driver_connection  # no greenlet hop (get_raw_connection spawns one)
    return raw if raw is not None and (autocommit or raw.is_in_transaction()) else None


async def fetch(conn: AsyncConnection, raw: Any, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
    try:
        return [tuple(record) for record in await raw.fetch(sql, *args)]
    except _ERRORS as exc:
        raise await translate(conn, raw, sql, args, exc) from exc


async def execute_many(conn: AsyncConnection, raw: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    try:
        await raw.executemany(sql, rows)
    except _ERRORS as exc:
        raise await translate(conn, raw, sql, rows, exc) from exc


async def translate(conn: AsyncConnection, raw: Any, sql: str, args: Any, exc: BaseException) -> sa.exc.DBAPIError:
    """The SQLAlchemy error for an asyncpg one; a lost connection is invalidated first (never reused)."""
    if isinstance(exc, _LOST) or raw.is_closed():
        await conn.invalidate()
        return sa.exc.OperationalError(sql, args, exc, connection_invalidated=True)
    if isinstance(exc, asyncpg.exceptions.DataError):  # a value the column's type refuses (a unit's own fault)
        return sa.exc.DataError(sql, args, exc)
    if not isinstance(exc, asyncpg.PostgresError):  # asyncpg refused to send it (e.g. another operation in progress)
        return sa.exc.InterfaceError(sql, args, exc)
    return _BY_CLASS.get((exc.sqlstate or "")[:2], sa.exc.DBAPIError)(sql, args, exc)
