"""The outbox: every outgoing message is a row first, delivered later by the sweep with retries.

Life of a row::

    pending ──claim──▶ sending ──ok──▶ sent
       ▲                  │
       └──retry (backoff)─┤
                          └──N failures──▶ dead   (shown to admins; ``retry_dead`` re-queues)

* ``idempotency_key`` is unique: adding the same message twice stores it once, so a
  re-run sweep, a restarted process or a retried handler never doubles a message.
* A claim moves the row to ``sending`` with a lease (``next_attempt_at`` = now + lease);
  a process that dies mid-send leaves the row to be claimed again once the lease runs
  out (at-least-once towards the chat APIs, which offer no idempotency of their own).
* On PostgreSQL the claim uses ``FOR UPDATE SKIP LOCKED`` so several processes never
  take the same row; on SQLite the single writer serialises claims.
* A deferral (a robot's 20-a-minute limit, an API rate limit) re-queues the row for the
  given time without counting an attempt: queued, never dropped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.store.models import ACCOUNTS, COMMUNITIES, DISTRICTS, OUTBOX, OutboxStatus, Role
from intake.store.values import OrgLevel

__all__ = [
    "ClaimedMessage",
    "INBOX_CHANNEL",
    "add_outbox_message",
    "list_inbox",
    "list_dead",
    "mark_inbox_read",
    "retry_dead",
    "claim_due",
    "record_sent",
    "record_failure",
    "record_deferral",
    "backoff_delay",
    "count_by_status",
    "Recipient",
    "channel_for_account",
    "list_community_recipients",
    "list_admin_recipients",
]

INBOX_CHANNEL = "inbox"
LEASE = dt.timedelta(minutes=5)
MAX_BACKOFF = dt.timedelta(hours=6)


@dataclass(frozen=True)
class ClaimedMessage:
    """A row taken for delivery, with what the senders need to know about its recipient."""

    id: int
    idempotency_key: str
    channel: str
    recipient: str
    kind: str
    subject: str
    body: str
    payload: dict[str, Any]
    attempts: int  # including this one
    account_id: int | None
    community_id: int | None
    last_seen_at: dt.datetime | None  # the recipient account's last message (WeChat's 48-hour window)


def _insert_for(conn: AsyncConnection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


async def add_outbox_message(
    conn: AsyncConnection,
    *,
    idempotency_key: str,
    channel: str,
    recipient: str,
    kind: str,
    body: str,
    subject: str = "",
    account_id: int | None = None,
    community_id: int | None = None,
    payload: dict[str, Any] | None = None,
    now: dt.datetime,
) -> int | None:
    """Queue one message; returns its id, or None when a message with this key already exists."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    insert = _insert_for(conn)
    statement = (
        insert(OUTBOX)
        .values(
            idempotency_key=idempotency_key[:200],
            channel=channel,
            recipient=recipient[:200],
            kind=kind,
            subject=subject[:200],
            body=body,
            payload=payload,
            account_id=account_id,
            community_id=community_id,
            status=OutboxStatus.pending.value,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(OUTBOX.c.id)
    )
    new_id = (await conn.execute(statement)).scalar_one_or_none()
    return int(new_id) if new_id is not None else None


def _row_dict(row: Any) -> dict[str, Any]:
    return dict(row._mapping)


async def list_inbox(
    conn: AsyncConnection, *, account_id: int | None = None, community_id: int | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """In-app inbox messages, newest first: those of an account, of a community, or all (admins)."""
    columns = [
        OUTBOX.c.id, OUTBOX.c.recipient, OUTBOX.c.account_id, OUTBOX.c.community_id,
        OUTBOX.c.kind, OUTBOX.c.subject, OUTBOX.c.body, OUTBOX.c.payload,
        OUTBOX.c.status, OUTBOX.c.created_at, OUTBOX.c.sent_at, OUTBOX.c.read_at,
    ]
    query = sa.select(*columns).where(OUTBOX.c.channel == INBOX_CHANNEL)
    if account_id is not None:
        query = query.where(OUTBOX.c.account_id == account_id)
    if community_id is not None:
        query = query.where(OUTBOX.c.community_id == community_id)
    query = query.order_by(OUTBOX.c.created_at.desc(), OUTBOX.c.id.desc()).limit(limit)
    return [_row_dict(row) for row in await conn.execute(query)]


async def list_dead(conn: AsyncConnection, *, limit: int = 100) -> list[dict[str, Any]]:
    """Dead-lettered messages (gave up after ``notify.max_attempts``), newest first, for the console."""
    query = (
        sa.select(OUTBOX)
        .where(OUTBOX.c.status == OutboxStatus.dead.value)
        .order_by(OUTBOX.c.id.desc())
        .limit(limit)
    )
    return [_row_dict(row) for row in await conn.execute(query)]


async def count_by_status(conn: AsyncConnection) -> dict[str, int]:
    rows = await conn.execute(
        sa.select(OUTBOX.c.status, sa.func.count()).group_by(OUTBOX.c.status)
    )
    return {str(status): int(count) for status, count in rows}


async def mark_inbox_read(conn: AsyncConnection, *, message_id: int, now: dt.datetime) -> bool:
    result = await conn.execute(
        sa.update(OUTBOX)
        .where(OUTBOX.c.id == message_id, OUTBOX.c.read_at.is_(None))
        .values(read_at=now)
    )
    return bool(result.rowcount)


async def retry_dead(conn: AsyncConnection, *, message_id: int, now: dt.datetime) -> bool:
    """Put a dead message back in the queue with a fresh attempt count (admin action)."""
    result = await conn.execute(
        sa.update(OUTBOX)
        .where(OUTBOX.c.id == message_id, OUTBOX.c.status == OutboxStatus.dead.value)
        .values(status=OutboxStatus.pending.value, attempts=0, next_attempt_at=now)
    )
    return bool(result.rowcount)


def backoff_delay(attempts: int, *, base_s: float, cap: dt.timedelta = MAX_BACKOFF) -> dt.timedelta:
    """Exponential backoff after the `attempts`-th failed try: base, 2·base, 4·base … capped."""
    exponent = max(0, attempts - 1)
    seconds = base_s * (2 ** min(exponent, 30))
    return min(dt.timedelta(seconds=seconds), cap)


async def claim_due(conn: AsyncConnection, *, now: dt.datetime, limit: int = 100) -> list[ClaimedMessage]:
    """Take up to `limit` due rows (pending, or sending with an expired lease) and mark them sending."""
    due = (
        sa.select(OUTBOX.c.id)
        .where(
            OUTBOX.c.status.in_((OutboxStatus.pending.value, OutboxStatus.sending.value)),
            OUTBOX.c.next_attempt_at <= now,
        )
        .order_by(OUTBOX.c.next_attempt_at, OUTBOX.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = [int(i) for i in (await conn.execute(due)).scalars()]
    if not ids:
        return []
    await conn.execute(
        sa.update(OUTBOX)
        .where(OUTBOX.c.id.in_(ids))
        .values(
            status=OutboxStatus.sending.value,
            attempts=OUTBOX.c.attempts + 1,
            next_attempt_at=now + LEASE,
        )
    )
    rows = await conn.execute(
        sa.select(
            OUTBOX.c.id, OUTBOX.c.idempotency_key, OUTBOX.c.channel, OUTBOX.c.recipient,
            OUTBOX.c.kind, OUTBOX.c.subject, OUTBOX.c.body, OUTBOX.c.payload,
            OUTBOX.c.attempts, OUTBOX.c.account_id, OUTBOX.c.community_id, ACCOUNTS.c.last_seen_at,
        )
        .outerjoin(ACCOUNTS, ACCOUNTS.c.id == OUTBOX.c.account_id)
        .where(OUTBOX.c.id.in_(ids))
        .order_by(OUTBOX.c.next_attempt_at, OUTBOX.c.id)
    )
    return [
        ClaimedMessage(
            id=int(r.id), idempotency_key=r.idempotency_key, channel=r.channel, recipient=r.recipient, kind=r.kind,
            subject=r.subject or "", body=r.body, payload=dict(r.payload or {}), attempts=int(r.attempts),
            account_id=r.account_id, community_id=r.community_id, last_seen_at=r.last_seen_at,
        )
        for r in rows
    ]


async def record_sent(conn: AsyncConnection, *, message_id: int, now: dt.datetime, note: str | None = None) -> None:
    await conn.execute(
        sa.update(OUTBOX)
        .where(OUTBOX.c.id == message_id)
        .values(status=OutboxStatus.sent.value, sent_at=now, last_error=note)
    )


async def record_failure(
    conn: AsyncConnection,
    *,
    message_id: int,
    attempts: int,
    error: str,
    now: dt.datetime,
    max_attempts: int,
    backoff_base_s: float,
    permanent: bool = False,
) -> str:
    """A failed try: back off, or dead-letter after `max_attempts` (or at once when `permanent`). Returns the status."""
    if permanent or attempts >= max_attempts:
        status = OutboxStatus.dead.value
        next_at = now
    else:
        status = OutboxStatus.pending.value
        next_at = now + backoff_delay(attempts, base_s=backoff_base_s)
    await conn.execute(
        sa.update(OUTBOX)
        .where(OUTBOX.c.id == message_id)
        .values(status=status, next_attempt_at=next_at, last_error=error[:2000])
    )
    return status


async def record_deferral(conn: AsyncConnection, *, message_id: int, until: dt.datetime, reason: str) -> None:
    """Re-queue without spending an attempt (rate limits: queue, don't drop)."""
    await conn.execute(
        sa.update(OUTBOX)
        .where(OUTBOX.c.id == message_id)
        .values(
            status=OutboxStatus.pending.value,
            next_attempt_at=until,
            attempts=sa.case((OUTBOX.c.attempts > 0, OUTBOX.c.attempts - 1), else_=0),
            last_error=reason[:2000],
        )
    )


# --- recipients ---------------------------------------------------------------------------------------



@dataclass(frozen=True)
class Recipient:
    channel: str
    recipient: str
    account_id: int | None = None
    community_id: int | None = None
    webhook: str | None = None


def channel_for_account(configured: str, account_channel: str) -> str:
    """The channel that reaches an account: chat channels follow where the account lives."""
    if configured in ("wecom_app", "wechat", "auto"):
        return "wecom_app" if account_channel == "wecom" else "wechat"
    return configured


async def list_community_recipients(
    conn: AsyncConnection, *, community_id: int, configured: str
) -> list[Recipient]:
    """Who hears about a community's tasks: its robot, or each bound head, or the community's inbox."""
    community = (
        await conn.execute(
            sa.select(COMMUNITIES.c.name, COMMUNITIES.c.robot_webhook).where(COMMUNITIES.c.id == community_id)
        )
    ).first()
    if community is None:
        return []
    if configured == "wecom_robot":
        return [Recipient("wecom_robot", community.name, community_id=community_id, webhook=community.robot_webhook)]
    heads = (
        await conn.execute(
            sa.select(ACCOUNTS.c.id, ACCOUNTS.c.channel, ACCOUNTS.c.external_id)
            .where(ACCOUNTS.c.community_id == community_id, ACCOUNTS.c.role == Role.head, ACCOUNTS.c.active.is_(True))
            .order_by(ACCOUNTS.c.id)
        )
    ).all()
    if not heads:
        return [Recipient(INBOX_CHANNEL, community.name, community_id=community_id)]
    return [
        Recipient(channel_for_account(configured, h.channel), h.external_id, account_id=int(h.id),
                  community_id=community_id)
        for h in heads
    ]


async def list_admin_recipients(conn: AsyncConnection, *, configured: str) -> list[Recipient]:
    """District admins: the shared inbox/log, a robot named "admins", or each bound admin account."""
    if configured in ("inbox", "log"):
        return [Recipient(configured, "admins")]
    if configured == "wecom_robot":
        return [Recipient("wecom_robot", "admins")]
    # the whole deployment's admins; a district's admin too when the deployment is that one district
    # (a street's admins hear only of their street: intake.reports.streets)
    districts = (await conn.execute(sa.select(DISTRICTS.c.id).limit(2))).scalars().all()
    whole: sa.ColumnElement[bool] = ACCOUNTS.c.scope_level.is_(None)
    if len(districts) == 1:
        whole = sa.or_(whole, sa.and_(ACCOUNTS.c.scope_level == OrgLevel.district.value,
                                      ACCOUNTS.c.scope_id == districts[0]))
    admins = (
        await conn.execute(
            sa.select(ACCOUNTS.c.id, ACCOUNTS.c.channel, ACCOUNTS.c.external_id)
            .where(ACCOUNTS.c.role == Role.admin, ACCOUNTS.c.active.is_(True), whole)
            .order_by(ACCOUNTS.c.id)
        )
    ).all()
    found = [Recipient(channel_for_account(configured, a.channel), a.external_id, account_id=int(a.id)) for a in admins]
    return found or [Recipient(INBOX_CHANNEL, "admins")]
