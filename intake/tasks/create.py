"""Storing a classified notice: the task, its targets, its reminders and the audit entry, in one transaction."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from classifiers import Classification, Listing
from classifiers.search import join_terms
from intake.accounts import AccountView, get_or_add_department
from intake.audit import add_audit
from intake.catalogue.forms import FormEntry
from intake.catalogue.notice import CatalogueRecord, check_notice, get_form_rules, record_notice
from intake.reminders import add_reminders, is_short_notice
from intake.settings import IntakeSettings
from intake.sources import NoticeSource, source_values
from intake.store import asyncpg_fast
from intake.store.models import (
    TASK_CODE_COUNTERS,
    TASK_TARGETS,
    TASKS,
    Role,
    TargetStatus,
    TaskSource,
    TaskStatus,
)
from intake.store.recent import IntakeMemory, RecentTask
from intake.store.side import side_rows
from intake.store.sqlite_fast import Prepared
from intake.tasks.funding import HELD_FOR_FUNDING, needs_funding_answer
from intake.tasks.views import TargetView, TaskView

__all__ = ["NewTask", "create_task", "next_task_code", "status_for_listing"]

_INSERT_TASK = Prepared(sa.insert(TASKS).returning(TASKS.c.id))
_INSERT_TARGETS = Prepared(sa.insert(TASK_TARGETS))
# only a task not yet marked: no row lock (and no trigger) for one that is, which another process may hold
_MARK_REPEAT = Prepared(
    sa.update(TASKS).where(TASKS.c.id == sa.bindparam("task_id"), TASKS.c.repeat_collection.is_(sa.false()))
    .values(repeat_collection=sa.true()),
    flush_order="task_id",  # sent before COMMIT with the batch's other marks, each row locked in id order
)
# one multi-row INSERT … RETURNING in the order of the rows (SQLAlchemy's insertmanyvalues), for a connection
# with a round trip per statement (PostgreSQL); the sqlite3 cursor path inserts, then reads the ids
_INSERT_TARGETS_RETURNING = sa.insert(TASK_TARGETS).returning(TASK_TARGETS.c.id, sort_by_parameter_order=True)
_TARGET_IDS = Prepared(
    sa.select(TASK_TARGETS.c.id).where(TASK_TARGETS.c.task_id == sa.bindparam("task_id")).order_by(TASK_TARGETS.c.id)
)


def _targets_from_array() -> sa.Insert:
    """PostgreSQL, on asyncpg directly: all of a task's targets from one array of community ids, in one
    statement prepared once (the multi-row INSERT has one form per number of targets)."""
    t = TASK_TARGETS.c
    ids = sa.func.unnest(sa.bindparam("communities", type_=postgresql.ARRAY(sa.Integer))).table_valued(
        "community_id", with_ordinality="n").render_derived("targets")
    rows = sa.select(sa.bindparam("task", type_=t.task_id.type), ids.c.community_id,
                     sa.bindparam("status", type_=t.status.type), sa.bindparam("due", type_=t.due_date.type),
                     sa.bindparam("announced", type_=t.announced_at.type), sa.bindparam("quiet", type_=t.quiet.type)
                     ).order_by(ids.c.n)
    columns = ["task_id", "community_id", "status", "due_date", "announced_at", "quiet"]
    return sa.insert(TASK_TARGETS).from_select(columns, rows).returning(t.id, t.community_id)


_INSERT_TARGETS_FROM_ARRAY = Prepared(_targets_from_array())


@dataclass(frozen=True)
class NewTask:
    task: TaskView
    asks_deadline: bool
    duplicate_of_code: str | None
    repeat_collection_with: tuple[str, ...]  # other departments that asked for the same data
    stopped_form: FormEntry | None = None  # refused: the notice sends a form the catalogue stopped
    catalogue: CatalogueRecord = CatalogueRecord()  # forms registered, 重复采集 at field level, merged forms
    asks_funding: bool = False  # [admission] unfunded_assist "ask"/"hold": the clerk is asked once


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
    """R-YYYYMMDD-NNNN: a per-day counter, safe under concurrent writers (an upsert on both dialects; on
    PostgreSQL committed beside the write transaction, see :mod:`intake.store.side`)."""
    key = day.strftime("%Y%m%d")
    stmt = _COUNTER_UPSERT["postgresql" if conn.dialect.name == "postgresql" else "sqlite"]
    number = int((await side_rows(conn, stmt, {"day": key}))[0][0])
    return f"R-{key}-{number:04d}"


def status_for_listing(listing: str) -> TaskStatus:
    """A task on the negative list is refused, one on no list waits for review, the rest are accepted."""
    if listing == Listing.NEGATIVE:
        return TaskStatus.refused
    if listing == Listing.UNLISTED:
        return TaskStatus.pending_review
    return TaskStatus.accepted


def _status_for(c: Classification, *, unfunded_assist: str) -> TaskStatus:
    """:func:`status_for_listing`, and under ``[admission] unfunded_assist = "hold"`` an unfunded assist task
    (not an emergency) waits for its funding to be stated."""
    if unfunded_assist == "hold" and c.listing == Listing.ASSIST and not c.funded and not c.emergency:
        return TaskStatus.pending_review
    return status_for_listing(c.listing)


@dataclass(frozen=True)
class _Facts:
    """What storing a notice decides before it writes: code, status, department and the look-backs."""

    code: str
    status: TaskStatus
    department: str | None
    department_id: int | None
    duplicate: tuple[int, str] | None
    same_data: list[tuple[int, str]]
    short_notice: bool


async def _issuer_id(conn: AsyncConnection, c: Classification, *, department: str | None, account: AccountView,
                     memory: IntakeMemory) -> int | None:
    """The issuing department's row, read with context (issue 17): the sender's own when it is the sender's
    department; else that name in the sender's district (区民政局 of X), the city's when named 市…."""
    if not department:
        return None
    if department == account.department and account.department_id is not None and not c.issuer_city:
        return account.department_id
    if account.district_id is None and not c.issuer_city:
        found = memory.departments.get(department)  # a flat set-up: names are unique
        if found is not None:
            return found
    known = memory.department_in_context(department, district_id=account.district_id, city=c.issuer_city)
    if known is not None:  # the directory as the writer read it at the batch's start (a round trip less)
        return known
    return await get_or_add_department(conn, name=department, district_id=account.district_id, city=c.issuer_city)


async def _decide(conn: AsyncConnection, c: Classification, *, account: AccountView, text: str,
                  received_at: dt.datetime, settings: IntakeSettings, memory: IntakeMemory) -> _Facts:
    department = c.department or account.department
    department_id = await _issuer_id(conn, c, department=department, account=account, memory=memory)
    code = await next_task_code(conn, day=received_at.astimezone(settings.tz).date())
    short = c.deadline is not None and is_short_notice(
        received_at=received_at, due=c.deadline, tz=settings.tz,
        working_days=settings.schedule.short_notice_working_days,
    )
    return _Facts(
        code=code, status=_status_for(c, unfunded_assist=settings.admission.unfunded_assist), department=department, department_id=department_id,
        duplicate=memory.find_duplicate(department_id=department_id, text=text, now=received_at),
        same_data=list(memory.find_same_data(department_id=department_id, kind=c.kind.value, keywords=c.keywords,
                                             now=received_at)),
        short_notice=short,
    )


def _task_row(c: Classification, f: _Facts, *, account: AccountView, msg_id: str, channel: str, text: str,
              received_at: dt.datetime, source: str) -> dict[str, Any]:
    """The tasks row of a classified notice (a table of columns)."""
    quantity = c.quantity
    forwarded = bool(c.department) and account.department not in (None, c.department)
    return {
        "code": f.code, "msg_id": msg_id, "channel": channel, "sender_id": account.id,
        "department_id": f.department_id, "department": f.department, "raw_text": text,
        # a notice naming another issuer is that issuer's (its counts stay honest), forwarded by the sender's
        "forwarded_by": account.department if forwarded else None,
        "forwarded_by_id": account.department_id if forwarded else None,
        # 层层加码: the forwarder's earlier deadline is the task's; the issuer's is kept beside it
        "escalation": list(c.escalation) or None, "issuer_deadline": c.issuer_deadline,
        "issuer_deadline_time": c.issuer_deadline_time,
        "kind": c.kind.value, "nature": c.nature.value, "listing": c.listing.value, "item": c.item,
        "certificate": c.certificate.value if c.certificate else None,
        "deadline": c.deadline, "deadline_time": c.deadline_time,
        "recurrence": c.recurrence.value if c.recurrence else None,
        "quantity_value": quantity.value if quantity else None, "quantity_unit": quantity.unit if quantity else None,
        "funded": c.funded, "amount_yuan": c.amount_yuan, "emergency": c.emergency,
        "communities": list(c.communities), "keywords": list(c.keywords), "evidence": c.to_json("")["evidence"],
        "confidence": c.confidence, "needs_review": c.needs_review, "rules_version": c.rules_version,
        "status": f.status.value, "duplicate_of": f.duplicate[0] if f.duplicate else None,
        "repeat_collection": bool(f.same_data), "short_notice": f.short_notice, "corrected": False,
        "source": source, "trace_demand": list(c.trace_demand) or None, "funding_note": None,
        "received_at": received_at, "created_at": received_at, "updated_at": received_at,
        "search_terms": join_terms(c.search_terms),
    }


def _target_list(c: Classification, *, account: AccountView, memory: IntakeMemory,
                 community_ids: Sequence[tuple[int, str]] | None) -> list[tuple[int, str]]:
    """The communities a notice goes to; 各社区 (or none named) is the sender's street's or district's."""
    if community_ids is not None:
        return list(community_ids)
    street = account.street_id if account.role != Role.head else None
    return memory.target_communities(c.communities, district_id=account.district_id, street_id=street)


async def _add_targets(conn: AsyncConnection, *, task_id: int, community_ids: list[int], status: TargetStatus,
                       due: dt.date | None, announced_at: dt.datetime | None) -> list[int]:
    if not community_ids:
        return []
    if await asyncpg_fast.driver_of(conn) is not None:
        returned = await _INSERT_TARGETS_FROM_ARRAY.rows(conn, {
            "task": task_id, "communities": community_ids, "status": status.value, "due": due,
            "announced": announced_at, "quiet": False})
        by_community = {int(community): int(target) for target, community in returned}  # unique per task
        return [by_community[cid] for cid in community_ids]
    rows = [{"task_id": task_id, "community_id": cid, "status": status.value, "due_date": due,
             "announced_at": announced_at, "quiet": False} for cid in community_ids]
    if getattr(conn, "driver", None) is None:
        return [int(row[0]) for row in await conn.execute(_INSERT_TARGETS_RETURNING, rows)]
    # on the sqlite3 cursor: one executemany, then one read of the ids
    await _INSERT_TARGETS.many(conn, rows)
    return [int(row[0]) for row in await _TARGET_IDS.rows(conn, {"task_id": task_id})]


def _review_note(c: Classification, f: _Facts, *, refusal_note: str | None) -> str | None:
    """Why the task waits or was refused: held under [admission] unfunded_assist = "hold" until its funding is
    stated, or the catalogue's refusal."""
    held = f.status == TaskStatus.pending_review and c.listing == Listing.ASSIST
    return HELD_FOR_FUNDING if held else refusal_note


async def _store_targets(conn: AsyncConnection, c: Classification, f: _Facts, *, task_id: int,
                         communities: list[tuple[int, str]], received_at: dt.datetime, announced: bool,
                         settings: IntakeSettings) -> tuple[TargetView, ...]:
    """The task's targets (announced: a community's own report) and, for an accepted task, their reminders."""
    status = TargetStatus.refused if f.status == TaskStatus.refused else TargetStatus.open
    target_ids = await _add_targets(conn, task_id=task_id, community_ids=[cid for cid, _ in communities],
                                    status=status, due=c.deadline, announced_at=received_at if announced else None)
    if f.status == TaskStatus.accepted and c.deadline is not None:
        await add_reminders(conn, targets=[(tid, c.deadline, f"{f.code}:{tid}") for tid in target_ids],
                            now=received_at, settings=settings)
    return tuple(TargetView(community=name, status=status.value, due_date=c.deadline, done_at=None)
                 for _, name in communities)


def _view(c: Classification, f: _Facts, *, task_id: int, account: AccountView, text: str,
          targets: tuple[TargetView, ...], source: str, review_note: str | None) -> TaskView:
    quantity = c.quantity
    return TaskView(
        id=task_id, code=f.code, department=f.department, kind=c.kind.value, nature=c.nature.value,
        listing=c.listing.value, item=c.item, certificate=c.certificate.value if c.certificate else None,
        deadline=c.deadline, deadline_time=c.deadline_time, recurrence=c.recurrence.value if c.recurrence else None,
        funded=c.funded, amount_yuan=c.amount_yuan, status=f.status.value, sender_id=account.id, raw_text=text,
        quantity_value=quantity.value if quantity else None, quantity_unit=quantity.unit if quantity else None,
        needs_review=c.needs_review, short_notice=f.short_notice,
        duplicate_of_code=f.duplicate[1] if f.duplicate else None, repeat_collection=bool(f.same_data),
        targets=targets, source=source, trace_demand=tuple(c.trace_demand), review_note=review_note,
        forwarded_by=account.department if c.department and account.department not in (None, c.department) else None,
        escalation=c.escalation, issuer_deadline=c.issuer_deadline, issuer_deadline_time=c.issuer_deadline_time,
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
    source: str = TaskSource.bot.value,
    community_ids: Sequence[tuple[int, str]] | None = None,
    original: NoticeSource | None = None,
) -> NewTask:
    """Store one notice: the task, its targets, its reminders and the audit entry, in the caller's transaction.

    ``source`` says how it reached Jianfu; a community's report (``community_ids`` its one community, whose
    head already has it) is addressed to that community and counts as announced. The directory and the
    look-backs for resends and 重复采集 come from ``memory`` (brought up to date by the writer at the start
    of this transaction), not from queries per notice.
    """
    c = classification
    notice = await check_notice(conn, text=text, rules=get_form_rules(settings.rule_paths), attachment=original)
    f = await _decide(conn, c, account=account, text=text, received_at=received_at, settings=settings, memory=memory)
    if notice.stopped is not None:  # the catalogue stopped a form this notice sends
        f = dataclasses.replace(f, status=TaskStatus.refused)
    row = _task_row(c, f, account=account, msg_id=msg_id, channel=channel, text=text, received_at=received_at,
                    source=source) | {"review_note": _review_note(c, f, refusal_note=notice.refusal_note)}
    # a constant statement with separate parameters: compiled once, cached by SQLAlchemy
    task_id = int((await _INSERT_TASK.rows(conn, row | source_values(original)))[0][0])
    catalogue = await record_notice(conn, notice=notice, task_id=task_id, department=f.department,
                                    department_id=f.department_id, recurrence=c.recurrence, received_at=received_at,
                                    rules=get_form_rules(settings.rule_paths), actor=f"account:{account.id}")
    if f.same_data:
        await _MARK_REPEAT.later_many(conn, [{"task_id": t} for t, _ in f.same_data])
    communities = _target_list(c, account=account, memory=memory, community_ids=community_ids)
    targets = await _store_targets(conn, c, f, task_id=task_id, communities=communities, received_at=received_at,
                                   announced=source == TaskSource.community, settings=settings)
    memory.add(RecentTask(
        id=task_id, code=f.code, department_id=f.department_id, department=f.department, kind=c.kind.value,
        keywords=frozenset(c.keywords), raw_text=text, duplicate_of=f.duplicate[0] if f.duplicate else None,
        received_at=received_at,
    ))
    await add_audit(
        conn, actor=f"account:{account.id}", entity="task", entity_id=task_id, action="create",
        after={"code": f.code, "status": f.status.value, "listing": c.listing.value, "item": c.item,
               "kind": c.kind.value, "source": source},
        now=received_at,
    )
    view = _view(c, f, task_id=task_id, account=account, text=text, targets=targets, source=source,
                 review_note=row["review_note"])
    return NewTask(
        task=view,
        asks_deadline=c.deadline is None and f.status != TaskStatus.refused,
        duplicate_of_code=f.duplicate[1] if f.duplicate else None,
        repeat_collection_with=tuple(sorted({d for _, d in f.same_data if d})),
        stopped_form=notice.stopped, catalogue=catalogue,
        asks_funding=source != TaskSource.community and needs_funding_answer(view, settings.admission.unfunded_assist),
    )
