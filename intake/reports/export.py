"""The intake log as records: the filters every list and export shares, and each task as one record
(JSON lines and CSV here; the workbooks are in :mod:`intake.reports.workbooks`, the command in
:mod:`intake.reports.export_command`).

The same functions serve ``jianfu export tasks`` and the console's download
buttons. Tasks are read in id order, a batch at a time (keyset pagination), so
an export of any size runs in bounded memory.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from classifiers import Rules
from classifiers.search import plain_terms, query_terms
from intake.reports.safety import safe_cell
from intake.store.models import ACCOUNTS, COMMUNITIES, DEPARTMENTS, DISTRICTS, STREETS, TASKS
from intake.store.models import TASK_TARGETS as TARGETS
from intake.store.search import HasTerms, from_index
from intake.store.values import TargetStatus

__all__ = [
    "TaskFilters",
    "FilterError",
    "TASK_COLUMNS",
    "parse_month",
    "month_bounds",
    "search_parts",
    "task_select",
    "count_tasks",
    "iter_task_records",
    "record_row",
    "record_flags",
    "write_csv",
    "record_writer",
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
    sort: str = "new"  # "new" (newest first), "deadline" (nearest first) or "old" (oldest first)
    ids: tuple[int, ...] = field(default=())
    codes: tuple[str, ...] = field(default=())  # the task codes (or their beginnings) in `q`
    terms: tuple[str, ...] = field(default=())  # the search terms of the rest of `q` (classifiers.search)

    @classmethod
    def from_query(cls, query: Any, *, rules: Rules | None = None) -> TaskFilters:
        """From a query string mapping; raises FilterError naming the bad value. `q` is cut into search
        terms with the jieba dictionary of `rules` (without rules, into letter-or-digit runs)."""

        def get(name: str) -> str:
            return str(query.get(name, "") or "").strip()[:200]

        month = get("month")
        if month:
            parse_month(month)
        codes, terms = search_parts(get("q"), rules)
        sort = get("sort") or "new"
        if sort not in ("new", "deadline"):
            raise FilterError(f"排序方式“{sort}”无效,请选择“最新在前”或“截止日期”。")
        return cls(
            department=get("department"), community=get("community"), kind=get("kind"), listing=get("listing"),
            status=get("status"), source=get("source"),
            date_from=_parse_date(get("from")) if get("from") else None,
            date_to=_parse_date(get("to")) if get("to") else None,
            month=month, q=get("q"), sort=sort, codes=codes, terms=terms,
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


def _apply_filters(stmt: sa.Select[Any], filters: TaskFilters, tz: ZoneInfo, *, joined: bool = False) -> sa.Select[Any]:
    if filters.department:  # by id too: (department_id, received_at) is the index that fits
        # one name may be several departments (区民政局 of each district, 市民政局): any of them
        department_ids = sa.select(DEPARTMENTS.c.id).where(DEPARTMENTS.c.name == filters.department)
        stmt = stmt.where(TASKS.c.department_id.in_(department_ids), TASKS.c.department == filters.department)
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
    for code in filters.codes:  # a range of the unique index on code (a prefix LIKE would not use it)
        stmt = stmt.where(TASKS.c.code >= code, TASKS.c.code < code + "\U0010ffff")
    if filters.terms:  # the search index (intake.store.search): FTS5 on SQLite, GIN on PostgreSQL
        stmt = stmt.where(HasTerms(filters.terms, joined=joined))
    if filters.ids:
        stmt = stmt.where(TASKS.c.id.in_(filters.ids))
    return stmt


_CODE = re.compile(r"R-[0-9A-Z-]*", re.IGNORECASE)


def search_parts(q: str, rules: Rules | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """`q` as the filters search it: words like task codes (R-…) match codes from their beginning, every
    other word is cut into search terms; a task must match all of them."""
    codes: list[str] = []
    terms: dict[str, None] = {}
    for piece in q.split():
        if _CODE.fullmatch(piece):
            codes.append(piece.upper())
        else:
            terms.update(dict.fromkeys(query_terms(piece, rules) if rules is not None else plain_terms(piece)))
    return tuple(codes), tuple(terms)


def task_select(filters: TaskFilters, tz: ZoneInfo, *columns: Any, index_first: bool = False) -> sa.Select[Any]:
    """SELECT over tasks with the filters applied (no ordering; callers add theirs). `index_first` (SQLite,
    with search terms): read the matches from the FTS5 table, then their tasks."""
    stmt = sa.select(*(columns or (TASKS,)))
    joined = index_first and bool(filters.terms)
    return _apply_filters(from_index(stmt) if joined else stmt, filters, tz, joined=joined)


async def count_tasks(conn: AsyncConnection, *, filters: TaskFilters, tz: ZoneInfo) -> int:
    # count(*), not count(id): PostgreSQL can then count from an index alone (the review queue's 166,667
    # waiting at 1M tasks: 35 ms instead of 220 ms, a sequential scan for the ids)
    stmt = _apply_filters(sa.select(sa.func.count()).select_from(TASKS), filters, tz)
    return int((await conn.execute(stmt)).scalar_one())


def _local(value: dt.datetime | None, tz: ZoneInfo) -> str | None:
    return value.astimezone(tz).isoformat(timespec="seconds") if value is not None else None


async def _targets_for(conn: AsyncConnection, task_ids: Sequence[int], tz: ZoneInfo) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {i: [] for i in task_ids}
    if not task_ids:
        return found
    rows = await conn.execute(
        sa.select(TARGETS.c.task_id, COMMUNITIES.c.name, TARGETS.c.status, TARGETS.c.due_date, TARGETS.c.done_at,
                  DISTRICTS.c.name.label("district"))
        .join(COMMUNITIES, COMMUNITIES.c.id == TARGETS.c.community_id)
        .outerjoin(STREETS, STREETS.c.id == COMMUNITIES.c.street_id)
        .outerjoin(DISTRICTS, DISTRICTS.c.id == STREETS.c.district_id)
        .where(TARGETS.c.task_id.in_(task_ids))
        .order_by(TARGETS.c.task_id, TARGETS.c.id)
    )
    for row in rows:
        found[int(row.task_id)].append({
            "community": row.name, "status": row.status,
            "due_date": row.due_date.isoformat() if row.due_date else None,
            "done_at": _local(row.done_at, tz), "district": row.district,
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
        "source_chat": row.source_chat,
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
        # the issuing department's district, else its communities' (issue 17: exports carry the district)
        "district": row.issuer_district or "、".join(dict.fromkeys(t["district"] for t in targets if t["district"])),
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
                        dup.c.code.label("duplicate_code"), DISTRICTS.c.name.label("issuer_district"))
            .outerjoin(ACCOUNTS, ACCOUNTS.c.id == TASKS.c.sender_id)
            .outerjoin(DEPARTMENTS, DEPARTMENTS.c.id == TASKS.c.department_id)
            .outerjoin(DISTRICTS, DISTRICTS.c.id == DEPARTMENTS.c.district_id)
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
    ("district", "区"),  # added at the end (issue 17): the columns before it keep their places
)


def record_flags(record: dict[str, Any]) -> str:
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
        "flags": record_flags(record),
        "received_at": (record["received_at"] or "").replace("T", " ")[:16],
    }
    return [("" if values[key] is None else values[key]) for key, _ in TASK_COLUMNS]


def record_writer(fmt: str, out: IO[str]) -> Callable[[dict[str, Any]], None]:
    """A function that writes one record as a CSV row (the header written now) or a JSON line."""
    if fmt == "jsonl":
        def write_line(record: dict[str, Any]) -> None:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        return write_line
    writer = csv.writer(out)
    writer.writerow([title for _, title in TASK_COLUMNS])

    def write_row(record: dict[str, Any]) -> None:
        writer.writerow([safe_cell(v) for v in record_row(record)])
    return write_row


def write_csv(records: Iterable[dict[str, Any]], out: IO[str]) -> int:
    write = record_writer("csv", out)
    count = 0
    for record in records:
        write(record)
        count += 1
    return count
