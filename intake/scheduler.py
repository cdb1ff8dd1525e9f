"""APScheduler wrapped once: stable job ids, the configured time zone, jobs that log their own errors.

The scheduler only ticks; what is due is decided by pure functions in
``intake.reminders`` and the rows in the database.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

__all__ = ["JobQueue", "digest_month_due", "previous_month", "month_bounds"]

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

    def run_repeating(
        self, job_id: str, job: Job, *, seconds: float, first_in: float = 0.5, now: dt.datetime | None = None
    ) -> None:
        start = (now or dt.datetime.now(self.tz)) + dt.timedelta(seconds=first_in)
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

    def run_once(self, job_id: str, job: Job, *, when: dt.datetime) -> None:
        self._scheduler.add_job(
            _guarded(job_id, job),
            DateTrigger(run_date=when, timezone=self.tz),
            id=job_id,
            replace_existing=True,
            misfire_grace_time=None,
        )

    def next_fire_time(self, job_id: str, *, now: dt.datetime) -> dt.datetime | None:
        """When the job's trigger fires next after `now` (a frozen clock in tests; nothing runs)."""
        job = self._scheduler.get_job(job_id)
        if job is None:
            return None
        fire: dt.datetime | None = job.trigger.get_next_fire_time(None, now)
        return fire

    def job_ids(self) -> list[str]:
        return sorted(job.id for job in self._scheduler.get_jobs())

    def start(self) -> None:
        if not self._scheduler.running:
            self._scheduler.start()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)


# --- pure calendar helpers (what is due is decided here, never by the scheduler) ---------------------


def previous_month(month: str) -> str:
    """"2026-01" → "2025-12"."""
    year, mon = (int(p) for p in month.split("-"))
    year, mon = (year - 1, 12) if mon == 1 else (year, mon - 1)
    return f"{year:04d}-{mon:02d}"


def month_bounds(month: str, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """The local month as [start, end) aware datetimes, for filtering timestamps."""
    year, mon = (int(p) for p in month.split("-"))
    if not (1 <= mon <= 12 and 1970 <= year <= 9999):
        raise ValueError(f"month {month!r} is not YYYY-MM")
    start = dt.datetime(year, mon, 1, tzinfo=tz)
    end = dt.datetime(year + (mon == 12), 1 if mon == 12 else mon + 1, 1, tzinfo=tz)
    return start, end


def digest_month_due(*, now: dt.datetime, day: int, hour: int, tz: ZoneInfo) -> str | None:
    """The month whose digest is due at `now`: the previous month once this month's digest time has come."""
    local = now.astimezone(tz)
    if (local.day, local.hour) < (day, hour):
        return None
    return previous_month(f"{local.year:04d}-{local.month:02d}")
