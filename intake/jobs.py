"""Background work: the scheduler lock, the sweep, and the monthly digests.

The database is the truth; the scheduler only ticks. Every ``schedule.sweep_seconds``
the process that holds the scheduler lock runs :func:`run_sweep`:

1. recurring targets whose occurrence passed (and whose overdue reminder went out) roll on;
2. due reminders become outbox rows (idempotency key per reminder and recipient) and are
   stamped ``sent_at`` in the same transaction — after downtime each target hears once,
   with its latest reminder (:func:`intake.reminders.coalesce_due`);
3. the monthly digests are built once the digest time of the month has passed and the
   district digest of the previous month is not archived yet (so a missed cron tick is
   caught up by the next sweep);
4. due outbox rows are claimed and delivered through the senders, with backoff, deferral
   for rate limits and a dead-letter state.

Only the lock holder sweeps: PostgreSQL ``pg_try_advisory_lock`` on a connection held for
the process life, SQLite a ``filelock`` next to the database file. A process without the
lock tries again every ``schedule.lock_retry_seconds`` and takes over when the holder dies. A
leader checks its lock before each job: when the lock's connection died (and with it the
PostgreSQL session lock), it stops its scheduler and goes back to trying. Should two sweeps
ever overlap anyway, idempotency keys and ``SKIP LOCKED`` claims still send each message once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import filelock
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from intake import texts_notify
from intake.outbox import (
    ClaimedMessage,
    add_outbox_message,
    claim_due,
    list_community_recipients,
    record_deferral,
    record_failure,
    record_sent,
)
from intake.reminders import DueReminder, coalesce_due, is_roll_due, roll_recurring
from intake.scheduler import JobQueue
from intake.senders import OutgoingMessage, Sender, SendResult
from intake.settings import IntakeSettings
from intake.store.models import REMINDERS as T_REMINDERS
from intake.store.models import TASK_TARGETS as T_TARGETS
from intake.store.models import TASKS as T_TASKS

if TYPE_CHECKING:
    from intake.context import Services

__all__ = [
    "BackgroundHandle",
    "SweepReport",
    "SchedulerLock",
    "FileSchedulerLock",
    "AdvisorySchedulerLock",
    "NullSchedulerLock",
    "make_scheduler_lock",
    "run_background",
    "run_sweep",
    "queue_due_reminders",
    "roll_due_recurring",
    "deliver_outbox",
    "SWEEP_JOB_ID",
    "DIGEST_JOB_ID",
    "ADVISORY_LOCK_KEY",
]

log = logging.getLogger(__name__)

SWEEP_JOB_ID = "jianfu.sweep"
DIGEST_JOB_ID = "jianfu.monthly_digest"
ADVISORY_LOCK_KEY = 0x4A49414E4655  # "JIANFU"
REMINDER_BATCH = 1000



@dataclass
class SweepReport:
    rolled: int = 0
    reminders_queued: int = 0
    reminders_skipped: int = 0
    reminders_cancelled: int = 0
    messages_queued: int = 0
    digests: int = 0
    rollups: int = 0  # closed months rolled up (intake.reports.rollups)
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)


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


# --- the sweep ------------------------------------------------------------------------------------


async def roll_due_recurring(services: Services, *, now: dt.datetime) -> int:
    """Roll recurring targets whose occurrence and its overdue reminder day are over."""
    settings = services.settings
    grace = max(0, max(settings.schedule.reminder_days, default=0))
    cutoff = now.astimezone(settings.tz).date() - dt.timedelta(days=grace)

    async def unit(conn: AsyncConnection) -> int:
        rows = (
            await conn.execute(
                sa.select(T_TARGETS.c.id, T_TARGETS.c.due_date)
                .join(T_TASKS, T_TASKS.c.id == T_TARGETS.c.task_id)
                .where(
                    T_TASKS.c.recurrence.is_not(None),
                    T_TASKS.c.status == "accepted",
                    T_TARGETS.c.status == "open",
                    T_TARGETS.c.due_date < cutoff,
                )
                .limit(REMINDER_BATCH)
            )
        ).all()
        rolled = 0
        for row in rows:
            if is_roll_due(due=row.due_date, now=now, tz=settings.tz, schedule=settings.schedule) and await roll_recurring(
                conn, target_id=int(row.id), now=now, settings=settings, completed=False
            ):
                rolled += 1
        return rolled

    return await services.writer.submit(unit)


async def queue_due_reminders(services: Services, *, now: dt.datetime, report: SweepReport | None = None) -> SweepReport:
    """Turn due reminders into outbox rows and stamp them sent, in one transaction."""
    settings = services.settings
    report = report or SweepReport()
    today = now.astimezone(settings.tz).date()

    async def unit(conn: AsyncConnection) -> tuple[int, int, int, int]:
        # reminders of targets that are no longer open, or tasks no longer running, are cancelled
        dead_targets = (
            sa.select(T_TARGETS.c.id)
            .join(T_TASKS, T_TASKS.c.id == T_TARGETS.c.task_id)
            .where(sa.or_(T_TARGETS.c.status != "open", T_TASKS.c.status.in_(("refused", "withdrawn", "done"))))
        )
        cancelled = (
            await conn.execute(
                sa.update(T_REMINDERS)
                .where(
                    T_REMINDERS.c.sent_at.is_(None),
                    T_REMINDERS.c.cancelled.is_(False),
                    T_REMINDERS.c.fire_at <= now,
                    T_REMINDERS.c.target_id.in_(dead_targets),
                )
                .values(cancelled=True)
            )
        ).rowcount
        rows = (
            await conn.execute(
                sa.select(
                    T_REMINDERS.c.id, T_REMINDERS.c.target_id, T_REMINDERS.c.kind, T_REMINDERS.c.fire_at,
                    T_TARGETS.c.community_id, T_TARGETS.c.due_date, T_TASKS.c.code, T_TASKS.c.department,
                    T_TASKS.c.kind.label("task_kind"), T_TASKS.c.raw_text, T_TASKS.c.recurrence,
                )
                .join(T_TARGETS, T_TARGETS.c.id == T_REMINDERS.c.target_id)
                .join(T_TASKS, T_TASKS.c.id == T_TARGETS.c.task_id)
                .where(
                    T_REMINDERS.c.sent_at.is_(None),
                    T_REMINDERS.c.cancelled.is_(False),
                    T_REMINDERS.c.fire_at <= now,
                    T_TARGETS.c.status == "open",
                    T_TASKS.c.status == "accepted",
                )
                .order_by(T_REMINDERS.c.fire_at, T_REMINDERS.c.id)
                .limit(REMINDER_BATCH)
            )
        ).all()
        by_id = {int(r.id): r for r in rows}
        send, skip = coalesce_due(
            (DueReminder(id=int(r.id), target_id=int(r.target_id), kind=r.kind, fire_at=r.fire_at) for r in rows),
            now=now,
        )
        if skip:
            await conn.execute(
                sa.update(T_REMINDERS)
                .where(T_REMINDERS.c.id.in_([r.id for r in skip]))
                .values(sent_at=now, cancelled=True)
            )
        queued_messages = 0
        recipients_cache: dict[int, Any] = {}
        for reminder in send:
            row = by_id[reminder.id]
            community_id = int(row.community_id)
            if community_id not in recipients_cache:
                recipients_cache[community_id] = await list_community_recipients(
                    conn, community_id=community_id, configured=settings.notify.heads
                )
            due = row.due_date or today
            body = texts_notify.reminder_text(
                kind=row.kind, code=row.code, department=row.department, task_kind=row.task_kind,
                summary=texts_notify.summarise(row.raw_text), due=due, today=today, recurrence=row.recurrence,
            )
            subject = texts_notify.reminder_subject(kind=row.kind, code=row.code)
            for rcp in recipients_cache[community_id]:
                payload: dict[str, Any] = {"task": row.code, "reminder": row.kind, "due": due.isoformat(),
                                           "fields": {"code": row.code, "due": due.isoformat(),
                                                      "department": row.department or ""}}
                if rcp.webhook:
                    payload["webhook"] = rcp.webhook
                new_id = await add_outbox_message(
                    conn, idempotency_key=f"reminder:{reminder.id}:{rcp.channel}:{rcp.recipient}",
                    channel=rcp.channel, recipient=rcp.recipient, kind="reminder", subject=subject, body=body,
                    account_id=rcp.account_id, community_id=rcp.community_id, payload=payload, now=now,
                )
                queued_messages += new_id is not None
        if send:
            await conn.execute(
                sa.update(T_REMINDERS).where(T_REMINDERS.c.id.in_([r.id for r in send])).values(sent_at=now)
            )
        return len(send), len(skip), int(cancelled or 0), queued_messages

    sent, skipped, cancelled, messages = await services.writer.submit(unit)
    report.reminders_queued += sent
    report.reminders_skipped += skipped
    report.reminders_cancelled += cancelled
    report.messages_queued += messages
    return report


def _outgoing(message: ClaimedMessage, *, now: dt.datetime) -> OutgoingMessage:
    return OutgoingMessage(
        recipient=message.recipient, body=message.body, now=now, kind=message.kind, subject=message.subject,
        channel=message.channel, payload=message.payload, last_seen_at=message.last_seen_at,
        outbox_id=message.id, idempotency_key=message.idempotency_key,
    )


async def _send_one(senders: Mapping[str, Sender], message: ClaimedMessage, *, now: dt.datetime) -> SendResult:
    sender = senders.get(message.channel)
    if sender is None:
        return SendResult.failed(f"unknown channel {message.channel!r}", permanent=True)
    try:
        return await sender.send(_outgoing(message, now=now))
    except Exception as exc:  # a sender bug must not stop the sweep; the row is retried, then dead-lettered
        log.exception("sender %s failed on outbox %d", message.channel, message.id)
        return SendResult.failed(f"{type(exc).__name__}: {exc}")


async def deliver_outbox(
    services: Services, *, now: dt.datetime, senders: Mapping[str, Sender], report: SweepReport | None = None,
    batch: int = 100, max_batches: int = 20,
) -> SweepReport:
    """Claim due outbox rows and deliver them; results are written back in one transaction per batch."""
    notify = services.settings.notify
    report = report or SweepReport()
    for _ in range(max_batches):

        async def claim(conn: AsyncConnection) -> list[ClaimedMessage]:
            return await claim_due(conn, now=now, limit=batch)

        claimed = await services.writer.submit(claim)
        if not claimed:
            break
        report.claimed += len(claimed)
        results = [(message, await _send_one(senders, message, now=now)) for message in claimed]

        async def record(
            conn: AsyncConnection, results: list[tuple[ClaimedMessage, SendResult]] = results
        ) -> list[str]:
            outcomes = []
            for message, result in results:
                if result.ok:
                    await record_sent(conn, message_id=message.id, now=now, note=result.note)
                    outcomes.append("sent")
                elif result.defer_until is not None:
                    await record_deferral(conn, message_id=message.id, until=result.defer_until,
                                          reason=result.error or "deferred")
                    outcomes.append("deferred")
                else:
                    status = await record_failure(
                        conn, message_id=message.id, attempts=message.attempts, error=result.error or "failed",
                        now=now, max_attempts=notify.max_attempts, backoff_base_s=notify.backoff_base_s,
                        permanent=result.permanent,
                    )
                    outcomes.append("dead" if status == "dead" else "failed")
            return outcomes

        for outcome in await services.writer.submit(record):
            if outcome == "sent":
                report.sent += 1
            elif outcome == "deferred":
                report.deferred += 1
            elif outcome == "dead":
                report.dead += 1
            else:
                report.failed += 1
        if len(claimed) < batch:
            break
    return report


async def run_sweep(
    services: Services, *, now: dt.datetime, senders: Mapping[str, Sender] | None = None,
    digests: bool = True,
) -> SweepReport:
    """One tick at `now`: roll, queue due reminders, build due digests, deliver the outbox."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    from intake.reports.monthly import send_monthly_digests  # reports import outbox; imported here, one way
    from intake.reports.rollups import refresh_rollups

    report = SweepReport()
    senders = senders if senders is not None else services.senders
    report.rolled = await roll_due_recurring(services, now=now)
    await queue_due_reminders(services, now=now, report=report)
    if digests:
        report.digests = await send_monthly_digests(services, now=now, only_if_due=True)
        report.rollups = await refresh_rollups(services, now=now)
    await deliver_outbox(services, now=now, senders=senders, report=report)
    return report


# --- run_background ---------------------------------------------------------------------------------


@dataclass
class BackgroundHandle:
    """What the app factory holds while background work runs."""

    is_leader: bool = False
    jobs: JobQueue | None = None
    senders: dict[str, Sender] = field(default_factory=dict)
    last_report: SweepReport | None = None
    sweeps: int = 0
    sweep: Callable[[], Awaitable[None]] | None = None  # the sweep job itself (tests call it instead of a tick)
    _sweep_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _retry: asyncio.Task[None] | None = None


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@contextlib.asynccontextmanager
async def run_background(services: Services) -> AsyncIterator[BackgroundHandle]:
    """Take the scheduler lock (or keep trying), run the sweep and the digest cron while it is held."""
    settings = services.settings
    lock = make_scheduler_lock(settings, services.engine)
    handle = BackgroundHandle(senders=dict(services.senders))

    async def still_leader() -> bool:
        """False (and the scheduler stopped, the lock retried) once the lock is gone, e.g. its connection died."""
        if not handle.is_leader:
            return False
        if await lock.is_held():
            return True
        log.error("scheduler lock lost (its database connection died?): this process stops its scheduler "
                  "and tries to take the lock again")
        jobs, handle.jobs, handle.is_leader = handle.jobs, None, False
        if jobs is not None:
            asyncio.get_running_loop().call_soon(jobs.shutdown)  # after this job returns, not from inside it
        handle._retry = asyncio.create_task(keep_trying(), name="jianfu-scheduler-lock")
        return False

    async def sweep() -> None:
        async with handle._sweep_lock:
            if not await still_leader():
                return
            handle.last_report = await run_sweep(services, now=_utcnow(), senders=handle.senders)
            handle.sweeps += 1

    async def digest() -> None:
        from intake.reports.monthly import send_monthly_digests

        async with handle._sweep_lock:
            if await still_leader():
                await send_monthly_digests(services, now=_utcnow(), only_if_due=True)

    def start() -> None:
        jobs = JobQueue(settings.tz)
        jobs.run_repeating(SWEEP_JOB_ID, sweep, seconds=settings.schedule.sweep_seconds, first_in=0.5)
        jobs.run_monthly(DIGEST_JOB_ID, digest, day=settings.schedule.digest_day, hour=settings.schedule.digest_hour)
        jobs.start()
        handle.jobs = jobs
        handle.is_leader = True
        log.info("scheduler started: sweep every %ss, digests on day %d at %02d:07",
                 settings.schedule.sweep_seconds, settings.schedule.digest_day, settings.schedule.digest_hour)

    async def keep_trying() -> None:
        while True:
            await asyncio.sleep(settings.schedule.lock_retry_seconds)
            try:
                if await lock.acquire():
                    start()
                    return
            except (sa.exc.SQLAlchemyError, OSError) as exc:
                log.warning("scheduler lock attempt failed: %s", exc)

    handle.sweep = sweep
    if await lock.acquire():
        start()
    else:
        log.info("another process holds the scheduler lock; this one only serves requests")
        handle._retry = asyncio.create_task(keep_trying(), name="jianfu-scheduler-lock")
    try:
        yield handle
    finally:
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
        await lock.release()
