"""The yearly report's own rows of the district's months, kept with the month's figures.

The report's counts come from the monthly figures. What the figures do not hold (Q1 items, Q3
certificates, Q4 层层加码, Q5 platforms, Q7 quote candidates; ``burden_queries``) is computed for a
closed month by the same sweep that rolls up its figures (``intake.reports.rollups``), and kept in
``month_rollups`` under the scope :data:`BURDEN_SCOPE`. The triggers that delete a month's figures
when one of its tasks or assignments changes delete these rows with them, so a kept month is never
stale: the report reads the kept months and runs the queries live for the others.

Counts are summed over the months and lists (层层加码, quote candidates) joined, so kept months give
the same report as the live queries; a test holds them to that.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from types import SimpleNamespace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from intake.calendar import month_bounds
from intake.reports.burden_queries import Statements, statements_for
from intake.reports.figures import Figures
from intake.settings import IntakeSettings

__all__ = ["BURDEN_SCOPE", "KINDS", "community_kinds", "ROLLED", "ADDITIVE", "PROJECTIONS", "get_burden_rows", "run_rows", "collect",
           "merge_rows", "plain_row", "combine", "project"]

BURDEN_SCOPE = "burden"  # month_rollups.scope of the report's own rows (the district's)
KINDS = "kinds"  # the kept communities' assignments by kind, beside the rows
ROLLED = ("Q1", "Q3", "Q4", "Q5", "Q7")
ADDITIVE = ("Q1", "Q3", "Q5")  # counts, summed over months; the others are lists, joined


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


# Q5's groups cross community × platform × department × item × kind; the report reads two projections
# of them: (axis, the columns kept).
PROJECTIONS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
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
            values = dict(row)
            n = int(values.pop("n"))
            key = tuple(values.items())  # the columns with their values (Q5's projections differ in columns)
            totals[key] = totals.get(key, 0) + n
    return [SimpleNamespace(**dict(key), n=n) for key, n in totals.items()]


async def run_rows(conn: AsyncConnection, statements: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The statements' rows as plain JSON-able dicts, projected as they are kept."""
    return {q: project(q, [plain_row(r) for r in (await conn.execute(stmt)).all()])
            for q, stmt in statements.items()}


def community_kinds(per_community: Iterable[Figures]) -> list[list[Any]]:
    """[community, kind, assignments] of the month's community figures: what the year's seven counts read per
    community, kept with the report's rows so a kept year reads two rollups a month, not one per community."""
    return [[f.scope.name, kind, counts.assignments] for f in per_community for kind, counts in f.by_kind]


async def get_burden_rows(
    conn: AsyncConnection, *, month: str, settings: IntakeSettings, per_community: Iterable[Figures]
) -> dict[str, Any]:
    """The district's rows of the report's own queries for one month, and its communities' assignments by kind
    (``KINDS``, from their figures): what the sweep keeps."""
    start, end = month_bounds(month, settings.tz)
    return {**await run_rows(conn, statements_for(None)(start, end)), KINDS: community_kinds(per_community)}


async def collect(conn: AsyncConnection, *, months: Sequence[str], kept: Mapping[str, Mapping[str, Any]],
                  statements: Statements, settings: IntakeSettings) -> dict[str, list[Any]]:
    """The rows of the `months`, each kept month's read from `kept` (month → its ``burden`` content), the
    others run live."""
    parts: dict[str, list[list[dict[str, Any]]]] = {q: [] for q in ROLLED}
    for month in months:
        rows = kept.get(month)
        if rows is None:
            rows = await run_rows(conn, statements(*month_bounds(month, settings.tz)))
        for query in ROLLED:
            parts[query].append(rows[query])
    return {q: combine(q, p) for q, p in parts.items()}
