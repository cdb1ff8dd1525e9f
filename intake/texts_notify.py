"""Chinese texts of intake: reminders, digests, notices to clerks and heads, and the errors of task changes.

The Chinese names of stored values (kinds, listings, statuses…) are in :mod:`intake.labels`.
"""

from __future__ import annotations

import datetime as dt

from intake.labels import KIND_ZH

__all__ = [
    "WEEKDAY_ZH",
    "reminder_subject",
    "reminder_text",
    "summarise",
    "DIGEST_TITLE",
    "TASK_NOT_FOUND",
    "NOTHING_CHANGED",
    "NOT_CORRECTABLE",
    "NOT_PENDING",
    "ADMIT_CLERK",
    "ADMIT_HEAD",
    "REFUSE_CLERK",
    "CORRECT_CLERK",
    "NOT_YOUR_TASK",
    "NOT_WITHDRAWABLE",
    "NO_COMMUNITY_TO_COMPLETE",
    "NOT_YOUR_COMMUNITY",
    "NOTHING_TO_COMPLETE",
    "NO_COMMUNITY_TO_RATE",
    "SCORE_OUT_OF_RANGE",
    "NO_FUNDING_WORDS",
]

# --- errors of task changes: what was wrong, and what to do -------------------------------------
TASK_NOT_FOUND = "没有找到任务 {code}:请检查任务编号(格式 R-YYYYMMDD-NNNN),或回到受理台账搜索。"
NOTHING_CHANGED = "没有字段被修改:请改动至少一项后再保存。"
NOT_CORRECTABLE = "这些字段不能更正:{fields}"
NOT_PENDING = "{code} 当前状态为“{status}”,只有“待准入审核”的任务可以准入或拒绝。"
NOT_YOUR_TASK = "{code} 不是您发出的任务,只能撤回自己发出的任务。"
NOT_WITHDRAWABLE = "{code} 当前状态为“{status}”,只有进行中或待审核的任务可以撤回。"
NO_COMMUNITY_TO_COMPLETE = "您的账号未绑定社区,无法标记完成。"
NOT_YOUR_COMMUNITY = "{code} 没有派给{community},不能由本社区标记完成。"
NOTHING_TO_COMPLETE = "{code} 在本社区的状态为“{status}”,无需再标记完成。"
NO_COMMUNITY_TO_RATE = "只有绑定社区的账号可以评价部门。"
SCORE_OUT_OF_RANGE = "评分 {score} 不在 1-5 之间,请回复如“评价 民政局 4 材料要求清楚”。"

# words in an admission's funding line that say there is no funding (费未随事转)
NO_FUNDING_WORDS = ("无", "没有", "暂无")

# --- notices to clerks and heads (through the outbox) -------------------------------------------
ADMIT_CLERK = ("【准入通知】您发出的任务 {code} 经区减负办审核,已准入为协助事项 {item}“{name}”,"
               "已派发至 {targets}。依据:{basis};经费:{funding};期限:{duration}。")
ADMIT_HEAD = "【新任务】{code} {department}{kind},截止 {deadline}。经准入审核派发(协助事项 {item})。回复“任务”查看。"
REFUSE_CLERK = "【准入审核】您发出的任务 {code} 未获准入,不予派发。理由:{reason}。如有法定依据和经费保障,可补充后重新发送。"
CORRECT_CLERK = "【更正通知】任务 {code} 经区减负办更正:{changes}。"

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
