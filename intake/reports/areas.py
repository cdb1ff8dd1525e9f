"""Areas: every street's (or district's) month read at once, for the monthly run.

A street admin's digest is the district's digest on the street's rows (:mod:`intake.reports.streets`,
through the scope filter of :mod:`intake.scope`): its tasks are those addressed to one of its
communities or sent by one of its own offices. Built street by street, a province's 500 streets
would read the month 500 times. Here the same rows are grouped by area in one query per figure:
``area_tasks`` pairs each task of the month with every area that sees it, by the same rule as the
scope filter, and each query groups by that area. The per-community figures are read once for all
areas (:mod:`intake.reports.batch` adds them up per area).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.reports.community import add_source_row, source_columns
from intake.reports.figures import measures_of
from intake.reports.measures import ESCALATED, NOT_WORKED, department_name
from intake.reports.tally import Tally
from intake.store.models import COMMUNITIES, DEPARTMENTS, DISTRICTS, STREETS, TASKS
from intake.store.models import TASK_TARGETS as TARGETS
from intake.store.values import OrgLevel

__all__ = ["Area", "list_areas", "get_area_tallies", "get_area_totals", "get_area_codes", "get_area_escalations",
           "get_area_sources"]

@dataclass(frozen=True)
class Area:
    """A street or a district as its digest sees it (the same sets as ``intake.scope.resolve_scope``)."""

    level: OrgLevel
    id: int
    name: str  # the street's or district's own name
    district: str  # the district's name
    community_ids: frozenset[int]
    visible_department_ids: frozenset[int]  # the city's, its district's, its streets' (ratings are read for these)

    @property
    def key(self) -> str:
        """The digest's scope: ``street:ID`` or ``district:ID``."""
        return f"{self.level.value}:{self.id}"

    @property
    def label(self) -> str:
        return self.name if self.level is OrgLevel.district else f"{self.district}{self.name}"


async def list_areas(conn: AsyncConnection, *, level: OrgLevel, district_id: int | None = None) -> list[Area]:
    """Every street (or district) with an active community, by id; within `district_id` when given."""
    streets = {int(r.id): (str(r.name), int(r.district_id)) for r in await conn.execute(
        sa.select(STREETS.c.id, STREETS.c.name, STREETS.c.district_id))}
    districts = {int(r.id): str(r.name) for r in await conn.execute(sa.select(DISTRICTS.c.id, DISTRICTS.c.name))}
    members: dict[int, set[int]] = defaultdict(set)
    active: set[int] = set()
    for c in await conn.execute(sa.select(COMMUNITIES.c.id, COMMUNITIES.c.street_id, COMMUNITIES.c.active)
                                .where(COMMUNITIES.c.street_id.is_not(None))):
        street = int(c.street_id)
        area = street if level is OrgLevel.street else streets[street][1]
        members[area].add(int(c.id))
        if c.active:
            active.add(area)
    city: set[int] = set()
    of_district: dict[int, set[int]] = defaultdict(set)
    of_street: dict[int, set[int]] = defaultdict(set)
    for d in await conn.execute(sa.select(DEPARTMENTS.c.id, DEPARTMENTS.c.level, DEPARTMENTS.c.district_id,
                                          DEPARTMENTS.c.street_id)):
        if d.level == OrgLevel.city:
            city.add(int(d.id))
        elif d.level == OrgLevel.district and d.district_id is not None:
            of_district[int(d.district_id)].add(int(d.id))
        elif d.level == OrgLevel.street and d.street_id is not None:
            of_street[int(d.street_id)].add(int(d.id))
    streets_of: dict[int, set[int]] = defaultdict(set)
    for street_id, (_, owner) in streets.items():
        streets_of[owner].add(street_id)
    areas = []
    for ident in sorted(active):
        district = streets[ident][1] if level is OrgLevel.street else ident
        if district_id is not None and district != district_id:
            continue
        own_streets = {ident} if level is OrgLevel.street else streets_of[ident]
        visible = frozenset(city.union(of_district[district], *(of_street[s] for s in own_streets)))
        name = streets[ident][0] if level is OrgLevel.street else districts[ident]
        areas.append(Area(level, ident, name, districts[district], frozenset(members[ident]), visible))
    return areas


def _area_tasks(level: OrgLevel, start: dt.datetime, end: dt.datetime) -> sa.Subquery:
    """(task_id, area) for every task of the month and every area that sees it: addressed to one of its
    communities, or sent by one of its own offices (a street's, or any department of a district)."""
    month = [TASKS.c.received_at >= start, TASKS.c.received_at < end]
    targets = TARGETS.join(TASKS, TASKS.c.id == TARGETS.c.task_id).join(
        COMMUNITIES, COMMUNITIES.c.id == TARGETS.c.community_id)
    offices = TASKS.join(DEPARTMENTS, DEPARTMENTS.c.id == TASKS.c.department_id)
    if level is OrgLevel.street:
        by_target = sa.select(TARGETS.c.task_id, COMMUNITIES.c.street_id.label("area")).select_from(targets).where(
            *month, COMMUNITIES.c.street_id.is_not(None))
        by_office = sa.select(TASKS.c.id, DEPARTMENTS.c.street_id).select_from(offices).where(
            *month, DEPARTMENTS.c.street_id.is_not(None))
    else:
        by_target = sa.select(TARGETS.c.task_id, STREETS.c.district_id.label("area")).select_from(
            targets.join(STREETS, STREETS.c.id == COMMUNITIES.c.street_id)).where(*month)
        by_office = sa.select(TASKS.c.id, DEPARTMENTS.c.district_id).select_from(offices).where(
            *month, DEPARTMENTS.c.district_id.is_not(None))
    return sa.union(by_target, by_office).subquery("area_tasks")


def _over_area_tasks(level: OrgLevel, start: dt.datetime, end: dt.datetime) -> tuple[Any, Any]:
    pairs = _area_tasks(level, start, end)
    return pairs.c.area, pairs.join(TASKS, TASKS.c.id == pairs.c.task_id)


async def get_area_tallies(conn: AsyncConnection, *, level: OrgLevel, start: dt.datetime,
                           end: dt.datetime) -> dict[int, Tally]:
    """Each area's tasks (each once), grouped by department, kind and unit, as the district's task tally."""
    area, source = _over_area_tasks(level, start, end)
    key = [area, department_name().label("department"), TASKS.c.kind, TASKS.c.quantity_unit]
    rows = await conn.execute(sa.select(*key, *measures_of(hours=None)).select_from(source).group_by(*key))
    tallies: dict[int, Tally] = defaultdict(Tally)
    for row in rows:
        tallies[int(row[0])].add((str(row[1]), str(row[2]), row[3]), row[4:], per_assignment=False)
    return tallies


async def get_area_totals(conn: AsyncConnection, *, level: OrgLevel, start: dt.datetime,
                          end: dt.datetime) -> dict[int, tuple[int, int]]:
    """(tasks, administrative) per area: the previous month's side of the trend."""
    area, source = _over_area_tasks(level, start, end)
    administrative = sa.func.sum(sa.case((TASKS.c.nature != "service", 1), else_=0))
    rows = await conn.execute(sa.select(area, sa.func.count(), administrative).select_from(source).group_by(area))
    return {int(r[0]): (int(r[1]), int(r[2] or 0)) for r in rows}


async def get_area_codes(conn: AsyncConnection, *, level: OrgLevel, start: dt.datetime, end: dt.datetime,
                         limit: int) -> dict[int, tuple[str, ...]]:
    """The first `limit` unfunded assist task codes of each area (as the district's, by arrival)."""
    area, source = _over_area_tasks(level, start, end)
    rank = sa.func.row_number().over(partition_by=area, order_by=(TASKS.c.received_at, TASKS.c.id)).label("rank")
    ranked = (sa.select(area.label("area"), TASKS.c.code, rank).select_from(source)
              .where(TASKS.c.listing == "assist", TASKS.c.funded.is_(False), TASKS.c.status.not_in(NOT_WORKED))
              .subquery())
    codes: dict[int, list[str]] = defaultdict(list)
    for row in await conn.execute(sa.select(ranked.c.area, ranked.c.code).where(ranked.c.rank <= limit)
                                  .order_by(ranked.c.area, ranked.c.rank)):
        codes[int(row.area)].append(str(row.code))
    return {a: tuple(c) for a, c in codes.items()}


async def get_area_escalations(conn: AsyncConnection, *, level: OrgLevel, start: dt.datetime,
                               end: dt.datetime) -> dict[int, tuple[tuple[str, int], ...]]:
    """层层加码 per forwarding office, per area (most first, as the district's digest orders them)."""
    area, source = _over_area_tasks(level, start, end)
    office = sa.func.coalesce(TASKS.c.forwarded_by, "未识别")
    rows = await conn.execute(sa.select(area, office.label("office"), sa.func.count(TASKS.c.id).label("n"))
                              .select_from(source).where(ESCALATED, TASKS.c.duplicate_of.is_(None))
                              .group_by(area, office))
    found: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for row in rows:
        found[int(row[0])].append((str(row.office), int(row.n)))
    return {a: tuple(sorted(offices, key=lambda o: (-o[1], o[0]))) for a, offices in found.items()}


async def get_area_sources(conn: AsyncConnection, *, level: OrgLevel, start: dt.datetime,
                           end: dt.datetime) -> dict[int, dict[str, list[int]]]:
    """[reported, via Jianfu, trace demands] per department, per area (the community side's district view)."""
    area, source = _over_area_tasks(level, start, end)
    columns, having = source_columns()
    result: dict[int, dict[str, list[int]]] = defaultdict(dict)
    for row in await conn.execute(sa.select(area, *columns).select_from(source).group_by(area, columns[0])
                                  .having(having)):
        add_source_row(result[int(row[0])], row[1:])
    return result
