"""The processed-message log: WeChat retries get exactly the first reply, also after a restart."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.models import PROCESSED_MESSAGES

__all__ = ["get_processed_reply", "record_processed", "prune_processed"]

_INSERT = sa.insert(PROCESSED_MESSAGES)


async def get_processed_reply(conn: AsyncConnection, *, key: str) -> str | None:
    value = (
        await conn.execute(sa.select(PROCESSED_MESSAGES.c.reply).where(PROCESSED_MESSAGES.c.key == key))
    ).scalar_one_or_none()
    return str(value) if value is not None else None


async def record_processed(conn: AsyncConnection, *, key: str, channel: str, reply: str, now: dt.datetime) -> None:
    await conn.execute(_INSERT, {"key": key, "channel": channel, "reply": reply, "created_at": now})


async def prune_processed(conn: AsyncConnection, *, before: dt.datetime) -> int:
    """Forget replies older than `before` (WeChat stops retrying after seconds; a day is plenty)."""
    result = await conn.execute(sa.delete(PROCESSED_MESSAGES).where(PROCESSED_MESSAGES.c.created_at < before))
    return int(result.rowcount or 0)
