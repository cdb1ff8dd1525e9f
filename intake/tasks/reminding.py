"""A task's reminders as its state changes: cancelled when they no longer apply, planned again when they do.

Every state change in :mod:`intake.tasks` calls these two, so a reminder is always stopped the
same way (``cancelled``, never deleted: the row stays as the record of what was planned).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.reminders import insert_reminder_rows, planned_reminder_rows
from intake.settings import IntakeSettings
from intake.store.models import REMINDERS, TASK_TARGETS, TargetStatus

__all__ = ["cancel_unsent_reminders", "replan_reminders"]


async def cancel_unsent_reminders(
    conn: AsyncConnection,
    *,
    task_id: int | None = None,
    target_id: int | None = None,
    targets: sa.Select[Any] | None = None,
    fired_by: dt.datetime | None = None,
) -> int:
    """Cancel the reminders not sent yet of one task, one target, or the targets a query selects.

    ``fired_by`` limits it to the reminders due by then (the sweep's clean-up). Returns how many.
    """
    if sum(x is not None for x in (task_id, target_id, targets)) != 1:
        raise ValueError("give exactly one of task_id, target_id, targets")
    chosen: sa.ColumnElement[bool]
    if task_id is not None:
        chosen = REMINDERS.c.target_id.in_(sa.select(TASK_TARGETS.c.id).where(TASK_TARGETS.c.task_id == task_id))
    elif target_id is not None:
        chosen = REMINDERS.c.target_id == target_id
    else:
        assert targets is not None
        chosen = REMINDERS.c.target_id.in_(targets)
    where: list[sa.ColumnElement[bool]] = [chosen, REMINDERS.c.sent_at.is_(None), REMINDERS.c.cancelled.is_(False)]
    if fired_by is not None:
        where.append(REMINDERS.c.fire_at <= fired_by)
    result = await conn.execute(sa.update(REMINDERS).where(*where).values(cancelled=True))
    return int(result.rowcount or 0)


async def replan_reminders(
    conn: AsyncConnection, *, task_id: int, code: str, now: dt.datetime, settings: IntakeSettings,
) -> int:
    """Cancel a task's unsent reminders and plan them again for its open targets that have a due date.

    A planned reminder that matches a cancelled one (same target, kind and moment) revives that row
    instead of adding a second. Call it only for an accepted task; returns how many are planned.
    """
    await cancel_unsent_reminders(conn, task_id=task_id)
    targets = (
        await conn.execute(
            sa.select(TASK_TARGETS.c.id, TASK_TARGETS.c.due_date)
            .where(TASK_TARGETS.c.task_id == task_id, TASK_TARGETS.c.status == TargetStatus.open)
        )
    ).all()
    rows = planned_reminder_rows(
        [(int(t.id), t.due_date, f"{code}:{t.id}") for t in targets if t.due_date is not None],
        now=now, settings=settings,
    )
    if not rows:
        return 0
    existing = (
        await conn.execute(
            sa.select(REMINDERS.c.id, REMINDERS.c.target_id, REMINDERS.c.kind, REMINDERS.c.fire_at, REMINDERS.c.sent_at)
            .where(REMINDERS.c.target_id.in_(sorted({r["target_id"] for r in rows})))
        )
    ).all()
    known = {(e.target_id, e.kind, e.fire_at): e for e in existing}
    revive = [known[k].id for k in ((r["target_id"], r["kind"], r["fire_at"]) for r in rows)
              if k in known and known[k].sent_at is None]
    if revive:
        await conn.execute(sa.update(REMINDERS).where(REMINDERS.c.id.in_(revive)).values(cancelled=False))
    await insert_reminder_rows(
        conn, [r for r in rows if (r["target_id"], r["kind"], r["fire_at"]) not in known]
    )
    return len(rows)
