"""One writer task that group-commits.

Every state change in intake is a *unit*: an async function of an
``AsyncConnection`` that runs inside a transaction it does not own. The writer
takes whatever units are queued (up to ``batch_max``), runs them one after the
other in one transaction, commits once, and only then resolves the callers'
futures. If a unit fails, the batch is rolled back and redone with a SAVEPOINT
per unit, so the failing one rolls back alone. Nothing is acknowledged before
COMMIT, and the database sees one transaction per batch instead of one per message.

In-memory state that must match the transaction (:class:`BatchState`, e.g. the
recent notices of :mod:`intake.store.recent`) is told when a batch begins, commits, or
loses a unit.

On SQLite the batch runs in one dedicated thread over a plain (sync) SQLite
connection: aiosqlite hands every statement to its own thread and back, and
with a dozen statements a message those hand-offs, not SQLite, would be the
cost. Units stay ``async`` and see the same ``execute`` / ``dialect`` surface
(:class:`ThreadConnection`, whose ``driver`` lets :mod:`intake.store.sqlite_fast` use the
sqlite3 cursor directly); on PostgreSQL they run on one connection the writer keeps between batches
(reopened, and the batch run once more, when the server closed it), where the hot statements go to
asyncpg directly (:mod:`intake.store.asyncpg_fast`) and the rows that return nothing are sent once per
batch, before COMMIT (:mod:`intake.store.pending`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from intake.errors import StorageUnavailable
from intake.store import pending as pending_rows
from intake.store.pending import PendingRows
from intake.store.side import SIDE, SideConnection

__all__ = ["Unit", "Writer", "ThreadConnection", "BatchState"]

log = logging.getLogger(__name__)

T = TypeVar("T")
SIDE_COUNTERS = True  # PostgreSQL: draw task codes beside the batch (tests turn it off for the parity check)
Unit = Callable[[AsyncConnection], Awaitable[T]]
# the connection's or the server's failure, not a unit's: never redone unit by unit. InternalError too: asyncpg
# raises one ("another operation is in progress") on a connection the server has just closed
_CONNECTION_ERRORS = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.InternalError)


@dataclass
class _Job:
    unit: Unit[Any]
    future: asyncio.Future[Any] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class BatchState(Protocol):
    """In-memory state that mirrors the write transaction (e.g. :class:`intake.store.recent.IntakeMemory`).

    ``begin`` runs first in every batch transaction (and again for a batch redone unit by unit),
    ``committed`` after its COMMIT succeeded; ``checkpoint``/``restore`` bracket a unit whose
    savepoint rolled back.
    """

    async def begin(self, conn: AsyncConnection) -> None: ...

    def committed(self) -> None: ...

    def checkpoint(self) -> object: ...

    def restore(self, mark: object) -> None: ...


class ThreadConnection:
    """The part of ``AsyncConnection`` that units use, over a sync connection, inside the writer thread."""

    def __init__(self, connection: sa.Connection) -> None:
        self._connection = connection
        self.dialect = connection.dialect
        self.driver = connection.connection.driver_connection  # the sqlite3 connection (intake.store.sqlite_fast)

    async def execute(self, statement: Any, parameters: Any = None, **kwargs: Any) -> Any:
        return self._connection.execute(statement, parameters, **kwargs)

    @contextlib.asynccontextmanager
    async def begin_nested(self) -> AsyncIterator[None]:
        with self._connection.begin_nested():
            yield


class Writer:
    """Serialises and batches writes; ``submit`` returns the unit's result after its batch committed."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        batch_max: int = 64,
        batch_wait_ms: float = 0.0,
        thread_engine: sa.Engine | None = None,
        states: tuple[BatchState, ...] = (),
    ) -> None:
        self._engine = engine
        self._states = states
        self._thread_engine = thread_engine
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jianfu-writer") if thread_engine else None
        self._thread_loop = threading.local()
        # PostgreSQL: the day's task-code counter is drawn beside the batch (intake.store.side)
        self._side = (SideConnection(engine) if SIDE_COUNTERS and engine.dialect.name == "postgresql"
                      and not thread_engine else None)
        # PostgreSQL: the writer's own connection, kept between batches (no checkout and pre-ping round trip each)
        self._conn: AsyncConnection | None = None
        self._batch_max = batch_max
        self._batch_wait = batch_wait_ms / 1000.0
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.units = 0

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="jianfu-writer")

    async def stop(self) -> None:
        """Finish what is queued, then stop."""
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        if self._side is not None:
            await self._side.close()
        await self._drop_connection()
        if self._executor is not None:
            self._executor.submit(self._close_thread_loop).result()
            self._executor.shutdown(wait=True)
            self._executor = None
        if self._thread_engine is not None:
            self._thread_engine.dispose()

    async def submit(self, unit: Unit[T]) -> T:
        """Queue ``unit`` and wait until its batch committed (cancelling the wait does not cancel the unit)."""
        result: T = await asyncio.shield(self.enqueue(unit))
        return result

    def enqueue(self, unit: Unit[T]) -> asyncio.Future[T]:
        """Queue ``unit``; the future resolves with its result once its batch committed."""
        if self._task is None:
            raise RuntimeError("writer is not running: call start() first (the app factory does)")
        job = _Job(unit)
        self._queue.put_nowait(job)  # the queue is unbounded: this never waits
        return job.future

    async def _gather(self) -> list[_Job]:
        jobs = [await self._queue.get()]
        if self._batch_wait > 0 and self._queue.empty():
            await asyncio.sleep(self._batch_wait)
        while len(jobs) < self._batch_max and not self._queue.empty():
            jobs.append(self._queue.get_nowait())
        return jobs

    async def _run(self) -> None:
        SIDE.set(self._side)  # this task's context: its units see it
        while True:
            jobs = await self._gather()
            try:
                await self._commit(jobs)
            finally:
                for _ in jobs:
                    self._queue.task_done()

    async def _commit(self, jobs: list[_Job]) -> None:
        """Run the batch in one transaction; if any unit fails, redo the batch with a savepoint per unit.

        The optimistic pass costs no SAVEPOINT statements (most batches have no failing unit); the
        careful pass isolates a failing unit so the others still commit. Units are functions of the
        database state and their inputs, so running one again after a rollback is safe.
        """
        try:
            try:
                results = await self._run_batch(jobs, isolated=False)
            except _UnitFailed as failed:
                if len(jobs) == 1:  # nothing else to save: its transaction is already rolled back
                    results = [(jobs[0], False, failed.__cause__)]
                else:
                    results = await self._run_batch(jobs, isolated=True)
        except (*_CONNECTION_ERRORS, OSError) as exc:
            log.error("database write failed, %d message(s) not stored: %s", len(jobs), exc)
            error = StorageUnavailable(f"数据库暂时无法写入({type(exc).__name__}): {exc}".splitlines()[0])
            self._fail_all(jobs, error)
            return
        except Exception as exc:  # writer boundary: every caller must hear back
            log.exception("writer batch failed")
            self._fail_all(jobs, StorageUnavailable(f"写入失败: {exc}"))
            return
        for state in self._states:
            state.committed()
        self.batches += 1
        self.units += len(jobs)
        for job, ok, value in results:
            if job.future.done():
                continue
            if ok:
                job.future.set_result(value)
            else:
                job.future.set_exception(value)

    @staticmethod
    def _fail_all(jobs: list[_Job], error: Exception) -> None:
        for job in jobs:
            if not job.future.done():
                job.future.set_exception(error)

    async def _run_batch(self, jobs: list[_Job], *, isolated: bool) -> list[tuple[_Job, bool, Any]]:
        if self._executor is not None:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, self._run_batch_in_thread, jobs, isolated)
        if self._engine.dialect.name != "postgresql":  # in-memory SQLite (tests): a connection per batch
            async with self._engine.begin() as fresh:
                return await self._run_units(fresh, jobs, isolated=isolated)
        kept = self._conn is not None and await self._is_open(self._conn)
        if not kept:
            await self._drop_connection(broken=True)
        if self._conn is None:
            self._conn = await self._engine.connect()
            pending_rows.install(self._conn)  # SQLAlchemy's statements send the batch's pending rows first
        conn = self._conn
        try:
            info = conn.info  # the dict itself: once the connection is invalidated, reading conn.info raises
            async with conn.begin():
                pending = info[pending_rows.INFO_KEY] = PendingRows(conn)
                try:
                    return await self._run_units(conn, jobs, isolated=isolated, pending=pending)
                finally:
                    info.pop(pending_rows.INFO_KEY, None)
        except _UnitFailed:
            raise  # rolled back; the connection is fine
        except BaseException as exc:
            await self._drop_connection(broken=True)  # whatever broke the batch, the next starts on a fresh one
            if not (kept and isinstance(exc, sa.exc.DBAPIError | OSError)):  # a reset socket may come out bare
                raise
        # a driver error on the kept connection: it may have gone stale (the server restarted, a proxy closed
        # it; asyncpg may notice only half-way). Once more on a fresh one, as the pool's pre-ping would at a
        # checkout; a database that really fails, fails again there (units may run again after a rollback)
        log.warning("the writer's database connection was closed; reconnecting")
        return await self._run_batch(jobs, isolated=isolated)

    @staticmethod
    async def _is_open(conn: AsyncConnection) -> bool:
        """No round trip: SQLAlchemy's and asyncpg's own idea of whether the connection still works."""
        if conn.closed or conn.invalidated:
            return False
        raw = (await conn.get_raw_connection()).driver_connection
        return not getattr(raw, "is_closed", lambda: False)()

    async def _drop_connection(self, *, broken: bool = False) -> None:
        """Close the kept connection; a ``broken`` one is discarded without a ROLLBACK sent down it."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sa.exc.SQLAlchemyError, OSError):
                if broken and not conn.invalidated:
                    await conn.invalidate()
                await conn.close()

    def _run_batch_in_thread(self, jobs: list[_Job], isolated: bool) -> list[tuple[_Job, bool, Any]]:
        loop: asyncio.AbstractEventLoop | None = getattr(self._thread_loop, "loop", None)
        if loop is None:
            loop = asyncio.new_event_loop()
            self._thread_loop.loop = loop
        assert self._thread_engine is not None
        with self._thread_engine.begin() as sync_conn:
            conn = ThreadConnection(sync_conn)
            return loop.run_until_complete(self._run_units(conn, jobs, isolated=isolated))  # type: ignore[arg-type]

    def _close_thread_loop(self) -> None:
        loop: asyncio.AbstractEventLoop | None = getattr(self._thread_loop, "loop", None)
        if loop is not None:
            loop.close()
            self._thread_loop.loop = None

    async def _run_units(
        self, conn: AsyncConnection, jobs: list[_Job], *, isolated: bool, pending: PendingRows | None = None
    ) -> list[tuple[_Job, bool, Any]]:
        """The units in order. ``pending`` (PostgreSQL): the rows they left to send are sent before COMMIT, on
        the careful pass at the end of each unit inside its savepoint (:mod:`intake.store.pending`)."""
        results: list[tuple[_Job, bool, Any]] = []
        for state in self._states:
            await state.begin(conn)
        for job in jobs:
            if not isolated:
                try:
                    results.append((job, True, await job.unit(conn)))
                except _CONNECTION_ERRORS:
                    raise
                except Exception as exc:
                    raise _UnitFailed from exc  # roll back the whole batch, redo it isolated
                continue
            results.append(await self._run_isolated(conn, job, pending))
        if pending is not None and not isolated:
            try:
                await pending.flush()
            except _CONNECTION_ERRORS:
                raise
            except Exception as exc:  # e.g. another process stored the same delivery: find the unit it was
                raise _UnitFailed from exc
        return results

    async def _run_isolated(self, conn: AsyncConnection, job: _Job,
                            pending: PendingRows | None) -> tuple[_Job, bool, Any]:
        marks = [state.checkpoint() for state in self._states]
        try:
            async with conn.begin_nested():
                try:
                    value = await job.unit(conn)
                    if pending is not None:
                        await pending.flush()
                except BaseException:
                    if pending is not None:
                        pending.discard()
                    raise
            return job, True, value
        except _CONNECTION_ERRORS:
            raise
        except Exception as exc:  # a unit's own failure: its savepoint rolled back, the rest go on
            for state, mark in zip(self._states, marks, strict=True):
                state.restore(mark)
            return job, False, exc


class _UnitFailed(Exception):
    """A unit raised during the optimistic pass."""
