"""A chat admin's ``月报``: the archived digest of the admin's own scope, as the monthly push sent it.

A street's admin gets the street's digest (``street:ID``), a district's admin the district's, a
community-scoped admin the community's, an admin of the whole deployment the district's. Nothing is
built here (the chat edge never waits for a report): the monthly run archives every digest, and
this reads the archive and the text queued with it (by key).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.calendar import parse_month
from intake.reports.model import DISTRICT
from intake.reports.streets import street_scope
from intake.scope import district_digest_scope
from intake.store.models import COMMUNITIES, DIGESTS, DISTRICTS, OUTBOX
from intake.store.values import OrgLevel

__all__ = ["ArchivedDigest", "get_digest_scope", "get_archived_digest"]


@dataclass(frozen=True)
class ArchivedDigest:
    month: str
    scope: str
    title: str
    tasks: int
    text: str  # the chat text the monthly run queued ("" when it sent none: a month without tasks)
    hours: float = 0.0


async def get_digest_scope(conn: AsyncConnection, *, level: str | None, scope_id: int | None) -> str:
    """The digest scope an admin of (`level`, `scope_id`) reads; every level but the city maps to its own."""
    if level == OrgLevel.street.value and scope_id is not None:
        return street_scope(scope_id)
    if level == OrgLevel.community.value:
        name = (await conn.execute(sa.select(COMMUNITIES.c.name).where(COMMUNITIES.c.id == scope_id))).scalar()
        return str(name) if name is not None else street_scope(0)  # a removed community: nothing to read
    if level == OrgLevel.district.value:
        districts = (await conn.execute(sa.select(DISTRICTS.c.id).limit(2))).scalars().all()
        return DISTRICT if list(districts) == [scope_id] else district_digest_scope(int(scope_id or 0))
    return DISTRICT


async def get_archived_digest(conn: AsyncConnection, *, scope: str, month: str | None,
                              recipients: Sequence[str] = ()) -> ArchivedDigest | None:
    """The digest of `scope` for `month` (the newest archived one when None); None if not built yet.

    Its text is the message the monthly run queued to one of `recipients` (``channel:recipient``, the
    asking account's own first): looked up by its idempotency key, never searched for.
    """
    stmt = sa.select(DIGESTS.c.month, DIGESTS.c.content).where(DIGESTS.c.scope == scope)
    if month is not None:
        parse_month(month)
        stmt = stmt.where(DIGESTS.c.month == month)
    row = (await conn.execute(stmt.order_by(DIGESTS.c.month.desc()).limit(1))).first()
    if row is None:
        return None
    content = dict(row.content or {})
    keys = [f"digest:{row.month}:{scope}:{r}" for r in recipients]
    sent = dict((await conn.execute(sa.select(OUTBOX.c.idempotency_key, OUTBOX.c.body).where(
        OUTBOX.c.idempotency_key.in_(keys)))).all()) if keys else {}
    text = next((sent[k] for k in keys if k in sent), "")
    return ArchivedDigest(month=str(row.month), scope=scope, title=str(content.get("title", "")),
                          tasks=int(content.get("tasks", 0) or 0), text=str(text),
                          hours=float(content.get("estimated_hours", 0) or 0))
