"""What the district admin does to a task from the console: correct its fields, admit it, refuse it.

Each function runs inside a writer unit (one transaction) and never commits. Every change writes
an audit entry; the notices it owes to the clerk and the heads are outbox rows in the same
transaction, so a rollback loses both.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.accounts import get_or_add_department
from intake.audit import add_audit
from intake.corrections import CorrectionAction, add_correction_example
from intake.errors import InvalidRequest, NotFound
from intake.labels import FIELD_ZH, KIND_ZH, STATUS_ZH
from intake.outbox import add_outbox_message, channel_for_account, list_community_recipients
from intake.rules_store import add_rule_version
from intake.settings import IntakeSettings
from intake.store.models import ACCOUNTS, COMMUNITIES, STREETS, TASK_TARGETS, TASKS, TargetStatus, TaskStatus
from intake.tasks.changes import set_targets_for
from intake.tasks.create import status_for_listing
from intake.tasks.reminding import cancel_unsent_reminders, replan_reminders
from intake.texts_notify import (
    ADMIT_CLERK,
    ADMIT_HEAD,
    CORRECT_CLERK,
    NO_FUNDING_WORDS,
    NOT_CORRECTABLE,
    NOT_PENDING,
    NOTHING_CHANGED,
    REFUSE_CLERK,
    TASK_NOT_FOUND,
)

__all__ = ["CORRECTABLE", "Correction", "Admission", "correct_task", "admit_task", "refuse_task", "is_funded"]

CORRECTABLE = (
    "department", "kind", "listing", "item", "certificate", "deadline", "deadline_time", "recurrence",
    "quantity_value", "quantity_unit", "funded", "amount_yuan",
)
_LIVE = (TaskStatus.accepted, TaskStatus.refused, TaskStatus.pending_review)


@dataclass(frozen=True)
class Correction:
    code: str
    changed: dict[str, tuple[Any, Any]]  # field -> (before, after)
    status_before: str
    status_after: str
    rule_version: int | None = None


@dataclass(frozen=True)
class Admission:
    code: str
    item: str
    targets: int
    rule_version: int


def is_funded(funding: str, amount_yuan: float | None) -> bool:
    """Does an admission's funding line promise money? A sum does; words like 无/没有/暂无 say it does not."""
    return amount_yuan is not None or not any(word in funding for word in NO_FUNDING_WORDS)


async def _task_row(conn: AsyncConnection, code: str) -> Any:
    row = (await conn.execute(sa.select(TASKS).where(TASKS.c.code == code.strip().upper()))).first()
    if row is None:
        raise NotFound(TASK_NOT_FOUND.format(code=code))
    return row


async def _task_district(conn: AsyncConnection, task_id: int) -> int | None:
    """The district of a task's communities (the context its issuer's name is read in), when it has one."""
    found = (await conn.execute(
        sa.select(STREETS.c.district_id).select_from(TASK_TARGETS)
        .join(COMMUNITIES, COMMUNITIES.c.id == TASK_TARGETS.c.community_id)
        .join(STREETS, STREETS.c.id == COMMUNITIES.c.street_id)
        .where(TASK_TARGETS.c.task_id == task_id).distinct())).scalars().all()
    return int(found[0]) if len(found) == 1 else None


async def _notify_clerk(conn: AsyncConnection, *, task: Any, key: str, body: str, settings: IntakeSettings,
                        now: dt.datetime) -> None:
    if task.sender_id is None:
        return
    account = (await conn.execute(
        sa.select(ACCOUNTS.c.id, ACCOUNTS.c.channel, ACCOUNTS.c.external_id).where(ACCOUNTS.c.id == task.sender_id)
    )).first()
    if account is None:
        return
    await add_outbox_message(
        conn, idempotency_key=f"{key}:clerk:{account.id}", channel=channel_for_account(settings.notify.clerks, account.channel),
        recipient=account.external_id, kind="notice", body=body, account_id=int(account.id),
        payload={"task": task.code}, now=now,
    )


async def _notify_heads(conn: AsyncConnection, *, task_id: int, key: str, body: str, settings: IntakeSettings,
                        now: dt.datetime, code: str) -> int:
    community_ids = (await conn.execute(
        sa.select(TASK_TARGETS.c.community_id)
        .where(TASK_TARGETS.c.task_id == task_id, TASK_TARGETS.c.status == TargetStatus.open)
    )).scalars().all()
    for community_id in community_ids:
        for r in await list_community_recipients(conn, community_id=int(community_id), configured=settings.notify.heads):
            await add_outbox_message(
                conn, idempotency_key=f"{key}:head:{community_id}:{r.recipient}", channel=r.channel,
                recipient=r.recipient, kind="notice", body=body, account_id=r.account_id,
                community_id=r.community_id, payload={"task": code}, now=now,
            )
    return len(community_ids)


def _corrected_values(task: Any, changes: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The fields that really change, with the nature that follows a new kind."""
    unknown = set(changes) - set(CORRECTABLE)
    if unknown:
        raise InvalidRequest(NOT_CORRECTABLE.format(fields=", ".join(sorted(unknown))))
    changed = {k: (getattr(task, k), v) for k, v in changes.items() if getattr(task, k) != v}
    if "kind" in changed:
        nature = "service" if changed["kind"][1] == "service" else "administrative"
        if nature != task.nature:
            changed["nature"] = (task.nature, nature)
    return changed


async def _apply_correction(conn: AsyncConnection, task: Any, changed: dict[str, tuple[Any, Any]], *,
                            actor: str, now: dt.datetime, settings: IntakeSettings) -> str:
    """Write the corrected fields, move the targets and reminders with them; returns the new status."""
    values: dict[str, Any] = {k: after for k, (_, after) in changed.items()}
    if "department" in values:
        values["department_id"] = await get_or_add_department(
            conn, name=values["department"], district_id=await _task_district(conn, task.id),
        ) if values["department"] else None
    status = task.status
    if "listing" in values and task.status in _LIVE:
        status = values["status"] = status_for_listing(values["listing"]).value
    await conn.execute(sa.update(TASKS).where(TASKS.c.id == task.id).values(**values, corrected=True, updated_at=now))
    if "deadline" in values:
        await conn.execute(
            sa.update(TASK_TARGETS).where(TASK_TARGETS.c.task_id == task.id, TASK_TARGETS.c.status == TargetStatus.open)
            .values(due_date=values["deadline"])
        )
    if status != task.status:
        await set_targets_for(conn, task_id=task.id, status=status)
    if status != task.status or "deadline" in values:
        if status == TaskStatus.accepted:
            await replan_reminders(conn, task_id=task.id, code=task.code, now=now, settings=settings)
        else:
            await cancel_unsent_reminders(conn, task_id=task.id)
    moved = {"status": (task.status, status)} if status != task.status else {}
    await add_audit(
        conn, actor=actor, entity="task", entity_id=task.id, action="correct",
        before={k: b for k, (b, _) in changed.items()} | {k: b for k, (b, _) in moved.items()},
        after={k: a for k, (_, a) in changed.items()} | {k: a for k, (_, a) in moved.items()},
        now=now,
    )
    await add_correction_example(conn, task_id=task.id, action=CorrectionAction.correct, fields=changed, actor=actor,
                                 now=now)
    return str(status)


async def correct_task(
    conn: AsyncConnection, *, code: str, changes: dict[str, Any], actor: str, now: dt.datetime, settings: IntakeSettings,
    overrides: dict[str, Any] | None = None, rule_note: str | None = None, rule_district_id: int | None = None,
) -> Correction:
    """Correct classified fields; listing changes move the status. `overrides` (if given) is stored as a new
    rule version in the same transaction (the keyword rule the admin asked for)."""
    task = await _task_row(conn, code)
    changed = _corrected_values(task, changes)
    if not changed and overrides is None:
        raise InvalidRequest(NOTHING_CHANGED)
    status = task.status
    if changed:
        status = await _apply_correction(conn, task, changed, actor=actor, now=now, settings=settings)
        if status != task.status:
            summary = ";".join(f"{FIELD_ZH.get(k, k)} {b or '—'}→{a or '—'}" for k, (b, a) in changed.items())
            body = CORRECT_CLERK.format(code=task.code, changes=summary + f";状态→{STATUS_ZH.get(status, status)}")
            await _notify_clerk(conn, task=task, key=f"correct:{task.code}:{now.isoformat()}", body=body,
                                settings=settings, now=now)
    rule_version = None
    if overrides is not None:
        rule_version = await add_rule_version(conn, content=overrides, author=actor, note=rule_note,
                                              district_id=rule_district_id)
        await add_audit(conn, actor=actor, entity="rules", entity_id=rule_version, action="add_keyword",
                        after={"note": rule_note, "task": task.code}, now=now)
    return Correction(code=task.code, changed=changed, status_before=task.status, status_after=status,
                      rule_version=rule_version)


async def _pending_task(conn: AsyncConnection, code: str) -> Any:
    task = await _task_row(conn, code)
    if task.status != TaskStatus.pending_review:
        raise InvalidRequest(NOT_PENDING.format(code=task.code, status=STATUS_ZH.get(task.status, task.status)))
    return task


async def admit_task(
    conn: AsyncConnection, *, code: str, item: str, name: str, basis: str, funding: str, duration: str,
    amount_yuan: float | None, overrides: dict[str, Any], actor: str, now: dt.datetime, settings: IntakeSettings,
    district_id: int | None = None,
) -> Admission:
    """Admit an unlisted task as assist item `item` (already placed in `overrides` by the caller).

    The task is funded when it was, or when the admission's funding line promises money (:func:`is_funded`).
    """
    task = await _pending_task(conn, code)
    version = await add_rule_version(conn, content=overrides, author=actor, district_id=district_id,
                                     note=f"准入 {task.code} 为协助事项 {item} {name}")
    await conn.execute(
        sa.update(TASKS).where(TASKS.c.id == task.id).values(
            listing="assist", item=item, status=TaskStatus.accepted.value,
            funded=is_funded(funding, amount_yuan) or task.funded,
            amount_yuan=amount_yuan if amount_yuan is not None else task.amount_yuan,
            review_note=f"准入依据:{basis};经费:{funding};期限:{duration}", needs_review=False, updated_at=now,
        )
    )
    await set_targets_for(conn, task_id=task.id, status=TaskStatus.accepted)
    await add_correction_example(conn, task_id=task.id, action=CorrectionAction.admit, fields=(), actor=actor, now=now)
    await replan_reminders(conn, task_id=task.id, code=task.code, now=now, settings=settings)
    await add_audit(
        conn, actor=actor, entity="task", entity_id=task.id, action="admit",
        before={"status": task.status, "listing": task.listing, "item": task.item},
        after={"status": TaskStatus.accepted.value, "listing": "assist", "item": item, "name": name, "basis": basis,
               "funding": funding, "duration": duration, "rules_version": version},
        now=now,
    )
    communities = (await conn.execute(
        sa.select(COMMUNITIES.c.name).join(TASK_TARGETS, TASK_TARGETS.c.community_id == COMMUNITIES.c.id)
        .where(TASK_TARGETS.c.task_id == task.id, TASK_TARGETS.c.status == TargetStatus.open).order_by(COMMUNITIES.c.id)
    )).scalars().all()
    key = f"admit:{task.code}"
    await _notify_clerk(conn, task=task, key=key, settings=settings, now=now, body=ADMIT_CLERK.format(
        code=task.code, item=item, name=name, targets="、".join(communities) or "(无)", basis=basis,
        funding=funding, duration=duration))
    deadline = task.deadline.strftime("%m月%d日") if task.deadline else "未定"
    heads = await _notify_heads(conn, task_id=task.id, key=key, settings=settings, now=now, code=task.code,
                                body=ADMIT_HEAD.format(code=task.code, department=task.department or "",
                                                       kind=KIND_ZH.get(task.kind, task.kind), deadline=deadline,
                                                       item=item))
    return Admission(code=task.code, item=item, targets=heads, rule_version=version)


async def refuse_task(conn: AsyncConnection, *, code: str, reason: str, actor: str, now: dt.datetime,
                      settings: IntakeSettings) -> str:
    """Refuse an unlisted task: its targets close, its reminders stop, and the clerk is told why."""
    task = await _pending_task(conn, code)
    await conn.execute(
        sa.update(TASKS).where(TASKS.c.id == task.id).values(
            status=TaskStatus.refused.value, review_note=f"不予准入:{reason}", needs_review=False, updated_at=now)
    )
    await set_targets_for(conn, task_id=task.id, status=TaskStatus.refused)
    await add_correction_example(conn, task_id=task.id, action=CorrectionAction.refuse, fields=(), actor=actor, now=now)
    await cancel_unsent_reminders(conn, task_id=task.id)
    await add_audit(conn, actor=actor, entity="task", entity_id=task.id, action="refuse",
                    before={"status": task.status}, after={"status": TaskStatus.refused.value, "reason": reason},
                    now=now)
    await _notify_clerk(conn, task=task, key=f"refuse:{task.code}", settings=settings, now=now,
                        body=REFUSE_CLERK.format(code=task.code, reason=reason))
    return str(task.code)
