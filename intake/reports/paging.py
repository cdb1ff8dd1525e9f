"""Keyset pages of the intake log: a page starts after (or ends before) a cursor, never at an offset.

The log is read newest first (``received_at`` desc, then ``id`` desc; the review queue oldest first).
A cursor is the (received_at, id) of a page's first or last row, so a page costs an index range
however deep it is, and rows stored meanwhile never shift a page. Totals are counted up to
:data:`COUNT_CAP` and shown as "1,000+" beyond it: a count never reads the whole log.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.store.models import TASKS

__all__ = ["COUNT_CAP", "Cursor", "Keyset", "count_capped", "keyset_select"]

COUNT_CAP = 1_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICRO = dt.timedelta(microseconds=1)


@dataclass(frozen=True)
class Cursor:
    """A row's place in the order: its received_at and id, written ``<microseconds>.<id>`` in links."""

    received_at: dt.datetime
    id: int

    def token(self) -> str:
        return f"{(self.received_at - _EPOCH) // _MICRO}.{self.id}"

    @classmethod
    def parse(cls, token: str) -> Cursor | None:
        """The cursor of a link, or None for a malformed one (the caller shows the first page)."""
        micros, _, ident = token.partition(".")
        try:
            return cls(_EPOCH + int(micros) * _MICRO, int(ident))
        except (ValueError, OverflowError):
            return None

    @classmethod
    def of(cls, row: Any) -> Cursor:
        return cls(row.received_at, int(row.id))


@dataclass(frozen=True)
class Keyset:
    """Where a page is: after `cursor` in reading order (forward), or before it (backward)."""

    cursor: Cursor | None = None
    forward: bool = True
    descending: bool = True  # newest first


def keyset_select(stmt: sa.Select[Any], keyset: Keyset, *, limit: int, by_id: Any = None) -> sa.Select[Any]:
    """`stmt` limited to one page plus one row (which says whether there is more that way). `by_id`: a
    column equal to the task's id to order by alone, in the order it was logged (a search on SQLite
    passes its FTS5 table's rowid: the index then yields the page's matches in order, never sorting all)."""
    at, ident = TASKS.c.received_at, TASKS.c.id
    down = keyset.descending == keyset.forward  # walking toward older rows
    cursor = keyset.cursor
    if by_id is not None:
        if cursor is not None:
            stmt = stmt.where(by_id < cursor.id if down else by_id > cursor.id)
        return stmt.order_by(by_id.desc() if down else by_id.asc()).limit(limit + 1)
    if cursor is not None:
        if down:
            stmt = stmt.where(at <= cursor.received_at, sa.or_(at < cursor.received_at, ident < cursor.id))
        else:
            stmt = stmt.where(at >= cursor.received_at, sa.or_(at > cursor.received_at, ident > cursor.id))
    order = (at.desc(), ident.desc()) if down else (at.asc(), ident.asc())
    return stmt.order_by(*order).limit(limit + 1)


async def count_capped(conn: AsyncConnection, stmt: sa.Select[Any]) -> tuple[int, bool]:
    """How many rows `stmt` (a SELECT of task ids) gives, counted up to COUNT_CAP; (n, True) beyond it."""
    capped = stmt.limit(COUNT_CAP + 1).subquery()
    n = int((await conn.execute(sa.select(sa.func.count()).select_from(capped))).scalar_one())
    return min(n, COUNT_CAP), n > COUNT_CAP
