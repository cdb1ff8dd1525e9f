"""Chinese texts of intake: reminders, digests, notices to clerks and heads, and the errors of task changes.

The Chinese names of stored values (kinds, listings, statuses…) are in :mod:`intake.labels`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from intake.labels import ESCALATION_ZH, KIND_ZH, LISTING_ZH, NATURE_ZH
from intake.store.values import TaskStatus

__all__ = [
    "NAME_REQUIRED", "NAME_EXISTS", "ACCOUNT_NOT_FOUND", "BIND_NEEDS_TARGET", "BAD_CHOICE",
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
    "DispatchItem",
    "DueItem",
    "build_dispatch_notice",
    "build_morning_reminder",
    "build_review_pending",
    "ESCALATED",
    "format_escalation",
    "escalation_lines",
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
        when = f"截止日{_due(due)}已过"
    cycle = {"weekly": "(每周)", "monthly": "(每月)", "quarterly": "(每季度)", "yearly": "(每年)"}.get(recurrence or "", "")
    return f"【减负通提醒】{code} {who}·{what}{cycle}「{summary}」{when}。"


NOTICE_FULL_CHARS = 300  # a notice longer than this is cut, with 查询 R-… for the rest


@dataclass(frozen=True)
class DispatchItem:
    """One task a community hears of at dispatch (or of its refusal)."""

    code: str
    department: str | None
    kind: str
    nature: str
    status: str
    listing: str
    item: str | None
    item_text: str | None
    deadline: dt.date | None
    funded: bool
    amount_yuan: float | None
    funding_note: str | None
    trace_demand: tuple[str, ...]
    raw_text: str


def _dispatch_block(item: DispatchItem) -> list[str]:
    who = item.department or "未注明部门"
    what = KIND_ZH.get(item.kind, item.kind)
    label = " ".join(p for p in (LISTING_ZH.get(item.listing, item.listing), item.item, item.item_text) if p)
    if item.status == TaskStatus.refused:
        return [f"■ {item.code} {who}发来的{what}任务已按 {item.item or '负面清单'} 拒收,社区无需办理。({label})"]
    deadline = _due(item.deadline) if item.deadline else "未定"
    lines = [f"■ {item.code} {who}·{what}({NATURE_ZH.get(item.nature, item.nature)}) 截止:{deadline}",
             f"准入:{label}"]
    if item.status == TaskStatus.pending_review:
        lines.append("待准入审核,审核通过前无需办理。")
    if item.funded:
        lines.append("经费:" + (f"{item.amount_yuan:g}元" if item.amount_yuan else (item.funding_note or "通知已写明")))
    elif item.listing == "assist":
        lines.append("费未随事转:可要求部门提供经费或工作条件")
    if item.trace_demand:
        lines.append(f"留痕要求(“{'、'.join(item.trace_demand[:4])}”)社区可不做,已记入该部门月报。")
    text = item.raw_text.strip()
    if len(text) > NOTICE_FULL_CHARS:
        text = text[:NOTICE_FULL_CHARS] + f"…(全文请回复“查询 {item.code}”)"
    lines.append(text)
    return lines


def build_dispatch_notice(community: str, items: list[DispatchItem]) -> str:
    """One message per community and sweep: every task dispatched to it (or refused) since the last one."""
    head = f"【减负通】{community}新收到{len(items)}项任务通知:" if len(items) > 1 else f"【减负通】{community}新收到任务通知:"
    blocks = ["\n".join(_dispatch_block(item)) for item in items]
    return "\n\n".join([head, *blocks])


@dataclass(frozen=True)
class DueItem:
    code: str
    department: str | None
    kind: str
    summary: str
    due: dt.date
    reminder: str  # before_N / due / overdue…


def build_morning_reminder(community: str, items: list[DueItem], *, today: dt.date) -> str:
    """One morning message per community: what is due; no reply is asked for."""
    lines = [f"【减负通】{community}{today.month}月{today.day}日到期提醒({len(items)}项):"]
    for item in items:
        if item.reminder.startswith("before_"):
            when = f"{_due(item.due)}截止,还有{(item.due - today).days}天"
        elif item.reminder == "due":
            when = "今天截止"
        else:
            when = f"截止日{_due(item.due)}已过"
        lines.append(f"· {item.code} {item.department or '未注明部门'}·{KIND_ZH.get(item.kind, item.kind)}"
                     f"「{item.summary}」{when}")
    lines.append("无需回复。不需要再提醒的任务可回复“不再提醒 R-编号”。")
    return "\n".join(lines)


def build_review_pending(*, code: str, department: str | None, days: int, audience: str) -> str:
    """The review clock: an unlisted task unreviewed after [review] remind_after_days."""
    who = department or "未注明部门"
    if audience == "admins":
        return f"【待审核提醒】{code}({who})已等待准入审核{days}天,请在管理后台“待审核”中处理。"
    if audience == "clerk":
        return (f"【减负通】{code} 仍在区减负办准入审核中(已{days}天),审核通过前不派发。"
                "如需加快,请补充法律依据、经费保障和工作期限。")
    return f"【减负通】{code}({who})仍在准入审核中,审核通过前无需办理。"


# the directory an admin keeps (intake.directory)
NAME_REQUIRED = "名称不能为空。"
NAME_EXISTS = "“{name}”已存在。"
ACCOUNT_NOT_FOUND = "没有编号为 {id} 的账号。"
BIND_NEEDS_TARGET = "绑定为部门联络员需选择部门,绑定为社区书记/主任需选择社区。"
BAD_CHOICE = "“{field}”的取值“{value}”无效,请从下拉框中选择。"


# --- 层层加码: a forwarding office's earlier deadline or added work, with both dates -------------------
ESCALATED = "层层加码:{office}转发时{added}。按转发要求 {own} 截止(原通知截止 {issuer}),将计入月度报表。"


def _day(day: dt.date | None, time: dt.time | None) -> str:
    if day is None:
        return "未定"
    return f"{day.month}月{day.day}日" + (f" {time:%H:%M}" if time is not None else "")


def format_escalation(*, escalation: tuple[str, ...] | list[str] | None, office: str | None, deadline: dt.date | None,
                      deadline_time: dt.time | None, issuer_deadline: dt.date | None,
                      issuer_deadline_time: dt.time | None) -> list[str]:
    """The 层层加码 line of a receipt, a reminder or the console: what was added, both deadlines."""
    if not escalation:
        return []
    added = "、".join(ESCALATION_ZH.get(e, e) for e in escalation)
    return [ESCALATED.format(office=office or "转发单位", added=added, own=_day(deadline, deadline_time),
                             issuer=_day(issuer_deadline, issuer_deadline_time))]


class Escalated(Protocol):
    @property
    def escalation(self) -> tuple[str, ...]: ...
    @property
    def forwarded_by(self) -> str | None: ...
    @property
    def deadline(self) -> dt.date | None: ...
    @property
    def deadline_time(self) -> dt.time | None: ...
    @property
    def issuer_deadline(self) -> dt.date | None: ...
    @property
    def issuer_deadline_time(self) -> dt.time | None: ...


def escalation_lines(task: Escalated) -> list[str]:
    return format_escalation(escalation=task.escalation, office=task.forwarded_by, deadline=task.deadline,
                             deadline_time=task.deadline_time, issuer_deadline=task.issuer_deadline,
                             issuer_deadline_time=task.issuer_deadline_time)
