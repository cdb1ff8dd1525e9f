"""Working days, festivals and lunar dates (China), for deadlines such as 3个工作日内 or 重阳节前.

Public holidays and make-up working days (调休) come from `chinese-calendar`, which knows each year the
State Council has published; for a year it does not know yet, Monday to Friday are working days.
Lunar festivals (春节, 元宵节, 端午节, 中秋节, 重阳节 ...) are converted with `lunardate`; solar ones
(元旦, 劳动节, 国庆节 ...) are fixed dates.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import chinese_calendar
from lunardate import LunarDate

__all__ = ["FESTIVALS", "add_working_days", "festival_day", "is_working_day", "next_working_day"]

# name -> ("lunar" | "solar", month, day); 除夕 is the day before 春节
FESTIVALS: dict[str, tuple[str, int, int]] = {
    "春节": ("lunar", 1, 1),
    "元宵节": ("lunar", 1, 15),
    "元宵": ("lunar", 1, 15),
    "端午节": ("lunar", 5, 5),
    "端午": ("lunar", 5, 5),
    "七夕": ("lunar", 7, 7),
    "中秋节": ("lunar", 8, 15),
    "中秋": ("lunar", 8, 15),
    "重阳节": ("lunar", 9, 9),
    "重阳": ("lunar", 9, 9),
    "腊八": ("lunar", 12, 8),
    "元旦": ("solar", 1, 1),
    "妇女节": ("solar", 3, 8),
    "三八节": ("solar", 3, 8),
    "植树节": ("solar", 3, 12),
    "劳动节": ("solar", 5, 1),
    "儿童节": ("solar", 6, 1),
    "建党节": ("solar", 7, 1),
    "建军节": ("solar", 8, 1),
    "教师节": ("solar", 9, 10),
    "国庆节": ("solar", 10, 1),
    "国庆": ("solar", 10, 1),
}


@lru_cache(maxsize=4096)
def is_working_day(day: date) -> bool:
    """A working day in China: holidays off, 调休 Saturdays and Sundays on (weekdays only where unknown)."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:  # a year the package has no data for yet
        return day.weekday() < 5


def add_working_days(day: date, n: int) -> date:
    """The n-th working day after `day` (n >= 0; 0 gives `day` itself)."""
    while n > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            n -= 1
    return day


def next_working_day(day: date) -> date:
    """The first working day strictly after `day`."""
    return add_working_days(day, 1)


def festival_day(name: str, year: int) -> date | None:
    """The date of a festival in a Gregorian year (春节 2027 -> 2027-02-06), None if unknown."""
    if name == "除夕":
        spring = festival_day("春节", year + 1)
        return spring - timedelta(days=1) if spring is not None else None
    rule = FESTIVALS.get(name)
    if rule is None:
        return None
    kind, month, day = rule
    if kind == "solar":
        return date(year, month, day)
    try:  # the lunar year that starts in `year` holds 春节..腊八 of that Gregorian year, except 腊八 (late)
        solar: date = LunarDate(year, month, day).to_solar_date()
    except ValueError:
        return None
    if solar.year != year and month == 12:
        solar = LunarDate(year - 1, month, day).to_solar_date()
    return solar
