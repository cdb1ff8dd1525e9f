"""Reports are built off the event loop that answers WeChat.

A :class:`ReportRunner` is one thread with its own event loop and its own database engine (a
reader: on SQLite a second connection to the same file in WAL mode, on PostgreSQL a small pool).
Digest builds, dashboards and exports run their queries *and* their Python aggregation there, so
the chat edge's loop only waits for the finished result. While the runner's thread computes, the
GIL is handed back to the serving loop every ``sys.getswitchinterval()`` (5 ms); SQLite's and
asyncpg's own work runs without it.

Without a runner (an in-memory database, or a test that builds services by hand) the same
functions run on the caller's engine, in the caller's loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from intake.settings import IntakeSettings
from intake.store.db import create_engine

__all__ = ["ReportRunner", "ReportJob", "run_report"]

T = TypeVar("T")
ReportJob = Callable[[AsyncConnection], Awaitable[T]]


class ReportRunner:
    """A reporting thread: ``await runner.run(job)`` runs ``job(conn)`` there and returns its result."""

    def __init__(self, settings: IntakeSettings, *, url: str | None = None, pool_size: int = 2) -> None:
        self._settings = settings
        self._url = url or settings.database_url
        self._pool_size = pool_size
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="jianfu-reports", daemon=True)
        self._engine: AsyncEngine | None = None

    @staticmethod
    def is_possible(settings: IntakeSettings, url: str | None = None) -> bool:
        """False for an in-memory database (a second engine would see another, empty database)."""
        return not (url or settings.database_url).endswith(":memory:")

    async def start(self) -> None:
        self._thread.start()
        await self._call(self._open())

    async def _open(self) -> None:
        self._engine = create_engine(self._settings, url=self._url, pool_size=self._pool_size)

    async def close(self) -> None:
        if not self._thread.is_alive():
            return
        if self._engine is not None:
            await self._call(self._engine.dispose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        await asyncio.to_thread(self._thread.join)
        self._loop.close()

    async def run(self, job: ReportJob[T]) -> T:
        return await self._call(self._with_connection(job))

    async def _with_connection(self, job: ReportJob[T]) -> T:
        assert self._engine is not None, "ReportRunner.start() was not awaited"
        async with self._engine.connect() as conn:
            return await job(conn)

    async def _call(self, coro: Awaitable[T]) -> T:
        async def wrapped() -> T:
            return await coro

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(wrapped(), self._loop))


async def run_report(runner: ReportRunner | None, engine: AsyncEngine, job: ReportJob[T]) -> T:
    """`job(conn)` on the runner's thread, or on `engine` in this loop when there is no runner."""
    if runner is not None:
        return await runner.run(job)
    async with engine.connect() as conn:
        return await job(conn)
