"""Month rollups of the yearly report's queries (counts Q1, Q2, Q3, Q5; lists Q4, Q7), for the district.

A year over a million tasks is twelve months of GROUP BY over the log; eleven of them rarely change.
Each settled month's rows are kept in ``report_rollups`` with the newest audit id at the time,
and read back instead of recomputed while they hold:

* a month is **settled** :data:`SETTLE_DAYS` days after its end (resends and 重复采集 look back 30
  days, and mark earlier notices: a month that can still be marked is computed live);
* a kept month is **stale** when an audit entry newer than its rollup names a task received in that
  month (withdrawn, corrected, admitted, refused, a late arrival): it is computed again.

Counts are summed over the months and lists (层层加码, quote candidates) joined, so the rollups give
the same report as the live queries; a test holds them to that.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.store.models import AUDIT_LOG, TASKS
from intake.store.models_catalogue import REPORT_ROLLUPS

__all__ = ["ROLLED", "ADDITIVE", "SETTLE_DAYS", "Collected", "collect", "add_rollups", "merge_rows", "plain_row",
           "combine", "project", "PROJECTIONS"]

ROLLED = ("Q1", "Q2", "Q3", "Q4", "Q5", "Q7")
ADDITIVE = ("Q1", "Q2", "Q3", "Q5")  # counts, summed over months; the others are lists, joined
SETTLE_DAYS = 35

Statements = Callable[[dt.datetime, dt.datetime], Mapping[str, Any]]


@dataclass(frozen=True)
class Collected:
    rows: dict[str, list[Any]]
    fresh: list[tuple[str, str, list[dict[str, Any]]]] = field(default_factory=list)  # (month, query, rows)
    audit_id: int = 0
    months_kept: int = 0  # months read from rollups


def _months(year: int, tz: ZoneInfo) -> list[tuple[str, dt.datetime, dt.datetime]]:
    out = []
    for month in range(1, 13):
        start = dt.datetime(year, month, 1, tzinfo=tz)
        end = dt.datetime(year + (month == 12), 1 if month == 12 else month + 1, 1, tzinfo=tz)
        out.append((f"{year:04d}-{month:02d}", start, end))
    return out


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, dt.date):  # dates and datetimes: ISO text (JSON)
        return value.isoformat()
    return bool(value)


def plain_row(row: Any) -> dict[str, Any]:
    return {k: _plain(v) for k, v in row._mapping.items()}


def combine(query: str, parts: Sequence[Sequence[Mapping[str, Any]]]) -> list[Any]:
    """A query's rows over several periods: counts summed, lists joined."""
    if query in ADDITIVE:
        return merge_rows(parts)
    return [SimpleNamespace(**row) for rows in parts for row in rows]


# Counts whose groups cross several dimensions are kept as the projections the report reads
# (a month of Q2 over 100 communities × 30 departments × 12 kinds is 36,000 groups; its two
# projections, 1,560): (axis, the columns kept).
PROJECTIONS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "Q2": (("community", ("community_id", "kind")), ("department", ("department", "kind"))),
    "Q5": (("data", ("community_id", "platform_id", "item", "kind")), ("department", ("department",))),
}


def project(query: str, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The query's rows summed onto each of its projections (rows carry ``axis``), or the rows as they are."""
    if query not in PROJECTIONS:
        return [dict(row) for row in rows]
    out: list[dict[str, Any]] = []
    for axis, columns in PROJECTIONS[query]:
        totals: dict[tuple[Any, ...], int] = {}
        for row in rows:
            key = tuple(row[c] for c in columns)
            totals[key] = totals.get(key, 0) + int(row["n"])
        out += [{"axis": axis, **dict(zip(columns, key, strict=True)), "n": n} for key, n in totals.items()]
    return out


def merge_rows(parts: Sequence[Sequence[Mapping[str, Any]]]) -> list[Any]:
    """Sum ``n`` over rows with the same other columns (one month's groups added to the next's)."""
    totals: dict[tuple[Any, ...], int] = {}
    for rows in parts:
        for row in rows:
            key = tuple(kv for kv in row.items() if kv[0] != "n")
            totals[key] = totals.get(key, 0) + int(row["n"])
    return [SimpleNamespace(**dict(key), n=n) for key, n in totals.items()]


async def _changed(conn: AsyncConnection, *, since: int, start: dt.datetime, end: dt.datetime,
                   tz: ZoneInfo) -> dict[str, int]:
    """Month → newest audit id of a change to one of its tasks after audit id ``since``."""
    rows = (await conn.execute(
        sa.select(AUDIT_LOG.c.id, TASKS.c.received_at)
        .select_from(AUDIT_LOG.join(TASKS, TASKS.c.id == AUDIT_LOG.c.entity_id))
        .where(AUDIT_LOG.c.id > since, AUDIT_LOG.c.entity == "task", TASKS.c.received_at >= start,
               TASKS.c.received_at < end))).all()
    newest: dict[str, int] = {}
    for audit_id, received_at in rows:
        month = received_at.astimezone(tz).strftime("%Y-%m")
        newest[month] = max(newest.get(month, 0), int(audit_id))
    return newest


async def collect(conn: AsyncConnection, *, year: int, tz: ZoneInfo, now: dt.datetime,
                  statements: Statements) -> Collected:
    """The year's rows of each rolled query: kept months from ``report_rollups``, the others live."""
    months = _months(year, tz)
    audit_id = int((await conn.execute(sa.select(sa.func.coalesce(sa.func.max(AUDIT_LOG.c.id), 0)))).scalar_one())
    stored: dict[str, dict[str, tuple[int, list[dict[str, Any]]]]] = {}
    for r in (await conn.execute(sa.select(REPORT_ROLLUPS.c.month, REPORT_ROLLUPS.c.query, REPORT_ROLLUPS.c.rows,
                                           REPORT_ROLLUPS.c.audit_id)
                                 .where(REPORT_ROLLUPS.c.month.in_([m for m, _, _ in months])))).all():
        stored.setdefault(r.month, {})[r.query] = (int(r.audit_id), list(r.rows or []))
    oldest = min((a for per in stored.values() for a, _ in per.values()), default=audit_id)
    changed = await _changed(conn, since=oldest, start=months[0][1], end=months[-1][2], tz=tz) if stored else {}
    parts: dict[str, list[list[dict[str, Any]]]] = {q: [] for q in ROLLED}
    fresh: list[tuple[str, str, list[dict[str, Any]]]] = []
    kept = 0
    for month, start, end in months:
        settled = end + dt.timedelta(days=SETTLE_DAYS) <= now
        mine = stored.get(month, {})
        if settled and set(mine) >= set(ROLLED) and all(changed.get(month, 0) <= a for a, _ in mine.values()):
            kept += 1
            for query in ROLLED:
                parts[query].append(mine[query][1])
            continue
        for query, stmt in statements(start, end).items():
            rows = project(query, [plain_row(r) for r in (await conn.execute(stmt)).all()])
            parts[query].append(rows)
            if settled:
                fresh.append((month, query, rows))
    return Collected(rows={q: combine(q, p) for q, p in parts.items()}, fresh=fresh, audit_id=audit_id,
                     months_kept=kept)


async def add_rollups(conn: AsyncConnection, *, collected: Collected, now: dt.datetime) -> int:
    """Store (or replace) the settled months computed live; returns how many rows were written."""
    for month, query, rows in collected.fresh:
        await conn.execute(sa.delete(REPORT_ROLLUPS).where(REPORT_ROLLUPS.c.month == month,
                                                           REPORT_ROLLUPS.c.query == query))
        await conn.execute(sa.insert(REPORT_ROLLUPS).values(month=month, query=query, rows=rows,
                                                            audit_id=collected.audit_id, built_at=now))
    return len(collected.fresh)
