"""The processed-message log: WeChat retries get exactly the first reply, also after a restart."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.store.models import PROCESSED_MESSAGES
from intake.store.sqlite_fast import Prepared

__all__ = ["get_processed_reply", "record_processed", "prune_processed"]

_INSERT = Prepared(sa.insert(PROCESSED_MESSAGES))
_REPLY = Prepared(sa.select(PROCESSED_MESSAGES.c.reply).where(PROCESSED_MESSAGES.c.key == sa.bindparam("key")))


async def get_processed_reply(conn: AsyncConnection, *, key: str) -> str | None:
    rows = await _REPLY.rows(conn, {"key": key})
    return str(rows[0][0]) if rows else None


async def record_processed(conn: AsyncConnection, *, key: str, channel: str, reply: str, now: dt.datetime) -> None:
    await _INSERT.rows(conn, {"key": key, "channel": channel, "reply": reply, "created_at": now})


async def prune_processed(conn: AsyncConnection, *, before: dt.datetime) -> int:
    """Forget replies older than `before` (WeChat stops retrying after seconds; a day is plenty)."""
    result = await conn.execute(sa.delete(PROCESSED_MESSAGES).where(PROCESSED_MESSAGES.c.created_at < before))
    return int(result.rowcount or 0)
