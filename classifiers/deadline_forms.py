"""The deadline forms: one row of `PATTERNS` per way of writing a date, a time or a recurrence.

Each row is a name, a compiled regex and a resolver that turns a match into a date (and maybe a time
or a recurrence) against the message's own day. `patterns_for(text)` picks the rows that can match a
text by cheap trigger characters. Working days, festivals and lunar dates come from `classifiers.holidays`.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from classifiers import holidays
from classifiers.model import Recurrence
from classifiers.rules import Rules
from classifiers.text import NUM, parse_number

__all__ = ["PATTERNS", "Ctx", "Mention", "Resolver", "add_months", "num", "safe_date"]

WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 6}


@dataclass(slots=True)
class Mention:
    start: int
    end: int
    rule: str
    text: str
    day: date | None = None
    at: time | None = None
    recurrence: Recurrence | None = None
    explicit_year: bool = False
    rolled: bool = False
    is_time: bool = False
    ignore: bool = False
    anchored: bool = False  # a time with a clear marker (上午/下午/HH:MM)
    past: date | None = None  # for a rolled month/day: the date it would have been this year


@dataclass(frozen=True, slots=True)
class Ctx:
    today: date
    now: datetime
    rules: Rules


Resolver = Callable[[re.Match[str], Ctx, Mention], None]


# ---------------------------------------------------------------- calendar helpers
def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def safe_date(year: int, month: int, day: int) -> date | None:
    if not (1 <= month <= 12 and 1 <= day <= 31 and 1900 <= year <= 2200):
        return None
    if day > calendar.monthrange(year, month)[1]:
        return None
    return date(year, month, day)


def _quarter_end(day: date) -> date:
    month = ((day.month - 1) // 3 + 1) * 3
    return _month_end(day.year, month)


def num(value: str | None) -> int | None:
    return parse_number(value) if value else None


# ---------------------------------------------------------------- resolvers
def _r_full(m: re.Match[str], ctx: Ctx, out: Mention) -> None:
    year, month, day = num(m["y"]), num(m["m"]), num(m["d"])
    if year is None or month is None or day is None:
        return
    if year < 100:
        year += 2000
    out.day = safe_date(year, month, day)
    out.explicit_year = True


def _month_day(ctx: Ctx, month: int | None, day: int | None, out: Mention) -> None:
    if month is None or day is None:
        return
    found = safe_date(ctx.today.year, month, day)
    if found is None:
        if month == 2 and day == 29:  # 2月29日 in a non-leap year: the next leap year's
            year = ctx.today.year + 1
            while not calendar.isleap(year):
                year += 1
            out.day = date(year, 2, 29)
            out.rolled = True
        return
    if found < ctx.today:
        rolled = safe_date(ctx.today.year + 1, month, day)
        out.rolled = True
        out.day = rolled if rolled is not None else found
        out.past = found
        return
    out.day = found


def _r_md(m: re.Match[str], ctx: Ctx, out: Mention) -> None:
    _month_day(ctx, num(m["m"]), num(m["d"]), out)


def _r_relday(m: re.Match[str], ctx: Ctx, out: Mention) -> None:
    offset = {"今天": 0, "今日": 0, "今晚": 0, "今夜": 0, "明天": 1, "明日": 1, "明晚": 1, "后天": 2, "大后天": 3}[m["w"]]
    out.day = ctx.today + timedelta(days=offset)


def _r_week(m: re.Match[str], ctx: Ctx, out: Mention) -> None:
    prefix, weekday = m["p"], WEEKDAYS[m["wd"]]
    monday = ctx.today - timedelta(days=ctx.today.weekday())
    if prefix.startswith("下下"):
        out.day = monday + timedelta(days=14 + weekday)
    elif prefix.startswith("下"):
        out.day = monday + timedelta(days=7 + weekday)
    elif prefix.startswith(("本", "这", "今")):
        out.day = monday + timedelta(days=weekday)
    else:  # bare 周五: this week's, or next week's if already past
        day = monday + timedelta(days=weekday)
        out.day = day if day >= ctx.today else day + timedelta(days=7)


def _r_month_day(m: re.Match[str], ctx: Ctx, out: Mention) -> None:
    day = num(m["d"])
    if day is None:
        return
    base = ctx.today if m["p"] in ("本月", "这个月", "当月", "这月") else add_months(ctx.today.replace(day=1), 1)
    out.day = safe_date(base.year, base.month, day)


def _r_bare_day(m: re.Match[str], ctx: Ctx, out: Mention) -> None:
    day = num(m["d"])
    if day is None:
        return
    found = safe_date(ctx.today.year, ctx.today.month, day)
    if found is None or found < ctx.today:
        nxt = add_months(ctx.today.replace(day=1), 1)
        found = safe_date(nxt.year, nxt.month, day)
    out.day = found


def _r_month_end(m: re.Match[str], ctx: Ctx, out: Mention) -> None:
    word = m[0]
    if word.startswith("上"):
        out.ignore = True
        return
    base = add_months(ctx.today.replace(day=1), 1) if word.startswith("下") else ctx.today
    out.day = _month_end(base.year, base.month)


def _named_month_end(ctx: Ctx, month: int, out: Mention) -> date:
    found = _month_end(ctx.today.year, month)
    if found < ctx.today:
        out.rolled = True
        out.past = found
        found = _month_end(ctx.today.year + 1, month)
    return found


def _r_named_month_end(m: re.Match[str], ctx: Ctx, out: Mention) -> None:
    month = num(m["m"])
    if month is None or not 1 <= month <= 12:
        return
    out.day = _named_month_end(ctx, month, out)


def _r_year_end(m: re.Match[str], ctx: Ctx, out: Mention) -> None:
    if m[0].startswith(("去", "上")):
        out.ignore = True
        return
    year = ctx.today.year + (1 if m[0].startswith("明") else 0)
    out.day = date(year, 12, 31)


def _r_quarter_end(m: re.Match[str], ctx: Ctx, out: Mention) -> None:
    out.day = _quarter_end(ctx.today)


def _r_within(m: re.Match[str], ctx: Ctx, out: Mention) -> None:
    raw, unit = m["n"], m["u"]
    if raw == "半":
        out.day = ctx.today + (timedelta(days=15) if "月" in unit else timedelta(days=3 if "周" in unit or "星期" in unit else 0))
        return
    n = num(raw)
    if n is None or n > 366:
        return
    if unit == "个工作日":
        out.day = holidays.add_working_days(ctx.today, n)
    elif unit in ("天", "日", "个自然日"):
        out.day = ctx.today + timedelta(days=n)
    elif unit in ("周", "个星期", "星期"):
        out.day = ctx.today + timedelta(days=7 * n)
    elif unit == "月" and 1 <= n <= 12 and not m.string[max(0, m.start() - 1) : m.start()].isdigit():
        out.day = _named_month_end(ctx, n, out)  # 11月内: within November
    else:
        out.day = add_months(ctx.today, n)


def _next_weekly(ctx: Ctx, weekday: int) -> date:
    return ctx.today + timedelta(days=(weekday - ctx.today.weekday()) % 7)


def _r_every_week(m: re.Match[str], ctx: Ctx, out: Mention) -> None:
    out.recurrence = Recurrence.WEEKLY
    wd = m["wd"]
    if wd:
        out.day = _next_weekly(ctx, WEEKDAYS[wd])


def _r_every_month(m: re.Match[str], ctx: Ctx, out: Mention) -> None:
    out.recurrence = Recurrence.MONTHLY
    if m["end"]:
        out.day = _month_end(ctx.today.year, ctx.today.month)
        return
    day = num(m["d"])
    if day is None or not 1 <= day <= 31:
        return
    base = ctx.today.replace(day=1)
    for _ in range(3):
        last = calendar.monthrange(base.year, base.month)[1]
        found = date(base.year, base.month, min(day, last))
        if found >= ctx.today:
            out.day = found
            return
        base = add_months(base, 1)


def _r_every_quarter(m: re.Match[str], ctx: Ctx, out: Mention) -> None:
    out.recurrence = Recurrence.QUARTERLY
    day = num(m["d"])
    if day is not None:  # 每季度首月10日: day of the next quarter's first month
        first = add_months(ctx.today.replace(day=1), (3 - (ctx.today.month - 1) % 3) % 3)
        candidate = safe_date(first.year, first.month, min(day, 28 if first.month == 2 else day))
        if candidate is not None and candidate < ctx.today:
            first = add_months(first, 3)
            candidate = safe_date(first.year, first.month, day)
        out.day = candidate
        return
    out.day = _quarter_end(ctx.today)


def _r_every_year(m: re.Match[str], ctx: Ctx, out: Mention) -> None:
    out.recurrence = Recurrence.YEARLY
    if m["end"]:
        out.day = date(ctx.today.year, 12, 31)
        return
    month, day = num(m["m"]), num(m["d"])
    if month is None or day is None:
        return
    found = safe_date(ctx.today.year, month, day)
    if found is not None and found < ctx.today:
        found = safe_date(ctx.today.year + 1, month, day)
    out.day = found


def _r_festival(m: re.Match[str], ctx: Ctx, out: Mention) -> None:
    """重阳节前, 春节前, 国庆节后第一个工作日, 元宵节: the next such day (明年春节: next year's)."""
    name = m["f"]
    year = ctx.today.year + (1 if m["y"] == "明年" else 0)
    day = holidays.festival_day(name, year)
    if day is not None and day < ctx.today and m["y"] is None:
        day = holidays.festival_day(name, year + 1)
    if day is None:
        return
    if m["after"]:  # the first working day after the festival's days off
        while not holidays.is_working_day(day) or day == holidays.festival_day(name, day.year):
            day += timedelta(days=1)
    out.day = day


def _hour(ap: str | None, hour: int) -> int:
    if ap in ("下午", "晚上", "傍晚", "晚", "今晚", "夜里") and hour < 12:
        return hour + 12
    if ap == "中午" and hour < 6:
        return hour + 12
    return hour


def _r_clock(m: re.Match[str], ctx: Ctx, out: Mention) -> None:
    out.is_time = True
    hour = num(m["h"])
    minute = 30 if m["half"] else (num(m["mi"]) or 0)
    if hour is None or hour > 24 or minute > 59:
        out.ignore = True
        return
    hour = _hour(m["ap"], hour)
    if hour == 24:
        hour, minute = 23, 59
    if hour > 23:
        out.ignore = True
        return
    out.at = time(hour, minute)
    following = m.string[m.end() : m.end() + 2]
    out.anchored = bool(m["ap"] or m["half"] or m["mi"]) or following.startswith(("前", "整", "之前", "以前", "准时", "开始", "召开", "在"))


def _r_hhmm(m: re.Match[str], ctx: Ctx, out: Mention) -> None:
    out.is_time = True
    hour, minute = int(m["h"]), int(m["mi"])
    hour = _hour(m["ap"], hour)
    if hour > 23:
        out.ignore = True
        return
    out.at = time(hour, minute)
    out.anchored = True


def _r_off_work(m: re.Match[str], ctx: Ctx, out: Mention) -> None:
    """下班前: the rules' closing time if they set one (`deadline.off_work_time`), else today, no time."""
    if ctx.rules.off_work_time is None:
        out.day = ctx.today
        return
    out.is_time = True
    out.at = ctx.rules.off_work_time
    out.anchored = True


def _r_ignore(m: re.Match[str], ctx: Ctx, out: Mention) -> None:
    out.ignore = True


_D = r"[日号]"
_WD = r"[一二三四五六日天]"
PATTERNS: tuple[tuple[str, re.Pattern[str], Resolver], ...] = tuple(
    (name, re.compile(pattern), resolver)
    for name, pattern, resolver in (
        ("完整日期", rf"(?P<y>\d{{4}}|[〇零一二三四五六七八九]{{4}})\s*年\s*(?P<m>{NUM})\s*月\s*(?P<d>{NUM})\s*{_D}", _r_full),
        ("数字日期", r"(?<!\d)(?P<y>20\d{2})[-./](?P<m>\d{1,2})[-./](?P<d>\d{1,2})(?![\d.])", _r_full),
        ("月日", rf"(?<![每\d])(?P<m>{NUM})\s*月(?:份)?\s*(?P<d>{NUM})\s*{_D}", _r_md),
        (
            "点分日期",
            r"(?<![\d.])(?P<m>\d{1,2})[./](?P<d>\d{1,2})(?![\d.%])(?=\s*(?:前|之前|以前|日|号|截止|止|完成|报|交|上报|下班|开始|召开|举行|[，。；、,;）)\s]|$))",
            _r_md,
        ),
        ("今明后天", r"(?P<w>大后天|今天|今日|今晚|今夜|明天|明日|明晚|后天)", _r_relday),
        ("星期", rf"(?P<p>下下周|下下个?星期|下周|下个?星期|下个?礼拜|本周|这周|本星期|这个?星期|本礼拜|周|星期|礼拜)(?P<wd>{_WD}|末)(?![次遍回个])", _r_week),
        ("本月某日", rf"(?P<p>本月|这个月|这月|当月|下月|下个月)(?P<d>{NUM})\s*{_D}", _r_month_day),
        ("某日前", rf"(?<![月\d年每〇零一二三四五六七八九十])(?P<d>\d{{1,2}}|[一二三四五六七八九十]{{1,3}})\s*{_D}\s*(?=前|之前|以前|截止)", _r_bare_day),
        ("月底", r"(?:上个?|本|这个?|下个?|当)?月(?:底|末)", _r_month_end),
        ("某月底", rf"(?<![每\d])(?P<m>{NUM})\s*月(?:份)?\s*(?:底|末|下旬)", _r_named_month_end),
        ("年底", r"(?:今年|明年|去年|上年|本年)?(?:年底|年末)", _r_year_end),
        ("季度末", r"(?:本季度|本季|这个?季度|季度)(?:末|底)|季末", _r_quarter_end),
        ("期限内", rf"(?P<n>{NUM}|半)\s*(?P<u>个工作日|个自然日|天|日|周|个星期|星期|个月|月)\s*(?:内|之内|以内)", _r_within),
        ("每周", rf"每(?:周|星期|礼拜)(?P<wd>{_WD})?(?![次遍回个])", _r_every_week),
        ("每月", rf"(?:每(?:个)?月|按月[^，。；]{{0,4}}?次月)(?:(?P<d>{NUM})\s*{_D}|(?P<end>底|末))?(?!\s*\d+(?:\.\d+)?\s*元)", _r_every_month),
        ("每季度", rf"每(?:个)?季度?(?:(?:末|底)|(?:首月|第一个月)(?P<d>{NUM})\s*{_D})?", _r_every_quarter),
        ("每年", rf"每年(?:度)?(?:(?P<m>{NUM})\s*月\s*(?P<d>{NUM})\s*{_D}|(?P<end>底|末))?", _r_every_year),
        (
            "钟点",
            r"(?P<ap>上午|早上|早晨|中午|下午|晚上|傍晚|凌晨|今晚|晚(?=\d|[一二三四五六七八九十]))?\s*(?P<h>\d{1,2}|[零一二两三四五六七八九十]{1,3})\s*(?:点|时)(?!间|期|候|代|效|限|刻表|段)(?:(?P<half>半)|(?P<mi>\d{1,2}|[零一二三四五六七八九十]{1,3})\s*分?)?",
            _r_clock,
        ),
        ("时分", r"(?P<ap>上午|早上|中午|下午|晚上)?\s*(?<!\d)(?P<h>[01]?\d|2[0-3]):(?P<mi>[0-5]\d)(?!\d)", _r_hhmm),
        ("下班前", r"下班(?:前|之前|以前)", _r_off_work),
        (
            "节日",
            r"(?P<y>今年|明年)?(?P<f>元宵节|端午节|中秋节|重阳节|劳动节|国庆节|儿童节|教师节|妇女节|建军节|建党节|植树节|春节|元宵|端午|中秋|重阳|腊八|除夕|元旦|国庆)(?:假期|长假|节)?(?P<after>(?:节)?(?:后|过后|以后|收假后)(?:的)?(?:第一个|首个|第1个)工作日|(?:节)?(?:后|过后)(?:上班|复工)(?:第一天|首日|后))?",
            _r_festival,
        ),
        ("忽略", r"上月|上周|上个?星期|去年|上年度|\d+\s*周岁|\d+\s*岁|\d+\s*小时", _r_ignore),
    )
)
