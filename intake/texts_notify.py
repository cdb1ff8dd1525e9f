"""Chinese texts of reminders, digests and notices (the only place they live)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

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
    "DispatchItem",
    "DueItem",
    "build_dispatch_notice",
    "build_morning_reminder",
    "build_review_pending",
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
        when = f"截止日{_due(due)}已过"
    cycle = {"weekly": "(每周)", "monthly": "(每月)", "quarterly": "(每季度)", "yearly": "(每年)"}.get(recurrence or "", "")
    return f"【减负通提醒】{code} {who}·{what}{cycle}「{summary}」{when}。"


NOTICE_FULL_CHARS = 300  # a notice longer than this is cut, with 查询 R-… for the rest
LISTING_FULL_ZH = {"duty": "依法履行职责事项", "assist": "依法协助政府工作事项", "negative": "不应由社区承担的工作事项",
                   "unlisted": "未列入清单"}


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
    label = " ".join(p for p in (LISTING_FULL_ZH.get(item.listing, item.listing), item.item, item.item_text) if p)
    if item.status == "refused":
        return [f"■ {item.code} {who}发来的{what}任务已按 {item.item or '负面清单'} 拒收,社区无需办理。({label})"]
    deadline = _due(item.deadline) if item.deadline else "未定"
    lines = [f"■ {item.code} {who}·{what}({NATURE_ZH.get(item.nature, item.nature)}) 截止:{deadline}",
             f"准入:{label}"]
    if item.status == "pending_review":
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
