"""What the sweep tells communities and admins besides reminders.

* **Dispatch notices.** Every target not yet announced (``task_targets.announced_at`` is NULL) is told
  to its community at the next sweep: one message per community per sweep, listing each task with its
  department, kind, deadline, admission decision and funding, and the notice (the first 300 characters
  and ``查询 R-…`` for the rest). Refused tasks are announced too ("…已按 N2 拒收,社区无需办理"), tasks
  held for review are marked as such. A task admitted later is announced again (its targets are reset).
* **The review clock.** An unlisted task still pending after ``[review] remind_after_days`` is pushed to
  the admins again, and its department's clerk and its communities are told that it is pending; once.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from classifiers import Rules
from intake import texts_notify
from intake.outbox import Recipient, add_outbox_message, channel_for_account, list_admin_recipients
from intake.outbox import list_community_recipients as community_recipients
from intake.settings import IntakeSettings
from intake.store.models import ACCOUNTS, COMMUNITIES, TASK_TARGETS, TASKS, Role, TaskStatus

if TYPE_CHECKING:
    from intake.context import Services

__all__ = ["queue_dispatch_notices", "queue_review_reminders", "ANNOUNCED_STATUSES"]

ANNOUNCED_STATUSES = (TaskStatus.accepted.value, TaskStatus.refused.value, TaskStatus.pending_review.value)
BATCH = 2000


def _item_text(rules: Rules | None, code: str | None) -> str | None:
    if code is None or rules is None:
        return None
    if code == "C":
        return "社区出具证明事项"
    item = rules.items.get(code)
    return item.text if item is not None else None


def _dispatch_item(row: Any, rules: Rules | None) -> texts_notify.DispatchItem:
    return texts_notify.DispatchItem(
        code=row.code, department=row.department, kind=row.kind, nature=row.nature, status=row.status,
        listing=row.listing, item=row.item, item_text=_item_text(rules, row.item), deadline=row.deadline,
        funded=bool(row.funded), amount_yuan=row.amount_yuan, funding_note=row.funding_note,
        trace_demand=tuple(row.trace_demand or ()), raw_text=row.raw_text,
    )


async def _queue(conn: AsyncConnection, recipients: list[Recipient], *, key: str, kind: str, subject: str,
                 body: str, now: dt.datetime) -> int:
    queued = 0
    for rcp in recipients:
        payload: dict[str, Any] = {"fields": {"subject": subject}}
        if rcp.webhook:
            payload["webhook"] = rcp.webhook
        new_id = await add_outbox_message(
            conn, idempotency_key=f"{key}:{rcp.channel}:{rcp.recipient}", channel=rcp.channel,
            recipient=rcp.recipient, kind=kind, subject=subject, body=body, account_id=rcp.account_id,
            community_id=rcp.community_id, payload=payload, now=now,
        )
        queued += new_id is not None
    return queued


async def _announce(conn: AsyncConnection, *, now: dt.datetime, settings: IntakeSettings, rules: Rules | None) -> int:
    rows = (
        await conn.execute(
            sa.select(TASK_TARGETS.c.id.label("target_id"), TASK_TARGETS.c.community_id, COMMUNITIES.c.name,
                      TASKS.c.code, TASKS.c.department, TASKS.c.kind, TASKS.c.nature, TASKS.c.status,
                      TASKS.c.listing, TASKS.c.item, TASKS.c.deadline, TASKS.c.funded, TASKS.c.amount_yuan,
                      TASKS.c.funding_note, TASKS.c.trace_demand, TASKS.c.raw_text)
            .join(TASKS, TASKS.c.id == TASK_TARGETS.c.task_id)
            .join(COMMUNITIES, COMMUNITIES.c.id == TASK_TARGETS.c.community_id)
            .where(TASK_TARGETS.c.announced_at.is_(None))
            .order_by(TASK_TARGETS.c.community_id, TASKS.c.id)
            .limit(BATCH)
        )
    ).all()
    if not rows:
        return 0
    per_community: dict[tuple[int, str], list[Any]] = defaultdict(list)
    for row in rows:
        if row.status in ANNOUNCED_STATUSES:  # withdrawn before the sweep: nothing to tell
            per_community[(int(row.community_id), str(row.name))].append(row)
    queued = 0
    for (community_id, name), items in per_community.items():
        body = texts_notify.build_dispatch_notice(name, [_dispatch_item(r, rules) for r in items])
        recipients = await community_recipients(conn, community_id=community_id, configured=settings.notify.heads)
        queued += await _queue(conn, recipients, key=f"dispatch:{community_id}:{items[0].target_id}",
                               kind="notice", subject=f"新任务通知 {items[0].code}", body=body, now=now)
    await conn.execute(sa.update(TASK_TARGETS).where(TASK_TARGETS.c.id.in_([r.target_id for r in rows]))
                       .values(announced_at=now))
    return queued


async def queue_dispatch_notices(services: Services, *, now: dt.datetime) -> int:
    """One dispatch message per community for every target not yet announced; returns messages queued."""

    async def unit(conn: AsyncConnection) -> int:
        rules: Rules | None = getattr(services.rules, "current", None)  # tests may run without rules
        return await _announce(conn, now=now, settings=services.settings, rules=rules)

    return await services.writer.submit(unit)


async def _clerk_recipient(conn: AsyncConnection, *, sender_id: int | None, configured: str) -> list[Recipient]:
    if sender_id is None:
        return []
    row = (await conn.execute(
        sa.select(ACCOUNTS.c.id, ACCOUNTS.c.channel, ACCOUNTS.c.external_id, ACCOUNTS.c.role, ACCOUNTS.c.active)
        .where(ACCOUNTS.c.id == sender_id)
    )).first()
    if row is None or row.role != Role.clerk or not row.active:
        return []
    return [Recipient(channel_for_account(configured, row.channel), row.external_id, account_id=int(row.id))]


async def _remind_review(conn: AsyncConnection, *, now: dt.datetime, settings: IntakeSettings) -> int:
    days = settings.review.remind_after_days
    rows = (
        await conn.execute(
            sa.select(TASKS.c.id, TASKS.c.code, TASKS.c.department, TASKS.c.sender_id, TASKS.c.received_at)
            .where(TASKS.c.status == TaskStatus.pending_review.value, TASKS.c.review_reminded_at.is_(None),
                   TASKS.c.received_at <= now - dt.timedelta(days=days))
            .order_by(TASKS.c.id).limit(BATCH)
        )
    ).all()
    queued = 0
    for row in rows:
        waited = max(days, (now - row.received_at).days)
        key = f"review:{row.id}"

        def body(audience: str, row: Any = row, waited: int = waited) -> str:
            return texts_notify.build_review_pending(code=row.code, department=row.department, days=waited,
                                                     audience=audience)

        admins = await list_admin_recipients(conn, configured=settings.notify.admins)
        queued += await _queue(conn, admins, key=key, kind="notice", subject=f"待审核 {row.code}",
                               body=body("admins"), now=now)
        clerk = await _clerk_recipient(conn, sender_id=row.sender_id, configured=settings.notify.clerks)
        queued += await _queue(conn, clerk, key=key, kind="notice", subject=f"审核中 {row.code}",
                               body=body("clerk"), now=now)
        targets = (await conn.execute(sa.select(TASK_TARGETS.c.community_id)
                                      .where(TASK_TARGETS.c.task_id == row.id))).scalars().all()
        for community_id in targets:
            heads = await community_recipients(conn, community_id=int(community_id), configured=settings.notify.heads)
            queued += await _queue(conn, heads, key=key, kind="notice", subject=f"审核中 {row.code}",
                                   body=body("community"), now=now)
    if rows:
        await conn.execute(sa.update(TASKS).where(TASKS.c.id.in_([r.id for r in rows]))
                           .values(review_reminded_at=now))
    return queued


async def queue_review_reminders(services: Services, *, now: dt.datetime) -> int:
    """Push the admins again about unlisted tasks pending too long; tell their clerk and communities."""

    async def unit(conn: AsyncConnection) -> int:
        return await _remind_review(conn, now=now, settings=services.settings)

    return await services.writer.submit(unit)
