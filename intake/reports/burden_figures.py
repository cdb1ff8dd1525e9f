"""The year's figures of a report's scope: twelve months of :class:`intake.reports.figures.Figures`.

The yearly report counts nothing the figures count: notices, assignments, hours, refused, unlisted,
unfunded, short notice, duplicates and 重复采集, by department, kind and community, are the monthly
figures summed, read from ``month_rollups`` for the months kept there and computed live (with the
same function) for the others. For the district, a month not kept is computed once for the district
and every community together.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

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
    communities: Mapping[str, tuple[Figures, ...]]  # each of the scope's communities', month by month

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
        for name, months in self.communities.items():
            for f in months:
                out[name] += f.total.assignments if kind is None else dict(f.by_kind).get(kind, Counts()).assignments
        return out


async def _district_month(
    conn: AsyncConnection, *, month: str, kept: Mapping[str, Any] | None, communities: Sequence[Any],
    settings: IntakeSettings, now: dt.datetime,
) -> tuple[Figures, dict[str, Figures]]:
    if kept is not None and DISTRICT_SCOPE.key in kept:
        found = {str(r.name): kept.get(Scope(ScopeKind.community, str(r.name)).key) for r in communities}
        return Figures.from_json(kept[DISTRICT_SCOPE.key]), {
            name: Figures.from_json(content) for name, content in found.items() if content is not None}
    staff = sum(int(r.staff) for r in communities if r.active)
    top, per_id = await get_month_figures(
        conn, month=month, settings=settings, now=now, district_staff=staff,
        communities=[(int(r.id), str(r.name), int(r.staff)) for r in communities])
    return top, {f.scope.name: f for f in per_id.values()}


async def get_year_figures(
    conn: AsyncConnection, *, months: Sequence[str], community: str | None, kept: Mapping[str, Mapping[str, Any]],
    settings: IntakeSettings, now: dt.datetime,
) -> YearFigures:
    """The figures of `months` for the district (`community` None) or one community; `kept`: month → scope
    key → content, of the months whose rollups are complete (``rollups.get_kept_contents``)."""
    if community is not None:
        scope = Scope(ScopeKind.community, community)
        trend = tuple(await get_trend(conn, month=months[-1], scope=scope, settings=settings, now=now,
                                      months=len(months)))
        return YearFigures(months=trend, communities={community: trend})
    rows = (await conn.execute(sa.select(COMMUNITIES.c.id, COMMUNITIES.c.name, COMMUNITIES.c.staff,
                                         COMMUNITIES.c.active))).all()
    district: list[Figures] = []
    per_community: dict[str, list[Figures]] = {str(r.name): [] for r in rows}
    for month in months:
        top, communities = await _district_month(conn, month=month, kept=kept.get(month), communities=rows,
                                                 settings=settings, now=now)
        district.append(top)
        for name, figures in communities.items():
            per_community.setdefault(name, []).append(figures)
    return YearFigures(months=tuple(district), communities={k: tuple(v) for k, v in per_community.items()})
