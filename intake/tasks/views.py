"""What a task looks like to the chat layer and the console: frozen views, read by code."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.errors import NotFound
from intake.store.models import COMMUNITIES, TASK_TARGETS, TASKS, TargetStatus, TaskSource, TaskStatus
from intake.texts_notify import TASK_NOT_FOUND, summarise

__all__ = [
    "OPEN_STATUSES",
    "TargetView",
    "TaskView",
    "TaskText",
    "CommunityTask",
    "get_task",
    "get_task_text",
    "list_clerk_tasks",
    "list_community_targets",
]

OPEN_STATUSES = (TaskStatus.accepted, TaskStatus.pending_review)


@dataclass(frozen=True)
class TargetView:
    community: str
    status: str
    due_date: dt.date | None
    done_at: dt.datetime | None


@dataclass(frozen=True)
class TaskView:
    id: int
    code: str
    department: str | None
    kind: str
    nature: str
    listing: str
    item: str | None
    certificate: str | None
    deadline: dt.date | None
    deadline_time: dt.time | None
    recurrence: str | None
    funded: bool
    amount_yuan: float | None
    status: str
    sender_id: int | None
    raw_text: str
    quantity_value: int | None
    quantity_unit: str | None
    needs_review: bool
    short_notice: bool
    duplicate_of_code: str | None
    repeat_collection: bool
    targets: tuple[TargetView, ...] = field(default=())
    source: str = TaskSource.bot.value
    trace_demand: tuple[str, ...] = ()
    funding_note: str | None = None
    review_note: str | None = None
    forwarded_by: str | None = None  # the office that forwarded it
    escalation: tuple[str, ...] = ()  # 层层加码: "deadline" (an earlier deadline), "work" (more work)
    issuer_deadline: dt.date | None = None  # the issuing department's own deadline, when the forward moved it
    issuer_deadline_time: dt.time | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True)
class TaskText:
    """What the console's correction and admission forms read of a task before changing it."""

    raw_text: str
    department: str | None
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class CommunityTask:
    code: str
    department: str | None
    kind: str
    listing: str
    item: str | None
    due_date: dt.date | None
    deadline_time: dt.time | None
    summary: str


async def get_task(conn: AsyncConnection, *, code: str) -> TaskView:
    code = code.strip().upper()
    row = (await conn.execute(sa.select(TASKS).where(TASKS.c.code == code))).first()
    if row is None:
        raise NotFound(code)
    targets = (
        await conn.execute(
            sa.select(COMMUNITIES.c.name, TASK_TARGETS.c.status, TASK_TARGETS.c.due_date, TASK_TARGETS.c.done_at)
            .join(COMMUNITIES, COMMUNITIES.c.id == TASK_TARGETS.c.community_id)
            .where(TASK_TARGETS.c.task_id == row.id)
            .order_by(COMMUNITIES.c.id)
        )
    ).all()
    duplicate_code = None
    if row.duplicate_of is not None:
        duplicate_code = (await conn.execute(sa.select(TASKS.c.code).where(TASKS.c.id == row.duplicate_of))).scalar_one_or_none()
    return TaskView(
        id=row.id, code=row.code, department=row.department, kind=row.kind, nature=row.nature,
        listing=row.listing, item=row.item, certificate=row.certificate, deadline=row.deadline,
        deadline_time=row.deadline_time, recurrence=row.recurrence, funded=row.funded,
        amount_yuan=row.amount_yuan, status=row.status, sender_id=row.sender_id, raw_text=row.raw_text,
        quantity_value=row.quantity_value, quantity_unit=row.quantity_unit, needs_review=row.needs_review,
        short_notice=row.short_notice, duplicate_of_code=duplicate_code, repeat_collection=row.repeat_collection,
        targets=tuple(TargetView(community=t.name, status=t.status, due_date=t.due_date, done_at=t.done_at) for t in targets),
        source=row.source, trace_demand=tuple(row.trace_demand or ()), funding_note=row.funding_note,
        review_note=row.review_note, forwarded_by=row.forwarded_by, escalation=tuple(row.escalation or ()),
        issuer_deadline=row.issuer_deadline, issuer_deadline_time=row.issuer_deadline_time,
    )


async def get_task_text(conn: AsyncConnection, *, code: str) -> TaskText:
    """The notice's text, department and keywords; NotFound (with what to do) when there is no such task."""
    row = (await conn.execute(
        sa.select(TASKS.c.raw_text, TASKS.c.department, TASKS.c.keywords).where(TASKS.c.code == code.strip().upper())
    )).first()
    if row is None:
        raise NotFound(TASK_NOT_FOUND.format(code=code))
    return TaskText(raw_text=row.raw_text, department=row.department, keywords=tuple(row.keywords or ()))


async def list_clerk_tasks(conn: AsyncConnection, *, account_id: int, limit: int = 20) -> list[TaskView]:
    codes = (
        await conn.execute(
            sa.select(TASKS.c.code)
            .where(TASKS.c.sender_id == account_id, TASKS.c.status.in_(OPEN_STATUSES))
            .order_by(TASKS.c.deadline.is_(None), TASKS.c.deadline, TASKS.c.id)
            .limit(limit)
        )
    ).scalars().all()
    return [await get_task(conn, code=code) for code in codes]


async def list_community_targets(conn: AsyncConnection, *, community_id: int, limit: int = 20) -> list[CommunityTask]:
    """Open tasks for a community, nearest deadline first, tasks without a deadline last."""
    rows = (
        await conn.execute(
            sa.select(TASKS.c.code, TASKS.c.department, TASKS.c.kind, TASKS.c.listing, TASKS.c.item, TASK_TARGETS.c.due_date,
                      TASKS.c.deadline_time, TASKS.c.raw_text)
            .join(TASKS, TASKS.c.id == TASK_TARGETS.c.task_id)
            .where(
                TASK_TARGETS.c.community_id == community_id,
                TASK_TARGETS.c.status == TargetStatus.open,
                TASKS.c.status == TaskStatus.accepted,
            )
            .order_by(TASK_TARGETS.c.due_date.is_(None), TASK_TARGETS.c.due_date, TASKS.c.id)
            .limit(limit)
        )
    ).all()
    return [
        CommunityTask(code=r.code, department=r.department, kind=r.kind, listing=r.listing, item=r.item,
                      due_date=r.due_date, deadline_time=r.deadline_time, summary=summarise(r.raw_text, limit=28))
        for r in rows
    ]
