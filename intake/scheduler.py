"""APScheduler wrapped once: stable job ids, the configured time zone, jobs that log their own errors.

The scheduler only ticks; what is due is decided by pure functions in
``intake.reminders`` and the rows in the database.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

__all__ = ["JobQueue"]

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[Any]]


def _guarded(job_id: str, job: Job) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        try:
            await job()
        except Exception:  # job boundary: log with traceback, keep the scheduler alive
            log.exception("scheduled job %s failed", job_id)

    return run


class JobQueue:
    """A small facade over AsyncIOScheduler (one per process that holds the scheduler lock)."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._scheduler = AsyncIOScheduler(timezone=tz)

    def run_repeating(self, job_id: str, job: Job, *, seconds: float, first_in: float = 0.5) -> None:
        import datetime as dt

        start = dt.datetime.now(self.tz) + dt.timedelta(seconds=first_in)
        self._scheduler.add_job(
            _guarded(job_id, job),
            IntervalTrigger(seconds=seconds, start_date=start, timezone=self.tz),
            id=job_id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )

    def run_monthly(self, job_id: str, job: Job, *, day: int, hour: int, minute: int = 7) -> None:
        self._scheduler.add_job(
            _guarded(job_id, job),
            CronTrigger(day=day, hour=hour, minute=minute, timezone=self.tz),
            id=job_id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=6 * 3600,
        )

    def job_ids(self) -> list[str]:
        return sorted(job.id for job in self._scheduler.get_jobs())

    def start(self) -> None:
        if not self._scheduler.running:
            self._scheduler.start()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
