"""Dashboards kept for a short while: a page never waits on a month's live aggregate it has already built.

A closed month reads its rollups (fast); the open month reads the scheduler's last count of it
(``[schedule] open_month_minutes``) or, without a recent one, is aggregated over the log, which at a
million tasks takes seconds. The first view of a (month, community) builds it on the report thread; later views
within ``[server] dashboard_max_age_s`` show that build; an older one is shown while a fresh build runs in
the background (one at a time per key), so only the very first view of a key ever waits. ``0`` turns
the keeping off (every view builds).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from bot.console.queries import Dashboard

__all__ = ["Boards", "KeptBoard", "BOARDS", "close_boards"]

log = logging.getLogger(__name__)

Build = Callable[[], Awaitable[Dashboard]]


@dataclass
class KeptBoard:
    board: Dashboard
    built_at: dt.datetime  # the `now` it was built for (shown on the page)
    built: float  # monotonic seconds
    refreshing: asyncio.Task[None] | None = None


class Boards:
    """The dashboards of the last `size` (month, community) keys viewed in this process."""

    def __init__(self, max_age_s: float, *, size: int = 64, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age_s = max_age_s
        self._size = size
        self._clock = clock
        self._kept: OrderedDict[tuple[str, ...], KeptBoard] = OrderedDict()

    async def get(self, key: tuple[str, ...], build: Build, *, now: dt.datetime) -> KeptBoard:
        """The kept dashboard of `key` (rebuilt in the background when older than max_age_s), or a new one."""
        kept = self._kept.get(key)
        if kept is None or self.max_age_s <= 0:
            kept = KeptBoard(await build(), now, self._clock())
            self._keep(key, kept)
            return kept
        self._kept.move_to_end(key)
        if self._clock() - kept.built > self.max_age_s and kept.refreshing is None:
            kept.refreshing = asyncio.create_task(self._rebuild(key, kept, build, now))
        return kept

    def peek(self, key: tuple[str, ...]) -> KeptBoard | None:
        """The dashboard kept for `key`, if any, however old (nothing is built)."""
        return self._kept.get(key)

    def _keep(self, key: tuple[str, ...], kept: KeptBoard) -> None:
        if self.max_age_s <= 0:
            return
        self._kept[key] = kept
        self._kept.move_to_end(key)
        while len(self._kept) > self._size:
            self._kept.popitem(last=False)

    async def _rebuild(self, key: tuple[str, ...], old: KeptBoard, build: Build, now: dt.datetime) -> None:
        try:
            self._keep(key, KeptBoard(await build(), now, self._clock()))
        except Exception:  # a background job's boundary: the old board stays, the next view tries again
            log.exception("rebuilding the dashboard %s failed", key)
        finally:
            old.refreshing = None

    async def close(self) -> None:
        """Stop background builds (app cleanup)."""
        tasks = [k.refreshing for k in self._kept.values() if k.refreshing is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._kept.clear()


BOARDS = web.AppKey("console_boards", Boards)


async def close_boards(app: web.Application) -> None:
    await app[BOARDS].close()
