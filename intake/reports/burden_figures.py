"""The year's figures of a report's scope: twelve months of :class:`intake.reports.figures.Figures`.

The yearly report counts nothing the figures count: notices, assignments, hours, refused, unlisted,
unfunded, short notice, duplicates and 重复采集, by department, kind and community, are the monthly
figures summed, read from ``month_rollups`` for the months kept there and computed live (with the
same function) for the others. For the district, a kept month is two rows (its figures, and the
report's rows with each community's assignments by kind); a month not kept is computed once for the
district and every community together.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.reports.burden_rollup import BURDEN_SCOPE, KINDS, community_kinds
from intake.reports.figures import DISTRICT_SCOPE, Counts, Figures, Scope, ScopeKind, get_month_figures
from intake.reports.rollups import get_trend
from intake.settings import IntakeSettings
from intake.store.models import COMMUNITIES

__all__ = ["YearFigures", "get_year_figures"]


def _summed(months: Sequence[Figures], axis: str) -> dict[str, Counts]:
    """The months' counts by department or kind (`axis`: ``by_department`` or ``by_kind``), added up."""
    out: dict[str, Counts] = {}
    for f in months:
        for name, counts in getattr(f, axis):
            out[name] = out.get(name, Counts()) + counts
    return out


@dataclass(frozen=True)
class YearFigures:
    months: tuple[Figures, ...]  # the scope's, month by month
    community_kinds: Mapping[tuple[str, str], int]  # (community, kind) → the year's assignments

    @property
    def total(self) -> Counts:
        return sum((f.total for f in self.months), Counts()).rounded()

    @property
    def by_department(self) -> dict[str, Counts]:
        return _summed(self.months, "by_department")

    @property
    def by_kind(self) -> dict[str, Counts]:
        return _summed(self.months, "by_kind")

    def department_assignments(self, kind: str | None) -> Counter[str]:
        """Assignments per department, of one kind (None: all)."""
        out: Counter[str] = Counter()
        for f in self.months:
            for department, k, _tasks, assignments in f.department_kinds:
                if kind is None or k == kind:
                    out[department] += assignments
        return out

    def community_assignments(self, kind: str | None) -> Counter[str]:
        """Assignments per community of the scope, of one kind (None: all)."""
        out: Counter[str] = Counter()
        for (name, k), assignments in self.community_kinds.items():
            if kind is None or k == kind:
                out[name] += assignments
        return out


async def _district_month(
    conn: AsyncConnection, *, month: str, kept: Mapping[str, Any] | None, communities: Sequence[Any],
    settings: IntakeSettings, now: dt.datetime,
) -> tuple[Figures, list[list[Any]]]:
    """The district's figures of the month and its communities' assignments by kind: the kept ones (two rollups),
    or computed from the log in one pass."""
    if kept is not None and DISTRICT_SCOPE.key in kept and BURDEN_SCOPE in kept:
        return Figures.from_json(kept[DISTRICT_SCOPE.key]), kept[BURDEN_SCOPE][KINDS]
    staff = sum(int(r.staff) for r in communities if r.active)
    top, per_id = await get_month_figures(
        conn, month=month, settings=settings, now=now, district_staff=staff,
        communities=[(int(r.id), str(r.name), int(r.staff)) for r in communities])
    return top, community_kinds(per_id.values())


async def get_year_figures(
    conn: AsyncConnection, *, months: Sequence[str], community: str | None, kept: Mapping[str, Mapping[str, Any]],
    settings: IntakeSettings, now: dt.datetime,
) -> YearFigures:
    """The figures of `months` for the district (`community` None) or one community; `kept`: month → scope
    key → content, of the months whose rollups are complete (``rollups.get_kept_contents``)."""
    kinds: Counter[tuple[str, str]] = Counter()
    if community is not None:
        scope = Scope(ScopeKind.community, community)
        trend = tuple(await get_trend(conn, month=months[-1], scope=scope, settings=settings, now=now,
                                      months=len(months)))
        for name, kind, assignments in community_kinds(trend):
            kinds[(name, kind)] += assignments
        return YearFigures(months=trend, community_kinds=kinds)
    rows = (await conn.execute(sa.select(COMMUNITIES.c.id, COMMUNITIES.c.name, COMMUNITIES.c.staff,
                                         COMMUNITIES.c.active))).all()
    district: list[Figures] = []
    for month in months:
        top, month_kinds = await _district_month(conn, month=month, kept=kept.get(month), communities=rows,
                                                 settings=settings, now=now)
        district.append(top)
        for name, kind, assignments in month_kinds:
            kinds[(str(name), str(kind))] += int(assignments)
    return YearFigures(months=tuple(district), community_kinds=kinds)
