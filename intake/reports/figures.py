"""A month's figures for a scope: the one aggregation that every report reads.

The digest (chat, Markdown, JSON, Excel, chart), the console's dashboard and the exports all take
their numbers from :class:`Figures`; nothing else counts tasks. Each figure is defined once, here
and in the README ("What the figures mean"):

* **tasks** — notices received in the month (local time, by ``received_at``), refused and duplicate
  ones included: the figures show what was *sent*. For a community, the tasks addressed to it.
* **assignments** — task × community (one ``task_targets`` row each).
* **refused** — tasks whose status is refused (a negative-list task an admin admitted is not).
* **unfunded (费未随事转)** — assist-list tasks without funding, not refused or withdrawn.
* **short notice (临时急件)**, **duplicates (重复派发)**, **repeat collection (重复采集)** — the flags set
  at intake.
* **due / on time / late / overdue / not yet due** — assignments due in the month (task accepted or
  done, assignment open or done): done by the end of the due day is on time, done later is late,
  open with the due day passed is overdue (逾期), open with the due day today or later is not yet due
  (未到期).
* **hours** — per assignment of a task that is not refused or withdrawn: quantity × ``[schedule]
  hours_per_unit[kind][unit]`` within ``[hours_floor, hours_ceiling]`` when the notice states a
  quantity in a unit with a rate, otherwise ``hours_per_kind[kind]``.

Every count is a SQL aggregate (``sum(case …)``) over one pass of the month, grouped by department,
kind and quantity unit. A new count (say, community-reported tasks) is one more field of
:class:`Counts` and one more entry of :func:`intake.reports.measures.conditions`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.calendar import month_bounds
from intake.reports.measures import (
    LISTINGS,
    NO_DEPARTMENT,
    NOT_WORKED,
    conditions,
    department_name,
    estimate_hours,
    hours_expression,
    hours_sum,
)
from intake.reports.tally import (
    ASSIGNMENTS_AT,
    Counts,
    GroupKey,
    Tally,
    Vector,
    as_counts,
    merge_assignments,
    summed,
)
from intake.reports.timeliness import Timeliness, get_timeliness
from intake.settings import IntakeSettings, ScheduleSettings
from intake.store.models import COMMUNITIES, TASKS
from intake.store.models import TASK_TARGETS as TARGETS

__all__ = [
    "NO_DEPARTMENT",
    "NOT_WORKED",
    "LISTINGS",
    "ScopeKind",
    "Scope",
    "DISTRICT_SCOPE",
    "Counts",
    "Timeliness",
    "Figures",
    "conditions",
    "hours_expression",
    "estimate_hours",
    "get_figures",
    "get_month_figures",
    "assignments_statement",
]


class ScopeKind(StrEnum):
    district = "district"
    community = "community"
    department = "department"


@dataclass(frozen=True)
class Scope:
    kind: ScopeKind
    name: str = ""  # the community's or department's name; "" for the district

    @property
    def key(self) -> str:
        return self.kind.value if self.kind is ScopeKind.district else f"{self.kind.value}:{self.name}"

    @classmethod
    def from_key(cls, key: str) -> Scope:
        kind, _, name = key.partition(":")
        return cls(ScopeKind(kind), name)


DISTRICT_SCOPE = Scope(ScopeKind.district)


@dataclass(frozen=True)
class Figures:
    month: str
    scope: Scope
    total: Counts
    by_department: tuple[tuple[str, Counts], ...]  # most tasks first
    by_kind: tuple[tuple[str, Counts], ...]  # most tasks first
    quantities: tuple[tuple[str, str, int], ...]  # (kind, unit, summed quantity)
    timeliness: Timeliness
    staff: int
    capacity_hours: float
    department_kinds: tuple[tuple[str, str, int, int], ...] = ()  # (department, kind, tasks, assignments)

    @property
    def load_ratio(self) -> float:
        return 0.0 if not self.capacity_hours else round(self.total.hours / self.capacity_hours, 4)

    def department(self, name: str) -> Counts:
        return dict(self.by_department).get(name, Counts())

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["scope"] = self.scope.key
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Figures:
        def pairs(rows: Iterable[Sequence[Any]]) -> tuple[tuple[str, Counts], ...]:
            return tuple((str(name), Counts(**counts)) for name, counts in rows)

        return cls(
            month=str(data["month"]), scope=Scope.from_key(str(data["scope"])), total=Counts(**data["total"]),
            by_department=pairs(data["by_department"]), by_kind=pairs(data["by_kind"]),
            quantities=tuple((str(k), str(u), int(v)) for k, u, v in data["quantities"]),
            timeliness=Timeliness(**data["timeliness"]), staff=int(data["staff"]),
            capacity_hours=float(data["capacity_hours"]),
            department_kinds=tuple((str(d), str(k), int(t), int(a)) for d, k, t, a in data["department_kinds"]),
        )


# --- the queries -------------------------------------------------------------------------------------


def measures_of(*, hours: sa.ColumnElement[float] | None) -> list[Any]:
    def sum_if(condition: sa.ColumnElement[bool]) -> Any:
        return sa.func.sum(sa.case((condition, 1), else_=0))

    measures = [sa.func.count().label("n"), sa.func.sum(TASKS.c.quantity_value).label("qty")]
    measures += [sum_if(cond).label(name) for name, cond in conditions().items()]
    if hours is not None:
        measures.append(hours.label("hours"))
    return measures


@dataclass(frozen=True)
class MonthWhere:
    start: dt.datetime
    end: dt.datetime
    community_ids: tuple[int, ...] | None = None  # None: every community
    department: str | None = None

    def clauses(self, *, targets: bool) -> list[sa.ColumnElement[bool]]:
        where = [TASKS.c.received_at >= self.start, TASKS.c.received_at < self.end]
        if targets and self.community_ids is not None:
            where.append(TARGETS.c.community_id.in_(self.community_ids))
        if self.department is not None:
            where.append(department_name() == self.department)
        return where


_ASSIGNMENTS = TARGETS.join(TASKS, TASKS.c.id == TARGETS.c.task_id)

async def _task_tally(conn: AsyncConnection, where: MonthWhere) -> Tally:
    """Each task once, grouped by department, kind and unit (the district's and a department's counts)."""
    key = [department_name().label("department"), TASKS.c.kind, TASKS.c.quantity_unit]
    query = sa.select(*key, *measures_of(hours=None)).where(*where.clauses(targets=False)).group_by(*key)
    tally = Tally()
    for row in await conn.execute(query):
        tally.add((str(row[0]), str(row[1]), row[2]), row[3:], per_assignment=False)
    return tally


def _assignments_query(where: MonthWhere, schedule: ScheduleSettings) -> Any:
    key = [TARGETS.c.community_id, department_name().label("department"), TASKS.c.kind, TASKS.c.quantity_unit]
    return (
        sa.select(*key, *measures_of(hours=hours_sum(schedule)))
        .select_from(_ASSIGNMENTS).where(*where.clauses(targets=True)).group_by(*key)
    )


def assignments_statement(
    start: dt.datetime, end: dt.datetime, community_ids: Sequence[int] | None, schedule: ScheduleSettings
) -> Any:
    """The figures' main query over [start, end) (what a report prints as the figures' source)."""
    return _assignments_query(MonthWhere(start, end, None if community_ids is None else tuple(community_ids)), schedule)


async def get_assignment_tallies(
    conn: AsyncConnection, where: MonthWhere, schedule: ScheduleSettings
) -> dict[int, Tally]:
    """Assignments grouped by community, department, kind and unit, with their estimated hours."""
    query = _assignments_query(where, schedule)
    tallies: dict[int, Tally] = defaultdict(Tally)
    for row in await conn.execute(query):
        tallies[int(row[0])].add((str(row[1]), str(row[2]), row[3]), row[4:], per_assignment=True)
    return tallies


def _ranked(totals: Mapping[str, Counts]) -> tuple[tuple[str, Counts], ...]:
    return tuple(sorted(totals.items(), key=lambda kv: (-kv[1].tasks, kv[0])))


def build_figures(
    month: str, scope: Scope, groups: Mapping[GroupKey, Vector], quantities: Mapping[tuple[str, str], int],
    timeliness: Timeliness, staff: int, settings: IntakeSettings,
) -> Figures:
    by_department: dict[str, list[Vector]] = defaultdict(list)
    by_kind: dict[str, list[Vector]] = defaultdict(list)
    crossed: dict[tuple[str, str], tuple[int, int]] = {}
    for (department, kind, _unit), vector in groups.items():
        by_department[department].append(vector)
        by_kind[kind].append(vector)
        tasks, assignments = crossed.get((department, kind), (0, 0))
        crossed[(department, kind)] = (tasks + int(vector[0]), assignments + int(vector[ASSIGNMENTS_AT]))
    kinds = {k: summed(v) for k, v in by_kind.items()}
    return Figures(
        month=month, scope=scope, total=as_counts(summed(list(kinds.values()))),
        by_department=_ranked({k: as_counts(summed(v)) for k, v in by_department.items()}),
        by_kind=_ranked({k: as_counts(v) for k, v in kinds.items()}),
        quantities=tuple(sorted(((k, u, v) for (k, u), v in quantities.items()), key=lambda r: (r[0], -r[2], r[1]))),
        timeliness=timeliness, staff=staff,
        capacity_hours=round(staff * settings.schedule.staff_hours_per_month, 1),
        department_kinds=tuple(sorted((d, k, t, a) for (d, k), (t, a) in crossed.items())),
    )


def local_today(now: dt.datetime, settings: IntakeSettings) -> dt.date:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(settings.tz).date()


@dataclass(frozen=True)
class MonthTallies:
    """One pass over a month: the tasks' tally, each community's and each community's timeliness."""

    tasks: Tally
    communities: dict[int, Tally]
    timeliness: dict[int, Timeliness]


async def get_month_tallies(conn: AsyncConnection, *, month: str, settings: IntakeSettings, now: dt.datetime,
                            department: str | None = None) -> MonthTallies:
    start, end = month_bounds(month, settings.tz)
    where = MonthWhere(start, end, department=department)
    return MonthTallies(
        tasks=await _task_tally(conn, where), communities=await get_assignment_tallies(conn, where, settings.schedule),
        timeliness=await get_timeliness(conn, start=start, end=end, today=local_today(now, settings),
                                        department=department))


def month_figures(
    tallies: MonthTallies, *, month: str, settings: IntakeSettings, communities: Sequence[tuple[int, str, int]],
    district_staff: int, department: str | None = None,
) -> tuple[Figures, dict[int, Figures]]:
    """The district's (or a department's) figures and each of `communities`' ((id, name, staff)) from `tallies`."""
    groups = merge_assignments(tallies.tasks.groups, tallies.communities.values())
    scope = DISTRICT_SCOPE if department is None else Scope(ScopeKind.department, department)
    top = build_figures(month, scope, groups, tallies.tasks.quantities, sum(tallies.timeliness.values(), Timeliness()),
                        0 if department else district_staff, settings)
    empty = Tally()
    per_community = {
        cid: build_figures(month, Scope(ScopeKind.community, name), tallies.communities.get(cid, empty).groups,
                           tallies.communities.get(cid, empty).quantities, tallies.timeliness.get(cid, Timeliness()),
                           staff, settings)
        for cid, name, staff in communities
    }
    return top, per_community


async def get_month_figures(
    conn: AsyncConnection, *, month: str, settings: IntakeSettings, now: dt.datetime,
    communities: Sequence[tuple[int, str, int]], district_staff: int, department: str | None = None,
) -> tuple[Figures, dict[int, Figures]]:
    """The district's (or, with `department`, that department's) figures and each of `communities`'
    ((id, name, staff)) from one pass over the month. Every community's assignments are read."""
    tallies = await get_month_tallies(conn, month=month, settings=settings, now=now, department=department)
    return month_figures(tallies, month=month, settings=settings, communities=communities,
                         district_staff=district_staff, department=department)


async def get_figures(
    conn: AsyncConnection, *, month: str, scope: Scope, settings: IntakeSettings, now: dt.datetime
) -> Figures:
    """One scope's figures for `month`; raises ``intake.errors.NotFound`` for an unknown community."""
    if scope.kind is ScopeKind.community:
        row = (await conn.execute(
            sa.select(COMMUNITIES.c.id, COMMUNITIES.c.staff).where(COMMUNITIES.c.name == scope.name))).first()
        if row is None:
            from intake.errors import NotFound

            raise NotFound(scope.name)
        start, end = month_bounds(month, settings.tz)
        where = MonthWhere(start, end, community_ids=(int(row.id),))
        tally = (await get_assignment_tallies(conn, where, settings.schedule)).get(int(row.id), Tally())
        timeliness = (await get_timeliness(conn, start=start, end=end, today=local_today(now, settings),
                                          community_ids=(int(row.id),))).get(int(row.id), Timeliness())
        return build_figures(month, scope, tally.groups, tally.quantities, timeliness, int(row.staff), settings)
    staff = int((await conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(COMMUNITIES.c.staff), 0)).where(COMMUNITIES.c.active.is_(True))
    )).scalar_one())
    top, _ = await get_month_figures(conn, month=month, settings=settings, now=now, communities=(),
                                     district_staff=staff, department=scope.name or None)
    return top
