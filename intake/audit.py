"""The append-only audit log: every state change, who made it, before and after."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.store.models import AUDIT_LOG
from intake.store.sqlite_fast import Prepared

__all__ = ["add_audit", "list_audit"]

_INSERT = Prepared(sa.insert(AUDIT_LOG))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return value


async def add_audit(
    conn: AsyncConnection,
    *,
    actor: str,
    entity: str,
    entity_id: int | None,
    action: str,
    now: dt.datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    await _INSERT.later(  # sent with the batch's other audit rows (PostgreSQL's writer), else now
        conn,
        {
            "at": now, "actor": actor, "entity": entity, "entity_id": entity_id, "action": action,
            "before": _plain(before) if before is not None else None,
            "after": _plain(after) if after is not None else None,
        },
    )


async def list_audit(conn: AsyncConnection, *, entity: str, entity_id: int) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(AUDIT_LOG)
        .where(AUDIT_LOG.c.entity == entity, AUDIT_LOG.c.entity_id == entity_id)
        .order_by(AUDIT_LOG.c.id)
    )
    return [dict(row._mapping) for row in rows]
