"""Deadlines, times and recurrence, read from the raw text with table-driven rules.

Every expression is one row of `_PATTERNS`: a compiled regex and a resolver that turns the match into
a date (and maybe a time or recurrence) against the message's own time. Matches are collected,
overlaps resolved longest-first, background / cited / signature / start dates dropped, and the last
date by which the work must be done is the deadline (a recurrence's next occurrence wins).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time

from classifiers.deadline_forms import PATTERNS, Ctx, Mention, Resolver, num, safe_date
from classifiers.model import Evidence, Recurrence
from classifiers.rules import Rules
from classifiers.text import NUM, normalize

__all__ = ["DeadlineResult", "patterns_for", "read_deadline"]



@dataclass(frozen=True, slots=True)
class DeadlineResult:
    deadline: date | None
    deadline_time: time | None
    recurrence: Recurrence | None
    evidence: Evidence
    recurrence_evidence: Evidence


# A pattern can only match when its text holds one of these characters (a cheap pre-check) ...
_TRIGGERS = {
    "完整日期": "年", "数字日期": "-./", "月日": "月", "点分日期": "./", "今明后天": "今明后", "星期": "周星礼",
    "本月某日": "月", "某日前": "日号", "月底": "底末", "某月底": "底末旬", "年底": "年", "季度末": "季",
    "期限内": "内", "每周": "每", "每月": "每按", "每季度": "每", "每年": "每", "钟点": "点时", "时分": ":",
    "下班前": "班", "忽略": "上去岁小", "节日": "春元端中重腊除劳国儿教妇建植",
}
# ... and, for some, one character of each of these groups too (lookaheads included) ...
_ALSO: dict[str, tuple[str, ...]] = {
    "月日": ("日号",), "本月某日": ("日号",), "某日前": ("前截",), "月底": ("月",), "某月底": ("月",),
}
# ... or a short regex every match must contain (":" alone is in nearly every notice: 各社区：).
_HINTS: dict[str, re.Pattern[str]] = {"时分": re.compile(r"\d:[0-5]\d")}

# trigger character -> the indexes (into PATTERNS) of the patterns it may start; patterns without a
# trigger always run
_ALWAYS = tuple(i for i, (name, _p, _r) in enumerate(PATTERNS) if name not in _TRIGGERS)
_BY_CHAR: dict[str, tuple[int, ...]] = {}
for _index, (_name, _pattern, _resolver) in enumerate(PATTERNS):
    for _ch in _TRIGGERS.get(_name, ""):
        _BY_CHAR[_ch] = (*_BY_CHAR.get(_ch, ()), _index)
_TRIGGER_CHARS = frozenset(_BY_CHAR)


def patterns_for(text: str) -> list[tuple[str, re.Pattern[str], Resolver]]:
    """The patterns that can match `text` (by their trigger characters and hints), in table order."""
    chosen = set(_ALWAYS)
    for ch in _TRIGGER_CHARS.intersection(text):
        chosen.update(_BY_CHAR[ch])
    out = []
    for i in sorted(chosen):
        row = PATTERNS[i]
        name = row[0]
        also = _ALSO.get(name)
        if also is not None and not all(any(ch in text for ch in group) for group in also):
            continue
        hint = _HINTS.get(name)
        if hint is not None and hint.search(text) is None:
            continue
        out.append(row)
    return out


def _collect(text: str, ctx: Ctx) -> list[Mention]:
    found: list[Mention] = []
    for name, pattern, resolver in patterns_for(text):
        for m in pattern.finditer(text):
            if m.end() == m.start():
                continue
            mention = Mention(start=m.start(), end=m.end(), rule=name, text=m[0].strip())
            resolver(m, ctx, mention)
            found.append(mention)
    # longest first, then earliest; keep non-overlapping
    found.sort(key=lambda x: (-(x.end - x.start), x.start))
    taken: list[Mention] = []
    occupied = bytearray(len(text) + 1)
    for mention in found:
        if any(occupied[mention.start : mention.end]):
            continue
        occupied[mention.start : mention.end] = b"\x01" * (mention.end - mention.start)
        taken.append(mention)
    taken.sort(key=lambda x: x.start)
    return taken


_CITED_OPEN = "《〔["
_CITED_CLOSE = "》〕]"


def _inside_citation(text: str, pos: int) -> bool:
    before = text[:pos]
    return any(op in before and before.count(op) > before.count(cl) for op, cl in zip(_CITED_OPEN, _CITED_CLOSE, strict=True))


_GAP_OK = re.compile(r"^[\s（(]*(?:(?:周|星期)[一二三四五六日天])?[）)]?\s*(?:的)?\s*$")
# a festival or a period's end (春节前, 年底, 2月底) gives way to a day written out (1月25日前)
_VAGUE = frozenset({"节日", "年底", "某月底", "季度末"})
_RECURRING_WORK = re.compile(
    r"[^，。；;\n]{0,8}?(?:报|交|更新|提交|召开|开展|组织|走访|探访|入户|巡查|检查|打卡|上传|录入|填|发|举办|至少|一次|1次|两次|[0-9一二三四五六七八九十]+次)"
)
_RANGE_DAY = re.compile(rf"^\s*(?:至|到|-|~|—|－)\s*(?P<d>{NUM})\s*[日号]")


def _is_background(text: str, mention: Mention, rules: Rules) -> bool:
    after = text[mention.end : mention.end + 8]
    words = rules.background_after
    if after.startswith(words) or after.lstrip("前").startswith(words):
        return True
    return _inside_citation(text, mention.start)


def _is_start(text: str, mention: Mention, rules: Rules) -> bool:
    after = text[mention.end : mention.end + 4].lstrip()
    if after.startswith(("起至", "起到", "至", "到")):
        return False
    return after.startswith(rules.start_after)


def _is_signature(text: str, mention: Mention) -> bool:
    tail = text[mention.end :].strip(" \t\r\n。.")
    if tail:
        return False
    head = text[: mention.start].rstrip(" \t")
    return head.endswith(("\n", "\r")) or not mention.rolled and mention.explicit_year


def _drop_restated_weekdays(norm: str, dates: list[Mention]) -> list[Mention]:
    """12月1日（周二）: the weekday restates the date before it."""
    return [
        d
        for d in dates
        if not (
            d.rule == "星期"
            and any(o is not d and o.rule != "星期" and o.end <= d.start and _GAP_OK.match(norm[o.end : d.start]) for o in dates)
        )
    ]


def _attach_times(norm: str, dates: list[Mention], times: list[Mention]) -> set[int]:
    """A time right after a date belongs to that date; returns the ids of the times attached."""
    attached: set[int] = set()
    for t in times:
        owner = None
        for d in dates:
            if d.end <= t.start and _GAP_OK.match(norm[d.end : t.start]):
                owner = d
        if owner is not None and owner.at is None and t.at is not None:
            clock = t.at
            if "晚" in owner.text and clock.hour < 12:  # 今晚8点
                clock = clock.replace(hour=clock.hour + 12)
            owner.at = clock
            owner.end = t.end
            owner.text = norm[owner.start : owner.end]
            attached.add(id(t))
    return attached


def _add_ranges_and_lone_times(norm: str, dates: list[Mention], times: list[Mention], attached: set[int], ctx: Ctx) -> None:
    """12月1日至10日: the bare day shares the month before it; a lone anchored time means today."""
    for d in list(dates):
        if d.day is None:
            continue
        rm = _RANGE_DAY.match(norm[d.end : d.end + 8])
        if rm:
            day = num(rm["d"])
            if day is not None:
                found = safe_date(d.day.year, d.day.month, day)
                if found is not None and found >= d.day:
                    dates.append(Mention(d.end, d.end + rm.end(), "月日区间", rm[0].strip(), day=found))
    for t in times:
        if id(t) in attached or not t.anchored or t.at is None:
            continue
        dates.append(Mention(t.start, t.end, "钟点", t.text, day=ctx.today, at=t.at))


def _kept(norm: str, candidates: list[Mention], ctx: Ctx) -> list[Mention]:
    """The dates of the community's own work: no background, start, signature or recent past dates."""
    rules = ctx.rules
    kept = [d for d in candidates if not _is_background(norm, d, rules) and not _is_start(norm, d, rules)]
    kept = [d for d in kept if not (_is_signature(norm, d) and d.day == ctx.today)]
    if len(kept) > 1:
        kept = [d for d in kept if not _is_signature(norm, d)] or kept
    if len(kept) > 1:
        fresh = [
            d
            for d in kept
            if not (d.rolled and d.past is not None and (ctx.today - d.past).days <= rules.recent_past_days)
            and not (d.explicit_year and d.day is not None and d.day < ctx.today)
        ]
        kept = fresh or kept
    return kept


def _is_recurring(norm: str, mention: Mention) -> bool:
    """每月15日前 / 每周五 recur; a bare 每年/每月 recurs only when the work follows it (每月报送, 每周开展)."""
    if mention.day is not None:
        return True
    return _RECURRING_WORK.match(norm, mention.end) is not None


def read_deadline(text: str, *, now: datetime, rules: Rules) -> DeadlineResult:
    """The deadline (date and time), recurrence, and why. Never raises on any str."""
    norm = normalize(text)
    ctx = Ctx(today=now.date(), now=now, rules=rules)
    mentions = _collect(norm, ctx)
    dates = _drop_restated_weekdays(norm, [m for m in mentions if not m.is_time and not m.ignore])
    times = [m for m in mentions if m.is_time and not m.ignore]
    attached = _attach_times(norm, dates, times)
    _add_ranges_and_lone_times(norm, dates, times, attached, ctx)

    recurring = [d for d in dates if d.recurrence is not None and _is_recurring(norm, d)]
    dates = [d for d in dates if d.recurrence is None]
    candidates = [d for d in dates if d.day is not None]
    kept = _kept(norm, candidates, ctx)
    rec: Recurrence | None = None
    rec_ev = Evidence("周期:无", (), "未发现“每周/每月/每季度/每年”等周期说法")
    if recurring:
        first = next((d for d in recurring if d.day is not None), recurring[0])
        rec = first.recurrence
        rec_ev = Evidence(f"周期:{first.rule}", (first.text,), f"按“{first.text}”读作每{_REC_ZH[rec]}重复" if rec else "")
        if first.day is not None:
            why = f"周期任务,期限取下一次:{first.day.isoformat()}"
            if first.at is not None:
                why += f" {first.at.strftime('%H:%M')}"
            return DeadlineResult(first.day, first.at, rec, Evidence(f"期限:{first.rule}", (first.text,), why), rec_ev)
    if not kept:
        words = tuple(d.text for d in candidates)
        why = "只有背景、引用或开始日期,没有完成期限" if candidates else "未发现期限说法"
        return DeadlineResult(None, None, rec, Evidence("期限:无", words, why), rec_ev)
    precise = [d for d in kept if d.rule not in _VAGUE]
    best = max(precise or kept, key=lambda d: (d.day, d.at or time(0, 0)))
    why = f"按“{best.text}”读作 {best.day.isoformat() if best.day else ''}"
    if best.at is not None:
        why += f" {best.at.strftime('%H:%M')}"
    if len(kept) > 1:
        why += "(多个日期取最后完成日)"
    if best.rolled:
        why += "(月日已过,视为下一年)"
    return DeadlineResult(best.day, best.at, rec, Evidence(f"期限:{best.rule}", tuple(d.text for d in kept), why), rec_ev)


_REC_ZH = {Recurrence.WEEKLY: "周", Recurrence.MONTHLY: "月", Recurrence.QUARTERLY: "季度", Recurrence.YEARLY: "年"}
