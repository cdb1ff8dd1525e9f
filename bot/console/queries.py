"""What the console reads: the intake log page, one task in full, the directory, the dashboard figures.

Reads only; every function takes the connection explicitly and returns plain data.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.audit import list_audit
from intake.reports.export import TaskFilters, month_bounds, task_select
from intake.reports.figures import DISTRICT_SCOPE, Figures, Scope, ScopeKind
from intake.reports.paging import Cursor, Keyset, count_capped, keyset_select
from intake.reports.rollups import get_open_month, get_trend
from intake.settings import IntakeSettings
from intake.store.models import (
    ACCOUNTS,
    COMMUNITIES,
    DEPARTMENTS,
    DIGESTS,
    DISTRICTS,
    INVITES,
    OUTBOX,
    REMINDERS,
    RULE_VERSIONS,
    STREETS,
    TASKS,
    Role,
    TargetStatus,
    TaskStatus,
)
from intake.store.models import AUDIT_LOG as AUDIT
from intake.store.models import TASK_TARGETS as TARGETS
from intake.store.search import FTS
from intake.store.values import OrgLevel

__all__ = [
    "PAGE_SIZE",
    "TaskPage",
    "list_task_page",
    "keyset_of",
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
    total: int  # counted up to paging.COUNT_CAP
    more_than: bool  # the total is COUNT_CAP and there are more
    page: int  # the page's number as the links carried it (shown only)
    newer: dict[str, str] | None = None  # the link parameters of the page before and after this one
    older: dict[str, str] | None = None


_LOG_COLUMNS = (
    TASKS.c.id, TASKS.c.code, TASKS.c.department, TASKS.c.forwarded_by, TASKS.c.kind, TASKS.c.nature,
    TASKS.c.listing, TASKS.c.item, TASKS.c.deadline, TASKS.c.deadline_time, TASKS.c.status, TASKS.c.received_at,
    TASKS.c.raw_text, TASKS.c.needs_review, TASKS.c.corrected, TASKS.c.funded, TASKS.c.source,
    TASKS.c.duplicate_of, TASKS.c.repeat_collection, TASKS.c.short_notice,
)


async def list_task_page(
    conn: AsyncConnection, *, filters: TaskFilters, tz: ZoneInfo, keyset: Keyset | None = None, page: int = 1,
    page_size: int = PAGE_SIZE,
) -> TaskPage:
    """One page of the intake log with each task's targets' progress: by time after or before a cursor
    (`keyset`), or, sorted by deadline, the `page`-th page."""
    # SQLite counts a search's matches from its FTS5 table and reads the page from there too, newest logged
    # first in the index's own order: one page of matches is read however many there are
    fts = conn.dialect.name == "sqlite"
    total, more_than = await count_capped(conn, task_select(filters, tz, TASKS.c.id, index_first=fts))
    by_index = fts and bool(filters.terms)
    stmt = task_select(filters, tz, *_LOG_COLUMNS, index_first=by_index)
    if by_index and filters.month:  # the index walked only over the ids logged in that month, not from today back
        stmt = stmt.where(FTS.c.rowid.between(*await _month_ids(conn, filters.month, tz)))
    page = max(1, page)
    if filters.sort == "deadline":
        stmt = stmt.order_by(TASKS.c.deadline.is_(None), TASKS.c.deadline, TASKS.c.deadline_time, TASKS.c.id)
        rows = list((await conn.execute(stmt.limit(page_size + 1).offset((page - 1) * page_size))).all())
        newer = {"page": str(page - 1)} if page > 1 else None
        older = {"page": str(page + 1)} if len(rows) > page_size else None
        rows = rows[:page_size]
    else:
        keyset = keyset or Keyset(descending=filters.sort != "old")
        rows = list((await conn.execute(keyset_select(stmt, keyset, limit=page_size,
                                                      by_id=FTS.c.rowid if by_index else None))).all())
        beyond = len(rows) > page_size  # more rows in the direction read
        rows = rows[:page_size] if keyset.forward else rows[:page_size][::-1]
        came_from = keyset.cursor is not None
        has_newer, has_older = (came_from, beyond) if keyset.forward else (beyond, came_from)
        newer = {"before": Cursor.of(rows[0]).token(), "n": str(page - 1)} if rows and has_newer else None
        older = {"after": Cursor.of(rows[-1]).token(), "n": str(page + 1)} if rows and has_older else None
    progress = await _progress(conn, [int(row.id) for row in rows])
    out = []
    for row in rows:
        item = dict(row._mapping)
        item["n"], item["done"] = progress.get(int(row.id), (0, 0))
        item["summary"] = _summary(row.raw_text)
        item["received_local"] = row.received_at.astimezone(tz)
        out.append(item)
    return TaskPage(rows=out, total=total, more_than=more_than, page=page, newer=newer, older=older)


async def _month_ids(conn: AsyncConnection, month: str, tz: ZoneInfo) -> tuple[int, int]:
    """The lowest and highest id of the tasks received in `month` (from the time index; (0, 0) for none)."""
    start, end = month_bounds(month, tz)
    low, high = (await conn.execute(sa.select(sa.func.min(TASKS.c.id), sa.func.max(TASKS.c.id))
                                    .where(TASKS.c.received_at >= start, TASKS.c.received_at < end))).one()
    return int(low or 0), int(high or 0)


def keyset_of(query: Any, *, descending: bool = True) -> tuple[Keyset, int]:
    """The page a log link asks for (``after=`` / ``before=`` a cursor, ``n=`` its number), or the first."""
    try:
        number = max(1, int(query.get("n", "1")))
    except ValueError:
        number = 1
    for name, forward in (("after", True), ("before", False)):
        token = query.get(name)
        cursor = Cursor.parse(token) if token else None
        if cursor is not None:
            return Keyset(cursor=cursor, forward=forward, descending=descending), number
    return Keyset(descending=descending), 1


async def _progress(conn: AsyncConnection, task_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(communities, done) of the page's tasks only (never a GROUP BY over every assignment)."""
    if not task_ids:
        return {}
    done = sa.func.sum(sa.case((TARGETS.c.status == TargetStatus.done, 1), else_=0))
    rows = await conn.execute(
        sa.select(TARGETS.c.task_id, sa.func.count(TARGETS.c.id), done)
        .where(TARGETS.c.task_id.in_(task_ids)).group_by(TARGETS.c.task_id))
    return {int(task_id): (int(n), int(d or 0)) for task_id, n, d in rows}


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
    """The departments with their active clerks (their tasks: ``rollups.get_department_tasks``)."""
    clerks = (
        sa.select(ACCOUNTS.c.department_id, sa.func.count(ACCOUNTS.c.id).label("clerks"))
        .where(ACCOUNTS.c.role == Role.clerk, ACCOUNTS.c.active.is_(True)).group_by(ACCOUNTS.c.department_id).subquery()
    )
    rows = await conn.execute(
        sa.select(DEPARTMENTS.c.id, DEPARTMENTS.c.name, DEPARTMENTS.c.active, clerks.c.clerks)
        .outerjoin(clerks, clerks.c.department_id == DEPARTMENTS.c.id)
        .order_by(DEPARTMENTS.c.active.desc(), DEPARTMENTS.c.name)
    )
    return [dict(r._mapping) for r in rows]


async def list_communities(conn: AsyncConnection, *, counted_open: Mapping[str, int] | None = None,
                           ) -> list[dict[str, Any]]:
    """The communities with their heads and open assignments: `counted_open` (by name, the scheduler's recent
    count: ``rollups.get_counted_open``) or, without it, counted now."""
    heads = (
        sa.select(ACCOUNTS.c.community_id, sa.func.count(ACCOUNTS.c.id).label("heads"))
        .where(ACCOUNTS.c.role == Role.head, ACCOUNTS.c.active.is_(True)).group_by(ACCOUNTS.c.community_id).subquery()
    )
    stmt = (
        sa.select(COMMUNITIES.c.id, COMMUNITIES.c.name, COMMUNITIES.c.staff, COMMUNITIES.c.active, COMMUNITIES.c.robot_webhook,
                  heads.c.heads)
        .outerjoin(heads, heads.c.community_id == COMMUNITIES.c.id)
        .order_by(COMMUNITIES.c.active.desc(), COMMUNITIES.c.id)
    )
    if counted_open is not None:
        return [{**r._mapping, "open": counted_open.get(str(r.name), 0)} for r in await conn.execute(stmt)]
    open_targets = (
        sa.select(TARGETS.c.community_id, sa.func.count().label("open"))  # count(*): the index entries alone
        .where(TARGETS.c.status == TargetStatus.open).group_by(TARGETS.c.community_id).subquery()
    )
    stmt = stmt.add_columns(open_targets.c.open).outerjoin(open_targets, open_targets.c.community_id == COMMUNITIES.c.id)
    return [dict(r._mapping) for r in await conn.execute(stmt)]


def _with_scope_name(stmt: Any, table: sa.Table) -> Any:
    """`stmt` with ``scope``: the district's or street's name an admin's account or invite is limited to."""
    district, street = DISTRICTS.alias("scope_district"), STREETS.alias("scope_street")
    return (stmt.add_columns(sa.func.coalesce(district.c.name, street.c.name).label("scope"))
            .outerjoin(district, sa.and_(table.c.scope_level == OrgLevel.district.value,
                                         district.c.id == table.c.scope_id))
            .outerjoin(street, sa.and_(table.c.scope_level == OrgLevel.street.value, street.c.id == table.c.scope_id)))


async def list_accounts(conn: AsyncConnection, *, limit: int = 500) -> list[dict[str, Any]]:
    rows = await conn.execute(_with_scope_name(
        sa.select(ACCOUNTS.c.id, ACCOUNTS.c.channel, ACCOUNTS.c.external_id, ACCOUNTS.c.display_name, ACCOUNTS.c.role,
                  ACCOUNTS.c.active, ACCOUNTS.c.bound_at, ACCOUNTS.c.last_seen_at,
                  DEPARTMENTS.c.name.label("department"), COMMUNITIES.c.name.label("community"),
                  DISTRICTS.c.name.label("district"))
        .outerjoin(DEPARTMENTS, DEPARTMENTS.c.id == ACCOUNTS.c.department_id)
        .outerjoin(COMMUNITIES, COMMUNITIES.c.id == ACCOUNTS.c.community_id)
        .outerjoin(STREETS, STREETS.c.id == COMMUNITIES.c.street_id)
        .outerjoin(DISTRICTS, DISTRICTS.c.id == sa.func.coalesce(DEPARTMENTS.c.district_id, STREETS.c.district_id))
        .order_by(ACCOUNTS.c.id.desc()).limit(limit), ACCOUNTS))
    return [dict(r._mapping) for r in rows]


async def list_invites(conn: AsyncConnection, *, limit: int = 100) -> list[dict[str, Any]]:
    used_by = ACCOUNTS.alias("used_by")
    rows = await conn.execute(_with_scope_name(
        sa.select(INVITES.c.id, INVITES.c.hint, INVITES.c.role, INVITES.c.expires_at, INVITES.c.used_at,
                  INVITES.c.revoked_at, INVITES.c.revoked_by, INVITES.c.created_by,
                  INVITES.c.created_at, DEPARTMENTS.c.name.label("department"), COMMUNITIES.c.name.label("community"),
                  used_by.c.external_id.label("used_by"), DISTRICTS.c.name.label("district"))
        .outerjoin(DEPARTMENTS, DEPARTMENTS.c.id == INVITES.c.department_id)
        .outerjoin(COMMUNITIES, COMMUNITIES.c.id == INVITES.c.community_id)
        .outerjoin(STREETS, STREETS.c.id == COMMUNITIES.c.street_id)
        .outerjoin(DISTRICTS, DISTRICTS.c.id == sa.func.coalesce(DEPARTMENTS.c.district_id, STREETS.c.district_id))
        .outerjoin(used_by, used_by.c.id == INVITES.c.used_by)
        .order_by(INVITES.c.id.desc()).limit(limit), INVITES))
    return [dict(r._mapping) for r in rows]


_RULE_VERSION_COLUMNS = (RULE_VERSIONS.c.id, RULE_VERSIONS.c.author, RULE_VERSIONS.c.note, RULE_VERSIONS.c.created_at,
                         RULE_VERSIONS.c.content, RULE_VERSIONS.c.district_id, DISTRICTS.c.name.label("district"))


async def list_rule_versions(conn: AsyncConnection, *, limit: int = 50, district_id: int | None = None
                             ) -> list[dict[str, Any]]:
    """The city default's versions, and `district_id`'s own when given (``district``: its name, or None)."""
    level: sa.ColumnElement[bool] = RULE_VERSIONS.c.district_id.is_(None)
    if district_id is not None:
        level = sa.or_(level, RULE_VERSIONS.c.district_id == district_id)
    rows = await conn.execute(
        sa.select(*_RULE_VERSION_COLUMNS).outerjoin(DISTRICTS, DISTRICTS.c.id == RULE_VERSIONS.c.district_id)
        .where(level).order_by(RULE_VERSIONS.c.id.desc()).limit(limit)
    )
    return [dict(r._mapping) for r in rows]


async def get_rule_version(conn: AsyncConnection, *, version_id: int) -> dict[str, Any] | None:
    """One rule version (the city's or a district's; a scoped reader sees the city's and its own)."""
    row = (await conn.execute(
        sa.select(*_RULE_VERSION_COLUMNS).outerjoin(DISTRICTS, DISTRICTS.c.id == RULE_VERSIONS.c.district_id)
        .where(RULE_VERSIONS.c.id == version_id))).first()
    return dict(row._mapping) if row is not None else None


async def list_district_names(conn: AsyncConnection) -> dict[int, str]:
    """The districts the reader may see, by id (a district's lists are chosen from these)."""
    rows = await conn.execute(sa.select(DISTRICTS.c.id, DISTRICTS.c.name).order_by(DISTRICTS.c.name))
    return {int(r.id): str(r.name) for r in rows}


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



@dataclass(frozen=True)
class Dashboard:
    month: str
    current: Figures
    months: list[Figures]  # oldest first, ending with `month`
    pending_review: int  # counted up to paging.COUNT_CAP
    pending_more: bool = False  # and more wait
    counted_at: dt.datetime | None = None  # the open month's figures are the scheduler's count of this time


async def build_dashboard(
    conn: AsyncConnection, *, month: str, settings: IntakeSettings, now: dt.datetime, community: str = ""
) -> Dashboard:
    """This month and the twelve before it, from the figures every report reads (closed months from their
    rollups, the open month from the scheduler's last count when recent: ``rollups.get_open_month``); raises
    ``intake.errors.NotFound`` for an unknown community."""
    scope = Scope(ScopeKind.community, community) if community else DISTRICT_SCOPE
    opened = await get_open_month(conn, month=month, scope=scope, settings=settings, now=now)
    months = await get_trend(conn, month=month, scope=scope, settings=settings, now=now, months=13,
                             known={month: opened.figures} if opened else None)
    pending, more = await count_capped(  # bounded: the queue's own page shows them
        conn, sa.select(TASKS.c.id).where(TASKS.c.status == TaskStatus.pending_review.value))
    return Dashboard(month=month, current=months[-1], months=months, pending_review=pending, pending_more=more,
                     counted_at=opened.as_of if opened else None)


def group_months(months: list[Figures]) -> dict[str, dict[str, int]]:
    """Department → month → tasks, for the thirteen-month table."""
    table: dict[str, dict[str, int]] = defaultdict(dict)
    for f in months:
        for dept, counts in f.by_department:
            table[dept][f.month] = counts.tasks
    return dict(table)
