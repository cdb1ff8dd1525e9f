"""APScheduler wrapped once (stable job ids, the configured time zone, jobs that log their own errors),
and the lock that decides which process runs it.

The scheduler only ticks; what is due is decided by pure functions in
``intake.reminders`` and ``intake.calendar`` and the rows in the database.

Only the lock holder schedules: PostgreSQL ``pg_try_advisory_lock`` on a connection held for
the process life, SQLite a ``filelock`` next to the database file.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

import filelock
import sqlalchemy as sa
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from intake.jobs import SweepReport, run_sweep
from intake.prune import PruneReport, run_prune
from intake.reports.digest_times import DEFAULT_SLOT_JOB, DigestSlot, list_district_times, plan_digest_slots
from intake.senders import Sender
from intake.settings import IntakeSettings

if TYPE_CHECKING:
    from intake.context import Services

__all__ = [
    "JobQueue",
    "BackgroundHandle",
    "run_background",
    "SWEEP_JOB_ID",
    "DIGEST_JOB_ID",
    "PRUNE_JOB_ID",
    "OPEN_MONTH_JOB_ID",
    "SchedulerLock",
    "FileSchedulerLock",
    "AdvisorySchedulerLock",
    "NullSchedulerLock",
    "make_scheduler_lock",
    "ADVISORY_LOCK_KEY",
]

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[Any]]
ADVISORY_LOCK_KEY = 0x4A49414E4655  # "JIANFU"
SWEEP_JOB_ID = "jianfu.sweep"
DIGEST_JOB_ID = DEFAULT_SLOT_JOB  # [schedule]'s time; a district with its own gets its own job
PRUNE_JOB_ID = "jianfu.prune"
PRUNE_FIRST_IN_S = 60.0  # the first prune a minute after start-up, then every [retention] prune_minutes
OPEN_MONTH_JOB_ID = "jianfu.open_month"
OPEN_MONTH_CHECK_S = 60.0  # whether the open month's count is [schedule] open_month_minutes old, checked this often
OPEN_MONTH_FIRST_IN_S = 5.0


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


# --- the scheduler lock --------------------------------------------------------------------------


class SchedulerLock(Protocol):
    async def acquire(self) -> bool: ...
    async def is_held(self) -> bool: ...
    async def release(self) -> None: ...


class NullSchedulerLock:
    """In-memory SQLite: the database dies with the process, so there is nobody to share it with."""

    async def acquire(self) -> bool:
        return True

    async def is_held(self) -> bool:
        return True

    async def release(self) -> None:
        return None


class FileSchedulerLock:
    """SQLite: an OS file lock next to the database file (``jianfu.db.scheduler.lock``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = filelock.FileLock(str(path), timeout=0, thread_local=False)

    async def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(timeout=0)
        except filelock.Timeout:
            return False
        return True

    async def is_held(self) -> bool:
        return bool(self._lock.is_locked)

    async def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release(force=True)


class AdvisorySchedulerLock:
    """PostgreSQL: a session advisory lock on a dedicated connection held for the process life."""

    def __init__(self, engine: AsyncEngine, key: int = ADVISORY_LOCK_KEY) -> None:
        self._engine = engine
        self._key = key
        self._conn: AsyncConnection | None = None

    async def acquire(self) -> bool:
        conn = await self._engine.connect()
        try:
            got = bool((await conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key})).scalar())
            await conn.commit()
        except BaseException:
            await conn.close()
            raise
        if not got:
            await conn.close()
            return False
        self._conn = conn
        return True

    async def is_held(self) -> bool:
        """True while the lock's connection (its session, and so the lock) is alive."""
        if self._conn is None:
            return False
        try:
            await self._conn.execute(sa.text("SELECT 1"))
            await self._conn.commit()
        except (sa.exc.SQLAlchemyError, OSError):
            with contextlib.suppress(sa.exc.SQLAlchemyError, OSError):
                await self._conn.close()
            self._conn = None
            return False
        return True

    async def release(self) -> None:
        if self._conn is None:
            return
        with contextlib.suppress(sa.exc.SQLAlchemyError, OSError):
            await self._conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            await self._conn.commit()
        await self._conn.close()
        self._conn = None


def make_scheduler_lock(settings: IntakeSettings, engine: AsyncEngine) -> SchedulerLock:
    url = settings.database_url
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1]
        if not path or path == ":memory:":
            return NullSchedulerLock()
        return FileSchedulerLock(Path(path + ".scheduler.lock"))
    return AdvisorySchedulerLock(engine)


# --- who runs the jobs -------------------------------------------------------------------------


@dataclass
class BackgroundHandle:
    """What the app factory holds while background work runs."""

    is_leader: bool = False
    jobs: JobQueue | None = None
    senders: dict[str, Sender] = field(default_factory=dict)
    last_report: SweepReport | None = None
    sweeps: int = 0
    sweep: Callable[[], Awaitable[None]] | None = None  # the sweep job itself (tests call it instead of a tick)
    prune: Callable[[], Awaitable[None]] | None = None  # the prune job itself
    open_month: Callable[[], Awaitable[None]] | None = None  # the open month's count for the dashboards
    last_prune: PruneReport | None = None
    _sweep_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _retry: asyncio.Task[None] | None = None


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _Leadership:
    """Holds the scheduler lock (or keeps trying for it) and runs the jobs while it is held."""

    def __init__(self, services: Services, lock: SchedulerLock, handle: BackgroundHandle) -> None:
        self.services, self.lock, self.handle = services, lock, handle
        self.settings = services.settings

    async def still_leader(self) -> bool:
        """False (and the scheduler stopped, the lock retried) once the lock is gone, e.g. its connection died."""
        handle = self.handle
        if not handle.is_leader:
            return False
        if await self.lock.is_held():
            return True
        log.error("scheduler lock lost (its database connection died?): this process stops its scheduler "
                  "and tries to take the lock again")
        jobs, handle.jobs, handle.is_leader = handle.jobs, None, False
        if jobs is not None:
            asyncio.get_running_loop().call_soon(jobs.shutdown)  # after this job returns, not from inside it
        self.retry_later()
        return False

    async def sweep(self) -> None:
        async with self.handle._sweep_lock:
            if not await self.still_leader():
                return
            self.handle.last_report = await run_sweep(self.services, now=_utcnow(), senders=self.handle.senders)
            self.handle.sweeps += 1

    async def prune(self) -> None:
        async with self.handle._sweep_lock:
            if await self.still_leader():
                self.handle.last_prune = await run_prune(self.services, now=_utcnow())

    async def open_month(self) -> None:
        """Count the open month for the dashboards when its last count is old enough (no sweep lock: it only
        reads, on the report thread, then replaces its own rows in one write)."""
        from intake.reports.rollups import count_open_month, open_month_due

        now = _utcnow()
        if await self.still_leader() and await open_month_due(self.services, now=now):
            await count_open_month(self.services, now=now)

    async def digest(self, slot: DigestSlot | None = None) -> None:
        from intake.reports.monthly import send_monthly_digests

        async with self.handle._sweep_lock:
            if await self.still_leader():
                await send_monthly_digests(self.services, now=_utcnow(), only_if_due=True, slot=slot)

    async def start(self) -> None:
        async with self.services.engine.connect() as conn:  # each district's digest time (issue 17)
            district_times = await list_district_times(conn)
        self.start_jobs(district_times)

    def start_jobs(self, district_times: dict[int, tuple[int | None, int | None]]) -> None:
        schedule = self.settings.schedule
        jobs = JobQueue(self.settings.tz)
        jobs.run_repeating(SWEEP_JOB_ID, self.sweep, seconds=schedule.sweep_seconds, first_in=0.5)
        slots = plan_digest_slots(day=schedule.digest_day, hour=schedule.digest_hour, district_times=district_times)
        for slot in slots:
            jobs.run_monthly(slot.job_id, functools.partial(self.digest, slot), day=slot.day, hour=slot.hour)
        jobs.run_repeating(PRUNE_JOB_ID, self.prune, seconds=self.settings.retention.prune_minutes * 60,
                           first_in=PRUNE_FIRST_IN_S)
        if schedule.open_month_minutes:
            jobs.run_repeating(OPEN_MONTH_JOB_ID, self.open_month, seconds=OPEN_MONTH_CHECK_S,
                               first_in=OPEN_MONTH_FIRST_IN_S)
        jobs.start()
        self.handle.jobs, self.handle.is_leader = jobs, True
        log.info("scheduler started: sweep every %ss, digests on %s, prune every %d min", schedule.sweep_seconds,
                 ", ".join(f"day {s.day} at {s.hour:02d}:07" for s in slots), self.settings.retention.prune_minutes)

    async def keep_trying(self) -> None:
        while True:
            await asyncio.sleep(self.settings.schedule.lock_retry_seconds)
            try:
                if await self.lock.acquire():
                    await self.start()
                    return
            except (sa.exc.SQLAlchemyError, OSError) as exc:
                log.warning("scheduler lock attempt failed: %s", exc)

    def retry_later(self) -> None:
        self.handle._retry = asyncio.create_task(self.keep_trying(), name="jianfu-scheduler-lock")

    async def stop(self) -> None:
        handle = self.handle
        if handle._retry is not None:
            handle._retry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await handle._retry
        # let a sweep that is under way finish its writes before the scheduler (which would cancel it)
        # and the writer stop; holding the lock keeps a new sweep from starting meanwhile
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(15):
                await handle._sweep_lock.acquire()
        if handle.jobs is not None:
            handle.jobs.shutdown()
        handle.is_leader = False
        await self.lock.release()


@contextlib.asynccontextmanager
async def run_background(services: Services) -> AsyncIterator[BackgroundHandle]:
    """Take the scheduler lock (or keep trying), run the sweep and the digest cron while it is held."""
    handle = BackgroundHandle(senders=dict(services.senders))
    leadership = _Leadership(services, make_scheduler_lock(services.settings, services.engine), handle)
    handle.sweep, handle.prune, handle.open_month = leadership.sweep, leadership.prune, leadership.open_month
    if await leadership.lock.acquire():
        await leadership.start()
    else:
        log.info("another process holds the scheduler lock; this one only serves requests")
        leadership.retry_later()
    try:
        yield handle
    finally:
        await leadership.stop()
