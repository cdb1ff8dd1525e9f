"""What the console reads: the intake log page, one task in full, the directory, the dashboard figures.

Reads only; every function takes the connection explicitly and returns plain data.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from classifiers import Listing
from intake.audit import list_audit
from intake.calendar import month_key, shift_month
from intake.reports.export import TaskFilters, task_select
from intake.store.models import (
    ACCOUNTS,
    COMMUNITIES,
    DEPARTMENTS,
    DIGESTS,
    INVITES,
    OUTBOX,
    REMINDERS,
    RULE_VERSIONS,
    TASKS,
    Role,
    TargetStatus,
    TaskStatus,
)
from intake.store.models import AUDIT_LOG as AUDIT
from intake.store.models import TASK_TARGETS as TARGETS

__all__ = [
    "PAGE_SIZE",
    "TaskPage",
    "list_task_page",
    "get_task_detail",
    "list_departments",
    "list_communities",
    "list_accounts",
    "list_invites",
    "list_rule_versions",
    "list_digests",
    "get_digest",
    "Dashboard",
    "build_dashboard",
]

PAGE_SIZE = 30


@dataclass(frozen=True)
class TaskPage:
    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int


async def list_task_page(
    conn: AsyncConnection, *, filters: TaskFilters, tz: ZoneInfo, page: int = 1, page_size: int = PAGE_SIZE
) -> TaskPage:
    """One page of the intake log with each task's targets' progress."""
    total = int((await conn.execute(task_select(filters, tz, sa.func.count(TASKS.c.id)))).scalar_one())
    pages = max(1, -(-total // page_size))
    page = min(max(1, page), pages)
    done = sa.func.sum(sa.case((TARGETS.c.status == TargetStatus.done, 1), else_=0))
    progress = (
        sa.select(TARGETS.c.task_id, sa.func.count(TARGETS.c.id).label("n"), done.label("done"))
        .group_by(TARGETS.c.task_id)
        .subquery()
    )
    stmt = task_select(
        filters, tz, TASKS.c.id, TASKS.c.code, TASKS.c.department, TASKS.c.forwarded_by, TASKS.c.kind, TASKS.c.nature, TASKS.c.listing, TASKS.c.item,
        TASKS.c.deadline, TASKS.c.deadline_time, TASKS.c.status, TASKS.c.received_at, TASKS.c.raw_text, TASKS.c.needs_review,
        TASKS.c.corrected, TASKS.c.funded, TASKS.c.duplicate_of, TASKS.c.repeat_collection, TASKS.c.short_notice,
        progress.c.n, progress.c.done,
    ).outerjoin(progress, progress.c.task_id == TASKS.c.id)
    if filters.sort == "deadline":
        stmt = stmt.order_by(TASKS.c.deadline.is_(None), TASKS.c.deadline, TASKS.c.deadline_time, TASKS.c.id)
    else:
        stmt = stmt.order_by(TASKS.c.received_at.desc(), TASKS.c.id.desc())
    rows = (await conn.execute(stmt.limit(page_size).offset((page - 1) * page_size))).all()
    out = []
    for row in rows:
        item = dict(row._mapping)
        item["n"] = int(item["n"] or 0)
        item["done"] = int(item["done"] or 0)
        item["summary"] = _summary(row.raw_text)
        item["received_local"] = row.received_at.astimezone(tz)
        out.append(item)
    return TaskPage(rows=out, total=total, page=page, pages=pages)


def _summary(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


async def get_task_detail(conn: AsyncConnection, *, code: str, tz: ZoneInfo) -> dict[str, Any] | None:
    """Everything about one task: its fields, sender, targets, reminders, duplicates, notices sent, audit."""
    row = (await conn.execute(sa.select(TASKS).where(TASKS.c.code == code.strip().upper()))).first()
    if row is None:
        return None
    task = dict(row._mapping)
    if "Task" in task:  # select(Task) over a Core connection returns the columns, but be safe
        task = dict(task["Task"].__dict__)
    task_id = int(task["id"])
    sender = None
    if task["sender_id"] is not None:
        s = (await conn.execute(
            sa.select(ACCOUNTS.c.id, ACCOUNTS.c.channel, ACCOUNTS.c.external_id, ACCOUNTS.c.display_name, ACCOUNTS.c.role,
                      DEPARTMENTS.c.name.label("department"))
            .outerjoin(DEPARTMENTS, DEPARTMENTS.c.id == ACCOUNTS.c.department_id)
            .where(ACCOUNTS.c.id == task["sender_id"])
        )).first()
        sender = dict(s._mapping) if s is not None else None
    targets = [dict(r._mapping) for r in await conn.execute(
        sa.select(TARGETS.c.id, TARGETS.c.community_id, COMMUNITIES.c.name.label("community"), TARGETS.c.status,
                  TARGETS.c.due_date, TARGETS.c.done_at)
        .join(COMMUNITIES, COMMUNITIES.c.id == TARGETS.c.community_id)
        .where(TARGETS.c.task_id == task_id).order_by(TARGETS.c.id)
    )]
    reminders = [dict(r._mapping) for r in await conn.execute(
        sa.select(REMINDERS.c.id, COMMUNITIES.c.name.label("community"), REMINDERS.c.kind, REMINDERS.c.fire_at, REMINDERS.c.sent_at,
                  REMINDERS.c.cancelled)
        .join(TARGETS, TARGETS.c.id == REMINDERS.c.target_id)
        .join(COMMUNITIES, COMMUNITIES.c.id == TARGETS.c.community_id)
        .where(TARGETS.c.task_id == task_id).order_by(REMINDERS.c.fire_at, REMINDERS.c.id)
    )]
    original = None
    if task["duplicate_of"] is not None:
        original = (await conn.execute(sa.select(TASKS.c.code).where(TASKS.c.id == task["duplicate_of"]))).scalar()
    duplicates = [dict(r._mapping) for r in await conn.execute(
        sa.select(TASKS.c.code, TASKS.c.department, TASKS.c.received_at, TASKS.c.status)
        .where(TASKS.c.duplicate_of == task_id).order_by(TASKS.c.id)
    )]
    notices = [dict(r._mapping) for r in await conn.execute(
        sa.select(OUTBOX.c.id, OUTBOX.c.channel, OUTBOX.c.recipient, OUTBOX.c.kind,
                  OUTBOX.c.status, OUTBOX.c.body, OUTBOX.c.created_at, OUTBOX.c.sent_at)
        .where(OUTBOX.c.idempotency_key.contains(task["code"], autoescape=True))
        .order_by(OUTBOX.c.id).limit(100)
    )]
    audit = await list_audit(conn, entity="task", entity_id=task_id)
    target_ids = [t["id"] for t in targets]
    if target_ids:
        audit += [dict(r._mapping) for r in await conn.execute(
            sa.select(AUDIT).where(AUDIT.c.entity == "task_target", AUDIT.c.entity_id.in_(target_ids))
        )]
        audit.sort(key=lambda a: (a["at"], a["id"]))
    return {
        "task": task, "sender": sender, "targets": targets, "reminders": reminders, "original": original,
        "duplicates": duplicates, "notices": notices, "audit": audit,
        "received_local": task["received_at"].astimezone(tz),
    }


async def list_departments(conn: AsyncConnection) -> list[dict[str, Any]]:
    counts = (
        sa.select(TASKS.c.department_id, sa.func.count(TASKS.c.id).label("tasks")).group_by(TASKS.c.department_id).subquery()
    )
    clerks = (
        sa.select(ACCOUNTS.c.department_id, sa.func.count(ACCOUNTS.c.id).label("clerks"))
        .where(ACCOUNTS.c.role == Role.clerk, ACCOUNTS.c.active.is_(True)).group_by(ACCOUNTS.c.department_id).subquery()
    )
    rows = await conn.execute(
        sa.select(DEPARTMENTS.c.id, DEPARTMENTS.c.name, DEPARTMENTS.c.active, counts.c.tasks, clerks.c.clerks)
        .outerjoin(counts, counts.c.department_id == DEPARTMENTS.c.id)
        .outerjoin(clerks, clerks.c.department_id == DEPARTMENTS.c.id)
        .order_by(DEPARTMENTS.c.active.desc(), DEPARTMENTS.c.name)
    )
    return [dict(r._mapping) for r in rows]


async def list_communities(conn: AsyncConnection) -> list[dict[str, Any]]:
    open_targets = (
        sa.select(TARGETS.c.community_id, sa.func.count(TARGETS.c.id).label("open"))
        .where(TARGETS.c.status == TargetStatus.open).group_by(TARGETS.c.community_id).subquery()
    )
    heads = (
        sa.select(ACCOUNTS.c.community_id, sa.func.count(ACCOUNTS.c.id).label("heads"))
        .where(ACCOUNTS.c.role == Role.head, ACCOUNTS.c.active.is_(True)).group_by(ACCOUNTS.c.community_id).subquery()
    )
    rows = await conn.execute(
        sa.select(COMMUNITIES.c.id, COMMUNITIES.c.name, COMMUNITIES.c.staff, COMMUNITIES.c.active, COMMUNITIES.c.robot_webhook,
                  open_targets.c.open, heads.c.heads)
        .outerjoin(open_targets, open_targets.c.community_id == COMMUNITIES.c.id)
        .outerjoin(heads, heads.c.community_id == COMMUNITIES.c.id)
        .order_by(COMMUNITIES.c.active.desc(), COMMUNITIES.c.id)
    )
    return [dict(r._mapping) for r in rows]


async def list_accounts(conn: AsyncConnection, *, limit: int = 500) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(ACCOUNTS.c.id, ACCOUNTS.c.channel, ACCOUNTS.c.external_id, ACCOUNTS.c.display_name, ACCOUNTS.c.role,
                  ACCOUNTS.c.active, ACCOUNTS.c.bound_at, ACCOUNTS.c.last_seen_at,
                  DEPARTMENTS.c.name.label("department"), COMMUNITIES.c.name.label("community"))
        .outerjoin(DEPARTMENTS, DEPARTMENTS.c.id == ACCOUNTS.c.department_id)
        .outerjoin(COMMUNITIES, COMMUNITIES.c.id == ACCOUNTS.c.community_id)
        .order_by(ACCOUNTS.c.id.desc()).limit(limit)
    )
    return [dict(r._mapping) for r in rows]


async def list_invites(conn: AsyncConnection, *, limit: int = 100) -> list[dict[str, Any]]:
    used_by = ACCOUNTS.alias("used_by")
    rows = await conn.execute(
        sa.select(INVITES.c.id, INVITES.c.hint, INVITES.c.role, INVITES.c.expires_at, INVITES.c.used_at,
                  INVITES.c.revoked_at, INVITES.c.revoked_by, INVITES.c.created_by,
                  INVITES.c.created_at, DEPARTMENTS.c.name.label("department"), COMMUNITIES.c.name.label("community"),
                  used_by.c.external_id.label("used_by"))
        .outerjoin(DEPARTMENTS, DEPARTMENTS.c.id == INVITES.c.department_id)
        .outerjoin(COMMUNITIES, COMMUNITIES.c.id == INVITES.c.community_id)
        .outerjoin(used_by, used_by.c.id == INVITES.c.used_by)
        .order_by(INVITES.c.id.desc()).limit(limit)
    )
    return [dict(r._mapping) for r in rows]


async def list_rule_versions(conn: AsyncConnection, *, limit: int = 50) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(RULE_VERSIONS.c.id, RULE_VERSIONS.c.author, RULE_VERSIONS.c.note, RULE_VERSIONS.c.created_at, RULE_VERSIONS.c.content)
        .order_by(RULE_VERSIONS.c.id.desc()).limit(limit)
    )
    return [dict(r._mapping) for r in rows]


async def list_digests(conn: AsyncConnection) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(DIGESTS.c.id, DIGESTS.c.month, DIGESTS.c.scope, DIGESTS.c.created_at)
        .order_by(DIGESTS.c.month.desc(), DIGESTS.c.scope)
    )
    return [dict(r._mapping) for r in rows]


async def get_digest(conn: AsyncConnection, *, digest_id: int) -> dict[str, Any] | None:
    row = (await conn.execute(sa.select(DIGESTS).where(DIGESTS.c.id == digest_id))).first()
    return dict(row._mapping) if row is not None else None


# --- dashboard -----------------------------------------------------------------------------------

@dataclass
class MonthFigures:
    month: str
    total: int = 0
    administrative: int = 0
    service: int = 0
    refused: int = 0
    unlisted: int = 0
    unfunded_assist: int = 0
    due_targets: int = 0
    on_time: int = 0
    by_department: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)

    @property
    def admin_share(self) -> float | None:
        return self.administrative / self.total if self.total else None

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.due_targets if self.due_targets else None


@dataclass(frozen=True)
class Dashboard:
    month: str
    current: MonthFigures
    months: list[MonthFigures]  # oldest first, ending with `month`
    pending_review: int


async def build_dashboard(
    conn: AsyncConnection, *, month: str, tz: ZoneInfo, now: dt.datetime, community: str = ""
) -> Dashboard:
    """This month and the twelve before it: load, nature split, refusals, unfunded assist, on-time rate."""
    first = shift_month(month, -12)
    y, m = (int(x) for x in first.split("-"))
    start = dt.datetime(y, m, 1, tzinfo=tz)
    ny, nm = (int(x) for x in shift_month(month, 1).split("-"))
    end = dt.datetime(ny, nm, 1, tzinfo=tz)
    figures = {shift_month(month, -i): MonthFigures(shift_month(month, -i)) for i in range(12, -1, -1)}
    stmt = (
        sa.select(TASKS.c.id, TASKS.c.department, TASKS.c.kind, TASKS.c.nature, TASKS.c.listing, TASKS.c.status, TASKS.c.funded,
                  TASKS.c.received_at)
        .where(TASKS.c.received_at >= start, TASKS.c.received_at < end, TASKS.c.duplicate_of.is_(None))
    )
    if community:
        stmt = stmt.where(sa.exists().where(TARGETS.c.task_id == TASKS.c.id, TARGETS.c.community_id == COMMUNITIES.c.id,
                                            COMMUNITIES.c.name == community))
    for row in await conn.execute(stmt):
        f = figures.get(month_key(row.received_at, tz))
        if f is None:
            continue
        f.total += 1
        if row.nature == "service":
            f.service += 1
        else:
            f.administrative += 1
        if row.status == TaskStatus.refused or row.listing == Listing.NEGATIVE:
            f.refused += 1
        if row.listing == "unlisted":
            f.unlisted += 1
        if row.listing == "assist" and not row.funded:
            f.unfunded_assist += 1
        f.by_department[row.department or "未识别"] += 1
        f.by_kind[row.kind] += 1
    # on-time: targets due in the month (and already due), done by the end of their due day
    today = now.astimezone(tz).date()
    tstmt = (
        sa.select(TARGETS.c.due_date, TARGETS.c.status, TARGETS.c.done_at)
        .join(TASKS, TASKS.c.id == TARGETS.c.task_id)
        .where(TARGETS.c.due_date >= start.date(), TARGETS.c.due_date < end.date(),
               TARGETS.c.status.in_((TargetStatus.open, TargetStatus.done)),
               TASKS.c.status.in_((TaskStatus.accepted, TaskStatus.done)))
    )
    if community:
        tstmt = tstmt.join(COMMUNITIES, COMMUNITIES.c.id == TARGETS.c.community_id).where(COMMUNITIES.c.name == community)
    for trow in await conn.execute(tstmt):
        f = figures.get(month_key(trow.due_date))
        if f is None or (trow.status == TargetStatus.open and trow.due_date >= today):
            continue
        f.due_targets += 1
        if trow.status == TargetStatus.done and trow.done_at is not None and trow.done_at.astimezone(tz).date() <= trow.due_date:
            f.on_time += 1
    pending = int((await conn.execute(
        sa.select(sa.func.count(TASKS.c.id)).where(TASKS.c.status == TaskStatus.pending_review)
    )).scalar_one())
    months = list(figures.values())
    return Dashboard(month=month, current=figures[month], months=months, pending_review=pending)


def group_months(months: list[MonthFigures]) -> dict[str, dict[str, int]]:
    """Department → month → count, for the twelve-month table."""
    table: dict[str, dict[str, int]] = defaultdict(dict)
    for f in months:
        for dept, n in f.by_department.items():
            table[dept][f.month] = n
    return dict(table)
