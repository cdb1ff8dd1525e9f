"""Counters that commit beside the write transaction, so that writers in several processes never queue on them.

A task code (R-YYYYMMDD-NNNN) takes the next number of the day from one row of
``task_code_counters``. Inside the write transaction that row stays locked until COMMIT: on
PostgreSQL with two web processes, the second writer's batch waits for the first one's COMMIT at
its first notice, and the two writers take turns instead of working side by side.

On PostgreSQL the writer therefore keeps one more connection, in autocommit mode, and hands it to
its units through :data:`SIDE` (a context variable of the writer's task). A number drawn there is
committed at once, as ``nextval`` is: it is never handed out twice, and a unit whose transaction
rolls back leaves a gap in the day's numbers (as a sequence does). Its commit is asynchronous
(``synchronous_commit = off`` on that connection only): the WAL is flushed in order, so the
synchronous COMMIT of any task carrying the number makes the counter durable too; a crash can only
lose numbers no stored task carries.

Everywhere else (SQLite, whose writer is the only one; tests without a writer) the counter is
advanced inside the caller's transaction, as before.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from intake.store.sqlite_fast import Prepared

__all__ = ["SIDE", "SideConnection", "side_rows"]


class SideConnection:
    """One autocommit connection beside the write transaction (opened on first use, reopened after a failure)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None

    async def rows(self, statement: Prepared, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run ``statement`` in a transaction of its own, committed before this returns."""
        if self._conn is None:
            conn = await self._engine.connect()
            try:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(sa.text("SET synchronous_commit TO off"))
            except BaseException:
                await conn.close()
                raise
            self._conn = conn
        try:
            return await statement.rows(self._conn, params, autocommit=True)  # on asyncpg directly (PostgreSQL)
        except (sa.exc.OperationalError, sa.exc.InterfaceError):
            await self.close()
            raise

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sa.exc.SQLAlchemyError, OSError):
                await conn.close()


SIDE: ContextVar[SideConnection | None] = ContextVar("jianfu_side_connection", default=None)


async def side_rows(conn: AsyncConnection, statement: Prepared, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """``statement`` on the writer's side connection when it has one (PostgreSQL), else inside ``conn``'s transaction."""
    side = SIDE.get()
    if side is None:
        return await statement.rows(conn, params)
    return await side.rows(statement, params)
