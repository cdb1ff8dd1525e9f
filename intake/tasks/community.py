"""What a community head does to a task addressed to the community: read it (``查询 R-…``) and stop its
reminders (``不再提醒 R-…``); a notice a head reported that was logged already makes
the community one of its targets. Each runs inside a writer unit and never commits."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.accounts import AccountView
from intake.audit import add_audit
from intake.errors import Forbidden
from intake.store.models import TASK_TARGETS, TASKS, TargetStatus, TaskStatus
from intake.tasks.reminding import cancel_unsent_reminders
from intake.tasks.views import TaskView, get_task

__all__ = ["get_community_task", "quiet_target", "link_community_target"]


async def _head_target(conn: AsyncConnection, *, account: AccountView, task: TaskView) -> Any:
    """The head's community's target on a task; Forbidden when the task was not addressed to it."""
    if account.community_id is None:
        raise Forbidden("您的账号未绑定社区。")
    target = (
        await conn.execute(
            sa.select(TASK_TARGETS.c.id, TASK_TARGETS.c.status, TASK_TARGETS.c.quiet)
            .where(TASK_TARGETS.c.task_id == task.id, TASK_TARGETS.c.community_id == account.community_id)
        )
    ).first()
    if target is None:
        raise Forbidden(f"{task.code} 没有派给{account.community},只能查看和处理派给本社区的任务。")
    return target


async def get_community_task(conn: AsyncConnection, *, account: AccountView, code: str) -> TaskView:
    """A task addressed to the head's community (``查询 R-…`` by a head)."""
    task = await get_task(conn, code=code)
    await _head_target(conn, account=account, task=task)
    return task


async def quiet_target(conn: AsyncConnection, *, account: AccountView, code: str, now: dt.datetime) -> TaskView:
    """``不再提醒 R-…``: no more reminders of this task for the head's community (nothing else changes)."""
    task = await get_task(conn, code=code)
    target = await _head_target(conn, account=account, task=task)
    if not target.quiet:
        await conn.execute(sa.update(TASK_TARGETS).where(TASK_TARGETS.c.id == target.id).values(quiet=True))
        await cancel_unsent_reminders(conn, target_id=int(target.id))
        await add_audit(conn, actor=f"account:{account.id}", entity="task_target", entity_id=target.id,
                        action="quiet", before={"quiet": False}, after={"quiet": True}, now=now)
    return task


async def link_community_target(
    conn: AsyncConnection, *, account: AccountView, task_id: int, now: dt.datetime
) -> None:
    """A head reported a notice already logged: make the head's community a target of the matched task
    (announced: the head has it already)."""
    assert account.community_id is not None
    exists = (
        await conn.execute(
            sa.select(TASK_TARGETS.c.id)
            .where(TASK_TARGETS.c.task_id == task_id, TASK_TARGETS.c.community_id == account.community_id)
        )
    ).first()
    if exists is not None:
        return
    task = (await conn.execute(sa.select(TASKS.c.status, TASKS.c.deadline).where(TASKS.c.id == task_id))).one()
    status = {
        TaskStatus.refused: TargetStatus.refused.value,
        TaskStatus.withdrawn: TargetStatus.withdrawn.value,
    }.get(task.status, TargetStatus.open.value)
    await conn.execute(
        sa.insert(TASK_TARGETS).values(
            task_id=task_id, community_id=account.community_id, status=status, due_date=task.deadline,
            announced_at=now, quiet=False,
        )
    )
