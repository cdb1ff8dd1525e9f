"""What clerks, heads and the sweep do to a stored task: set its deadline, withdraw it, complete a target, roll one.

Each function runs inside a writer unit (one transaction) and never commits; each writes its
audit entry, and stops or plans reminders through :mod:`intake.tasks.reminding`.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.accounts import AccountView
from intake.audit import add_audit
from intake.errors import Forbidden, InvalidRequest
from intake.reminders import RECURRENCES, add_reminders, is_roll_due, is_short_notice, next_occurrence
from intake.settings import IntakeSettings
from intake.store.models import TASK_TARGETS, TASKS, TargetStatus, TaskStatus
from intake.tasks.reminding import cancel_unsent_reminders, replan_reminders
from intake.tasks.views import TaskView, get_task
from intake.texts_notify import (
    NO_COMMUNITY_TO_COMPLETE,
    NOT_WITHDRAWABLE,
    NOT_YOUR_COMMUNITY,
    NOT_YOUR_TASK,
    NOTHING_TO_COMPLETE,
)

__all__ = ["set_task_deadline", "withdraw_task", "complete_target", "roll_recurring", "roll_due_targets",
           "set_targets_for"]


async def set_targets_for(conn: AsyncConnection, *, task_id: int, status: str) -> None:
    """Move a task's targets with its status: refused closes the open ones, accepted or pending reopens refused ones."""
    if status == TaskStatus.refused:
        before, after = TargetStatus.open, TargetStatus.refused
    elif status in (TaskStatus.accepted, TaskStatus.pending_review):
        before, after = TargetStatus.refused, TargetStatus.open
    else:
        return
    await conn.execute(
        sa.update(TASK_TARGETS).where(TASK_TARGETS.c.task_id == task_id, TASK_TARGETS.c.status == before)
        .values(status=after.value)
    )


async def set_task_deadline(
    conn: AsyncConnection,
    *,
    task_id: int,
    deadline: dt.date | None,
    deadline_time: dt.time | None,
    actor: str,
    now: dt.datetime,
    settings: IntakeSettings,
) -> TaskView:
    """The clerk's answer to "请补充截止时间": the task and its open targets get the date, reminders follow it."""
    row = (await conn.execute(
        sa.select(TASKS.c.code, TASKS.c.deadline, TASKS.c.status, TASKS.c.received_at).where(TASKS.c.id == task_id)
    )).one()
    short = deadline is not None and is_short_notice(
        received_at=row.received_at, due=deadline, tz=settings.tz,
        working_days=settings.schedule.short_notice_working_days,
    )
    await conn.execute(
        sa.update(TASKS).where(TASKS.c.id == task_id)
        .values(deadline=deadline, deadline_time=deadline_time, short_notice=short, updated_at=now)
    )
    await conn.execute(
        sa.update(TASK_TARGETS).where(TASK_TARGETS.c.task_id == task_id, TASK_TARGETS.c.status == TargetStatus.open)
        .values(due_date=deadline)
    )
    if row.status == TaskStatus.accepted:
        await replan_reminders(conn, task_id=task_id, code=row.code, now=now, settings=settings)
    await add_audit(
        conn, actor=actor, entity="task", entity_id=task_id, action="set_deadline",
        before={"deadline": row.deadline}, after={"deadline": deadline, "deadline_time": deadline_time}, now=now,
    )
    return await get_task(conn, code=row.code)


async def withdraw_task(conn: AsyncConnection, *, account: AccountView, code: str, now: dt.datetime) -> TaskView:
    """A clerk withdraws an open task of their own: its open targets close and its reminders stop."""
    task = await get_task(conn, code=code)
    if task.sender_id != account.id:
        raise Forbidden(NOT_YOUR_TASK.format(code=task.code))
    if not task.is_open:
        raise InvalidRequest(NOT_WITHDRAWABLE.format(code=task.code, status=task.status))
    await conn.execute(
        sa.update(TASKS).where(TASKS.c.id == task.id).values(status=TaskStatus.withdrawn.value, updated_at=now)
    )
    await conn.execute(
        sa.update(TASK_TARGETS)
        .where(TASK_TARGETS.c.task_id == task.id, TASK_TARGETS.c.status == TargetStatus.open)
        .values(status=TargetStatus.withdrawn.value)
    )
    await cancel_unsent_reminders(conn, task_id=task.id)
    await add_audit(conn, actor=f"account:{account.id}", entity="task", entity_id=task.id, action="withdraw",
                    before={"status": task.status}, after={"status": TaskStatus.withdrawn.value}, now=now)
    return await get_task(conn, code=task.code)


async def _close_target(conn: AsyncConnection, *, task_id: int, target_id: int, account_id: int,
                        now: dt.datetime) -> None:
    """Mark one target done and stop its reminders; the task is done when no target is open."""
    await conn.execute(
        sa.update(TASK_TARGETS).where(TASK_TARGETS.c.id == target_id)
        .values(status=TargetStatus.done.value, done_at=now, done_by=account_id)
    )
    await cancel_unsent_reminders(conn, target_id=target_id)
    remaining = (
        await conn.execute(
            sa.select(sa.func.count()).select_from(TASK_TARGETS)
            .where(TASK_TARGETS.c.task_id == task_id, TASK_TARGETS.c.status == TargetStatus.open)
        )
    ).scalar_one()
    if remaining == 0:
        await conn.execute(
            sa.update(TASKS).where(TASKS.c.id == task_id).values(status=TaskStatus.done.value, updated_at=now)
        )


async def complete_target(
    conn: AsyncConnection, *, account: AccountView, code: str, now: dt.datetime, settings: IntakeSettings
) -> tuple[TaskView, bool]:
    """Mark the head's community done on a task; returns the task and whether it rolled to a next occurrence."""
    task = await get_task(conn, code=code)
    if account.community_id is None:
        raise Forbidden(NO_COMMUNITY_TO_COMPLETE)
    target = (
        await conn.execute(
            sa.select(TASK_TARGETS.c.id, TASK_TARGETS.c.status, TASK_TARGETS.c.due_date)
            .where(TASK_TARGETS.c.task_id == task.id, TASK_TARGETS.c.community_id == account.community_id)
        )
    ).first()
    if target is None:
        raise Forbidden(NOT_YOUR_COMMUNITY.format(code=task.code, community=account.community))
    if task.status != TaskStatus.accepted or target.status != TargetStatus.open:
        raise InvalidRequest(NOTHING_TO_COMPLETE.format(code=task.code, status=target.status))
    rolled = bool(task.recurrence) and await roll_recurring(conn, target_id=target.id, now=now, settings=settings)
    if not rolled:
        await _close_target(conn, task_id=task.id, target_id=target.id, account_id=account.id, now=now)
    await add_audit(conn, actor=f"account:{account.id}", entity="task_target", entity_id=target.id, action="complete",
                    before={"status": target.status, "community": account.community},
                    after={"status": "rolled" if rolled else TargetStatus.done.value}, now=now)
    return await get_task(conn, code=task.code), rolled


async def roll_recurring(
    conn: AsyncConnection, *, target_id: int, now: dt.datetime, settings: IntakeSettings, completed: bool = True
) -> bool:
    """Move an open target of a recurring task to its next occurrence; False when it does not recur.

    The target's unsent reminders are cancelled, ``done_at`` records the completion when
    ``completed`` (``完成 R-…``; the sweep rolls missed occurrences with ``completed=False``), its
    ``due_date`` becomes the next occurrence after today and after the current one, and new
    reminders are planned for it. Runs inside the caller's transaction.
    """
    row = (
        await conn.execute(
            sa.select(TASK_TARGETS.c.status, TASK_TARGETS.c.due_date, TASKS.c.code, TASKS.c.deadline,
                      TASKS.c.recurrence)
            .join(TASKS, TASKS.c.id == TASK_TARGETS.c.task_id)
            .where(TASK_TARGETS.c.id == target_id)
        )
    ).first()
    if row is None or not row.recurrence or row.recurrence not in RECURRENCES:
        return False
    if row.status != TargetStatus.open or row.due_date is None:
        return False
    anchor: dt.date = row.deadline or row.due_date
    today = now.astimezone(settings.tz).date()
    next_due = next_occurrence(anchor=anchor, recurrence=row.recurrence, after=max(today, row.due_date))
    values: dict[str, object] = {"due_date": next_due}
    if completed:
        values["done_at"] = now
    await conn.execute(sa.update(TASK_TARGETS).where(TASK_TARGETS.c.id == target_id).values(**values))
    await cancel_unsent_reminders(conn, target_id=target_id)
    await add_reminders(conn, targets=[(target_id, next_due, f"{row.code}:{target_id}:{next_due}")], now=now,
                        settings=settings)
    return True


async def roll_due_targets(conn: AsyncConnection, *, now: dt.datetime, settings: IntakeSettings, limit: int) -> int:
    """The sweep's roll: recurring targets whose occurrence and its overdue reminder day are over move on."""
    grace = max(0, max(settings.schedule.reminder_days, default=0))
    cutoff = now.astimezone(settings.tz).date() - dt.timedelta(days=grace)
    rows = (
        await conn.execute(
            sa.select(TASK_TARGETS.c.id, TASK_TARGETS.c.due_date)
            .join(TASKS, TASKS.c.id == TASK_TARGETS.c.task_id)
            .where(
                TASKS.c.recurrence.is_not(None),
                TASKS.c.status == TaskStatus.accepted,
                TASK_TARGETS.c.status == TargetStatus.open,
                TASK_TARGETS.c.due_date < cutoff,
            )
            .limit(limit)
        )
    ).all()
    rolled = 0
    for row in rows:
        if is_roll_due(due=row.due_date, now=now, tz=settings.tz, schedule=settings.schedule) and await roll_recurring(
            conn, target_id=int(row.id), now=now, settings=settings, completed=False
        ):
            rolled += 1
    return rolled
