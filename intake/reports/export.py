"""Exports of the intake log: JSON lines, CSV and Excel, and the per-community ledger workbook (台账).

The same functions serve ``jianfu export tasks`` and the console's download
buttons. Tasks are read in id order, a batch at a time (keyset pagination), so
an export of any size runs in bounded memory.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import sys
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import IO, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.reports.measures import NOT_WORKED
from intake.reports.safety import neutralise_workbook, safe_cell
from intake.store.models import ACCOUNTS, COMMUNITIES, TASKS
from intake.store.models import TASK_TARGETS as TARGETS
from intake.store.values import TargetStatus, TaskStatus

__all__ = [
    "TaskFilters",
    "FilterError",
    "TASK_COLUMNS",
    "LEDGER_COLUMNS",
    "parse_month",
    "month_bounds",
    "task_select",
    "count_tasks",
    "iter_task_records",
    "record_row",
    "write_csv",
    "write_jsonl",
    "build_tasks_workbook",
    "build_ledger_workbook",
    "run_export",
]

from intake.calendar import month_bounds, parse_month  # noqa: E402
from intake.errors import BadFilter as FilterError  # noqa: E402
from intake.labels import (  # noqa: E402
    CERTIFICATE_ZH,
    KIND_ZH,
    LISTING_ZH,
    NATURE_ZH,
    RECURRENCE_ZH,
    SOURCE_TYPE_ZH,
    STATUS_ZH,
)

BATCH = 500
PROGRESS_MIN = 200  # show a progress bar on a terminal from this many tasks on



def _parse_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError as exc:
        raise FilterError(f"日期“{value}”格式不对,请写成 YYYY-MM-DD,例如 2025-01-31。") from exc


@dataclass(frozen=True)
class TaskFilters:
    """What the intake log and its exports show; empty fields do not filter."""

    department: str = ""
    community: str = ""
    kind: str = ""
    listing: str = ""
    status: str = ""
    source: str = ""  # TaskSource: bot / community / console
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    month: str = ""
    q: str = ""
    sort: str = "new"  # "new" (newest first) or "deadline" (nearest first)
    ids: tuple[int, ...] = field(default=())

    @classmethod
    def from_query(cls, query: Any) -> TaskFilters:
        """From a query string mapping; raises FilterError naming the bad value."""

        def get(name: str) -> str:
            return str(query.get(name, "") or "").strip()[:200]

        month = get("month")
        if month:
            parse_month(month)
        sort = get("sort") or "new"
        if sort not in ("new", "deadline"):
            raise FilterError(f"排序方式“{sort}”无效,请选择“最新在前”或“截止日期”。")
        return cls(
            department=get("department"), community=get("community"), kind=get("kind"), listing=get("listing"),
            status=get("status"), source=get("source"),
            date_from=_parse_date(get("from")) if get("from") else None,
            date_to=_parse_date(get("to")) if get("to") else None,
            month=month, q=get("q"), sort=sort,
        )

    def query_params(self) -> dict[str, str]:
        """The filters as query parameters (for pagination and export links)."""
        params = {
            "department": self.department, "community": self.community, "kind": self.kind,
            "listing": self.listing, "status": self.status, "source": self.source,
            "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "",
            "month": self.month, "q": self.q, "sort": "" if self.sort == "new" else self.sort,
        }
        return {k: v for k, v in params.items() if v}


def _apply_filters(stmt: sa.Select[Any], filters: TaskFilters, tz: ZoneInfo) -> sa.Select[Any]:
    if filters.department:
        stmt = stmt.where(TASKS.c.department == filters.department)
    if filters.kind:
        stmt = stmt.where(TASKS.c.kind == filters.kind)
    if filters.listing:
        stmt = stmt.where(TASKS.c.listing == filters.listing)
    if filters.status:
        stmt = stmt.where(TASKS.c.status == filters.status)
    if filters.source:
        stmt = stmt.where(TASKS.c.source == filters.source)
    if filters.community:
        stmt = stmt.where(
            sa.exists().where(
                TARGETS.c.task_id == TASKS.c.id, TARGETS.c.community_id == COMMUNITIES.c.id,
                COMMUNITIES.c.name == filters.community,
            )
        )
    if filters.date_from:
        stmt = stmt.where(TASKS.c.received_at >= dt.datetime.combine(filters.date_from, dt.time(), tzinfo=tz))
    if filters.date_to:
        end = dt.datetime.combine(filters.date_to + dt.timedelta(days=1), dt.time(), tzinfo=tz)
        stmt = stmt.where(TASKS.c.received_at < end)
    if filters.month:
        start, end = month_bounds(filters.month, tz)
        stmt = stmt.where(TASKS.c.received_at >= start, TASKS.c.received_at < end)
    for term in filters.q.split():
        # icontains: ILIKE on PostgreSQL, lower() LIKE lower() on SQLite — "pdf" finds "PDF" on both
        stmt = stmt.where(sa.or_(TASKS.c.raw_text.icontains(term, autoescape=True),
                                 TASKS.c.code.icontains(term, autoescape=True)))
    if filters.ids:
        stmt = stmt.where(TASKS.c.id.in_(filters.ids))
    return stmt


def task_select(filters: TaskFilters, tz: ZoneInfo, *columns: Any) -> sa.Select[Any]:
    """SELECT over tasks with the filters applied (no ordering; callers add theirs)."""
    stmt = sa.select(*(columns or (TASKS,)))
    return _apply_filters(stmt, filters, tz)


async def count_tasks(conn: AsyncConnection, *, filters: TaskFilters, tz: ZoneInfo) -> int:
    stmt = task_select(filters, tz, sa.func.count(TASKS.c.id))
    return int((await conn.execute(stmt)).scalar_one())


def _local(value: dt.datetime | None, tz: ZoneInfo) -> str | None:
    return value.astimezone(tz).isoformat(timespec="seconds") if value is not None else None


async def _targets_for(conn: AsyncConnection, task_ids: Sequence[int], tz: ZoneInfo) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {i: [] for i in task_ids}
    if not task_ids:
        return found
    rows = await conn.execute(
        sa.select(TARGETS.c.task_id, COMMUNITIES.c.name, TARGETS.c.status, TARGETS.c.due_date, TARGETS.c.done_at)
        .join(COMMUNITIES, COMMUNITIES.c.id == TARGETS.c.community_id)
        .where(TARGETS.c.task_id.in_(task_ids))
        .order_by(TARGETS.c.task_id, TARGETS.c.id)
    )
    for row in rows:
        found[int(row.task_id)].append({
            "community": row.name, "status": row.status,
            "due_date": row.due_date.isoformat() if row.due_date else None,
            "done_at": _local(row.done_at, tz),
        })
    return found


def _record(row: Any, targets: list[dict[str, Any]], tz: ZoneInfo) -> dict[str, Any]:
    quantity = {"value": row.quantity_value, "unit": row.quantity_unit or ""} if row.quantity_value is not None else None
    return {
        "code": row.code,
        "msg_id": row.msg_id,
        "channel": row.channel,
        "source_type": row.source_type,
        "source_sha256": row.source_sha256,
        "source_name": row.source_name,
        "sender": row.sender,
        "department": row.department,
        "kind": row.kind,
        "nature": row.nature,
        "listing": row.listing,
        "item": row.item,
        "certificate": row.certificate,
        "deadline": row.deadline.isoformat() if row.deadline else None,
        "deadline_time": row.deadline_time.strftime("%H:%M") if row.deadline_time else None,
        "recurrence": row.recurrence,
        "quantity": quantity,
        "funded": bool(row.funded),
        "amount_yuan": row.amount_yuan,
        "emergency": bool(row.emergency),
        "communities": list(row.communities or []),
        "status": row.status,
        "duplicate_of": row.duplicate_code,
        "repeat_collection": bool(row.repeat_collection),
        "short_notice": bool(row.short_notice),
        "needs_review": bool(row.needs_review),
        "corrected": bool(row.corrected),
        "rules_version": row.rules_version,
        "received_at": _local(row.received_at, tz),
        "text": row.raw_text,
        "targets": targets,
        "evidence": row.evidence or {},
    }


async def iter_task_records(
    conn: AsyncConnection, *, filters: TaskFilters, tz: ZoneInfo, batch: int = BATCH
) -> AsyncIterator[dict[str, Any]]:
    """Every matching task as a JSON-ready dict with its targets, oldest first, a batch at a time."""
    dup = TASKS.alias("dup")
    last_id = 0
    while True:
        stmt = (
            task_select(filters, tz, *TASKS.columns, ACCOUNTS.c.external_id.label("sender"),
                        dup.c.code.label("duplicate_code"))
            .outerjoin(ACCOUNTS, ACCOUNTS.c.id == TASKS.c.sender_id)
            .outerjoin(dup, dup.c.id == TASKS.c.duplicate_of)
            .where(TASKS.c.id > last_id)
            .order_by(TASKS.c.id)
            .limit(batch)
        )
        rows = (await conn.execute(stmt)).all()
        if not rows:
            return
        targets = await _targets_for(conn, [int(r.id) for r in rows], tz)
        for row in rows:
            yield _record(row, targets[int(row.id)], tz)
        last_id = int(rows[-1].id)
        if len(rows) < batch:
            return


# --- flat rows: CSV and Excel ------------------------------------------------------------------

TASK_COLUMNS: tuple[tuple[str, str], ...] = (
    ("code", "任务编号"),
    ("received_at", "收到时间"),
    ("department", "下达部门"),
    ("kind", "任务类型"),
    ("nature", "性质"),
    ("listing", "清单类别"),
    ("item", "事项编号"),
    ("certificate", "证明判定"),
    ("deadline", "截止日期"),
    ("deadline_time", "截止时间"),
    ("recurrence", "周期"),
    ("quantity", "数量"),
    ("funded", "有经费"),
    ("amount_yuan", "经费(元)"),
    ("status", "状态"),
    ("targets", "派往社区(状态)"),
    ("progress", "完成进度"),
    ("flags", "标记"),
    ("sender", "发送人"),
    ("source_type", "来源"),
    ("msg_id", "消息ID"),
    ("text", "原文"),
)


def _flags(record: dict[str, Any]) -> str:
    flags = []
    if record["duplicate_of"]:
        flags.append(f"重复派发(同{record['duplicate_of']})")
    if record["repeat_collection"]:
        flags.append("重复采集")
    if record["short_notice"]:
        flags.append("时限过短")
    if record["listing"] == "assist" and not record["funded"]:
        flags.append("费未随事转")
    if record["emergency"]:
        flags.append("突发应急")
    if record["corrected"]:
        flags.append("已人工更正")
    return "、".join(flags)


def record_row(record: dict[str, Any]) -> list[Any]:
    """One task as the cells of TASK_COLUMNS, in Chinese where a person reads it."""
    targets = record["targets"]
    done = sum(1 for t in targets if t["status"] == TargetStatus.done)
    quantity = record["quantity"]
    values = {
        **record,
        "kind": KIND_ZH.get(record["kind"], record["kind"]),
        "nature": NATURE_ZH.get(record["nature"], record["nature"]),
        "listing": LISTING_ZH.get(record["listing"], record["listing"]),
        "certificate": CERTIFICATE_ZH.get(record["certificate"] or "", record["certificate"] or ""),
        "recurrence": RECURRENCE_ZH.get(record["recurrence"] or "", record["recurrence"] or ""),
        "quantity": f"{quantity['value']}{quantity['unit']}" if quantity else "",
        "funded": "是" if record["funded"] else "否",
        "status": STATUS_ZH.get(record["status"], record["status"]),
        "source_type": SOURCE_TYPE_ZH.get(record["source_type"], record["source_type"]),
        "targets": "、".join(f"{t['community']}({STATUS_ZH.get(t['status'], t['status'])})" for t in targets),
        "progress": f"{done}/{len(targets)}" if targets else "",
        "flags": _flags(record),
        "received_at": (record["received_at"] or "").replace("T", " ")[:16],
    }
    return [("" if values[key] is None else values[key]) for key, _ in TASK_COLUMNS]


def write_csv(records: Iterable[dict[str, Any]], out: IO[str]) -> int:
    writer = csv.writer(out)
    writer.writerow([title for _, title in TASK_COLUMNS])
    count = 0
    for record in records:
        writer.writerow([safe_cell(v) for v in record_row(record)])
        count += 1
    return count


def write_jsonl(records: Iterable[dict[str, Any]], out: IO[str]) -> int:
    count = 0
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count


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


_TASK_WIDTHS = (18, 17, 12, 10, 10, 20, 8, 10, 12, 8, 8, 10, 7, 10, 10, 30, 8, 20, 16, 10, 20, 60)


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
        _flags(record),
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


# --- the command ---------------------------------------------------------------------------------

async def _collect(
    conn: AsyncConnection, filters: TaskFilters, tz: ZoneInfo, total: int, show_progress: bool
) -> AsyncIterator[dict[str, Any]]:
    if not show_progress:
        async for record in iter_task_records(conn, filters=filters, tz=tz):
            yield record
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("导出任务"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as progress:
        bar = progress.add_task("export", total=total)
        async for record in iter_task_records(conn, filters=filters, tz=tz):
            yield record
            progress.advance(bar)


async def _export(settings: Any, *, fmt: str, filters: TaskFilters, out: IO[str] | None, path: str | None) -> int:
    from intake.store.db import create_engine

    engine = create_engine(settings)
    tz = settings.tz
    try:
        async with engine.connect() as conn:
            total = await count_tasks(conn, filters=filters, tz=tz)
            show = sys.stderr.isatty() and total >= PROGRESS_MIN
            records = [r async for r in _collect(conn, filters, tz, total, show)] if fmt == "xlsx" else None
            if fmt == "xlsx":
                assert records is not None
                data = build_tasks_workbook(records)
                if path:
                    with open(path, "wb") as fh:
                        fh.write(data)
                else:
                    sys.stdout.buffer.write(data)
                    sys.stdout.buffer.flush()
                return total
            assert out is not None
            writer = csv.writer(out) if fmt == "csv" else None
            if writer is not None:
                writer.writerow([title for _, title in TASK_COLUMNS])
            async for record in _collect(conn, filters, tz, total, show):
                if writer is not None:
                    writer.writerow([safe_cell(v) for v in record_row(record)])
                else:
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
            out.flush()
            return total
    finally:
        await engine.dispose()


def run_export(settings: Any, *, kind: str, fmt: str, month: str | None, output: str | None) -> int:
    """`jianfu export tasks`: returns the process exit code (0 ok, 2 bad arguments)."""
    if kind != "tasks":
        print(f"不能导出“{kind}”:目前只支持 tasks。", file=sys.stderr)
        return 2
    if fmt not in ("jsonl", "csv", "xlsx"):
        print(f"格式“{fmt}”无效:请用 --format jsonl、csv 或 xlsx。", file=sys.stderr)
        return 2
    try:
        filters = replace(TaskFilters(), month=month) if month else TaskFilters()
        if month:
            parse_month(month)
    except FilterError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if fmt == "xlsx" and output is None and sys.stdout.isatty():
        print("Excel 是二进制文件,不能输出到终端:请加 --output 文件名.xlsx。", file=sys.stderr)
        return 2
    handle: IO[str] | None = None
    try:
        if fmt != "xlsx":
            handle = open(output, "w", encoding="utf-8", newline="") if output else sys.stdout  # noqa: SIM115
        count = asyncio.run(_export(settings, fmt=fmt, filters=filters, out=handle, path=output))
    except OSError as exc:
        print(f"无法写入 {output}:{exc.strerror}。请检查路径和权限。", file=sys.stderr)
        return 2
    finally:
        if handle is not None and handle is not sys.stdout:
            handle.close()
    if output:
        print(f"已导出 {count} 条任务到 {output}", file=sys.stderr)
    return 0
