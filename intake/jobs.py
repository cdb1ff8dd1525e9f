"""Background work: the sweep and the monthly digests, run by the process that holds the scheduler lock.

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

Only the lock holder sweeps (the locks are in :mod:`intake.scheduler`). A process without the
lock tries again every ``schedule.lock_retry_seconds`` and takes over when the holder dies. A
leader checks its lock before each job: when the lock's connection died (and with it the
PostgreSQL session lock), it stops its scheduler and goes back to trying. Should two sweeps
ever overlap anyway, idempotency keys and ``SKIP LOCKED`` claims still send each message once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake import texts_notify
from intake.announce import queue_dispatch_notices, queue_review_reminders
from intake.outbox import (
    ClaimedMessage,
    add_outbox_message,
    claim_due,
    list_community_recipients,
    record_deferral,
    record_failure,
    record_sent,
)
from intake.reminders import DueReminder, coalesce_due
from intake.senders import OutgoingMessage, Sender, SendResult
from intake.settings import IntakeSettings, NotifySettings
from intake.store.models import COMMUNITIES as T_COMMUNITIES
from intake.store.models import REMINDERS as T_REMINDERS
from intake.store.models import TASK_TARGETS as T_TARGETS
from intake.store.models import TASKS as T_TASKS
from intake.store.models import OutboxStatus, TargetStatus, TaskStatus
from intake.tasks import cancel_unsent_reminders, roll_due_targets

if TYPE_CHECKING:
    from intake.context import Services

__all__ = [
    "SweepReport",
    "run_sweep",
    "queue_due_reminders",
    "roll_due_recurring",
    "deliver_outbox",
]

log = logging.getLogger(__name__)

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


# --- the sweep ------------------------------------------------------------------------------------


async def roll_due_recurring(services: Services, *, now: dt.datetime) -> int:
    """Roll recurring targets whose occurrence and its overdue reminder day are over (intake.tasks)."""

    async def unit(conn: AsyncConnection) -> int:
        return await roll_due_targets(conn, now=now, settings=services.settings, limit=REMINDER_BATCH)

    return await services.writer.submit(unit)


_DEAD_TARGETS = (
    sa.select(T_TARGETS.c.id)
    .join(T_TASKS, T_TASKS.c.id == T_TARGETS.c.task_id)
    .where(sa.or_(T_TARGETS.c.status != TargetStatus.open,
                  T_TASKS.c.status.in_((TaskStatus.refused, TaskStatus.withdrawn, TaskStatus.done))))
)


async def _list_due_reminders(conn: AsyncConnection, *, until: dt.datetime) -> list[Any]:
    """Unsent, uncancelled reminders due before `until` of open, not quiet targets of running tasks, oldest first."""
    return list((
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
                T_REMINDERS.c.fire_at < until,
                T_TARGETS.c.status == TargetStatus.open,
                T_TARGETS.c.quiet.is_(False),  # 不再提醒
                T_TASKS.c.status == TaskStatus.accepted,
            )
            .order_by(T_REMINDERS.c.fire_at, T_REMINDERS.c.id)
            .limit(REMINDER_BATCH)
        )
    ).all())


async def _queue_due(conn: AsyncConnection, *, now: dt.datetime, settings: IntakeSettings) -> tuple[int, int, int, int]:
    """(sent, skipped, cancelled, messages queued): one transaction of the sweep's reminder step."""
    # reminders of targets that are no longer open, or tasks no longer running, are cancelled
    cancelled = await cancel_unsent_reminders(conn, targets=_DEAD_TARGETS, fired_by=now)
    today = now.astimezone(settings.tz).date()
    end_of_day = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tzinfo=settings.tz)
    rows = await _list_due_reminders(conn, until=end_of_day)
    # one morning message per community: once one of its reminders is due, the rest of the day's go with it
    waking = {int(r.community_id) for r in rows if r.fire_at <= now}
    rows = [r for r in rows if int(r.community_id) in waking]
    by_id = {int(r.id): r for r in rows}
    send, skip = coalesce_due(
        (DueReminder(id=int(r.id), target_id=int(r.target_id), kind=r.kind, fire_at=r.fire_at) for r in rows),
        now=end_of_day,
    )
    if skip:
        await conn.execute(
            sa.update(T_REMINDERS).where(T_REMINDERS.c.id.in_([r.id for r in skip])).values(sent_at=now, cancelled=True)
        )
    per_community: dict[int, list[Any]] = {}
    for reminder in send:
        row = by_id[reminder.id]
        per_community.setdefault(int(row.community_id), []).append(row)
    queued = 0
    for community_id, due_rows in per_community.items():
        queued += await _queue_morning_message(conn, community_id=community_id, rows=due_rows, today=today, now=now,
                                               settings=settings)
    if send:
        await conn.execute(sa.update(T_REMINDERS).where(T_REMINDERS.c.id.in_([r.id for r in send])).values(sent_at=now))
    return len(send), len(skip), cancelled, queued


async def queue_due_reminders(services: Services, *, now: dt.datetime, report: SweepReport | None = None) -> SweepReport:
    """Turn due reminders into outbox rows and stamp them sent, in one transaction."""
    report = report or SweepReport()

    async def unit(conn: AsyncConnection) -> tuple[int, int, int, int]:
        return await _queue_due(conn, now=now, settings=services.settings)

    sent, skipped, cancelled, messages = await services.writer.submit(unit)
    report.reminders_queued += sent
    report.reminders_skipped += skipped
    report.reminders_cancelled += cancelled
    report.messages_queued += messages
    return report


async def _queue_morning_message(
    conn: AsyncConnection, *, community_id: int, rows: list[Any], today: dt.date, now: dt.datetime,
    settings: IntakeSettings,
) -> int:
    """One message listing what is due for a community (no reply asked for); returns messages queued."""
    items = [
        texts_notify.DueItem(code=r.code, department=r.department, kind=r.task_kind,
                             summary=texts_notify.summarise(r.raw_text), due=r.due_date or today, reminder=r.kind)
        for r in sorted(rows, key=lambda r: (r.due_date or today, r.code))
    ]
    recipients = await list_community_recipients(conn, community_id=community_id, configured=settings.notify.heads)
    name = (await conn.execute(sa.select(T_COMMUNITIES.c.name).where(T_COMMUNITIES.c.id == community_id))).scalar()
    body = texts_notify.build_morning_reminder(str(name or ""), items, today=today)
    first = items[0]
    subject = texts_notify.reminder_subject(kind=rows[0].kind, code=first.code)
    queued = 0
    for rcp in recipients:
        payload: dict[str, Any] = {"tasks": [i.code for i in items], "reminder": rows[0].kind,
                                   "due": first.due.isoformat(),
                                   "fields": {"code": first.code, "due": first.due.isoformat(),
                                              "department": first.department or ""}}
        if rcp.webhook:
            payload["webhook"] = rcp.webhook
        key = f"reminders:{community_id}:{today.isoformat()}:{min(int(r.id) for r in rows)}"
        new_id = await add_outbox_message(
            conn, idempotency_key=f"{key}:{rcp.channel}:{rcp.recipient}", channel=rcp.channel,
            recipient=rcp.recipient, kind="reminder", subject=subject, body=body, account_id=rcp.account_id,
            community_id=rcp.community_id, payload=payload, now=now,
        )
        queued += new_id is not None
    return queued


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


async def _record_results(conn: AsyncConnection, results: list[tuple[ClaimedMessage, SendResult]], *,
                          now: dt.datetime, notify: NotifySettings) -> list[str]:
    """Write each delivery's outcome back; returns them as sent / deferred / failed / dead."""
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
            outcomes.append("dead" if status == OutboxStatus.dead else "failed")
    return outcomes


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
            return await _record_results(conn, results, now=now, notify=notify)

        for outcome in await services.writer.submit(record):
            setattr(report, outcome, getattr(report, outcome) + 1)
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
    report.messages_queued += await queue_dispatch_notices(services, now=now)
    report.messages_queued += await queue_review_reminders(services, now=now)
    await queue_due_reminders(services, now=now, report=report)
    if digests:
        report.digests = await send_monthly_digests(services, now=now, only_if_due=True)
        report.rollups = await refresh_rollups(services, now=now)
    await deliver_outbox(services, now=now, senders=senders, report=report)
    return report
