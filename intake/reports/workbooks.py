"""The intake log as Excel: the tasks workbook (the console's download, ``jianfu export --format xlsx``)
and a community's ledger workbook (台账), one sheet per kind of task. Every cell is neutralised
against formulas.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.labels import (
    CERTIFICATE_ZH,
    KIND_ZH,
    LISTING_ZH,
    RECURRENCE_ZH,
    STATUS_ZH,
)
from intake.reports.export import (
    TASK_COLUMNS,
    TaskFilters,
    iter_task_records,
    record_flags,
    record_row,
)
from intake.reports.measures import NOT_WORKED
from intake.reports.safety import neutralise_workbook, safe_cell
from intake.store.values import TargetStatus, TaskStatus

__all__ = ["LEDGER_COLUMNS", "build_tasks_workbook", "build_ledger_workbook"]


_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="B22222")


def _header(ws: Any, titles: Sequence[str], widths: Sequence[int]) -> None:
    ws.append(list(titles))
    for index, cell in enumerate(ws[ws.max_row], start=1):
        cell.font = _HEADER_FONT
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(vertical="center", wrap_text=True)
        ws.column_dimensions[cell.column_letter].width = widths[index - 1] if index <= len(widths) else 14
    ws.freeze_panes = "A2"


_TASK_WIDTHS = (18, 17, 12, 10, 10, 20, 8, 10, 12, 8, 8, 10, 7, 10, 10, 30, 8, 20, 16, 10, 20, 60, 10)


def build_tasks_workbook(records: Iterable[dict[str, Any]], *, title: str = "受理台账") -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = title[:31]
    _header(ws, [t for _, t in TASK_COLUMNS], _TASK_WIDTHS)
    for record in records:
        ws.append([safe_cell(v) for v in record_row(record)])
    neutralise_workbook(wb)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


# --- the community ledger (台账) ----------------------------------------------------------------

LEDGER_COLUMNS = (
    "序号", "任务编号", "收到日期", "下达部门", "任务内容", "清单类别", "事项编号", "截止日期", "周期", "数量",
    "经费(元)", "本社区状态", "完成时间", "标记", "备注",
)
_LEDGER_WIDTHS = (6, 18, 11, 12, 60, 16, 8, 11, 7, 10, 9, 10, 17, 18, 20)
_KIND_EXTRA = {"certificate": ("证明判定", 12), "meeting": ("会议时间", 17), "inspection": ("检查时间", 17)}


def _ledger_cells(index: int, record: dict[str, Any], target: dict[str, Any]) -> list[Any]:
    quantity = record["quantity"]
    return [
        index,
        record["code"],
        (record["received_at"] or "")[:10],
        record["department"] or "",
        safe_cell(" ".join(str(record["text"]).split())),
        LISTING_ZH.get(record["listing"], record["listing"]),
        record["item"] or "",
        target["due_date"] or record["deadline"] or "",
        RECURRENCE_ZH.get(record["recurrence"] or "", ""),
        f"{quantity['value']}{quantity['unit']}" if quantity else "",
        record["amount_yuan"] if record["amount_yuan"] is not None else ("有" if record["funded"] else ""),
        STATUS_ZH.get(target["status"], target["status"]),
        (target["done_at"] or "").replace("T", " ")[:16],
        record_flags(record),
        "",
    ]


async def build_ledger_workbook(
    conn: AsyncConnection, *, community: str, tz: ZoneInfo, month: str = "", district: str = ""
) -> bytes:
    """One community's ledger: a summary sheet, one sheet per task kind, and the refused/withdrawn record."""
    filters = TaskFilters(community=community, month=month)
    by_kind: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {k: [] for k in KIND_ZH}
    refused: list[tuple[dict[str, Any], dict[str, Any]]] = []
    async for record in iter_task_records(conn, filters=filters, tz=tz):
        target = next((t for t in record["targets"] if t["community"] == community), None)
        if target is None:
            continue
        if record["status"] in NOT_WORKED or target["status"] in (TargetStatus.refused, TargetStatus.withdrawn):
            refused.append((record, target))
        elif record["status"] != TaskStatus.pending_review:
            by_kind.setdefault(record["kind"], []).append((record, target))
    wb = Workbook()
    summary = wb.active
    summary.title = "汇总"
    period = f"{month} 月" if month else "全部时间"
    summary.append([f"{district}{community} 工作台账({period})"])
    summary["A1"].font = Font(bold=True, size=14)
    summary.append([f"由减负通自动生成于 {dt.datetime.now(tz).strftime('%Y-%m-%d %H:%M')},社区无需另行手工建账。"])
    summary.append([])
    _header(summary, ["任务类型", "件数", "已完成", "进行中", "费未随事转"], (14, 8, 8, 8, 12))
    for kind, rows in by_kind.items():
        done = sum(1 for _, t in rows if t["status"] == TargetStatus.done)
        unfunded = sum(1 for r, _ in rows if r["listing"] == "assist" and not r["funded"])
        summary.append([KIND_ZH.get(kind, kind), len(rows), done, len(rows) - done, unfunded])
    summary.append(["拒收与撤回", len(refused), "", "", ""])
    for kind, rows in by_kind.items():
        ws = wb.create_sheet(KIND_ZH.get(kind, kind)[:31])
        extra = _KIND_EXTRA.get(kind)
        titles = list(LEDGER_COLUMNS) + ([extra[0]] if extra else [])
        _header(ws, titles, list(_LEDGER_WIDTHS) + ([extra[1]] if extra else []))
        for index, (record, target) in enumerate(rows, start=1):
            cells = _ledger_cells(index, record, target)
            if kind == "certificate":
                cells.append(CERTIFICATE_ZH.get(record["certificate"] or "", ""))
            elif extra:
                cells.append(" ".join(x for x in (record["deadline"], record["deadline_time"]) if x))
            ws.append(cells)
    ws = wb.create_sheet("拒收与撤回")
    _header(ws, LEDGER_COLUMNS, _LEDGER_WIDTHS)
    for index, (record, target) in enumerate(refused, start=1):
        ws.append(_ledger_cells(index, record, target))
    neutralise_workbook(wb)  # department and community names, titles: every cell, not only the notice text
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
