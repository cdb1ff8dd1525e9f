"""A community's monthly rating of a department (``评价 民政局 4 …``)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.accounts import AccountView
from intake.audit import add_audit
from intake.errors import Forbidden, InvalidRequest, NotFound
from intake.org.names import get_department_by_name
from intake.store.models import RATINGS
from intake.texts_notify import NO_COMMUNITY_TO_RATE, SCORE_OUT_OF_RANGE

__all__ = ["rate_department"]


async def rate_department(
    conn: AsyncConnection, *, account: AccountView, department: str, score: int, comment: str | None,
    now: dt.datetime, tz: ZoneInfo,
) -> str:
    """Record (or replace) this month's rating of a department by the head's community; returns the month."""
    if account.community_id is None:
        raise Forbidden(NO_COMMUNITY_TO_RATE)
    if not 1 <= score <= 5:
        raise InvalidRequest(SCORE_OUT_OF_RANGE.format(score=score))
    # the head's own district's department of that name (区民政局 of another district is another one)
    department_id = await get_department_by_name(conn, name=department, district_id=account.district_id,
                                                 street_id=account.street_id)
    if department_id is None:
        raise NotFound(department)
    month = now.astimezone(tz).strftime("%Y-%m")
    existing = (
        await conn.execute(
            sa.select(RATINGS.c.id, RATINGS.c.score, RATINGS.c.comment).where(
                RATINGS.c.community_id == account.community_id, RATINGS.c.department_id == department_id, RATINGS.c.month == month
            )
        )
    ).first()
    # anonymous: neither the rating nor its audit entry names the rater's account
    values: dict[str, Any] = {"score": score, "comment": comment, "account_id": None, "created_at": now}
    if existing is None:
        await conn.execute(sa.insert(RATINGS).values(community_id=account.community_id, department_id=department_id,
                                                    month=month, **values))
    else:
        await conn.execute(sa.update(RATINGS).where(RATINGS.c.id == existing.id).values(**values))
    await add_audit(conn, actor="anonymous", entity="rating", entity_id=None, action="rate",
                    before=None, after={"department": department, "month": month}, now=now)
    return month
