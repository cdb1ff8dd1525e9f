"""Rows that return nothing, sent once per write batch (PostgreSQL).

A notice's audit row, its processed-message row, its reminders and its 重复采集 marks return nothing
the unit needs, yet each was a round trip of its own: about four of the ten a notice costs. On
PostgreSQL the writer opens a :class:`PendingRows` for every batch transaction; units hand those rows to
it (:meth:`intake.store.sqlite_fast.Prepared.later`) and the writer sends each statement's rows in one
``executemany`` before COMMIT (on the careful pass, at the end of each unit inside its savepoint, so a
failing row rolls back with its unit alone).

Nothing reads around them:

* a statement that may read or change a table with pending rows sends them first. ``Prepared`` checks
  its own tables; every statement through SQLAlchemy on the writer's connection is checked by
  :func:`install` (a ``before_cursor_execute`` hook; text statements send everything first);
* a pending INSERT conflicts with any statement on its table, a pending UPDATE (the marks: they only
  ever set a flag) with any statement on its table but an INSERT;
* the dedupe lookup (:mod:`intake.dedupe`) reads the batch's pending processed-message rows itself.

Elsewhere (SQLite, whose writer runs the statements in its own thread; the fast path off; connections
other than the writer's) ``later`` runs the statement at once, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.util import find_tables
from sqlalchemy.util import await_only

__all__ = ["PendingRows", "Deferrable", "pending_of", "install", "tables_of", "INFO_KEY"]

INFO_KEY = "jianfu_pending_rows"


class Deferrable(Protocol):
    """What :class:`PendingRows` needs of a statement (:class:`intake.store.sqlite_fast.Prepared`)."""

    tables: frozenset[str]
    is_insert: bool
    flush_order: str | None
    rank: int  # statements are sent in this order (their order of definition: the same in every process)

    async def many(self, conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None: ...


def tables_of(statement: Any) -> frozenset[str] | None:
    """The tables a Core statement names (None: unknown, e.g. text: it may touch any)."""
    if not isinstance(statement, sa.sql.ClauseElement) or isinstance(statement, sa.TextClause):
        return None
    return frozenset(t.name for t in find_tables(statement, include_crud=True, include_joins=True)
                     if isinstance(t, sa.Table))


class PendingRows:
    """The rows of one batch transaction on ``conn``, by statement, in the order they were given."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self._rows: dict[Deferrable, list[Mapping[str, Any]]] = {}
        self._inserted: set[str] = set()
        self._updated: set[str] = set()

    def add(self, statement: Deferrable, row: Mapping[str, Any]) -> None:
        self._rows.setdefault(statement, []).append(row)
        (self._inserted if statement.is_insert else self._updated).update(statement.tables)

    def rows_of(self, statement: Deferrable) -> list[Mapping[str, Any]]:
        return self._rows.get(statement, [])

    def conflicts(self, tables: frozenset[str] | None, *, is_insert: bool) -> bool:
        """Whether a statement on ``tables`` (None: unknown) must wait until the pending rows are sent."""
        if not self._rows:
            return False
        if tables is None:
            return True
        return bool(tables & self._inserted) or (not is_insert and bool(tables & self._updated))

    async def flush(self) -> None:
        """Send every statement's rows in one ``executemany`` each; nothing is pending afterwards."""
        batches = sorted(self._rows.items(), key=lambda item: item[0].rank)  # tables in one order everywhere
        self.discard()  # taken out first: the statements below find nothing pending (and on failure the
        for statement, rows in batches:  # transaction or savepoint is lost anyway)
            if statement.flush_order is not None:  # one lock order in every process: no deadlock between writers
                key = statement.flush_order
                rows = sorted(rows, key=lambda r: r[key])
            await statement.many(self.conn, rows)

    def discard(self) -> None:
        """Forget the rows of a unit whose savepoint is rolling back."""
        self._rows.clear()
        self._inserted.clear()
        self._updated.clear()


def pending_of(conn: Any) -> PendingRows | None:
    """The batch's pending rows when ``conn`` is the writer's connection inside a batch, else None."""
    try:
        info = getattr(conn, "info", None)
    except sa.exc.SQLAlchemyError:  # closed or invalidated: nothing is pending on it any more
        return None
    pending = info.get(INFO_KEY) if info is not None else None
    return pending if pending is not None and pending.conn is conn else None


def install(conn: AsyncConnection) -> Callable[[], None]:
    """Check every statement SQLAlchemy sends on ``conn``; returns what removes the check."""
    sync = conn.sync_connection
    assert sync is not None

    def before(_conn: Any, _cursor: Any, _sql: str, _params: Any, context: Any, _many: bool) -> None:
        pending = sync.info.get(INFO_KEY)
        if pending is None or not pending._rows:
            return
        compiled = getattr(context, "compiled", None)
        statement = getattr(compiled, "statement", None)
        tables = tables_of(statement) if statement is not None else None
        if pending.conflicts(tables, is_insert=isinstance(statement, sa.Insert)):
            await_only(pending.flush())  # SQLAlchemy runs this inside its greenlet: the flush awaits on the loop

    sa.event.listen(sync, "before_cursor_execute", before)
    return lambda: sa.event.remove(sync, "before_cursor_execute", before)
