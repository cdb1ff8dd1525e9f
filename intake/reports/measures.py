"""What each figure counts, written once: the SQL conditions and the hours estimate.

:mod:`intake.reports.figures` sums these over a month in SQL; the README ("What the figures mean")
says the same in words. Counting a new thing (say, community-reported tasks) is one more entry of
:func:`conditions` and one more field of ``figures.Counts``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from intake.settings import ScheduleSettings
from intake.store.models import TASKS, TaskStatus

__all__ = ["NO_DEPARTMENT", "NOT_WORKED", "ESCALATED", "LISTINGS", "DEFAULT_HOURS", "conditions", "estimate_hours",
           "hours_expression", "department_name"]

NO_DEPARTMENT = "未注明部门"
DEFAULT_HOURS = 2.0
NOT_WORKED = (TaskStatus.refused.value, TaskStatus.withdrawn.value)
# a task flagged 层层加码 (tasks.escalation holds a list; JSON null and SQL NULL both mean none)
ESCALATED = sa.func.coalesce(sa.cast(TASKS.c.escalation, sa.Text), "null") != "null"
LISTINGS = ("duty", "assist", "negative", "unlisted")


def department_name() -> sa.ColumnElement[str]:
    """A task's department as the figures name it (未注明部门 when the notice named none)."""
    return sa.func.coalesce(TASKS.c.department, NO_DEPARTMENT)


def conditions() -> dict[str, sa.ColumnElement[bool]]:
    """Counts field → the condition a task row meets to be counted in it (summed as 1/0 in SQL)."""
    t = TASKS.c
    worked = t.status.not_in(NOT_WORKED)
    return {
        "administrative": t.nature != "service",
        **{name: t.listing == name for name in LISTINGS},
        "refused": t.status == TaskStatus.refused.value,
        "pending_review": t.status == TaskStatus.pending_review.value,
        "withdrawn": t.status == TaskStatus.withdrawn.value,
        "unfunded": sa.and_(t.listing == "assist", t.funded.is_(False), worked),
        "short_notice": t.short_notice.is_(True),
        "duplicates": t.duplicate_of.is_not(None),
        "repeat_collection": t.repeat_collection.is_(True),
    }


def estimate_hours(schedule: ScheduleSettings, *, kind: str, quantity: int | None, unit: str | None) -> float:
    """One assignment's estimated hours (the same rule as :func:`hours_expression`, for one task)."""
    rate = schedule.hours_per_unit.get(kind, {}).get(unit or "")
    if rate is not None and quantity is not None:
        return min(max(quantity * rate, schedule.hours_floor), schedule.hours_ceiling)
    return float(schedule.hours_per_kind.get(kind, DEFAULT_HOURS))


def hours_expression(schedule: ScheduleSettings) -> sa.ColumnElement[float]:
    """One assignment's estimated hours as SQL (0 for refused and withdrawn tasks)."""
    t = TASKS.c
    per_kind = sa.case(
        {kind: sa.literal(float(h), sa.Float) for kind, h in schedule.hours_per_kind.items()},
        value=t.kind, else_=sa.literal(DEFAULT_HOURS, sa.Float),
    ) if schedule.hours_per_kind else sa.literal(DEFAULT_HOURS, sa.Float)
    floor = sa.literal(schedule.hours_floor, sa.Float)
    ceiling = sa.literal(schedule.hours_ceiling, sa.Float)
    whens: list[tuple[Any, Any]] = [(t.status.in_(NOT_WORKED), sa.literal(0.0, sa.Float))]
    for kind, units in sorted(schedule.hours_per_unit.items()):
        for unit, rate in sorted(units.items()):
            raw = t.quantity_value * sa.literal(float(rate), sa.Float)
            bounded = sa.case((raw < floor, floor), (raw > ceiling, ceiling), else_=raw)
            whens.append((sa.and_(t.kind == kind, t.quantity_unit == unit, t.quantity_value.is_not(None)), bounded))
    return sa.case(*whens, else_=per_kind)
