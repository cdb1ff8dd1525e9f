"""The processed-message log: WeChat retries get exactly the first reply, also after a restart.

Each row also remembers the signed URL's nonce (``channel:timestamp:nonce``, unique), written in
the same transaction as the message it carried: a signed URL can then carry one message only. A
true retry (same URL, same body, so the same MsgId) finds its own row and gets the first reply; the
same URL with another body is a replay and is refused. Rows live ``[retention] replies_hours`` (a
day), at least two timestamp windows, so every process sees every nonce for as long as its
signature is accepted; the prune job (:mod:`intake.prune`) deletes them after that.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.store.models import PROCESSED_MESSAGES
from intake.store.pending import pending_of
from intake.store.sqlite_fast import Prepared

__all__ = ["Processed", "get_processed", "get_processed_reply", "record_processed", "prune_processed"]

_T = PROCESSED_MESSAGES.c
_INSERT = Prepared(sa.insert(PROCESSED_MESSAGES))
# the lookups also read the write batch's rows not sent yet (intake.store.pending), so they need not be sent first
_REPLY = Prepared(sa.select(_T.reply).where(_T.key == sa.bindparam("key")), sees_pending=True)
# two unique-index lookups, not one OR: PostgreSQL keeps the plan of a prepared statement, and the OR's plan made
# while the table is small (a new deployment, the bench) is a sequential scan, kept as the table grows
_BY_KEY_OR_NONCE = Prepared(
    sa.union_all(sa.select(_T.key, _T.reply).where(_T.key == sa.bindparam("key")),
                 sa.select(_T.key, _T.reply).where(_T.nonce == sa.bindparam("nonce"))),
    sees_pending=True,
)


@dataclass(frozen=True)
class Processed:
    """What the log knows of a delivery: the first reply to its message, or that its URL carried another."""

    reply: str | None  # the stored reply of this very message (a retry), else None
    replayed_nonce: bool  # the URL's nonce already carried another message: refuse


def _pending(conn: AsyncConnection, *, key: str, nonce: str | None) -> list[tuple[str, str]]:
    """(key, reply) of the batch's rows not sent yet with this key or nonce."""
    pending = pending_of(conn)
    if pending is None:
        return []
    return [(str(r["key"]), str(r["reply"])) for r in pending.rows_of(_INSERT)
            if r["key"] == key or (nonce is not None and r["nonce"] == nonce)]


async def get_processed(conn: AsyncConnection, *, key: str, nonce: str | None) -> Processed:
    if nonce is None:
        return Processed(await get_processed_reply(conn, key=key), False)
    rows: list[tuple[Any, ...]] = _pending(conn, key=key, nonce=nonce)
    if not any(row_key == key for row_key, _ in rows):  # a retry inside the batch needs no query
        rows += await _BY_KEY_OR_NONCE.rows(conn, {"key": key, "nonce": nonce})
    for row_key, reply in rows:
        if row_key == key:
            return Processed(str(reply), False)
    return Processed(None, bool(rows))


async def get_processed_reply(conn: AsyncConnection, *, key: str) -> str | None:
    pending = _pending(conn, key=key, nonce=None)
    if pending:
        return pending[0][1]
    rows = await _REPLY.rows(conn, {"key": key})
    return str(rows[0][0]) if rows else None


async def record_processed(
    conn: AsyncConnection, *, key: str, channel: str, reply: str, now: dt.datetime, nonce: str | None = None
) -> None:
    row = {"key": key, "channel": channel, "reply": reply, "created_at": now, "nonce": nonce}
    await _INSERT.later(conn, row)  # with the batch's other rows before COMMIT (PostgreSQL's writer), else now


async def prune_processed(conn: AsyncConnection, *, before: dt.datetime, limit: int) -> int:
    """Forget at most ``limit`` replies (and their nonces) stored before ``before``; returns how many.

    ``before`` must leave every nonce whose signature is still accepted: a URL signed at T is
    accepted while the clock is within the timestamp window of T, so its row (stored at most one
    window after T) is needed for two windows (:mod:`intake.prune` and ``bot.settings`` see to it).
    """
    oldest = sa.select(_T.key).where(_T.created_at < before).order_by(_T.created_at).limit(limit)
    result = await conn.execute(sa.delete(PROCESSED_MESSAGES).where(_T.key.in_(oldest.scalar_subquery())))
    return int(result.rowcount or 0)
