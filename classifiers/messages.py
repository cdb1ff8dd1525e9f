"""Chinese user-facing texts of the classifier (receipt lines, enum names)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from classifiers.model import CertificateDecision, Kind, Listing, Nature, Recurrence

if TYPE_CHECKING:
    from classifiers.model import Classification

KIND_ZH = {
    Kind.REPORT: "报表",
    Kind.LEDGER: "台账",
    Kind.CERTIFICATE: "证明",
    Kind.INSPECTION: "检查考核",
    Kind.MEETING: "会议",
    Kind.SURVEY: "调查",
    Kind.DATA_ENTRY: "系统录入",
    Kind.CAMPAIGN: "创建宣传",
    Kind.SIGNBOARD: "挂牌",
    Kind.LEVY: "摊派",
    Kind.SERVICE: "便民服务",
    Kind.ADHOC: "临时任务",
}
NATURE_ZH = {Nature.ADMINISTRATIVE: "行政事务", Nature.SERVICE: "服务性事务"}
LISTING_ZH = {
    Listing.DUTY: "依法履行职责事项",
    Listing.ASSIST: "依法协助政府工作事项",
    Listing.NEGATIVE: "不应由社区承担的工作事项",
    Listing.UNLISTED: "未列入清单",
}
CERTIFICATE_ZH = {
    CertificateDecision.ISSUE: "社区应出具",
    CertificateDecision.CONDITIONAL: "核实后或凭承诺可出具",
    CertificateDecision.REFUSE: "不应由社区出具",
}
RECURRENCE_ZH = {Recurrence.WEEKLY: "每周", Recurrence.MONTHLY: "每月", Recurrence.QUARTERLY: "每季度", Recurrence.YEARLY: "每年"}
FIELD_ZH = {
    "department": "部门",
    "kind": "类型",
    "listing": "准入",
    "certificate": "证明",
    "deadline": "期限",
    "recurrence": "周期",
    "quantity": "数量",
    "funding": "经费",
    "communities": "对象",
    "emergency": "紧急",
    "trace_demand": "留痕",
    "similar": "相近通知",
}


def describe(c: Classification) -> str:
    """A readable receipt, one fact a line."""
    lines = [
        f"部门:{c.department or '未知'}",
        f"类型:{KIND_ZH[c.kind]}({NATURE_ZH[c.nature]})",
        f"准入:{LISTING_ZH[c.listing]}" + (f",事项 {c.item}" if c.item else ""),
    ]
    if c.certificate is not None:
        lines.append(f"证明:{CERTIFICATE_ZH[c.certificate]}")
    if c.deadline is not None:
        when = c.deadline.isoformat() + (f" {c.deadline_time.strftime('%H:%M')}" if c.deadline_time else "")
        lines.append(f"期限:{when}")
    else:
        lines.append("期限:未写明")
    if c.recurrence is not None:
        lines.append(f"周期:{RECURRENCE_ZH[c.recurrence]}")
    if c.quantity is not None:
        lines.append(f"数量:{c.quantity.value}{c.quantity.unit}")
    if c.funded:
        lines.append("经费:有" + (f",{c.amount_yuan} 元" if c.amount_yuan is not None else ""))
    elif c.listing is Listing.ASSIST:
        lines.append("经费:未提供(费未随事转)")
    lines.append("对象:" + ("全部社区" if c.communities == ("*",) else "、".join(c.communities)))
    if c.emergency:
        lines.append("紧急:突发事件,立即准入")
    if c.trace_demand:
        lines.append("留痕:" + "、".join(c.trace_demand[:4]) + "(照片、打卡、签到等留痕要求可不做)")
    if c.keywords:
        lines.append("关键词:" + "、".join(c.keywords[:8]))
    lines.append(f"可信度:{c.confidence:.2f}" + ("(需人工复核)" if c.needs_review else ""))
    lines.append("依据:")
    for name, ev in c.evidence.items():
        lines.append(f"  {FIELD_ZH.get(name, name)}:{ev.explanation}")
    return "\n".join(lines)
