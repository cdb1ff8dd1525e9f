"""Chinese names of stored values: the one place for the chat layer, the console, exports and digests.

Each value has one name here; no other module of bot/ or intake/ names a stored value. The
classifier's own values (kind, nature, listing, certificate, recurrence) are named in
``classifiers.messages``; here they are keyed by their plain string values, as the database stores them.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from classifiers import messages
from intake.store.values import (
    ConsoleRole,
    CounterKind,
    OutboxStatus,
    Role,
    TargetStatus,
    TaskSource,
    TaskStatus,
)

__all__ = [
    "KIND_ZH",
    "NATURE_ZH",
    "LISTING_ZH",
    "CERTIFICATE_ZH",
    "RECURRENCE_ZH",
    "STATUS_ZH",
    "TARGET_STATUS_ZH",
    "ROLE_ZH",
    "CHANNEL_ZH",
    "REMINDER_ZH",
    "SOURCE_TYPE_ZH",
    "OUTBOX_STATUS_ZH",
    "OUTBOX_CHANNEL_ZH",
    "CONSOLE_ROLE_ZH",
    "FIELD_ZH",
    "SOURCE_ZH",
    "COUNTER_ZH",
]


E = TypeVar("E", bound=StrEnum)


def _by_value(names: Mapping[E, str]) -> dict[str, str]:
    return {key.value: name for key, name in names.items()}


KIND_ZH = _by_value(messages.KIND_ZH)
NATURE_ZH = _by_value(messages.NATURE_ZH)
LISTING_ZH = _by_value(messages.LISTING_ZH)
CERTIFICATE_ZH = _by_value(messages.CERTIFICATE_ZH)
RECURRENCE_ZH = _by_value(messages.RECURRENCE_ZH)
_TASK_STATUS = {
    TaskStatus.accepted: "已派发",
    TaskStatus.refused: "已拒收",
    TaskStatus.pending_review: "待准入审核",
    TaskStatus.withdrawn: "已撤回",
    TaskStatus.done: "已完成",
}
TARGET_STATUS_ZH = _by_value({
    TargetStatus.open: "进行中",
    TargetStatus.done: "已完成",
    TargetStatus.withdrawn: "已撤回",
    TargetStatus.refused: "已拒收",
})
# a task's status, and a target's "open" (exports name target statuses with these words too)
STATUS_ZH = _by_value(_TASK_STATUS) | {TargetStatus.open.value: TARGET_STATUS_ZH[TargetStatus.open]}
ROLE_ZH = _by_value({Role.clerk: "部门联络员", Role.head: "社区书记/主任", Role.admin: "管理员"})
CHANNEL_ZH = {"wechat": "公众号", "wecom": "企业微信"}
SOURCE_ZH = _by_value({TaskSource.bot: "部门经减负通", TaskSource.community: "社区报送", TaskSource.console: "管理后台"})
COUNTER_ZH = _by_value({  # a community's counter work (its own ledgers)
    CounterKind.certificate: "证明",
    CounterKind.inspection: "检查",
    CounterKind.meeting: "会议",
    CounterKind.secondment: "借调",
    CounterKind.platform: "平台",
})
REMINDER_ZH = {"before_3": "提前3天", "before_1": "提前1天", "due": "当天", "overdue": "逾期"}
OUTBOX_STATUS_ZH = _by_value({
    OutboxStatus.pending: "待发送",
    OutboxStatus.sending: "发送中",
    OutboxStatus.sent: "已发送",
    OutboxStatus.dead: "投递失败",
})
OUTBOX_CHANNEL_ZH = {"log": "日志", "inbox": "站内信", "wecom_app": "企业微信应用", "wecom_robot": "企业微信群机器人",
                     "wechat": "公众号", "wecom_bot": "企业微信智能机器人"}
CONSOLE_ROLE_ZH = _by_value({ConsoleRole.admin: "管理员", ConsoleRole.viewer: "只读"})  # console users
FIELD_ZH = {  # a task's fields, as the console's correction form and the clerk's correction notice name them
    "department": "下达部门",
    "kind": "任务类型",
    "nature": "性质",
    "listing": "清单类别",
    "item": "事项编号",
    "certificate": "证明判定",
    "deadline": "截止日期",
    "deadline_time": "截止时间",
    "recurrence": "周期",
    "quantity_value": "数量",
    "quantity_unit": "数量单位",
    "quantity": "数量",
    "funded": "是否有经费",
    "amount_yuan": "经费金额(元)",
    "communities": "派往社区",
    "emergency": "突发应急",
}
SOURCE_TYPE_ZH = {  # the form a notice arrived in (intake.media.SourceType); SOURCE_ZH is who sent it
    "text": "文字", "voice": "语音", "image": "图片", "docx": "Word文件", "pdf": "PDF文件", "pdf_scanned": "PDF扫描件",
    "xlsx": "Excel表格", "xls": "Excel表格", "ofd": "OFD文件", "txt": "文本文件", "link": "链接",
}

# 层层加码: what a forwarding office added (tasks.escalation)
ESCALATION_ZH = {"deadline": "提前截止时间", "work": "增加工作"}
