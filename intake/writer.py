"""One writer task that group-commits.

Every state change in intake is a *unit*: an async function of an
``AsyncConnection`` that runs inside a transaction it does not own. The writer
takes whatever units are queued (up to ``batch_max``), runs each in its own
SAVEPOINT (a failing unit rolls back alone), commits once, and only then
resolves the callers' futures. Nothing is acknowledged before COMMIT, and the
database sees one transaction per batch instead of one per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from intake.errors import StorageUnavailable

__all__ = ["Unit", "Writer"]

log = logging.getLogger(__name__)

T = TypeVar("T")
Unit = Callable[[AsyncConnection], Awaitable[T]]


@dataclass
class _Job:
    unit: Unit[Any]
    future: asyncio.Future[Any] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Writer:
    """Serialises and batches writes; ``submit`` returns the unit's result after its batch committed."""

    def __init__(self, engine: AsyncEngine, *, batch_max: int = 64, batch_wait_ms: float = 0.0) -> None:
        self._engine = engine
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

    async def submit(self, unit: Unit[T]) -> T:
        if self._task is None:
            raise RuntimeError("writer is not running: call start() first (the app factory does)")
        job = _Job(unit)
        await self._queue.put(job)
        result: T = await asyncio.shield(job.future)
        return result

    async def _gather(self) -> list[_Job]:
        jobs = [await self._queue.get()]
        if self._batch_wait > 0 and self._queue.empty():
            await asyncio.sleep(self._batch_wait)
        while len(jobs) < self._batch_max and not self._queue.empty():
            jobs.append(self._queue.get_nowait())
        return jobs

    async def _run(self) -> None:
        while True:
            jobs = await self._gather()
            try:
                await self._commit(jobs)
            finally:
                for _ in jobs:
                    self._queue.task_done()

    async def _commit(self, jobs: list[_Job]) -> None:
        results: list[tuple[_Job, bool, Any]] = []
        try:
            async with self._engine.begin() as conn:
                for job in jobs:
                    try:
                        async with conn.begin_nested():
                            value = await job.unit(conn)
                        results.append((job, True, value))
                    except (sa.exc.OperationalError, sa.exc.InterfaceError):
                        raise
                    except Exception as exc:  # a unit's own failure: roll back its savepoint only
                        results.append((job, False, exc))
        except (sa.exc.OperationalError, sa.exc.InterfaceError, OSError) as exc:
            log.error("database write failed, %d message(s) not stored: %s", len(jobs), exc)
            error = StorageUnavailable(f"数据库暂时无法写入({type(exc).__name__}): {exc}".splitlines()[0])
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(error)
            return
        except Exception as exc:
            log.exception("writer batch failed")
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(StorageUnavailable(f"写入失败: {exc}"))
            return
        self.batches += 1
        self.units += len(jobs)
        for job, ok, value in results:
            if job.future.done():
                continue
            if ok:
                job.future.set_result(value)
            else:
                job.future.set_exception(value)
