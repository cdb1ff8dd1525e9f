"""When to remind: pure functions of the due date, the message time and the schedule settings."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from intake.settings import ScheduleSettings

__all__ = ["PlannedReminder", "plan_reminders", "is_short_notice", "reminder_kind", "working_days_between"]


@dataclass(frozen=True)
class PlannedReminder:
    kind: str  # before_3 / before_1 / due / overdue (before_N for any configured N)
    fire_at: dt.datetime


def reminder_kind(offset_days: int) -> str:
    if offset_days < 0:
        return f"before_{-offset_days}"
    if offset_days == 0:
        return "due"
    return "overdue" if offset_days == 1 else f"overdue_{offset_days}"


def _jitter_minutes(seed: str, limit: int) -> int:
    """A stable minute offset in 1..limit that never lands on :00 or :30 from a round base time."""
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    minutes = 1 + digest[0] % limit
    return minutes if minutes not in (30, 60) else minutes + 1


def plan_reminders(
    *,
    due: dt.date,
    received_at: dt.datetime,
    schedule: ScheduleSettings,
    tz: ZoneInfo,
    seed: str,
) -> list[PlannedReminder]:
    """The reminders a target should get, skipping those that would already be past at `received_at`."""
    hour, minute = (int(part) for part in schedule.reminder_time.split(":"))
    planned: list[PlannedReminder] = []
    for offset in sorted(set(schedule.reminder_days)):
        day = due + dt.timedelta(days=offset)
        base = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=tz)
        fire_at = base + dt.timedelta(minutes=_jitter_minutes(f"{seed}:{offset}", schedule.jitter_minutes))
        if fire_at.minute in (0, 30):
            fire_at += dt.timedelta(minutes=1)
        if fire_at <= received_at:
            continue
        planned.append(PlannedReminder(kind=reminder_kind(offset), fire_at=fire_at))
    return planned


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days (Mon–Fri) after `start` up to and including `end`."""
    days = 0
    current = start
    while current < end:
        current += dt.timedelta(days=1)
        if current.weekday() < 5:
            days += 1
    return days


def is_short_notice(*, received_at: dt.datetime, due: dt.date, tz: ZoneInfo, working_days: int) -> bool:
    """A task is short-notice when the community gets fewer than `working_days` working days for it."""
    return working_days_between(received_at.astimezone(tz).date(), due) < working_days
