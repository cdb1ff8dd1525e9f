"""Months: the one place that reads ``YYYY-MM``, turns it into local bounds and steps through months."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from intake.errors import BadFilter

__all__ = ["parse_month", "month_bounds", "shift_month", "previous_month", "month_key", "digest_month_due",
           "FIRST_YEAR", "LAST_YEAR"]

FIRST_YEAR, LAST_YEAR = 2000, 2100  # the months any page, export or digest accepts


def parse_month(value: str) -> tuple[int, int]:
    """``"2025-01"`` → (2025, 1); anything else raises :class:`BadFilter` with how to write it."""
    try:
        year, month = value.strip().split("-")
        y, m = int(year), int(month)
        if not (FIRST_YEAR <= y <= LAST_YEAR and 1 <= m <= 12 and len(month) == 2):
            raise ValueError(value)
    except ValueError as exc:
        raise BadFilter(f"月份“{value}”格式不对,请写成 YYYY-MM,例如 2025-01。") from exc
    return y, m


def month_bounds(month: str, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """The local calendar month as [start, end) aware datetimes, for filtering timestamps."""
    y, m = parse_month(month)
    start = dt.datetime(y, m, 1, tzinfo=tz)
    end = dt.datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=tz)
    return start, end


def shift_month(month: str, delta: int) -> str:
    """``shift_month("2026-01", -1)`` → ``"2025-12"``."""
    y, m = (int(x) for x in month.split("-"))
    index = y * 12 + (m - 1) + delta
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def previous_month(month: str) -> str:
    """"2026-01" → "2025-12"."""
    return shift_month(month, -1)


def month_key(value: dt.datetime | dt.date, tz: ZoneInfo | None = None) -> str:
    """The ``YYYY-MM`` a date falls in (a datetime is first read in `tz`, when given)."""
    if isinstance(value, dt.datetime) and tz is not None:
        value = value.astimezone(tz)
    return f"{value.year:04d}-{value.month:02d}"


def digest_month_due(*, now: dt.datetime, day: int, hour: int, tz: ZoneInfo) -> str | None:
    """The month whose digest is due at `now`: the previous month once this month's digest time has come."""
    local = now.astimezone(tz)
    if (local.day, local.hour) < (day, hour):
        return None
    return previous_month(month_key(local))
