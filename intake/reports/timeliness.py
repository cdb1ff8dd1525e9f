"""Timeliness: assignments due in a month, on time, late, overdue (逾期) or not yet due (未到期).

Part of the figures (:mod:`intake.reports.figures`); the definitions are in the README.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.reports.measures import department_name
from intake.store.models import TASK_TARGETS as TARGETS
from intake.store.models import TASKS, TaskStatus
from intake.store.values import TargetStatus

__all__ = ["Timeliness", "get_timeliness"]


@dataclass(frozen=True)
class Timeliness:
    due: int = 0  # assignments due in the month
    on_time: int = 0
    late: int = 0
    overdue: int = 0  # 逾期: still open, due day passed
    not_yet_due: int = 0  # 未到期: still open, due day today or later

    def __add__(self, other: Timeliness) -> Timeliness:
        return Timeliness(self.due + other.due, self.on_time + other.on_time, self.late + other.late,
                          self.overdue + other.overdue, self.not_yet_due + other.not_yet_due)

    @property
    def on_time_rate(self) -> float | None:
        """On time over the assignments whose due day has passed or that are done (未到期 left out)."""
        settled = self.due - self.not_yet_due
        return None if settled == 0 else round(self.on_time / settled, 4)



async def get_timeliness(
    conn: AsyncConnection, *, start: dt.datetime, end: dt.datetime, today: dt.date,
    community_ids: tuple[int, ...] | None = None, department: str | None = None,
) -> dict[int, Timeliness]:
    """Assignments due in the month, per community: on time, late, overdue, not yet due."""
    tz = start.tzinfo
    first, last = start.date(), (end - dt.timedelta(days=1)).date()
    # done by the end of the due day, local time: the cutoff is the next local midnight
    cutoff = sa.case({
        first + dt.timedelta(days=i): sa.literal(
            dt.datetime.combine(first + dt.timedelta(days=i + 1), dt.time(), tzinfo=tz), TARGETS.c.done_at.type)
        for i in range((last - first).days + 1)
    }, value=TARGETS.c.due_date)
    done = TARGETS.c.status == TargetStatus.done.value
    is_open = TARGETS.c.status == TargetStatus.open.value
    sums = {
        "on_time": sa.and_(done, TARGETS.c.done_at.is_not(None), TARGETS.c.done_at < cutoff),
        "done": done,
        "overdue": sa.and_(is_open, TARGETS.c.due_date < today),
        "not_yet_due": sa.and_(is_open, TARGETS.c.due_date >= today),
    }
    by_department = [] if department is None else [department_name() == department]
    communities = [] if community_ids is None else [TARGETS.c.community_id.in_(community_ids)]
    query = (
        sa.select(TARGETS.c.community_id, sa.func.count().label("due"),
                  *(sa.func.sum(sa.case((c, 1), else_=0)).label(n) for n, c in sums.items()))
        .select_from(TARGETS.join(TASKS, TASKS.c.id == TARGETS.c.task_id))
        .where(TARGETS.c.due_date >= first, TARGETS.c.due_date <= last, TARGETS.c.status.in_((TargetStatus.open.value, TargetStatus.done.value)),
               TASKS.c.status.in_((TaskStatus.accepted.value, TaskStatus.done.value)), *communities, *by_department)
        .group_by(TARGETS.c.community_id)
    )
    result: dict[int, Timeliness] = {}
    for row in await conn.execute(query):
        on_time, done_n = int(row.on_time or 0), int(row.done or 0)
        result[int(row.community_id)] = Timeliness(
            due=int(row.due), on_time=on_time, late=done_n - on_time, overdue=int(row.overdue or 0),
            not_yet_due=int(row.not_yet_due or 0))
    return result
