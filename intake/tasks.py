"""Tasks: storing a classified notice with its targets and reminders, and what clerks and heads do to it.

Every function here runs inside a writer unit (one transaction, one savepoint per
message); none commits. Results are plain frozen dataclasses that the chat layer
turns into Chinese replies.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from classifiers import Classification, Listing
from intake.accounts import AccountView, get_or_add_department
from intake.audit import add_audit
from intake.errors import Forbidden, InvalidRequest, NotFound
from intake.reminders import add_reminders, is_short_notice, roll_recurring
from intake.settings import IntakeSettings
from intake.sources import NoticeSource, source_values
from intake.store.models import (
    COMMUNITIES,
    DEPARTMENTS,
    RATINGS,
    REMINDERS,
    TASK_CODE_COUNTERS,
    TASK_TARGETS,
    TASKS,
    TargetStatus,
    TaskStatus,
)
from intake.store.recent import IntakeMemory, RecentTask
from intake.store.sqlite_fast import Prepared
from intake.texts_notify import summarise

__all__ = [
    "TaskView",
    "TargetView",
    "NewTask",
    "OPEN_STATUSES",
    "create_task",
    "set_task_deadline",
    "get_task",
    "list_clerk_tasks",
    "list_community_targets",
    "withdraw_task",
    "complete_target",
    "rate_department",
    "add_target_reminders",
    "next_task_code",
]

_INSERT_TASK = Prepared(sa.insert(TASKS).returning(TASKS.c.id))
_INSERT_TARGETS = Prepared(sa.insert(TASK_TARGETS))
_MARK_REPEAT = Prepared(
    sa.update(TASKS).where(TASKS.c.id == sa.bindparam("task_id")).values(repeat_collection=sa.true())
)
OPEN_STATUSES = (TaskStatus.accepted.value, TaskStatus.pending_review.value)


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

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True)
class NewTask:
    task: TaskView
    asks_deadline: bool
    duplicate_of_code: str | None
    repeat_collection_with: tuple[str, ...]  # other departments that asked for the same data


def _counter_upsert(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(TASK_CODE_COUNTERS)
        .values(day=sa.bindparam("day"), last=1)
        .on_conflict_do_update(index_elements=["day"], set_={"last": TASK_CODE_COUNTERS.c.last + 1})
        .returning(TASK_CODE_COUNTERS.c.last)
    )


_COUNTER_UPSERT = {name: Prepared(_counter_upsert(name)) for name in ("postgresql", "sqlite")}


async def next_task_code(conn: AsyncConnection, *, day: dt.date) -> str:
    """R-YYYYMMDD-NNNN: a per-day counter, safe under concurrent writers (an upsert on both dialects)."""
    key = day.strftime("%Y%m%d")
    stmt = _COUNTER_UPSERT["postgresql" if conn.dialect.name == "postgresql" else "sqlite"]
    number = int((await stmt.rows(conn, {"day": key}))[0][0])
    return f"R-{key}-{number:04d}"


def _status_for(c: Classification) -> str:
    if c.listing == Listing.NEGATIVE:
        return TaskStatus.refused.value
    if c.listing == Listing.UNLISTED:
        return TaskStatus.pending_review.value
    return TaskStatus.accepted.value


_TARGET_IDS = Prepared(
    sa.select(TASK_TARGETS.c.id).where(TASK_TARGETS.c.task_id == sa.bindparam("task_id")).order_by(TASK_TARGETS.c.id)
)


async def add_target_reminders(
    conn: AsyncConnection, *, task_id: int, received_at: dt.datetime, settings: IntakeSettings, code: str
) -> int:
    """Plan reminders for every open target of an accepted task that has a deadline."""
    rows = (
        await conn.execute(
            sa.select(TASK_TARGETS.c.id, TASK_TARGETS.c.due_date)
            .where(TASK_TARGETS.c.task_id == task_id, TASK_TARGETS.c.status == TargetStatus.open.value)
        )
    ).all()
    return await add_reminders(
        conn, targets=[(int(row.id), row.due_date, f"{code}:{row.id}") for row in rows if row.due_date is not None],
        now=received_at, settings=settings,
    )


async def create_task(
    conn: AsyncConnection,
    *,
    account: AccountView,
    classification: Classification,
    msg_id: str,
    channel: str,
    text: str,
    received_at: dt.datetime,
    settings: IntakeSettings,
    memory: IntakeMemory,
    source: NoticeSource | None = None,
) -> NewTask:
    """Store one notice: the task, its targets, its reminders and the audit entry, in the caller's transaction.

    The directory and the look-backs for resends and 重复采集 come from ``memory`` (brought up to date
    by the writer at the start of this transaction), not from queries per notice.
    """
    c = classification
    tz = settings.tz
    department_name = c.department or account.department
    department_id = None
    if department_name:
        department_id = memory.departments.get(department_name)
        if department_id is None:
            department_id = await get_or_add_department(conn, name=department_name)
    local_day = received_at.astimezone(tz).date()
    code = await next_task_code(conn, day=local_day)
    status = _status_for(c)
    duplicate = memory.find_duplicate(department_id=department_id, text=text, now=received_at)
    same_data = memory.find_same_data(department_id=department_id, kind=c.kind.value, keywords=c.keywords,
                                      now=received_at)
    short = c.deadline is not None and is_short_notice(
        received_at=received_at, due=c.deadline, tz=tz, working_days=settings.schedule.short_notice_working_days
    )
    quantity = c.quantity
    # a constant statement with separate parameters: compiled once, cached by SQLAlchemy
    inserted = await _INSERT_TASK.rows(
        conn,
        {
            "code": code,
            "msg_id": msg_id,
            "channel": channel,
            "sender_id": account.id,
            "department_id": department_id,
            "department": department_name,
            "raw_text": text,
            "kind": c.kind.value,
            "nature": c.nature.value,
            "listing": c.listing.value,
            "item": c.item,
            "certificate": c.certificate.value if c.certificate else None,
            "deadline": c.deadline,
            "deadline_time": c.deadline_time,
            "recurrence": c.recurrence.value if c.recurrence else None,
            "quantity_value": quantity.value if quantity else None,
            "quantity_unit": quantity.unit if quantity else None,
            "funded": c.funded,
            "amount_yuan": c.amount_yuan,
            "emergency": c.emergency,
            "communities": list(c.communities),
            "keywords": list(c.keywords),
            "evidence": c.to_json("")["evidence"],
            "confidence": c.confidence,
            "needs_review": c.needs_review,
            "rules_version": c.rules_version,
            "status": status,
            "duplicate_of": duplicate[0] if duplicate else None,
            "repeat_collection": bool(same_data),
            "short_notice": short,
            "corrected": False,
            **source_values(source),
            "received_at": received_at,
            "created_at": received_at,
            "updated_at": received_at,
        },
    )
    task_id = int(inserted[0][0])
    if same_data:
        await _MARK_REPEAT.many(conn, [{"task_id": t} for t, _ in same_data])
    target_status = TargetStatus.refused.value if status == TaskStatus.refused.value else TargetStatus.open.value
    communities = memory.target_communities(c.communities)
    target_ids: list[int] = []
    if communities:
        # one executemany, then one read of the ids (RETURNING with many rows is a statement per row)
        await _INSERT_TARGETS.many(
            conn,
            [
                {"task_id": task_id, "community_id": cid, "status": target_status, "due_date": c.deadline}
                for cid, _ in communities
            ],
        )
        target_ids = [int(row[0]) for row in await _TARGET_IDS.rows(conn, {"task_id": task_id})]
    if status == TaskStatus.accepted.value and c.deadline is not None:
        await add_reminders(conn, targets=[(tid, c.deadline, f"{code}:{tid}") for tid in target_ids],
                            now=received_at, settings=settings)
    memory.add(RecentTask(
        id=task_id, code=code, department_id=department_id, department=department_name, kind=c.kind.value,
        keywords=frozenset(c.keywords), raw_text=text, duplicate_of=duplicate[0] if duplicate else None,
        received_at=received_at,
    ))
    await add_audit(
        conn, actor=f"account:{account.id}", entity="task", entity_id=task_id, action="create",
        after={"code": code, "status": status, "listing": c.listing.value, "item": c.item, "kind": c.kind.value},
        now=received_at,
    )
    view = TaskView(
        id=task_id, code=code, department=department_name, kind=c.kind.value, nature=c.nature.value,
        listing=c.listing.value, item=c.item, certificate=c.certificate.value if c.certificate else None,
        deadline=c.deadline, deadline_time=c.deadline_time, recurrence=c.recurrence.value if c.recurrence else None,
        funded=c.funded, amount_yuan=c.amount_yuan, status=status, sender_id=account.id, raw_text=text,
        quantity_value=quantity.value if quantity else None, quantity_unit=quantity.unit if quantity else None,
        needs_review=c.needs_review, short_notice=short, duplicate_of_code=duplicate[1] if duplicate else None,
        repeat_collection=bool(same_data),
        targets=tuple(TargetView(community=name, status=target_status, due_date=c.deadline, done_at=None)
                      for _, name in communities),
    )
    asks_deadline = c.deadline is None and status != TaskStatus.refused.value
    return NewTask(
        task=view,
        asks_deadline=asks_deadline,
        duplicate_of_code=duplicate[1] if duplicate else None,
        repeat_collection_with=tuple(sorted({d for _, d in same_data if d})),
    )


async def set_task_deadline(
    conn: AsyncConnection,
    *,
    task_id: int,
    deadline: dt.date | None,
    deadline_time: dt.time | None,
    actor: str,
    now: dt.datetime,
    settings: IntakeSettings,
) -> TaskView:
    row = (await conn.execute(sa.select(TASKS.c.code, TASKS.c.deadline, TASKS.c.status, TASKS.c.received_at).where(TASKS.c.id == task_id))).one()
    short = deadline is not None and is_short_notice(
        received_at=row.received_at, due=deadline, tz=settings.tz,
        working_days=settings.schedule.short_notice_working_days,
    )
    await conn.execute(
        sa.update(TASKS).where(TASKS.c.id == task_id)
        .values(deadline=deadline, deadline_time=deadline_time, short_notice=short, updated_at=now)
    )
    await conn.execute(
        sa.update(TASK_TARGETS).where(TASK_TARGETS.c.task_id == task_id, TASK_TARGETS.c.status == TargetStatus.open.value)
        .values(due_date=deadline)
    )
    if deadline is not None and row.status == TaskStatus.accepted.value:
        await add_target_reminders(conn, task_id=task_id, received_at=now, settings=settings, code=row.code)
    await add_audit(
        conn, actor=actor, entity="task", entity_id=task_id, action="set_deadline",
        before={"deadline": row.deadline}, after={"deadline": deadline, "deadline_time": deadline_time}, now=now,
    )
    return await get_task(conn, code=row.code)


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
    )


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


async def list_community_targets(conn: AsyncConnection, *, community_id: int, limit: int = 20) -> list[CommunityTask]:
    """Open tasks for a community, nearest deadline first, tasks without a deadline last."""
    rows = (
        await conn.execute(
            sa.select(TASKS.c.code, TASKS.c.department, TASKS.c.kind, TASKS.c.listing, TASKS.c.item, TASK_TARGETS.c.due_date,
                      TASKS.c.deadline_time, TASKS.c.raw_text)
            .join(TASKS, TASKS.c.id == TASK_TARGETS.c.task_id)
            .where(
                TASK_TARGETS.c.community_id == community_id,
                TASK_TARGETS.c.status == TargetStatus.open.value,
                TASKS.c.status == TaskStatus.accepted.value,
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


async def withdraw_task(conn: AsyncConnection, *, account: AccountView, code: str, now: dt.datetime) -> TaskView:
    task = await get_task(conn, code=code)
    if task.sender_id != account.id:
        raise Forbidden(f"{task.code} 不是您发出的任务,只能撤回自己发出的任务。")
    if not task.is_open:
        raise InvalidRequest(f"{task.code} 当前状态为“{task.status}”,只有进行中或待审核的任务可以撤回。")
    await conn.execute(
        sa.update(TASKS).where(TASKS.c.id == task.id).values(status=TaskStatus.withdrawn.value, updated_at=now)
    )
    target_ids = sa.select(TASK_TARGETS.c.id).where(TASK_TARGETS.c.task_id == task.id)
    await conn.execute(
        sa.update(TASK_TARGETS).where(TASK_TARGETS.c.task_id == task.id, TASK_TARGETS.c.status == TargetStatus.open.value)
        .values(status=TargetStatus.withdrawn.value)
    )
    await conn.execute(
        sa.update(REMINDERS).where(REMINDERS.c.target_id.in_(target_ids), REMINDERS.c.sent_at.is_(None))
        .values(cancelled=True)
    )
    await add_audit(conn, actor=f"account:{account.id}", entity="task", entity_id=task.id, action="withdraw",
                    before={"status": task.status}, after={"status": TaskStatus.withdrawn.value}, now=now)
    return await get_task(conn, code=task.code)


async def complete_target(
    conn: AsyncConnection, *, account: AccountView, code: str, now: dt.datetime, settings: IntakeSettings
) -> tuple[TaskView, bool]:
    """Mark the head's community done on a task; returns the task and whether it rolled to a next occurrence."""
    task = await get_task(conn, code=code)
    if account.community_id is None:
        raise Forbidden("您的账号未绑定社区,无法标记完成。")
    target = (
        await conn.execute(
            sa.select(TASK_TARGETS.c.id, TASK_TARGETS.c.status, TASK_TARGETS.c.due_date)
            .where(TASK_TARGETS.c.task_id == task.id, TASK_TARGETS.c.community_id == account.community_id)
        )
    ).first()
    if target is None:
        raise Forbidden(f"{task.code} 没有派给{account.community},不能由本社区标记完成。")
    if task.status != TaskStatus.accepted.value or target.status != TargetStatus.open.value:
        raise InvalidRequest(f"{task.code} 在本社区的状态为“{target.status}”,无需再标记完成。")
    rolled = False
    if task.recurrence:
        rolled = await roll_recurring(conn, target_id=target.id, now=now, settings=settings)
    if not rolled:
        await conn.execute(
            sa.update(TASK_TARGETS).where(TASK_TARGETS.c.id == target.id)
            .values(status=TargetStatus.done.value, done_at=now, done_by=account.id)
        )
        await conn.execute(
            sa.update(REMINDERS).where(REMINDERS.c.target_id == target.id, REMINDERS.c.sent_at.is_(None))
            .values(cancelled=True)
        )
        remaining = (
            await conn.execute(
                sa.select(sa.func.count()).select_from(TASK_TARGETS)
                .where(TASK_TARGETS.c.task_id == task.id, TASK_TARGETS.c.status == TargetStatus.open.value)
            )
        ).scalar_one()
        if remaining == 0:
            await conn.execute(
                sa.update(TASKS).where(TASKS.c.id == task.id).values(status=TaskStatus.done.value, updated_at=now)
            )
    await add_audit(conn, actor=f"account:{account.id}", entity="task_target", entity_id=target.id, action="complete",
                    before={"status": target.status, "community": account.community},
                    after={"status": "rolled" if rolled else TargetStatus.done.value}, now=now)
    return await get_task(conn, code=task.code), rolled


async def rate_department(
    conn: AsyncConnection, *, account: AccountView, department: str, score: int, comment: str | None,
    now: dt.datetime, tz: ZoneInfo,
) -> str:
    """Record (or replace) this month's rating of a department by the head's community; returns the month."""
    if account.community_id is None:
        raise Forbidden("只有绑定社区的账号可以评价部门。")
    if not 1 <= score <= 5:
        raise InvalidRequest(f"评分 {score} 不在 1-5 之间,请回复如“评价 民政局 4 材料要求清楚”。")
    department_id = (await conn.execute(sa.select(DEPARTMENTS.c.id).where(DEPARTMENTS.c.name == department))).scalar_one_or_none()
    if department_id is None:
        raise NotFound(department)
    month = now.astimezone(tz).strftime("%Y-%m")
    existing = (
        await conn.execute(
            sa.select(RATINGS.c.id, RATINGS.c.score, RATINGS.c.comment).where(
                RATINGS.c.community_id == account.community_id, RATINGS.c.department_id == department_id, RATINGS.c.month == month
            )
        )
    ).first()
    values: dict[str, Any] = {"score": score, "comment": comment, "account_id": account.id, "created_at": now}
    if existing is None:
        await conn.execute(sa.insert(RATINGS).values(community_id=account.community_id, department_id=department_id,
                                                    month=month, **values))
    else:
        await conn.execute(sa.update(RATINGS).where(RATINGS.c.id == existing.id).values(**values))
    await add_audit(conn, actor=f"account:{account.id}", entity="rating", entity_id=None, action="rate",
                    before={"score": existing.score} if existing else None,
                    after={"department": department, "month": month, "score": score, "comment": comment}, now=now)
    return month
