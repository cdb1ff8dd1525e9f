"""Chinese texts of reminders, digests and notices (the only place they live)."""

from __future__ import annotations

import datetime as dt

from intake.labels import KIND_ZH, NATURE_ZH

__all__ = [
    "KIND_ZH",
    "NATURE_ZH",
    "LISTING_ZH",
    "STATUS_ZH",
    "WEEKDAY_ZH",
    "reminder_subject",
    "reminder_text",
    "summarise",
    "DIGEST_TITLE",
]

# the digest's short labels for listings and statuses; kinds and natures are the shared names
LISTING_ZH = {"duty": "依法履职", "assist": "协助政府", "negative": "负面清单(已拒收)", "unlisted": "清单外(待审核)"}
STATUS_ZH = {"accepted": "进行中", "refused": "已拒收", "pending_review": "待审核", "withdrawn": "已撤回", "done": "已完成"}
WEEKDAY_ZH = "一二三四五六日"
DIGEST_TITLE = "{scope}{month}减负月报"


def summarise(text: str, limit: int = 30) -> str:
    """The first line of a notice, shortened for a reminder."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _due(day: dt.date) -> str:
    return f"{day.month}月{day.day}日(周{WEEKDAY_ZH[day.weekday()]})"


def reminder_subject(*, kind: str, code: str) -> str:
    if kind.startswith("before_"):
        return f"任务即将到期 {code}"
    if kind == "due":
        return f"任务今日到期 {code}"
    return f"任务已逾期 {code}"


def reminder_text(
    *, kind: str, code: str, department: str | None, task_kind: str, summary: str, due: dt.date, today: dt.date,
    recurrence: str | None = None,
) -> str:
    """One reminder for a community head."""
    who = department or "未注明部门"
    what = KIND_ZH.get(task_kind, task_kind)
    if kind.startswith("before_"):
        days = (due - today).days
        when = f"将于{_due(due)}截止,还有{days}天" if days > 0 else f"将于{_due(due)}截止"
    elif kind == "due":
        when = f"今天({_due(due)})截止"
    else:
        late = max(1, (today - due).days)
        when = f"已于{_due(due)}截止,逾期{late}天"
    cycle = {"weekly": "(每周)", "monthly": "(每月)", "quarterly": "(每季度)", "yearly": "(每年)"}.get(recurrence or "", "")
    return (
        f"【减负通提醒】{code} {who}·{what}{cycle}「{summary}」{when}。\n"
        f"完成后请回复“完成 {code}”;如认为不属于社区职责,可在月度评价中反映。"
    )
