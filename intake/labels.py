"""Chinese names of the domain's values, one place for the chat layer, the console, exports and digests.

The classifier's own values (kind, nature, listing, certificate, recurrence) are named in
``classifiers.messages``; here they are keyed by their plain string values, as the database stores them.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from classifiers import messages

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
    "SOURCE_ZH",
]


E = TypeVar("E", bound=StrEnum)


def _by_value(names: Mapping[E, str]) -> dict[str, str]:
    return {key.value: name for key, name in names.items()}


KIND_ZH = _by_value(messages.KIND_ZH)
NATURE_ZH = _by_value(messages.NATURE_ZH)
LISTING_ZH = _by_value(messages.LISTING_ZH)
CERTIFICATE_ZH = _by_value(messages.CERTIFICATE_ZH)
RECURRENCE_ZH = _by_value(messages.RECURRENCE_ZH)
STATUS_ZH = {
    "accepted": "已派发",
    "refused": "已拒收",
    "pending_review": "待准入审核",
    "withdrawn": "已撤回",
    "done": "已完成",
    "open": "进行中",
}
TARGET_STATUS_ZH = {"open": "进行中", "done": "已完成", "withdrawn": "已撤回", "refused": "已拒收"}
ROLE_ZH = {"clerk": "部门联络员", "head": "社区书记/主任", "admin": "区级管理员"}
CHANNEL_ZH = {"wechat": "公众号", "wecom": "企业微信"}
REMINDER_ZH = {"before_3": "提前3天", "before_1": "提前1天", "due": "当天", "overdue": "逾期"}
SOURCE_ZH = {
    "text": "文字", "voice": "语音", "image": "图片", "docx": "Word文件", "pdf": "PDF文件", "pdf_scanned": "PDF扫描件",
    "xlsx": "Excel表格", "xls": "Excel表格", "ofd": "OFD文件", "txt": "文本文件", "link": "链接",
}
