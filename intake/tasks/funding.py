"""The funding question (费随事转): an assist task sent without funding, under ``[admission] unfunded_assist``
"ask" or "hold", asks its clerk once; the answer is recorded here, and a task held for it is released.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from classifiers import Listing
from intake.audit import add_audit
from intake.settings import IntakeSettings
from intake.store.models import TASK_TARGETS, TASKS, TaskStatus
from intake.tasks.reminding import replan_reminders
from intake.tasks.views import OPEN_STATUSES, TaskView, get_task

__all__ = ["HELD_FOR_FUNDING", "NO_FUNDING_ANSWERS", "needs_funding_answer", "set_task_funding"]

# review_note of an assist task held under [admission] unfunded_assist = "hold" until its funding is stated
HELD_FOR_FUNDING = "待说明经费或工作条件(费随事转)"
# a clerk's whole answer that says there is no funding (an admission's funding line: texts_notify.NO_FUNDING_WORDS)
NO_FUNDING_ANSWERS = frozenset({"无", "没有", "无经费", "没有经费", "暂无"})


def needs_funding_answer(task: TaskView, policy: str) -> bool:
    """An assist task sent without funding, under a policy that asks the clerk for it."""
    return (policy in ("ask", "hold") and task.listing == Listing.ASSIST and not task.funded
            and task.status in OPEN_STATUSES and task.funding_note is None)


async def set_task_funding(
    conn: AsyncConnection, *, task_id: int, answer: str, actor: str, now: dt.datetime, settings: IntakeSettings
) -> TaskView:
    """Record the clerk's answer to the funding question; funding stated clears 费未随事转.

    A task held for its funding (``[admission] unfunded_assist = "hold"``) is dispatched once funding is
    stated: its communities hear of it at the next sweep and its reminders are planned. "无" keeps the flag
    (and a held task waits for the admins' review).
    """
    row = (await conn.execute(sa.select(TASKS).where(TASKS.c.id == task_id))).one()
    funded = answer not in NO_FUNDING_ANSWERS
    values: dict[str, Any] = {"funding_note": answer[:500], "updated_at": now}
    if funded:
        values["funded"] = True
    release = funded and row.status == TaskStatus.pending_review and row.review_note == HELD_FOR_FUNDING
    if release:
        values.update(status=TaskStatus.accepted.value, review_note=None)
    await conn.execute(sa.update(TASKS).where(TASKS.c.id == task_id).values(**values))
    if release:
        await conn.execute(sa.update(TASK_TARGETS).where(TASK_TARGETS.c.task_id == task_id).values(announced_at=None))
        await replan_reminders(conn, task_id=task_id, code=row.code, now=now, settings=settings)
    await add_audit(conn, actor=actor, entity="task", entity_id=task_id, action="funding",
                    before={"funded": row.funded, "status": row.status},
                    after={"funded": funded or row.funded, "funding_note": answer[:500],
                           "status": values.get("status", row.status)}, now=now)
    return await get_task(conn, code=row.code)
