"""When to remind: pure functions of the due date, the message time and the schedule settings.

Everything that decides *what is due* lives here as a pure function of ``now``
(tested over tables of cases); the only database functions store planned rows. Cancelling
and re-planning a task's reminders, and rolling a recurring target, are state changes of the
task and live in :mod:`intake.tasks`.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.settings import IntakeSettings, ScheduleSettings
from intake.store.models import REMINDERS
from intake.store.sqlite_fast import Prepared

__all__ = [
    "PlannedReminder",
    "DueReminder",
    "plan_reminders",
    "is_short_notice",
    "reminder_kind",
    "working_days_between",
    "add_period",
    "next_occurrence",
    "is_roll_due",
    "coalesce_due",
    "add_reminders",
    "planned_reminder_rows",
    "insert_reminder_rows",
    "RECURRENCES",
]

RECURRENCES = ("weekly", "monthly", "quarterly", "yearly")
_AVOID_MINUTES = (0, 30)  # WeCom asks senders to avoid the top and the half of the hour


@dataclass(frozen=True)
class PlannedReminder:
    kind: str  # before_3 / before_1 / due / overdue (before_N / overdue_N for any configured N)
    fire_at: dt.datetime


@dataclass(frozen=True)
class DueReminder:
    """One unsent reminder row as the sweep sees it."""

    id: int
    target_id: int
    kind: str
    fire_at: dt.datetime


def reminder_kind(offset_days: int) -> str:
    if offset_days < 0:
        return f"before_{-offset_days}"
    if offset_days == 0:
        return "due"
    return "overdue" if offset_days == 1 else f"overdue_{offset_days}"


def _jitter_minutes(seed: str, limit: int) -> int:
    """A stable minute offset in 1..limit derived from the seed (the task code and target)."""
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return 1 + digest[0] % limit


def _reminder_clock(schedule: ScheduleSettings) -> dt.time:
    hour, minute = (int(part) for part in schedule.reminder_time.split(":"))
    return dt.time(hour, minute)


def plan_reminders(
    *,
    due: dt.date,
    received_at: dt.datetime,
    schedule: ScheduleSettings,
    tz: ZoneInfo,
    seed: str,
) -> list[PlannedReminder]:
    """The reminders a target should get, skipping those that would already be past at `received_at`.

    Each fires at ``reminder_time`` local on ``due + offset`` days, plus a stable jitter of
    1..``jitter_minutes`` minutes, and never at :00 or :30 exactly. A short-notice task
    therefore simply gets fewer reminders: the ones already past are left out.
    """
    clock = _reminder_clock(schedule)
    planned: list[PlannedReminder] = []
    for offset in sorted(set(schedule.reminder_days)):
        day = due + dt.timedelta(days=offset)
        base = dt.datetime.combine(day, clock, tzinfo=tz)
        fire_at = base + dt.timedelta(minutes=_jitter_minutes(f"{seed}:{offset}", schedule.jitter_minutes))
        while fire_at.minute in _AVOID_MINUTES:
            fire_at += dt.timedelta(minutes=1)
        if fire_at <= received_at:
            continue
        planned.append(PlannedReminder(kind=reminder_kind(offset), fire_at=fire_at))
    return planned


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days (Mon–Fri) after `start` up to and including `end` (0 when `end` <= `start`)."""
    if end <= start:
        return 0
    total = (end - start).days
    weeks, rest = divmod(total, 7)
    days = weeks * 5
    for i in range(1, rest + 1):
        if (start + dt.timedelta(days=i)).weekday() < 5:
            days += 1
    return days


def is_short_notice(*, received_at: dt.datetime, due: dt.date, tz: ZoneInfo, working_days: int) -> bool:
    """A task is short-notice when the community gets fewer than `working_days` working days for it."""
    return working_days_between(received_at.astimezone(tz).date(), due) < working_days


# --- recurrence --------------------------------------------------------------------------------


def _add_months(anchor: dt.date, months: int) -> dt.date:
    """`anchor` plus whole months, keeping its day of month where the month has it (else the last day)."""
    index = anchor.year * 12 + (anchor.month - 1) + months
    year, month0 = divmod(index, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return dt.date(year, month0 + 1, min(anchor.day, last))


def add_period(anchor: dt.date, recurrence: str, count: int) -> dt.date:
    """The `count`-th occurrence after `anchor` (count 0 is the anchor itself), always counted from the anchor
    so that a 31st does not drift to the 28th after February."""
    if recurrence == "weekly":
        return anchor + dt.timedelta(weeks=count)
    if recurrence == "monthly":
        return _add_months(anchor, count)
    if recurrence == "quarterly":
        return _add_months(anchor, 3 * count)
    if recurrence == "yearly":
        return _add_months(anchor, 12 * count)
    raise ValueError(f"unknown recurrence {recurrence!r}; expected one of {', '.join(RECURRENCES)}")


def next_occurrence(*, anchor: dt.date, recurrence: str, after: dt.date) -> dt.date:
    """The first occurrence of the series anchored at `anchor` that falls strictly after `after`."""
    if recurrence == "weekly":
        weeks = max(0, (after - anchor).days // 7)
        count = weeks
    else:
        step = {"monthly": 1, "quarterly": 3, "yearly": 12}.get(recurrence)
        if step is None:
            raise ValueError(f"unknown recurrence {recurrence!r}; expected one of {', '.join(RECURRENCES)}")
        months = (after.year - anchor.year) * 12 + (after.month - anchor.month)
        count = max(0, months // step - 1)
    while add_period(anchor, recurrence, count) <= after:
        count += 1
    return add_period(anchor, recurrence, count)


def is_roll_due(*, due: dt.date, now: dt.datetime, tz: ZoneInfo, schedule: ScheduleSettings) -> bool:
    """A recurring target whose occurrence passed rolls on once its last (overdue) reminder day is over."""
    grace = max(0, max(schedule.reminder_days, default=0))
    return now.astimezone(tz).date() > due + dt.timedelta(days=grace)


def coalesce_due(reminders: Iterable[DueReminder], *, now: dt.datetime) -> tuple[list[DueReminder], list[DueReminder]]:
    """Split the unsent reminders into (send, skip): of the ones already due, each target gets only its latest.

    After downtime several reminders of one target may be due at once (3 days before, 1 day before,
    the due day); the community hears once, with the most current one, and the rest are skipped.
    """
    latest: dict[int, DueReminder] = {}
    skipped: list[DueReminder] = []
    for reminder in sorted(reminders, key=lambda r: (r.target_id, r.fire_at, r.id)):
        if reminder.fire_at > now:
            continue
        previous = latest.get(reminder.target_id)
        if previous is not None:
            skipped.append(previous)
        latest[reminder.target_id] = reminder
    return sorted(latest.values(), key=lambda r: (r.fire_at, r.id)), skipped


# --- database ---------------------------------------------------------------------------------------


_INSERT_REMINDERS = Prepared(sa.insert(REMINDERS))


def planned_reminder_rows(
    targets: Iterable[tuple[int, dt.date, str]], *, now: dt.datetime, settings: IntakeSettings
) -> list[dict[str, object]]:
    """The reminder rows of targets given as (target id, due date, jitter seed), planned at `now`."""
    return [
        {"target_id": target_id, "kind": planned.kind, "fire_at": planned.fire_at, "cancelled": False}
        for target_id, due, seed in targets
        for planned in plan_reminders(due=due, received_at=now, schedule=settings.schedule, tz=settings.tz, seed=seed)
    ]


async def insert_reminder_rows(conn: AsyncConnection, rows: Sequence[Mapping[str, object]]) -> None:
    """Store planned reminder rows in one statement (with the write batch's other pending rows on PostgreSQL)."""
    await _INSERT_REMINDERS.later_many(conn, rows)


async def add_reminders(
    conn: AsyncConnection, *, targets: Iterable[tuple[int, dt.date, str]], now: dt.datetime, settings: IntakeSettings
) -> int:
    """Plan and store the reminders of targets given as (target id, due date, jitter seed); one statement."""
    rows = planned_reminder_rows(targets, now=now, settings=settings)
    await insert_reminder_rows(conn, rows)
    return len(rows)


def sorted_kinds(kinds: Sequence[str]) -> list[str]:
    """Reminder kinds in firing order (before_N descending N, due, overdue…), for texts and tests."""

    def key(kind: str) -> tuple[int, int]:
        if kind.startswith("before_"):
            return (0, -int(kind.split("_")[1]))
        if kind == "due":
            return (1, 0)
        if kind == "overdue":
            return (2, 1)
        return (2, int(kind.split("_")[1]))

    return sorted(kinds, key=key)
