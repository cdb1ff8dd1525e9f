"""What the console changes. Each function runs inside a writer unit (one transaction) and never commits.

Every change writes an audit entry (who, before, after); notices to clerks and
heads go through the outbox in the same transaction, so a rollback loses both.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.console import texts
from intake.accounts import get_community_by_name, get_department_by_name, get_or_add_department, set_binding
from intake.audit import add_audit
from intake.corrections import CorrectionAction, add_correction_example
from intake.errors import InvalidRequest, NotFound
from intake.outbox import channel_for_account, list_community_recipients
from intake.rules_store import add_rule_version, get_latest_overrides
from intake.settings import IntakeSettings
from intake.store.models import ACCOUNTS, COMMUNITIES, DEPARTMENTS, REMINDERS, TASKS, TargetStatus, TaskStatus
from intake.store.models import TASK_TARGETS as TARGETS
from intake.tasks import add_target_reminders

__all__ = [
    "CORRECTABLE",
    "Correction",
    "correct_task",
    "admit_task",
    "refuse_task",
    "save_overrides",
    "add_department",
    "set_department_active",
    "add_community",
    "update_community",
    "bind_account_to",
    "unbind_account",
    "set_account_active",
]

CORRECTABLE = (
    "department", "kind", "listing", "item", "certificate", "deadline", "deadline_time", "recurrence",
    "quantity_value", "quantity_unit", "funded", "amount_yuan",
)
_LIVE = (TaskStatus.accepted.value, TaskStatus.refused.value, TaskStatus.pending_review.value)


def _status_for_listing(listing: str) -> str:
    if listing == "negative":
        return TaskStatus.refused.value
    if listing == "unlisted":
        return TaskStatus.pending_review.value
    return TaskStatus.accepted.value


@dataclass(frozen=True)
class Correction:
    code: str
    changed: dict[str, tuple[Any, Any]]  # field -> (before, after)
    status_before: str
    status_after: str
    rule_version: int | None = None


async def _task_row(conn: AsyncConnection, code: str) -> Any:
    row = (await conn.execute(sa.select(TASKS).where(TASKS.c.code == code.strip().upper()))).first()
    if row is None:
        raise NotFound(texts.TASK_NOT_FOUND.format(code=code))
    return row


async def _replan(conn: AsyncConnection, *, task_id: int, code: str, status: str, deadline: dt.date | None,
                  now: dt.datetime, settings: IntakeSettings) -> None:
    """Drop the unsent reminders of a task and plan new ones when it is accepted with a deadline."""
    target_ids = sa.select(TARGETS.c.id).where(TARGETS.c.task_id == task_id)
    await conn.execute(sa.delete(REMINDERS).where(REMINDERS.c.target_id.in_(target_ids), REMINDERS.c.sent_at.is_(None)))
    if status == TaskStatus.accepted.value and deadline is not None:
        await add_target_reminders(conn, task_id=task_id, received_at=now, settings=settings, code=code)


async def _set_targets(conn: AsyncConnection, *, task_id: int, status: str) -> None:
    if status == TaskStatus.refused.value:
        await conn.execute(
            sa.update(TARGETS).where(TARGETS.c.task_id == task_id, TARGETS.c.status == TargetStatus.open.value)
            .values(status=TargetStatus.refused.value)
        )
    elif status in (TaskStatus.accepted.value, TaskStatus.pending_review.value):
        await conn.execute(
            sa.update(TARGETS).where(TARGETS.c.task_id == task_id, TARGETS.c.status == TargetStatus.refused.value)
            .values(status=TargetStatus.open.value)
        )


async def _notify_clerk(conn: AsyncConnection, *, task: Any, key: str, body: str, settings: IntakeSettings,
                        now: dt.datetime) -> None:
    if task.sender_id is None:
        return
    account = (await conn.execute(
        sa.select(ACCOUNTS.c.id, ACCOUNTS.c.channel, ACCOUNTS.c.external_id).where(ACCOUNTS.c.id == task.sender_id)
    )).first()
    if account is None:
        return
    from intake.outbox import add_outbox_message

    await add_outbox_message(
        conn, idempotency_key=f"{key}:clerk:{account.id}", channel=channel_for_account(settings.notify.clerks, account.channel),
        recipient=account.external_id, kind="notice", body=body, account_id=int(account.id),
        payload={"task": task.code}, now=now,
    )


async def _notify_heads(conn: AsyncConnection, *, task_id: int, key: str, body: str, settings: IntakeSettings,
                        now: dt.datetime, code: str) -> int:
    from intake.outbox import add_outbox_message

    community_ids = (await conn.execute(
        sa.select(TARGETS.c.community_id).where(TARGETS.c.task_id == task_id,
                                                 TARGETS.c.status == TargetStatus.open.value)
    )).scalars().all()
    for community_id in community_ids:
        for r in await list_community_recipients(conn, community_id=int(community_id), configured=settings.notify.heads):
            await add_outbox_message(
                conn, idempotency_key=f"{key}:head:{community_id}:{r.recipient}", channel=r.channel,
                recipient=r.recipient, kind="notice", body=body, account_id=r.account_id,
                community_id=r.community_id, payload={"task": code}, now=now,
            )
    return len(community_ids)


async def correct_task(
    conn: AsyncConnection, *, code: str, changes: dict[str, Any], actor: str, now: dt.datetime, settings: IntakeSettings,
    overrides: dict[str, Any] | None = None, rule_note: str | None = None,
) -> Correction:
    """Correct classified fields; listing changes move the status. `overrides` (if given) is stored as a new
    rule version in the same transaction (the keyword rule the admin asked for)."""
    task = await _task_row(conn, code)
    unknown = set(changes) - set(CORRECTABLE)
    if unknown:
        raise InvalidRequest(f"这些字段不能更正:{', '.join(sorted(unknown))}")
    changed = {k: (getattr(task, k), v) for k, v in changes.items() if getattr(task, k) != v}
    if not changed and overrides is None:
        raise InvalidRequest(texts.NOTHING_CHANGED)
    values: dict[str, Any] = {k: after for k, (_, after) in changed.items()}
    if "kind" in values:
        nature = "service" if values["kind"] == "service" else "administrative"
        if nature != task.nature:
            changed["nature"] = (task.nature, nature)
            values["nature"] = nature
    if "department" in values:
        values["department_id"] = await get_or_add_department(conn, name=values["department"]) if values["department"] else None
    status = task.status
    if "listing" in values and task.status in _LIVE:
        status = _status_for_listing(values["listing"])
        values["status"] = status
    rule_version = None
    if changed:
        values.update(corrected=True, updated_at=now)
        await conn.execute(sa.update(TASKS).where(TASKS.c.id == task.id).values(**values))
        deadline = values.get("deadline", task.deadline)
        if "deadline" in values:
            await conn.execute(
                sa.update(TARGETS).where(TARGETS.c.task_id == task.id, TARGETS.c.status == TargetStatus.open.value)
                .values(due_date=deadline)
            )
        if status != task.status:
            await _set_targets(conn, task_id=task.id, status=status)
        if status != task.status or "deadline" in values:
            await _replan(conn, task_id=task.id, code=task.code, status=status, deadline=deadline, now=now,
                          settings=settings)
        await add_audit(
            conn, actor=actor, entity="task", entity_id=task.id, action="correct",
            before={k: b for k, (b, _) in changed.items()} | ({"status": task.status} if status != task.status else {}),
            after={k: a for k, (_, a) in changed.items()} | ({"status": status} if status != task.status else {}),
            now=now,
        )
        await add_correction_example(conn, task_id=task.id, action=CorrectionAction.correct, fields=changed,
                                     actor=actor, now=now)
        if status != task.status:
            summary = ";".join(f"{texts.FIELD_ZH.get(k, k)} {b or '—'}→{a or '—'}" for k, (b, a) in changed.items())
            body = texts.CORRECT_CLERK.format(code=task.code, changes=summary + f";状态→{texts.STATUS_ZH.get(status, status)}")
            await _notify_clerk(conn, task=task, key=f"correct:{task.code}:{now.isoformat()}", body=body,
                                settings=settings, now=now)
    if overrides is not None:
        rule_version = await add_rule_version(conn, content=overrides, author=actor, note=rule_note)
        await add_audit(conn, actor=actor, entity="rules", entity_id=rule_version, action="add_keyword",
                        after={"note": rule_note, "task": task.code}, now=now)
    return Correction(code=task.code, changed=changed, status_before=task.status, status_after=status,
                      rule_version=rule_version)


@dataclass(frozen=True)
class Admission:
    code: str
    item: str
    targets: int
    rule_version: int


async def admit_task(
    conn: AsyncConnection, *, code: str, item: str, name: str, basis: str, funding: str, duration: str,
    funded: bool, amount_yuan: float | None, overrides: dict[str, Any], actor: str, now: dt.datetime,
    settings: IntakeSettings,
) -> Admission:
    """Admit an unlisted task as assist item `item` (already placed in `overrides` by the caller)."""
    task = await _task_row(conn, code)
    if task.status != TaskStatus.pending_review.value:
        raise InvalidRequest(texts.NOT_PENDING.format(code=task.code, status=texts.STATUS_ZH.get(task.status, task.status)))
    version = await add_rule_version(conn, content=overrides, author=actor,
                                     note=f"准入 {task.code} 为协助事项 {item} {name}")
    note = f"准入依据:{basis};经费:{funding};期限:{duration}"
    await conn.execute(
        sa.update(TASKS).where(TASKS.c.id == task.id).values(
            listing="assist", item=item, status=TaskStatus.accepted.value, funded=funded or task.funded,
            amount_yuan=amount_yuan if amount_yuan is not None else task.amount_yuan,
            review_note=note, needs_review=False, updated_at=now,
        )
    )
    await _set_targets(conn, task_id=task.id, status=TaskStatus.accepted.value)
    await add_correction_example(conn, task_id=task.id, action=CorrectionAction.admit, fields=(), actor=actor, now=now)
    await _replan(conn, task_id=task.id, code=task.code, status=TaskStatus.accepted.value, deadline=task.deadline,
                  now=now, settings=settings)
    await add_audit(
        conn, actor=actor, entity="task", entity_id=task.id, action="admit",
        before={"status": task.status, "listing": task.listing, "item": task.item},
        after={"status": TaskStatus.accepted.value, "listing": "assist", "item": item, "name": name, "basis": basis,
               "funding": funding, "duration": duration, "rules_version": version},
        now=now,
    )
    communities = (await conn.execute(
        sa.select(COMMUNITIES.c.name).join(TARGETS, TARGETS.c.community_id == COMMUNITIES.c.id)
        .where(TARGETS.c.task_id == task.id, TARGETS.c.status == TargetStatus.open.value).order_by(COMMUNITIES.c.id)
    )).scalars().all()
    key = f"admit:{task.code}"
    await _notify_clerk(conn, task=task, key=key, settings=settings, now=now, body=texts.ADMIT_CLERK.format(
        code=task.code, item=item, name=name, targets="、".join(communities) or "(无)", basis=basis,
        funding=funding, duration=duration))
    deadline = task.deadline.strftime("%m月%d日") if task.deadline else "未定"
    heads = await _notify_heads(conn, task_id=task.id, key=key, settings=settings, now=now, code=task.code,
                                body=texts.ADMIT_HEAD.format(code=task.code, department=task.department or "",
                                                             kind=texts.KIND_ZH.get(task.kind, task.kind),
                                                             deadline=deadline, item=item))
    return Admission(code=task.code, item=item, targets=heads, rule_version=version)


async def refuse_task(conn: AsyncConnection, *, code: str, reason: str, actor: str, now: dt.datetime,
                      settings: IntakeSettings) -> str:
    task = await _task_row(conn, code)
    if task.status != TaskStatus.pending_review.value:
        raise InvalidRequest(texts.NOT_PENDING.format(code=task.code, status=texts.STATUS_ZH.get(task.status, task.status)))
    await conn.execute(
        sa.update(TASKS).where(TASKS.c.id == task.id).values(
            status=TaskStatus.refused.value, review_note=f"不予准入:{reason}", needs_review=False, updated_at=now)
    )
    await _set_targets(conn, task_id=task.id, status=TaskStatus.refused.value)
    await add_correction_example(conn, task_id=task.id, action=CorrectionAction.refuse, fields=(), actor=actor, now=now)
    target_ids = sa.select(TARGETS.c.id).where(TARGETS.c.task_id == task.id)
    await conn.execute(sa.update(REMINDERS).where(REMINDERS.c.target_id.in_(target_ids), REMINDERS.c.sent_at.is_(None))
                       .values(cancelled=True))
    await add_audit(conn, actor=actor, entity="task", entity_id=task.id, action="refuse",
                    before={"status": task.status}, after={"status": TaskStatus.refused.value, "reason": reason},
                    now=now)
    await _notify_clerk(conn, task=task, key=f"refuse:{task.code}", settings=settings, now=now,
                        body=texts.REFUSE_CLERK.format(code=task.code, reason=reason))
    return str(task.code)


async def save_overrides(conn: AsyncConnection, *, content: dict[str, Any], actor: str, note: str,
                         now: dt.datetime) -> int:
    before = await get_latest_overrides(conn)
    version = await add_rule_version(conn, content=content, author=actor, note=note)
    changed = sorted(k for k in set(before) | set(content) if before.get(k) != content.get(k))
    await add_audit(conn, actor=actor, entity="rules", entity_id=version, action="edit",
                    before={"sections": changed}, after={"note": note}, now=now)
    return version


# --- directory and accounts ----------------------------------------------------------------------

def _check_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidRequest(texts.NAME_REQUIRED)
    if len(name) > 64:
        raise InvalidRequest("名称不超过 64 个字。")
    return name


async def add_department(conn: AsyncConnection, *, name: str, actor: str, now: dt.datetime) -> int:
    name = _check_name(name)
    if await get_department_by_name(conn, name=name) is not None:
        raise InvalidRequest(texts.NAME_EXISTS.format(name=name))
    department_id = int((await conn.execute(
        sa.insert(DEPARTMENTS).values(name=name, active=True, created_at=now).returning(DEPARTMENTS.c.id))).scalar_one())
    await add_audit(conn, actor=actor, entity="department", entity_id=department_id, action="create",
                    after={"name": name}, now=now)
    return department_id


async def set_department_active(conn: AsyncConnection, *, department_id: int, active: bool, actor: str,
                                now: dt.datetime) -> None:
    result = await conn.execute(sa.update(DEPARTMENTS).where(DEPARTMENTS.c.id == department_id).values(active=active)
                                .returning(DEPARTMENTS.c.id))
    if result.scalar_one_or_none() is None:
        raise NotFound(f"没有编号为 {department_id} 的部门。")
    await add_audit(conn, actor=actor, entity="department", entity_id=department_id, action="set_active",
                    after={"active": active}, now=now)


async def add_community(conn: AsyncConnection, *, name: str, staff: int, actor: str, now: dt.datetime) -> int:
    name = _check_name(name)
    if await get_community_by_name(conn, name=name) is not None:
        raise InvalidRequest(texts.NAME_EXISTS.format(name=name))
    community_id = int((await conn.execute(
        sa.insert(COMMUNITIES).values(name=name, staff=staff, active=True, created_at=now).returning(COMMUNITIES.c.id)
    )).scalar_one())
    await add_audit(conn, actor=actor, entity="community", entity_id=community_id, action="create",
                    after={"name": name, "staff": staff}, now=now)
    return community_id


async def update_community(conn: AsyncConnection, *, community_id: int, staff: int, active: bool,
                           robot_webhook: str | None, actor: str, now: dt.datetime) -> None:
    before = (await conn.execute(
        sa.select(COMMUNITIES.c.staff, COMMUNITIES.c.active, COMMUNITIES.c.robot_webhook).where(COMMUNITIES.c.id == community_id)
    )).first()
    if before is None:
        raise NotFound(f"没有编号为 {community_id} 的社区。")
    after = {"staff": staff, "active": active, "robot_webhook": robot_webhook or None}
    await conn.execute(sa.update(COMMUNITIES).where(COMMUNITIES.c.id == community_id).values(**after))
    await add_audit(conn, actor=actor, entity="community", entity_id=community_id, action="update",
                    before=dict(before._mapping), after=after, now=now)


async def _account(conn: AsyncConnection, account_id: int) -> Any:
    row = (await conn.execute(
        sa.select(ACCOUNTS.c.id, ACCOUNTS.c.role, ACCOUNTS.c.department_id, ACCOUNTS.c.community_id, ACCOUNTS.c.active)
        .where(ACCOUNTS.c.id == account_id))).first()
    if row is None:
        raise NotFound(texts.ACCOUNT_NOT_FOUND.format(id=account_id))
    return row


async def bind_account_to(conn: AsyncConnection, *, account_id: int, role: str, department: str | None,
                          community: str | None, actor: str, now: dt.datetime) -> None:
    before = await _account(conn, account_id)
    department_id = community_id = None
    if role in ("clerk", "admin"):
        department_id = await get_department_by_name(conn, name=department or "")
        if department_id is None:
            raise InvalidRequest(texts.BIND_NEEDS_TARGET)
    elif role == "head":
        community_id = await get_community_by_name(conn, name=community or "")
        if community_id is None:
            raise InvalidRequest(texts.BIND_NEEDS_TARGET)
    else:
        raise InvalidRequest(texts.BAD_CHOICE.format(field="角色", value=role))
    await set_binding(conn, account_id=account_id, role=role, department_id=department_id,
                      community_id=community_id, now=now)
    await add_audit(conn, actor=actor, entity="account", entity_id=account_id, action="bind",
                    before=dict(before._mapping),
                    after={"role": role, "department": department if department_id else None,
                           "community": community if community_id else None}, now=now)


async def unbind_account(conn: AsyncConnection, *, account_id: int, actor: str, now: dt.datetime) -> None:
    before = await _account(conn, account_id)
    await conn.execute(sa.update(ACCOUNTS).where(ACCOUNTS.c.id == account_id).values(
        role=None, department_id=None, community_id=None, dialogue_state=None, dialogue_task_id=None,
        dialogue_expires_at=None))
    await add_audit(conn, actor=actor, entity="account", entity_id=account_id, action="unbind",
                    before=dict(before._mapping), after={"role": None}, now=now)


async def set_account_active(conn: AsyncConnection, *, account_id: int, active: bool, actor: str,
                             now: dt.datetime) -> None:
    before = await _account(conn, account_id)
    await conn.execute(sa.update(ACCOUNTS).where(ACCOUNTS.c.id == account_id).values(active=active))
    await add_audit(conn, actor=actor, entity="account", entity_id=account_id,
                    action="activate" if active else "deactivate",
                    before={"active": before.active}, after={"active": active}, now=now)
