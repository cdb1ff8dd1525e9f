"""Hot-path statements compiled once and, on SQLite, run on the driver's own cursor.

Storing a notice takes about ten statements. Through SQLAlchemy each costs an execution
context, a result object and per-row processing — several times what SQLite itself spends on
a small indexed insert. :class:`Prepared` keeps the statement a SQLAlchemy Core construct (one
definition, both dialects) but, when the writer holds a plain SQLite connection
(:class:`intake.store.writer.ThreadConnection`), compiles it once for the exact parameter keys used,
converts the values with SQLAlchemy's own bind processors (so what is stored is byte for byte
what SQLAlchemy would store) and runs it on the ``sqlite3`` cursor. On PostgreSQL it runs the same
compiled form on the asyncpg connection under SQLAlchemy's (:mod:`intake.store.asyncpg_fast`: asyncpg's
own prepared-statement cache, no execution context, no greenlet hop), inside the same transaction.
Elsewhere (the async SQLite engine) it is an ordinary ``conn.execute``.

``rows`` gives plain tuples without result processing (for statements that return nothing,
integers or text); ``mappings`` converts each column as SQLAlchemy would (booleans, timestamps).
Python-side column defaults are not filled in on the fast path: an INSERT that leaves such a
column out raises ``ValueError`` on first use (on SQLite, so in every test run), naming it.
Expanding ``IN`` parameters are not supported.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.store import asyncpg_fast
from intake.store.pending import pending_of, tables_of

__all__ = ["Prepared"]

_DEFINED = itertools.count()  # the order statements are defined in (module import order)


@dataclass(frozen=True)
class _Form:
    sql: str
    # per positional parameter: its key in the caller's parameters (None: the statement's own
    # literal, given as the constant), and SQLAlchemy's bind processor for its type
    plan: tuple[tuple[str | None, Any, Callable[[Any], Any] | None], ...]
    # per result column (SELECT / RETURNING): its name and SQLAlchemy's result processor
    columns: tuple[tuple[str, Callable[[Any], Any] | None], ...]


class Prepared:
    """One Core statement; ``await p.rows(conn, params)`` / ``await p.many(conn, rows)`` / ``await p.later(conn, row)``.

    ``sees_pending``: the caller reads the batch's pending rows of these tables itself
    (:mod:`intake.store.pending`), so they need not be sent first. ``flush_order``: the parameter by
    which deferred rows are sorted when they are sent.
    """

    def __init__(self, statement: sa.Executable, *, sees_pending: bool = False, flush_order: str | None = None) -> None:
        self.statement = statement
        self.is_insert = isinstance(statement, sa.Insert)
        self.tables = frozenset() if sees_pending else (tables_of(statement) or frozenset())
        self.flush_order = flush_order
        self.rank = next(_DEFINED)
        # per dialect and driver (a test run uses SQLite and PostgreSQL in one process), parameter keys, and
        # whether it is run per row set (an INSERT then has no implicit RETURNING of its id)
        self._forms: dict[tuple[str, str, tuple[str, ...], bool], _Form] = {}

    def __hash__(self) -> int:
        return id(self)

    async def _settle(self, conn: AsyncConnection) -> None:
        """Send the batch's pending rows first when this statement may read or change their tables."""
        pending = pending_of(conn)
        if pending is not None and pending.conflicts(self.tables, is_insert=self.is_insert):
            await pending.flush()

    async def later(self, conn: AsyncConnection, row: Mapping[str, Any]) -> None:
        """Run it for ``row`` with the batch's other pending rows before COMMIT (the writer's batch on
        PostgreSQL), or now (everywhere else). The statement must return nothing the caller needs."""
        await self.later_many(conn, [row])

    async def later_many(self, conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
        """:meth:`later` for several rows."""
        pending = pending_of(conn)
        if pending is None or await asyncpg_fast.driver_of(conn) is None:
            await self.many(conn, rows)
            return
        for row in rows:
            pending.add(self, row)

    def _form(self, dialect: sa.Dialect, keys: tuple[str, ...], many: bool = False) -> _Form:
        cache_key = (dialect.name, dialect.driver, keys, many)
        form = self._forms.get(cache_key)
        if form is None:
            compiled = self.statement.compile(  # type: ignore[attr-defined]
                dialect=dialect, column_keys=list(keys), for_executemany=many)
            names = tuple(compiled.positiontup or ())
            # SQLAlchemy fills Python-side column defaults in its execution context, which is skipped here
            missing = [n for n in names if n not in keys and compiled.binds[n].value is None
                       and compiled.binds[n].callable is None]
            if missing:
                raise ValueError(f"pass {', '.join(missing)} explicitly: their column defaults are not applied here")
            bind = getattr(compiled, "_bind_processors", {})
            plan = tuple(
                (n, None, bind.get(n)) if n in keys else (None, compiled.binds[n].effective_value, bind.get(n))
                for n in names
            )
            columns = tuple((str(rc[0]), rc[3]._cached_result_processor(dialect, None))
                            for rc in getattr(compiled, "_result_columns", ()))
            form = self._forms[cache_key] = _Form(sql=compiled.string, plan=plan, columns=columns)
        return form

    @staticmethod
    def _args(form: _Form, params: Mapping[str, Any]) -> tuple[Any, ...]:
        out = []
        for key, constant, process in form.plan:
            value = constant if key is None else params[key]
            # like SQLAlchemy, None goes through the processor too (a JSON column stores None as 'null')
            out.append(value if process is None else process(value))
        return tuple(out)

    async def rows(self, conn: AsyncConnection, params: Mapping[str, Any] | None = None, *,
                   autocommit: bool = False) -> list[tuple[Any, ...]]:
        """Run once; the rows it returns (RETURNING or SELECT) as tuples. ``autocommit``: ``conn`` is an
        autocommit connection (:mod:`intake.store.side`), where asyncpg may run it outside a transaction."""
        params = params or {}
        driver = getattr(conn, "driver", None)
        if driver is None:
            raw = await asyncpg_fast.driver_of(conn, autocommit=autocommit)
            if raw is not None:
                await self._settle(conn)
                form = self._form(conn.dialect, tuple(params))
                return await asyncpg_fast.fetch(conn, raw, form.sql, self._args(form, params))
            result = await conn.execute(self.statement, dict(params))
            return [tuple(row) for row in result.all()] if result.returns_rows else []
        form = self._form(conn.dialect, tuple(params))
        args = self._args(form, params)
        try:
            return driver.execute(form.sql, args).fetchall()  # type: ignore[no-any-return]
        except sqlite3.Error as exc:
            raise _wrapped(form.sql, args, exc) from exc

    async def mappings(self, conn: AsyncConnection, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run once; the rows as dicts by column name, values converted as SQLAlchemy converts them."""
        params = params or {}
        driver = getattr(conn, "driver", None)
        raw = await asyncpg_fast.driver_of(conn) if driver is None else None
        if driver is None and raw is None:
            return [dict(row._mapping) for row in await conn.execute(self.statement, dict(params))]
        form = self._form(conn.dialect, tuple(params))
        args = self._args(form, params)
        if raw is not None:
            await self._settle(conn)
            rows: list[tuple[Any, ...]] = await asyncpg_fast.fetch(conn, raw, form.sql, args)
        else:
            assert driver is not None
            try:
                rows = driver.execute(form.sql, args).fetchall()
            except sqlite3.Error as exc:
                raise _wrapped(form.sql, args, exc) from exc
        return [
            {name: value if process is None or value is None else process(value)
             for (name, process), value in zip(form.columns, row, strict=True)}
            for row in rows
        ]

    async def many(self, conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run once per parameter set, in one call (all sets must have the same keys)."""
        if not rows:
            return
        driver = getattr(conn, "driver", None)
        if driver is None:
            raw = await asyncpg_fast.driver_of(conn)
            if raw is None:
                await conn.execute(self.statement, [dict(r) for r in rows])
                return
            await self._settle(conn)
            form = self._form(conn.dialect, tuple(rows[0]), many=True)
            await asyncpg_fast.execute_many(conn, raw, form.sql, [self._args(form, r) for r in rows])
            return
        form = self._form(conn.dialect, tuple(rows[0]), many=True)
        args = [self._args(form, r) for r in rows]
        try:
            driver.executemany(form.sql, args)
        except sqlite3.Error as exc:
            raise _wrapped(form.sql, args, exc) from exc


def _wrapped(sql: str, args: Any, exc: sqlite3.Error) -> sa.exc.StatementError:
    """The driver's error as SQLAlchemy would raise it (the writer and callers handle those)."""
    return sa.exc.DBAPIError.instance(sql, args, exc, sqlite3.Error)

