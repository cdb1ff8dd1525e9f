"""The monthly run's digests, all from one reading of the month.

:func:`build_month_batch` builds the district's digest, every community's and every street's (or, for
one district of a multi-district deployment, that district's with its streets and communities) from a
fixed number of grouped queries, whatever the number of scopes: the per-community figures are read
once (:func:`intake.reports.figures.get_month_figures`) and added up per area; what an area reads on
its own (its tasks, counted once each; its first unfunded codes; 层层加码; its community side) comes
from :mod:`intake.reports.areas`, grouped by area. The previous month is read for the trend only:
totals per community and per area, not the whole figures.

Each digest is the same as the one built alone (``build_digest``, ``build_street_digest``): the tests
compare them on a seeded month, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.calendar import month_bounds
from intake.reports import areas as area_reads
from intake.reports import community as community_side
from intake.reports.areas import Area
from intake.reports.figures import (
    DISTRICT_SCOPE,
    Counts,
    Figures,
    MonthTallies,
    Scope,
    Timeliness,
    build_figures,
)
from intake.reports.measures import HOURS_SUM_UNIT, hours_sum
from intake.reports.model import Digest, RatingRow
from intake.reports.tally import Tally, merge_assignments
from intake.settings import IntakeSettings
from intake.store.models import DEPARTMENTS, RATINGS, TASKS
from intake.store.models import TASK_TARGETS as TARGETS

__all__ = ["PreviousTotals", "get_previous_totals", "previous_figures", "build_area_digests"]


@dataclass(frozen=True)
class PreviousTotals:
    """A month's totals for the trend: (tasks, administrative) of the whole (visible) log, and
    (assignments, administrative, hours in thousandths) per community."""

    tasks: int
    administrative: int
    per_community: dict[int, tuple[int, int, int]]

    def assignments(self, community_ids: Iterable[int] | None = None) -> int:
        ids = self.per_community if community_ids is None else community_ids
        return sum(self.per_community[c][0] for c in ids if c in self.per_community)

    def hours(self, community_ids: Iterable[int] | None = None) -> float:
        ids = self.per_community if community_ids is None else community_ids
        return sum(self.per_community[c][2] for c in ids if c in self.per_community) / HOURS_SUM_UNIT


_ADMINISTRATIVE = sa.func.sum(sa.case((TASKS.c.nature != "service", 1), else_=0))


async def get_previous_totals(conn: AsyncConnection, *, month: str, settings: IntakeSettings,
                              community_ids: Sequence[int] | None = None) -> PreviousTotals:
    """`month`'s totals (the previous month of a digest), for `community_ids` or every community."""
    start, end = month_bounds(month, settings.tz)
    where = [TASKS.c.received_at >= start, TASKS.c.received_at < end]
    tasks, administrative = (await conn.execute(sa.select(sa.func.count(), _ADMINISTRATIVE).where(*where))).one()
    if community_ids is not None:
        where.append(TARGETS.c.community_id.in_(community_ids))
    rows = await conn.execute(
        sa.select(TARGETS.c.community_id, sa.func.count(), _ADMINISTRATIVE,
                  hours_sum(settings.schedule))
        .select_from(TARGETS.join(TASKS, TASKS.c.id == TARGETS.c.task_id)).where(*where)
        .group_by(TARGETS.c.community_id))
    return PreviousTotals(int(tasks), int(administrative or 0),
                          {int(r[0]): (int(r[1]), int(r[2] or 0), int(r[3] or 0)) for r in rows})


def previous_figures(month: str, scope: Scope, *, tasks: int, assignments: int, administrative: int,
                     hours: float) -> Figures:
    """The previous month as the trend reads it: its totals only."""
    total = Counts(tasks=tasks, assignments=assignments, administrative=administrative, hours=round(hours, 1))
    return Figures(month=month, scope=scope, total=total, by_department=(), by_kind=(), quantities=(),
                   timeliness=Timeliness(), staff=0, capacity_hours=0.0)


@dataclass(frozen=True)
class MonthReads:
    """What the district's own build already read, handed to the areas'."""

    month: str
    previous_month: str
    per_community: dict[int, Figures]  # every community of the month
    tallies: MonthTallies  # what they were built from
    communities: Sequence[tuple[int, str, int, bool]]  # (id, name, staff, active), by id
    previous: PreviousTotals
    side: community_side.MonthSide
    unfunded_codes: int  # how many codes a digest quotes


async def _rating_cells(conn: AsyncConnection, *, month: str) -> list[tuple[int, int, str, int, int]]:
    """(community, department id, department name, sum of scores, count) of the month's ratings."""
    rows = await conn.execute(
        sa.select(RATINGS.c.community_id, DEPARTMENTS.c.id, DEPARTMENTS.c.name, sa.func.sum(RATINGS.c.score),
                  sa.func.count())
        .select_from(RATINGS.join(DEPARTMENTS, DEPARTMENTS.c.id == RATINGS.c.department_id))
        .where(RATINGS.c.month == month).group_by(RATINGS.c.community_id, DEPARTMENTS.c.id, DEPARTMENTS.c.name))
    return [(int(r[0]), int(r[1]), str(r[2]), int(r[3]), int(r[4])) for r in rows]


def _area_ratings(cells: Sequence[tuple[int, int, str, int, int]], area: Area,
                  ) -> tuple[dict[str, tuple[int, int]], tuple[RatingRow, ...]]:
    """The area's ratings by department name (for the league) and its anonymous averages (from MIN_RATERS
    communities), over its communities' ratings of the departments it sees."""
    by_name: dict[str, tuple[int, int]] = {}
    raters: dict[str, set[int]] = defaultdict(set)
    for community, department, name, total, n in cells:
        if community in area.community_ids and department in area.visible_department_ids:
            so_far, count = by_name.get(name, (0, 0))
            by_name[name] = (so_far + total, count + n)
            raters[name].add(community)
    anonymous = tuple(RatingRow(name, round(total / n, 2), n) for name, (total, n) in sorted(by_name.items())
                      if len(raters[name]) >= community_side.MIN_RATERS)
    return by_name, anonymous


async def build_area_digests(conn: AsyncConnection, *, reads: MonthReads, areas: Sequence[Area],
                             settings: IntakeSettings, now: dt.datetime) -> list[Digest]:
    """The digests of `areas` (all of one level), from `reads` and a few queries grouped by area."""
    from intake.reports.digest import assemble_digest, league_ratings  # digest.py builds with this module

    if not areas:
        return []
    level = areas[0].level
    start, end = month_bounds(reads.month, settings.tz)
    before = month_bounds(reads.previous_month, settings.tz)
    tallies = await area_reads.get_area_tallies(conn, level=level, start=start, end=end)
    totals = await area_reads.get_area_totals(conn, level=level, start=before[0], end=before[1])
    codes = await area_reads.get_area_codes(conn, level=level, start=start, end=end, limit=reads.unfunded_codes)
    escalations = await area_reads.get_area_escalations(conn, level=level, start=start, end=end)
    sources = await area_reads.get_area_sources(conn, level=level, start=start, end=end)
    cells = await _rating_cells(conn, month=reads.month)
    by_id = {c[0]: c for c in reads.communities}
    digests = []
    for area in areas:
        members = [by_id[c] for c in sorted(area.community_ids) if c in by_id]
        figures = _area_figures(reads, area, members, tallies.get(area.id), settings)
        tasks, administrative = totals.get(area.id, (0, 0))
        previous = previous_figures(reads.previous_month, figures.scope, tasks=tasks, administrative=administrative,
                                    assignments=reads.previous.assignments(area.community_ids),
                                    hours=reads.previous.hours(area.community_ids))
        by_name, anonymous = _area_ratings(cells, area)
        shown = [reads.per_community[c[0]] for c in members if c[3] or reads.per_community[c[0]].total.assignments]
        digest = assemble_digest(figures, previous=previous, district=area.district,
                                 ratings=league_ratings(by_name), unfunded_codes=codes.get(area.id, ()),
                                 communities=shown)
        side = community_side.build_side(
            sources.get(area.id, {}), linked=sum(reads.side.linked.get(c, 0) for c in area.community_ids),
            counter=community_side.add_counters(reads.side.counter[c] for c in sorted(area.community_ids)
                                                if c in reads.side.counter))
        digests.append(dataclasses.replace(digest, scope=area.key, label=area.label, community=side,
                                           ratings=anonymous, escalations=escalations.get(area.id, ())))
    return digests


def _area_figures(reads: MonthReads, area: Area, members: Sequence[tuple[int, str, int, bool]],
                  tally: Tally | None, settings: IntakeSettings) -> Figures:
    """The area's figures: its tasks' counts, its communities' assignments, hours and timeliness."""
    tally = tally or Tally()
    mine = [reads.tallies.communities[c[0]] for c in members if c[0] in reads.tallies.communities]
    groups = merge_assignments(tally.groups, mine)
    timeliness = sum((reads.tallies.timeliness[c[0]] for c in members if c[0] in reads.tallies.timeliness),
                     Timeliness())
    return build_figures(reads.month, DISTRICT_SCOPE, groups, tally.quantities, timeliness,
                         sum(c[2] for c in members if c[3]), settings)
