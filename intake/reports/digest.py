"""Monthly burden digests, assembled from the figures (:mod:`intake.reports.figures`).

A digest is a month's figures for the district or one community, plus what only the digest shows:
the departments with the heaviest load, the ratings, the first unfunded task codes, the change
from the previous month and, for the district, a league of departments and a community ×
department heat map. Every number in it is a figure; nothing here counts tasks again.

The monthly run (:func:`build_monthly_digests`) builds the district and every community from one
pass over the month (see ``bench/bench_digest.py``). Rendering is in :mod:`intake.reports.render`
and :mod:`intake.reports.chart`, sending in :mod:`intake.reports.monthly`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.calendar import month_bounds, previous_month
from intake.labels import KIND_ZH
from intake.reports import community as community_side
from intake.reports.figures import NOT_WORKED, Figures, Scope, ScopeKind, get_figures, get_month_figures
from intake.reports.measures import ESCALATED
from intake.reports.model import (
    DISTRICT,
    DepartmentRow,
    Digest,
    HeatMap,
    KindRow,
    LeagueRow,
    RatingRow,
    Trend,
    share,
)
from intake.settings import IntakeSettings
from intake.store.models import COMMUNITIES, DEPARTMENTS, DISTRICTS, RATINGS, STREETS, TASKS
from intake.store.models import TASK_TARGETS as TARGETS

__all__ = ["DISTRICT", "Digest", "assemble_digest", "build_digest", "build_monthly_digests"]

UNFUNDED_CODES = 20  # how many unfunded task codes a digest quotes


# --- what only the digest reads ------------------------------------------------------------------------


async def _ratings(conn: AsyncConnection, *, month: str) -> dict[int, dict[str, tuple[int, int]]]:
    """(sum of scores, count) per community and department name."""
    query = (
        sa.select(RATINGS.c.community_id, DEPARTMENTS.c.name, sa.func.sum(RATINGS.c.score).label("total"),
                  sa.func.count().label("n"))
        .select_from(RATINGS.join(DEPARTMENTS, DEPARTMENTS.c.id == RATINGS.c.department_id))
        .where(RATINGS.c.month == month)
        .group_by(RATINGS.c.community_id, DEPARTMENTS.c.name)
    )
    result: dict[int, dict[str, tuple[int, int]]] = defaultdict(dict)
    for row in await conn.execute(query):
        result[int(row.community_id)][str(row.name)] = (int(row.total), int(row.n))
    return result


def _rating_rows(per_department: Mapping[str, tuple[int, int]]) -> tuple[RatingRow, ...]:
    """Averages over at least MIN_RATERS communities only: fewer would let a department guess its rater."""
    return tuple(
        RatingRow(name, round(total / n, 2), n) for name, (total, n) in sorted(per_department.items())
        if n >= community_side.MIN_RATERS
    )


def _district_ratings(ratings: Mapping[int, Mapping[str, tuple[int, int]]]) -> tuple[RatingRow, ...]:
    rated: dict[str, tuple[int, int]] = {}
    for per_department in ratings.values():
        for name, (score, n) in per_department.items():
            so_far, count = rated.get(name, (0, 0))
            rated[name] = (so_far + score, count + n)
    return _rating_rows(rated)


async def _unfunded_codes(
    conn: AsyncConnection, *, month: str, settings: IntakeSettings, community_ids: Sequence[int]
) -> dict[int | None, tuple[str, ...]]:
    """The first unfunded assist task codes of the month, for the district (key None) and each community."""
    start, end = month_bounds(month, settings.tz)
    unfunded = [TASKS.c.received_at >= start, TASKS.c.received_at < end, TASKS.c.listing == "assist",
                TASKS.c.funded.is_(False), TASKS.c.status.not_in(NOT_WORKED)]
    order = (TASKS.c.received_at, TASKS.c.id)
    district = (await conn.execute(sa.select(TASKS.c.code).where(*unfunded).order_by(*order).limit(UNFUNDED_CODES)))
    result: dict[int | None, tuple[str, ...]] = {None: tuple(str(c) for c in district.scalars())}
    if not community_ids:
        return result
    rank = sa.func.row_number().over(partition_by=TARGETS.c.community_id, order_by=order).label("rank")
    ranked = (
        sa.select(TARGETS.c.community_id, TASKS.c.code, rank)
        .select_from(TARGETS.join(TASKS, TASKS.c.id == TARGETS.c.task_id))
        .where(*unfunded, TARGETS.c.community_id.in_(community_ids))
        .subquery()
    )
    codes: dict[int, list[str]] = defaultdict(list)
    rows = await conn.execute(
        sa.select(ranked.c.community_id, ranked.c.code).where(ranked.c.rank <= UNFUNDED_CODES)
        .order_by(ranked.c.community_id, ranked.c.rank)
    )
    for community_id, code in rows:
        codes[int(community_id)].append(str(code))
    result.update({cid: tuple(c) for cid, c in codes.items()})
    return result


# --- assembling (pure) -----------------------------------------------------------------------------------


def _kind_rows(figures: Figures) -> tuple[KindRow, ...]:
    quantities: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for kind, unit, value in figures.quantities:
        quantities[kind].append((unit, value))
    return tuple(
        KindRow(kind=kind, label=KIND_ZH.get(kind, kind), tasks=c.tasks, hours=c.hours,
                quantities=tuple(sorted(quantities[kind], key=lambda uv: -uv[1])))
        for kind, c in figures.by_kind
    )


def _league(figures: Figures, ratings: tuple[RatingRow, ...]) -> tuple[LeagueRow, ...]:
    rating_by = {r.department: r.average for r in ratings}
    rows = [
        LeagueRow(department=name, tasks=c.tasks, refused=c.refused, refused_share=share(c.refused, c.tasks),
                  unfunded=c.unfunded, short_notice=c.short_notice, duplicates=c.duplicates,
                  repeat_collection=c.repeat_collection, hours=c.hours, rating=rating_by.get(name))
        for name, c in figures.by_department
    ]
    return tuple(sorted(rows, key=lambda r: (-r.hours, -r.tasks, r.department)))


def _heatmap(figures: Figures, communities: Sequence[Figures]) -> HeatMap:
    departments = tuple(name for name, _ in figures.by_department)
    cells = []
    for c in communities:  # one lookup table per community: a province has 10,000 × 1,000 cells
        tasks = {name: counts.tasks for name, counts in c.by_department}
        cells.append(tuple(map(tasks.get, departments, itertools.repeat(0, len(departments)))))
    return HeatMap(communities=tuple(c.scope.name for c in communities), departments=departments, cells=tuple(cells))


def assemble_digest(
    figures: Figures, *, previous: Figures, district: str, ratings: tuple[RatingRow, ...],
    unfunded_codes: tuple[str, ...], communities: Sequence[Figures] | None = None,
) -> Digest:
    """One digest from its month's figures, the previous month's and what only the digest reads.

    `communities` (the district digest only) gives the league of departments and the heat map.
    """
    total, timeliness = figures.total, figures.timeliness
    by_department = tuple(
        DepartmentRow(department=name, tasks=c.tasks, hours=c.hours, administrative=c.administrative,
                      refused=c.refused)
        for name, c in figures.by_department
    )
    before = previous.total
    return Digest(
        month=figures.month, scope=figures.scope.name or DISTRICT, district=district,
        tasks=total.tasks, assignments=total.assignments, by_department=by_department, by_kind=_kind_rows(figures),
        administrative=total.administrative, service=total.service, listing=total.listing, refused=total.refused,
        pending_review=total.pending_review, unfunded_assist=total.unfunded, unfunded_codes=unfunded_codes,
        short_notice=total.short_notice, duplicates=total.duplicates, repeat_collection=total.repeat_collection,
        due=timeliness.due, on_time=timeliness.on_time, late=timeliness.late, overdue=timeliness.overdue,
        not_yet_due=timeliness.not_yet_due, estimated_hours=total.hours, capacity_hours=figures.capacity_hours,
        staff=figures.staff,
        top_departments=tuple(sorted(by_department, key=lambda r: (-r.hours, -r.tasks, r.department))[:5]),
        ratings=ratings,
        trend=Trend(
            month=previous.month, tasks=before.tasks, administrative_share=share(before.administrative, before.tasks),
            hours=before.hours, tasks_change=total.tasks - before.tasks,
            hours_change=round(total.hours - before.hours, 1),
        ),
        league=() if communities is None else _league(figures, ratings),
        heatmap=None if communities is None else _heatmap(figures, communities),
    )


# --- building ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Community:
    id: int
    name: str
    staff: int
    active: bool


async def _communities(conn: AsyncConnection, names: Sequence[str] | None) -> tuple[list[_Community], list[_Community]]:
    """(every community, the wanted ones: `names`, or every active one with None)."""
    rows = [
        _Community(int(r.id), str(r.name), int(r.staff), bool(r.active))
        for r in await conn.execute(
            sa.select(COMMUNITIES.c.id, COMMUNITIES.c.name, COMMUNITIES.c.staff, COMMUNITIES.c.active)
            .order_by(COMMUNITIES.c.id))
    ]
    if names is None:
        return rows, [c for c in rows if c.active]
    by_name = {c.name: c for c in rows}
    missing = [name for name in names if name not in by_name]
    if missing:
        from intake.errors import NotFound

        raise NotFound(missing[0])
    return rows, [by_name[name] for name in names]


async def _escalations(conn: AsyncConnection, *, month: str, settings: IntakeSettings) -> tuple[tuple[str, int], ...]:
    """层层加码 of the month per forwarding office: forwards that set an earlier deadline or added work."""
    start, end = month_bounds(month, settings.tz)
    office = sa.func.coalesce(TASKS.c.forwarded_by, "未识别")
    rows = await conn.execute(
        sa.select(office.label("office"), sa.func.count(TASKS.c.id).label("n"))
        .where(TASKS.c.received_at >= start, TASKS.c.received_at < end, ESCALATED,
               TASKS.c.duplicate_of.is_(None))
        .group_by(office).order_by(sa.func.count(TASKS.c.id).desc(), office))
    return tuple((str(r.office), int(r.n)) for r in rows)


async def _district_names(conn: AsyncConnection) -> dict[int, str]:
    """Each placed community's district name, by community id."""
    rows = await conn.execute(sa.select(COMMUNITIES.c.id, DISTRICTS.c.name)
                              .join(STREETS, STREETS.c.id == COMMUNITIES.c.street_id)
                              .join(DISTRICTS, DISTRICTS.c.id == STREETS.c.district_id))
    return {int(r.id): str(r.name) for r in rows}


async def _build(
    conn: AsyncConnection, *, month: str, settings: IntakeSettings, now: dt.datetime,
    communities: Sequence[str] | None, district: bool,
) -> list[Digest]:
    """The district digest (when `district`) followed by the digests of `communities` (None: every active one)."""
    every, wanted = await _communities(conn, communities)
    ratings = await _ratings(conn, month=month)
    codes = await _unfunded_codes(conn, month=month, settings=settings, community_ids=[c.id for c in wanted])
    name = settings.district.name
    district_of = await _district_names(conn)  # a community's digest names its own district (issue 17)
    if not district:  # one community's assignments only
        alone = [
            assemble_digest(
                await get_figures(conn, month=month, scope=scope, settings=settings, now=now),
                previous=await get_figures(conn, month=previous_month(month), scope=scope, settings=settings, now=now),
                district=district_of.get(c.id, name), ratings=_rating_rows(ratings.get(c.id, {})),
                unfunded_codes=codes.get(c.id, ()))
            for c in wanted
            for scope in [Scope(ScopeKind.community, c.name)]
        ]
        return await community_side.add_community_side(conn, alone, month=month, settings=settings)
    staff = sum(c.staff for c in every if c.active)
    scopes = [(c.id, c.name, c.staff) for c in every]
    top, per_community = await get_month_figures(conn, month=month, settings=settings, now=now, communities=scopes,
                                                 district_staff=staff)
    prev_top, prev_per_community = await get_month_figures(
        conn, month=previous_month(month), settings=settings, now=now, communities=scopes, district_staff=staff)
    shown = [per_community[c.id] for c in every if c.active or per_community[c.id].total.assignments]
    digests = [dataclasses.replace(
        assemble_digest(top, previous=prev_top, district=name, ratings=_district_ratings(ratings),
                        unfunded_codes=codes[None], communities=shown),
        escalations=await _escalations(conn, month=month, settings=settings))]
    for c in wanted:
        digests.append(assemble_digest(
            per_community[c.id], previous=prev_per_community[c.id], district=district_of.get(c.id, name),
            ratings=_rating_rows(ratings.get(c.id, {})), unfunded_codes=codes.get(c.id, ())))
    return await community_side.add_community_side(conn, digests, month=month, settings=settings)


async def build_digest(
    conn: AsyncConnection, *, month: str, community: str | None, settings: IntakeSettings, now: dt.datetime
) -> Digest:
    """The digest of `month` ("YYYY-MM") for one community (by name) or, with None, the whole district."""
    if community is None:
        (district,) = await _build(conn, month=month, settings=settings, now=now, communities=[], district=True)
        return district
    (digest,) = await _build(conn, month=month, settings=settings, now=now, communities=[community], district=False)
    return digest


async def build_monthly_digests(
    conn: AsyncConnection, *, month: str, settings: IntakeSettings, now: dt.datetime,
    communities: Sequence[str] | None = None,
) -> list[Digest]:
    """The district digest first, then one per community (every active one by default), from one pass."""
    return await _build(conn, month=month, settings=settings, now=now, communities=communities, district=True)
