"""A community's own ledgers, kept from its one-line entries, as the Excel books a community keeps today.

* 证明出具台账: 序号, 日期, 证明事项, 索取方, 份数, 是否出具, 清单意见, 备注
* 迎检记录: 序号, 日期, 检查单位, 内容/方式, 用时(小时), 备注
* 会议记录: 序号, 日期, 主办单位, 会议名称, 参会人数, 用时(小时)
* 借调记录 and 多平台录入 for the rest.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from intake.counter import CounterEntryView

__all__ = ["build_counter_workbook", "LEDGERS"]

_DECISION = {"issue": "社区应出具", "conditional": "核实后或凭承诺可出具", "refuse": "不应由社区出具(N10)"}


def _certificate(i: int, e: CounterEntryView) -> list[Any]:
    note = "按清单不应出具而出具" if e.should_not_issue else ""
    return [i, e.day, e.subject, e.party, e.count, "拒开" if e.refused else "出具",
            _DECISION.get(e.decision or "", "未列入清单"), note]


def _inspection(i: int, e: CounterEntryView) -> list[Any]:
    return [i, e.day, e.party, e.subject, e.hours, "暗访" if "暗访" in e.subject else ""]


def _meeting(i: int, e: CounterEntryView) -> list[Any]:
    return [i, e.day, e.party, e.subject, e.people, e.hours]


def _secondment(i: int, e: CounterEntryView) -> list[Any]:
    return [i, e.day, e.party, e.people, e.period_days, e.subject]


def _platform(i: int, e: CounterEntryView) -> list[Any]:
    return [i, e.day, e.party, e.systems, e.subject]


# kind → (sheet title, header, column widths, row builder)
LEDGERS: dict[str, tuple[str, list[str], list[int], Any]] = {
    "certificate": ("证明出具台账", ["序号", "日期", "证明事项", "索取方", "份数", "是否出具", "清单意见", "备注"],
                    [6, 12, 20, 14, 6, 10, 22, 20], _certificate),
    "inspection": ("迎检记录", ["序号", "日期", "检查单位", "内容/方式", "用时(小时)", "备注"],
                   [6, 12, 16, 24, 10, 10], _inspection),
    "meeting": ("会议记录", ["序号", "日期", "主办单位", "会议名称", "参会人数", "用时(小时)"],
                [6, 12, 16, 26, 10, 10], _meeting),
    "secondment": ("借调记录", ["序号", "登记日期", "借调单位", "人数", "期限(天)", "说明"], [6, 12, 16, 8, 10, 24],
                   _secondment),
    "platform": ("多平台录入", ["序号", "日期", "部门", "系统个数", "录入内容"], [6, 12, 16, 10, 30], _platform),
}


def build_counter_workbook(entries: Sequence[CounterEntryView], *, community: str, period: str) -> bytes:
    """One sheet per ledger, entries in date order; every sheet is there even when empty (a book kept open)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    for kind, (title, header, widths, row) in LEDGERS.items():
        ws = wb.create_sheet(title)
        ws.append([f"{community}{title}({period})"])
        ws["A1"].font = Font(bold=True, size=14)
        ws.append(header)
        for cell in ws[2]:
            cell.font = Font(bold=True)
        for i, e in enumerate((e for e in entries if e.kind == kind), 1):
            ws.append(row(i, e))
        for n, width in enumerate(widths, 1):
            ws.column_dimensions[get_column_letter(n)].width = width
        ws.freeze_panes = "A3"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
