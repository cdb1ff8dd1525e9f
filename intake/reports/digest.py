"""Monthly burden digests: built with SQL aggregates, rendered as chat text, Markdown, JSON, Excel and a chart.

What is counted (the month is local time, by the task's ``received_at``):

* **tasks** — for a community, the tasks addressed to it (one TaskTarget each); for the
  district, each task once, plus ``assignments`` (task × community). Every received task
  counts, refused ones included: the digest shows what was *sent*.
* **estimated hours** — ``schedule.hours_per_kind`` per assignment, for assignments that were
  not refused or withdrawn, against ``staff × schedule.staff_hours_per_month``.
* **on time / overdue** — assignments whose due date falls in the month: done by the end of the
  due day (local) is on time, done later is late, still open is overdue.
* **unfunded assist (费未随事转)** — listing ``assist`` without funding, not refused or withdrawn.

Every figure comes from a handful of GROUP BY queries, and the monthly run
(:func:`build_monthly_digests`) builds the district and every community from the same
queries grouped by community: 100 communities cost about one district digest (2.7 s over
1,000,000 tasks on SQLite, see ``bench/bench_digest.py``), not 100 of them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.calendar import digest_month_due, month_bounds, previous_month
from intake.labels import KIND_ZH, LISTING_ZH
from intake.reports.safety import neutralise_workbook, slug
from intake.settings import IntakeSettings
from intake.store.models import COMMUNITIES as T_COMMUNITIES
from intake.store.models import DEPARTMENTS as T_DEPARTMENTS
from intake.store.models import DIGESTS as T_DIGESTS
from intake.store.models import RATINGS as T_RATINGS
from intake.store.models import TASK_TARGETS as T_TARGETS
from intake.store.models import TASKS as T_TASKS
from intake.store.models import AwareDateTime

if TYPE_CHECKING:
    from intake.context import Services

__all__ = [
    "Digest",
    "KindRow",
    "DepartmentRow",
    "LeagueRow",
    "RatingRow",
    "Trend",
    "HeatMap",
    "DISTRICT",
    "build_digest",
    "build_monthly_digests",
    "render_markdown",
    "render_chat_text",
    "to_json",
    "write_xlsx",
    "render_chart_png",
    "find_cjk_font",
    "CjkFontMissing",
    "send_monthly_digests",
    "archive_digest",
]

DISTRICT = "district"
DEFAULT_HOURS = 2.0
NO_DEPARTMENT = "未注明部门"
NOT_WORKED = ("refused", "withdrawn")


class CjkFontMissing(RuntimeError):
    """No CJK font is installed: charts would show boxes. Install Debian's fonts-noto-cjk."""


# --- the digest ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KindRow:
    kind: str
    label: str
    tasks: int
    hours: float
    quantities: tuple[tuple[str, int], ...]  # (unit, summed value), e.g. ("户", 400)


@dataclass(frozen=True)
class DepartmentRow:
    department: str
    tasks: int
    hours: float
    administrative: int
    refused: int


@dataclass(frozen=True)
class LeagueRow:
    department: str
    tasks: int
    refused: int
    refused_share: float
    unfunded: int
    short_notice: int
    duplicates: int
    repeat_collection: int
    hours: float
    rating: float | None


@dataclass(frozen=True)
class RatingRow:
    department: str
    average: float
    count: int


@dataclass(frozen=True)
class Trend:
    month: str
    tasks: int
    administrative_share: float
    hours: float
    tasks_change: int
    hours_change: float


@dataclass(frozen=True)
class HeatMap:
    communities: tuple[str, ...]
    departments: tuple[str, ...]
    cells: tuple[tuple[int, ...], ...]  # cells[community][department] = assignments


@dataclass(frozen=True)
class Digest:
    month: str
    scope: str  # community name or "district"
    district: str
    tasks: int
    assignments: int
    by_department: tuple[DepartmentRow, ...]
    by_kind: tuple[KindRow, ...]
    administrative: int
    service: int
    listing: tuple[tuple[str, int], ...]  # (duty|assist|negative|unlisted, tasks)
    refused: int
    pending_review: int
    unfunded_assist: int
    unfunded_codes: tuple[str, ...]
    short_notice: int
    duplicates: int
    repeat_collection: int
    due: int
    on_time: int
    late: int
    overdue: int
    estimated_hours: float
    capacity_hours: float
    staff: int
    top_departments: tuple[DepartmentRow, ...]
    ratings: tuple[RatingRow, ...]
    trend: Trend
    league: tuple[LeagueRow, ...] = ()
    heatmap: HeatMap | None = None

    @property
    def is_district(self) -> bool:
        return self.scope == DISTRICT

    @property
    def administrative_share(self) -> float:
        return _share(self.administrative, self.administrative + self.service)

    @property
    def on_time_rate(self) -> float | None:
        return None if self.due == 0 else round(self.on_time / self.due, 4)

    @property
    def load_ratio(self) -> float:
        return _share(self.estimated_hours, self.capacity_hours)

    @property
    def title(self) -> str:
        scope = self.district if self.is_district else self.scope
        year, month = self.month.split("-")
        return f"{scope}{year}年{int(month)}月减负月报"

    # renderers as methods too, so callers can write digest.render_markdown()
    def render_markdown(self) -> str:
        return render_markdown(self)

    def render_chat_text(self, limit_bytes: int = 2000, link: str = "") -> str:
        return render_chat_text(self, limit_bytes=limit_bytes, link=link)

    def to_json(self) -> dict[str, Any]:
        return to_json(self)

    def write_xlsx(self, path: str | Path) -> Path:
        return write_xlsx(self, path)

    def render_chart_png(self, path: str | Path) -> Path:
        return render_chart_png(self, path)


def _share(part: float, whole: float) -> float:
    return 0.0 if not whole else round(part / whole, 4)


# --- queries ------------------------------------------------------------------------------------------
#
# A monthly run builds the district and every community from the same few GROUP BY queries:
#
# * tasks of the month grouped by the attributes the digest splits on (the district counts each task once);
# * assignments (task × community) of the month grouped by community and the same attributes — every
#   community's figures, the district's hours (per assignment) and the heat map come from these rows;
# * the same two, coarser, for the previous month (the trend);
# * assignments due in the month grouped by community (on time / late / overdue);
# * ratings grouped by community and department; the first unfunded task codes per community.
#
# So 100 communities cost one pass over the month, not 100 (see bench/bench_digest.py).


def _sum_if(condition: Any) -> Any:
    return sa.func.sum(sa.case((condition, 1), else_=0))


def _department() -> Any:
    return sa.func.coalesce(T_TASKS.c.department, NO_DEPARTMENT).label("department")


@dataclass
class _Group:
    """Tasks (or one community's assignments) that share every attribute the digest splits on."""

    department: str
    kind: str
    nature: str
    listing: str
    status: str
    quantity_unit: str | None
    n: int = 0  # tasks
    assigned: int = 0  # assignments (task × community)
    qty: int = 0
    has_qty: bool = False
    unfunded: int = 0
    short: int = 0
    duplicate: int = 0
    repeat: int = 0


def _group(values: Sequence[Any], *, assignments: bool) -> _Group:
    """A group from a result row laid out as the key columns then the measures (see _key_columns, _measures)."""
    department, kind, nature, listing, status, unit, n, qty, unfunded, short, duplicate, repeat = values
    return _Group(
        department, kind, nature, listing, status, unit, n=int(n), assigned=int(n) if assignments else 0,
        qty=int(qty or 0), has_qty=qty is not None, unfunded=int(unfunded or 0), short=int(short or 0),
        duplicate=int(duplicate or 0), repeat=int(repeat or 0),
    )


def _measures() -> list[Any]:
    return [
        sa.func.count().label("n"),
        sa.func.sum(T_TASKS.c.quantity_value).label("qty"),
        _sum_if(T_TASKS.c.funded.is_(False)).label("unfunded"),
        _sum_if(T_TASKS.c.short_notice.is_(True)).label("short"),
        _sum_if(T_TASKS.c.duplicate_of.is_not(None)).label("duplicate"),
        _sum_if(T_TASKS.c.repeat_collection.is_(True)).label("repeat"),
    ]


def _key_columns() -> list[Any]:
    return [_department(), T_TASKS.c.kind, T_TASKS.c.nature, T_TASKS.c.listing, T_TASKS.c.status,
            T_TASKS.c.quantity_unit]


def _in_month(start: dt.datetime, end: dt.datetime) -> list[Any]:
    return [T_TASKS.c.received_at >= start, T_TASKS.c.received_at < end]


def _only(community_ids: Sequence[int] | None) -> list[Any]:
    return [] if community_ids is None else [T_TARGETS.c.community_id.in_(community_ids)]


_ASSIGNMENTS = T_TARGETS.join(T_TASKS, T_TASKS.c.id == T_TARGETS.c.task_id)


async def _task_groups(conn: AsyncConnection, *, start: dt.datetime, end: dt.datetime) -> list[Any]:
    """Tasks received in [start, end), each once, grouped by the digest's attributes."""
    key = _key_columns()
    query = sa.select(*key, *_measures()).where(*_in_month(start, end)).group_by(*key)
    return list((await conn.execute(query)).all())


async def _assignment_groups(
    conn: AsyncConnection, *, start: dt.datetime, end: dt.datetime, community_ids: Sequence[int] | None
) -> list[Any]:
    """Assignments of tasks received in [start, end), grouped by community and the digest's attributes."""
    key = [T_TARGETS.c.community_id, *_key_columns()]
    query = (
        sa.select(*key, *_measures())
        .select_from(_ASSIGNMENTS)
        .where(*_in_month(start, end), *_only(community_ids))
        .group_by(*key)
    )
    return list((await conn.execute(query)).all())


@dataclass
class _Core:
    tasks: int = 0
    administrative: int = 0
    hours: float = 0.0


async def _previous_cores(
    conn: AsyncConnection, *, start: dt.datetime, end: dt.datetime, community_ids: Sequence[int] | None,
    district: bool, settings: IntakeSettings,
) -> dict[int | None, _Core]:
    """Tasks, administrative tasks and hours of a month (the trend), per community and (key None) the district."""
    worked = T_TASKS.c.status.not_in(NOT_WORKED)
    columns = [T_TASKS.c.kind, T_TASKS.c.nature, worked.label("worked")]
    cores: dict[int | None, _Core] = defaultdict(_Core)
    rows = await conn.execute(
        sa.select(T_TARGETS.c.community_id, *columns, sa.func.count().label("n"))
        .select_from(_ASSIGNMENTS)
        .where(*_in_month(start, end), *_only(community_ids))
        .group_by(T_TARGETS.c.community_id, *columns)
    )
    for r in rows:
        n = int(r.n)
        hours = n * _hours(settings, r.kind) if r.worked else 0.0
        for scope in (int(r.community_id), None):
            core = cores[scope]
            core.hours += hours
            if scope is not None:
                core.tasks += n
                core.administrative += n if r.nature != "service" else 0
    if district:
        rows = await conn.execute(
            sa.select(*columns, sa.func.count().label("n")).where(*_in_month(start, end)).group_by(*columns)
        )
        for r in rows:
            cores[None].tasks += int(r.n)
            cores[None].administrative += int(r.n) if r.nature != "service" else 0
    for core in cores.values():
        core.hours = round(core.hours, 1)
    return cores


async def _timeliness(
    conn: AsyncConnection, *, month: str, settings: IntakeSettings, community_ids: Sequence[int] | None
) -> dict[int, tuple[int, int, int, int]]:
    """(due, on_time, late, overdue) over assignments due in the month, per community."""
    tz = settings.tz
    start, end = month_bounds(month, tz)
    first, last = start.date(), (end - dt.timedelta(days=1)).date()
    # done by the end of the due day, local time: the cutoff is the next local midnight (aware, so UTC-stored
    # timestamps compare right on both databases; no date arithmetic in SQL)
    cutoffs = {
        first + dt.timedelta(days=i): sa.literal(
            dt.datetime.combine(first + dt.timedelta(days=i + 1), dt.time(), tzinfo=tz), AwareDateTime()
        )
        for i in range((last - first).days + 1)
    }
    cutoff = sa.case(cutoffs, value=T_TARGETS.c.due_date)
    done = T_TARGETS.c.status == "done"
    on_time = sa.and_(done, T_TARGETS.c.done_at.is_not(None), T_TARGETS.c.done_at < cutoff)
    query = (
        sa.select(
            T_TARGETS.c.community_id,
            sa.func.count().label("due"),
            _sum_if(on_time).label("on_time"),
            _sum_if(done).label("done"),
            _sum_if(T_TARGETS.c.status == "open").label("open"),
        )
        .select_from(_ASSIGNMENTS)
        .where(
            T_TARGETS.c.due_date >= first, T_TARGETS.c.due_date <= last,
            T_TARGETS.c.status.in_(("open", "done")), T_TASKS.c.status.in_(("accepted", "done")),
            *_only(community_ids),
        )
        .group_by(T_TARGETS.c.community_id)
    )
    result: dict[int, tuple[int, int, int, int]] = {}
    for row in await conn.execute(query):
        due, on, done_n, open_n = int(row.due), int(row.on_time or 0), int(row.done or 0), int(row.open or 0)
        result[int(row.community_id)] = (due, on, done_n - on, open_n)
    return result


async def _ratings(
    conn: AsyncConnection, *, month: str, community_ids: Sequence[int] | None
) -> dict[int, dict[str, tuple[int, int]]]:
    """(sum of scores, count) per community and department name."""
    query = (
        sa.select(T_RATINGS.c.community_id, T_DEPARTMENTS.c.name, sa.func.sum(T_RATINGS.c.score).label("total"),
                  sa.func.count().label("n"))
        .select_from(T_RATINGS.join(T_DEPARTMENTS, T_DEPARTMENTS.c.id == T_RATINGS.c.department_id))
        .where(T_RATINGS.c.month == month)
        .group_by(T_RATINGS.c.community_id, T_DEPARTMENTS.c.name)
    )
    if community_ids is not None:
        query = query.where(T_RATINGS.c.community_id.in_(community_ids))
    result: dict[int, dict[str, tuple[int, int]]] = defaultdict(dict)
    for row in await conn.execute(query):
        result[int(row.community_id)][str(row.name)] = (int(row.total), int(row.n))
    return result


def _rating_rows(per_department: dict[str, tuple[int, int]]) -> tuple[RatingRow, ...]:
    return tuple(
        RatingRow(name, round(total / n, 2), n) for name, (total, n) in sorted(per_department.items()) if n
    )


def _unfunded_filter() -> list[Any]:
    return [T_TASKS.c.listing == "assist", T_TASKS.c.funded.is_(False), T_TASKS.c.status.not_in(NOT_WORKED)]


async def _unfunded_codes(
    conn: AsyncConnection, *, start: dt.datetime, end: dt.datetime, community_ids: Sequence[int] | None,
    district: bool, communities: bool, limit: int = 20,
) -> dict[int | None, tuple[str, ...]]:
    """The first `limit` unfunded assist task codes of the month, per community and (key None) the district."""
    result: dict[int | None, tuple[str, ...]] = {}
    if district:
        query = (
            sa.select(T_TASKS.c.code).where(*_in_month(start, end), *_unfunded_filter())
            .order_by(T_TASKS.c.received_at, T_TASKS.c.id).limit(limit)
        )
        result[None] = tuple(str(c) for c in (await conn.execute(query)).scalars())
    if not communities:
        return result
    rank = sa.func.row_number().over(
        partition_by=T_TARGETS.c.community_id, order_by=(T_TASKS.c.received_at, T_TASKS.c.id)
    ).label("rank")
    ranked = (
        sa.select(T_TARGETS.c.community_id, T_TASKS.c.code, rank)
        .select_from(_ASSIGNMENTS)
        .where(*_in_month(start, end), *_unfunded_filter(), *_only(community_ids))
        .subquery()
    )
    codes: dict[int, list[str]] = defaultdict(list)
    rows = await conn.execute(
        sa.select(ranked.c.community_id, ranked.c.code).where(ranked.c.rank <= limit)
        .order_by(ranked.c.community_id, ranked.c.rank)
    )
    for community_id, code in rows:
        codes[int(community_id)].append(str(code))
    result.update({cid: tuple(c) for cid, c in codes.items()})
    return result


def _sum_timeliness(values: Iterable[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    due = on_time = late = overdue = 0
    for d, o, la, ov in values:
        due, on_time, late, overdue = due + d, on_time + o, late + la, overdue + ov
    return due, on_time, late, overdue


def _hours(settings: IntakeSettings, kind: str) -> float:
    return float(settings.schedule.hours_per_kind.get(kind, DEFAULT_HOURS))


# --- assembling -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scope:
    name: str  # community name or DISTRICT
    community_id: int | None
    staff: int


def _assemble(
    scope: _Scope, *, month: str, settings: IntakeSettings, groups: Sequence[_Group], prev: _Core,
    timeliness: tuple[int, int, int, int], ratings: tuple[RatingRow, ...], unfunded_codes: tuple[str, ...],
    heat: dict[tuple[int, str], int] | None = None, heat_communities: Sequence[tuple[int, str]] = (),
) -> Digest:
    """One digest from its groups (pure: no queries)."""
    kind_tasks: dict[str, int] = defaultdict(int)
    kind_qty: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    kind_hours: dict[str, float] = defaultdict(float)
    dept: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    listing: dict[str, int] = {key: 0 for key in ("duty", "assist", "negative", "unlisted")}
    counters: dict[str, int] = defaultdict(int)
    league: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    core = _Core()
    for g in groups:
        n = g.n
        core.tasks += n
        kind_tasks[g.kind] += n
        if g.quantity_unit and g.has_qty:
            kind_qty[g.kind][g.quantity_unit] += g.qty
        listing[g.listing] = listing.get(g.listing, 0) + n
        d = dept[g.department]
        d["tasks"] += n
        worked = g.status not in NOT_WORKED
        if worked:
            hours = g.assigned * _hours(settings, g.kind)
            core.hours += hours
            kind_hours[g.kind] += hours
            d["hours"] += hours
            league[g.department]["hours"] += hours
        if g.nature != "service":
            core.administrative += n
            d["administrative"] += n
        if g.status == "refused":
            d["refused"] += n
            counters["refused"] += n
        if g.status == "pending_review":
            counters["pending_review"] += n
        unfunded = g.unfunded if g.listing == "assist" and worked else 0
        counters["unfunded"] += unfunded
        counters["short_notice"] += g.short
        counters["duplicates"] += g.duplicate
        counters["repeat_collection"] += g.repeat
        row = league[g.department]
        row["tasks"] += n
        row["refused"] += n if g.status == "refused" else 0
        row["unfunded"] += unfunded
        row["short_notice"] += g.short
        row["duplicates"] += g.duplicate
        row["repeat_collection"] += g.repeat
    core.hours = round(core.hours, 1)

    by_kind = tuple(
        KindRow(kind=k, label=KIND_ZH.get(k, k), tasks=kind_tasks[k], hours=round(kind_hours.get(k, 0.0), 1),
                quantities=tuple(sorted(kind_qty[k].items(), key=lambda kv: -kv[1])) if k in kind_qty else ())
        for k in sorted(kind_tasks, key=lambda k: (-kind_tasks[k], k))
    )
    by_department = tuple(
        DepartmentRow(department=name, tasks=int(v["tasks"]), hours=round(v["hours"], 1),
                      administrative=int(v["administrative"]), refused=int(v["refused"]))
        for name, v in sorted(dept.items(), key=lambda kv: (-kv[1]["tasks"], kv[0]))
    )
    top = tuple(sorted(by_department, key=lambda r: (-r.hours, -r.tasks, r.department))[:5])

    league_rows: tuple[LeagueRow, ...] = ()
    heatmap: HeatMap | None = None
    if heat is not None:
        rating_by = {r.department: r.average for r in ratings}
        league_rows = tuple(
            LeagueRow(
                department=name, tasks=int(v["tasks"]), refused=int(v["refused"]),
                refused_share=_share(v["refused"], v["tasks"]), unfunded=int(v["unfunded"]),
                short_notice=int(v["short_notice"]), duplicates=int(v["duplicates"]),
                repeat_collection=int(v["repeat_collection"]), hours=round(v["hours"], 1),
                rating=rating_by.get(name),
            )
            for name, v in sorted(league.items(), key=lambda kv: (-kv[1]["hours"], -kv[1]["tasks"], kv[0]))
        )
        departments = tuple(r.department for r in by_department)
        heatmap = HeatMap(
            communities=tuple(name for _, name in heat_communities),
            departments=departments,
            cells=tuple(tuple(heat.get((cid, d), 0) for d in departments) for cid, _ in heat_communities),
        )

    due, on_time, late, overdue = timeliness
    prev_month = previous_month(month)
    return Digest(
        month=month,
        scope=scope.name,
        district=settings.district.name,
        tasks=core.tasks,
        assignments=sum(g.assigned for g in groups),
        by_department=by_department,
        by_kind=by_kind,
        administrative=core.administrative,
        service=core.tasks - core.administrative,
        listing=tuple(listing.items()),
        refused=counters["refused"],
        pending_review=counters["pending_review"],
        unfunded_assist=counters["unfunded"],
        unfunded_codes=unfunded_codes,
        short_notice=counters["short_notice"],
        duplicates=counters["duplicates"],
        repeat_collection=counters["repeat_collection"],
        due=due,
        on_time=on_time,
        late=late,
        overdue=overdue,
        estimated_hours=core.hours,
        capacity_hours=round(scope.staff * settings.schedule.staff_hours_per_month, 1),
        staff=scope.staff,
        top_departments=top,
        ratings=ratings,
        trend=Trend(
            month=prev_month, tasks=prev.tasks, administrative_share=_share(prev.administrative, prev.tasks),
            hours=prev.hours, tasks_change=core.tasks - prev.tasks, hours_change=round(core.hours - prev.hours, 1),
        ),
        league=league_rows,
        heatmap=heatmap,
    )


async def _build(
    conn: AsyncConnection, *, month: str, settings: IntakeSettings, communities: Sequence[str] | None, district: bool
) -> list[Digest]:
    """The district digest (when `district`) followed by the digests of `communities` (None: every active one)."""
    tz = settings.tz
    start, end = month_bounds(month, tz)
    prev_start, prev_end = month_bounds(previous_month(month), tz)
    rows = (
        await conn.execute(
            sa.select(T_COMMUNITIES.c.id, T_COMMUNITIES.c.name, T_COMMUNITIES.c.staff, T_COMMUNITIES.c.active)
            .order_by(T_COMMUNITIES.c.id)
        )
    ).all()
    by_name = {str(c.name): c for c in rows}
    if communities is None:
        wanted = [c for c in rows if c.active]
    else:
        missing = [name for name in communities if name not in by_name]
        if missing:
            from intake.errors import NotFound

            raise NotFound(missing[0])
        wanted = [by_name[name] for name in communities]
    scopes = [_Scope(str(c.name), int(c.id), int(c.staff)) for c in wanted]
    # the district needs every community's assignments (its hours and heat map); a single community only its own
    only = None if district else [s.community_id for s in scopes if s.community_id is not None]

    # one walk over the assignment groups feeds every community, the district's hours and the heat map
    per_community: dict[int, list[_Group]] = defaultdict(list)
    district_assigned: dict[tuple[Any, ...], int] = defaultdict(int)
    heat: dict[tuple[int, str], int] = defaultdict(int)
    for row in await _assignment_groups(conn, start=start, end=end, community_ids=only):
        cid = int(row[0])
        group = _group(row[1:], assignments=True)
        per_community[cid].append(group)
        if district:
            district_assigned[tuple(row[1:7])] += group.n
            heat[(cid, group.department)] += group.n
    prev = await _previous_cores(conn, start=prev_start, end=prev_end, community_ids=only, district=district,
                                 settings=settings)
    timeliness = await _timeliness(conn, month=month, settings=settings, community_ids=only)
    ratings = await _ratings(conn, month=month, community_ids=only)
    codes = await _unfunded_codes(conn, start=start, end=end, community_ids=only, district=district,
                                  communities=bool(scopes))

    digests: list[Digest] = []
    if district:
        district_groups = []
        for row in await _task_groups(conn, start=start, end=end):
            group = _group(row, assignments=False)
            group.assigned = district_assigned.pop(tuple(row[:6]), 0)
            district_groups.append(group)
        for (department, kind, nature, listing, status, unit), n in district_assigned.items():  # none expected
            district_groups.append(_Group(department, kind, nature, listing, status, unit, assigned=n))
        heat_cids = {cid for cid, _ in heat}
        heat_communities = [(int(c.id), str(c.name)) for c in rows if c.active or int(c.id) in heat_cids]
        rated: dict[str, tuple[int, int]] = {}
        for per_department in ratings.values():
            for name, (score, n) in per_department.items():
                so_far, count = rated.get(name, (0, 0))
                rated[name] = (so_far + score, count + n)
        digests.append(_assemble(
            _Scope(DISTRICT, None, sum(int(c.staff) for c in rows if c.active)), month=month, settings=settings,
            groups=district_groups, prev=prev.get(None, _Core()),
            timeliness=_sum_timeliness(timeliness.values()),
            ratings=_rating_rows(rated), unfunded_codes=codes.get(None, ()), heat=heat,
            heat_communities=heat_communities,
        ))
    for scope in scopes:
        key = scope.community_id
        assert key is not None
        digests.append(_assemble(
            scope, month=month, settings=settings, groups=per_community.get(key, []),
            prev=prev.get(key, _Core()), timeliness=timeliness.get(key, (0, 0, 0, 0)),
            ratings=_rating_rows(ratings.get(key, {})), unfunded_codes=codes.get(key, ()),
        ))
    return digests


async def build_digest(conn: AsyncConnection, *, month: str, community: str | None, settings: IntakeSettings) -> Digest:
    """The digest of `month` ("YYYY-MM") for one community (by name) or, with None, the whole district."""
    if community is None:
        (district,) = await _build(conn, month=month, settings=settings, communities=[], district=True)
        return district
    (digest,) = await _build(conn, month=month, settings=settings, communities=[community], district=False)
    return digest


async def build_monthly_digests(
    conn: AsyncConnection, *, month: str, settings: IntakeSettings, communities: Sequence[str] | None = None
) -> list[Digest]:
    """The district digest first, then one per community (every active one by default), from one pass."""
    return await _build(conn, month=month, settings=settings, communities=communities, district=True)


# --- renderers ----------------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _signed(value: float) -> str:
    return f"+{value:g}" if value > 0 else f"{value:g}"


def _quantities(row: KindRow) -> str:
    return "、".join(f"{v}{u}" for u, v in row.quantities) or "—"


def render_markdown(digest: Digest) -> str:
    d = digest
    lines = [
        f"# {d.title}",
        "",
        f"- 收到任务 **{d.tasks}** 件" + (f"(派至各社区共 {d.assignments} 件次)" if d.is_district else ""),
        f"- 行政事务 {d.administrative} 件({_pct(d.administrative_share)}),服务性事务 {d.service} 件"
        f"({_pct(_share(d.service, d.tasks))})",
        "- 准入:" + ",".join(f"{LISTING_ZH[k]} {v}" for k, v in d.listing),
        f"- 待审核 {d.pending_review} 件;费未随事转 {d.unfunded_assist} 件;临时急件 {d.short_notice} 件;"
        f"重复派发 {d.duplicates} 件;重复采集 {d.repeat_collection} 件",
        f"- 本月到期 {d.due} 件:按时完成 {d.on_time},逾期完成 {d.late},逾期未完成 {d.overdue}"
        f"(按时率 {_pct(d.on_time_rate)})",
        f"- 估算工作量 {d.estimated_hours:g} 小时 / 人力 {d.capacity_hours:g} 小时({d.staff} 人),"
        f"占 {_pct(d.load_ratio)}",
        f"- 较 {d.trend.month}:任务 {_signed(d.trend.tasks_change)} 件,工时 {_signed(d.trend.hours_change)} 小时",
        "",
        "## 按类型",
        "",
        "| 类型 | 件数 | 数量 | 估算工时 |",
        "|---|---:|---|---:|",
        *(f"| {r.label} | {r.tasks} | {_quantities(r)} | {r.hours:g} |" for r in d.by_kind),
        "",
        "## 按部门",
        "",
        "| 部门 | 件数 | 行政事务 | 被拒收 | 估算工时 |",
        "|---|---:|---:|---:|---:|",
        *(f"| {r.department} | {r.tasks} | {r.administrative} | {r.refused} | {r.hours:g} |" for r in d.by_department),
        "",
        "## 负担最重的部门",
        "",
        *(f"{i}. {r.department}:{r.hours:g} 小时,{r.tasks} 件" for i, r in enumerate(d.top_departments, 1)),
    ]
    if d.unfunded_codes:
        lines += ["", "## 费未随事转", "", "、".join(d.unfunded_codes)]
    if d.ratings:
        lines += ["", "## 部门评价", "", "| 部门 | 平均分 | 评价数 |", "|---|---:|---:|",
                  *(f"| {r.department} | {r.average:g} | {r.count} |" for r in d.ratings)]
    if d.league:
        lines += [
            "", "## 部门排行", "",
            "| 部门 | 件数 | 被拒收 | 拒收率 | 费未随事转 | 临时急件 | 重复派发 | 重复采集 | 工时 | 评分 |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            *(f"| {r.department} | {r.tasks} | {r.refused} | {_pct(r.refused_share)} | {r.unfunded} | "
              f"{r.short_notice} | {r.duplicates} | {r.repeat_collection} | {r.hours:g} | "
              f"{'—' if r.rating is None else f'{r.rating:g}'} |" for r in d.league),
        ]
    if d.heatmap and d.heatmap.departments:
        hm = d.heatmap
        lines += ["", "## 社区 × 部门", "", "| 社区 | " + " | ".join(hm.departments) + " |",
                  "|---|" + "---:|" * len(hm.departments),
                  *(f"| {c} | " + " | ".join(str(v) for v in row) + " |" for c, row in zip(hm.communities, hm.cells, strict=True))]
    return "\n".join(lines) + "\n"


def render_chat_text(digest: Digest, *, limit_bytes: int = 2000, link: str = "") -> str:
    """A short digest for a chat message; always within `limit_bytes` UTF-8 bytes, link kept whole."""
    from intake.senders import truncate_utf8

    d = digest
    lines = [
        f"【{d.title}】",
        f"收到任务 {d.tasks} 件,行政事务占 {_pct(d.administrative_share)};"
        f"估算 {d.estimated_hours:g} 小时,占人力 {_pct(d.load_ratio)}。",
        "准入:" + ",".join(f"{LISTING_ZH[k]}{v}" for k, v in d.listing) + "。",
        f"费未随事转 {d.unfunded_assist},临时急件 {d.short_notice},重复派发 {d.duplicates},重复采集 {d.repeat_collection}。",
        f"到期 {d.due} 件,按时率 {_pct(d.on_time_rate)},逾期未完成 {d.overdue}。",
        f"较上月:任务 {_signed(d.trend.tasks_change)},工时 {_signed(d.trend.hours_change)}。",
    ]
    if d.top_departments:
        lines.append("负担最重:" + "、".join(f"{r.department}({r.tasks}件)" for r in d.top_departments[:3]) + "。")
    if d.by_kind:
        lines.append("类型:" + "、".join(f"{r.label}{r.tasks}" for r in d.by_kind[:6]) + "。")
    tail = f"\n完整月报:{link}" if link else ""
    room = limit_bytes - len(tail.encode("utf-8"))
    if room <= 0:
        return truncate_utf8(tail.strip(), limit_bytes)
    return truncate_utf8("\n".join(lines), room) + tail


def to_json(digest: Digest) -> dict[str, Any]:
    data = dataclasses.asdict(digest)
    data["administrative_share"] = digest.administrative_share
    data["on_time_rate"] = digest.on_time_rate
    data["load_ratio"] = digest.load_ratio
    data["title"] = digest.title
    data["listing"] = dict(digest.listing)
    for row in data["by_kind"]:
        row["quantities"] = dict(row["quantities"])
    result: dict[str, Any] = json.loads(json.dumps(data, ensure_ascii=False))
    return result


def write_xlsx(digest: Digest, path: str | Path) -> Path:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    d = digest
    wb = Workbook()
    ws = wb.active
    ws.title = "概览"
    overview: list[tuple[str, Any]] = [
        ("月报", d.title), ("月份", d.month), ("范围", d.scope), ("收到任务", d.tasks), ("派发件次", d.assignments),
        ("行政事务", d.administrative), ("服务性事务", d.service), ("行政事务占比", d.administrative_share),
        *((LISTING_ZH[k], v) for k, v in d.listing),
        ("待审核", d.pending_review), ("费未随事转", d.unfunded_assist), ("临时急件", d.short_notice),
        ("重复派发", d.duplicates), ("重复采集", d.repeat_collection), ("本月到期", d.due), ("按时完成", d.on_time),
        ("逾期完成", d.late), ("逾期未完成", d.overdue), ("按时率", d.on_time_rate), ("估算工时", d.estimated_hours),
        ("人力工时", d.capacity_hours), ("工作量占比", d.load_ratio), ("上月任务", d.trend.tasks),
        ("上月工时", d.trend.hours),
    ]
    for row in overview:
        ws.append(list(row))
    ws.column_dimensions["A"].width = 16
    ws.column_dimensions["B"].width = 28

    def sheet(title: str, header: list[str], rows: list[list[Any]]) -> None:
        s = wb.create_sheet(title)
        s.append(header)
        for cell in s[1]:
            cell.font = Font(bold=True)
        for r in rows:
            s.append(r)
        s.freeze_panes = "A2"

    sheet("按类型", ["类型", "代码", "件数", "数量", "估算工时"],
          [[r.label, r.kind, r.tasks, _quantities(r), r.hours] for r in d.by_kind])
    sheet("按部门", ["部门", "件数", "行政事务", "被拒收", "估算工时"],
          [[r.department, r.tasks, r.administrative, r.refused, r.hours] for r in d.by_department])
    sheet("评价", ["部门", "平均分", "评价数"], [[r.department, r.average, r.count] for r in d.ratings])
    if d.league:
        sheet("部门排行", ["部门", "件数", "被拒收", "拒收率", "费未随事转", "临时急件", "重复派发", "重复采集", "工时", "评分"],
              [[r.department, r.tasks, r.refused, r.refused_share, r.unfunded, r.short_notice, r.duplicates,
                r.repeat_collection, r.hours, r.rating] for r in d.league])
    if d.heatmap:
        sheet("社区×部门", ["社区", *d.heatmap.departments],
              [[c, *row] for c, row in zip(d.heatmap.communities, d.heatmap.cells, strict=True)])
    neutralise_workbook(wb)  # department and community names come from outside
    wb.save(path)
    return path


# --- chart ------------------------------------------------------------------------------------------

_CJK_NAMES = ("Noto Sans CJK SC", "Noto Sans SC", "Noto Serif CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
              "WenQuanYi Micro Hei", "Noto Sans CJK JP", "Droid Sans Fallback")


def find_cjk_font() -> str:
    """The path of an installed CJK font known to matplotlib; raises CjkFontMissing when there is none."""
    from matplotlib import font_manager

    by_name = {f.name: f.fname for f in font_manager.fontManager.ttflist}
    for name in _CJK_NAMES:
        if name in by_name:
            return by_name[name]
    for f in font_manager.fontManager.ttflist:
        if "CJK" in f.name or "Han" in f.name:
            return str(f.fname)
    # the font cache may predate the font's installation
    for path in font_manager.findSystemFonts():
        if "CJK" in path or "wqy" in path.lower():
            return str(path)
    raise CjkFontMissing(
        "no CJK font found for digest charts (they would show boxes): install Debian's fonts-noto-cjk "
        "(apt-get install -y fonts-noto-cjk)"
    )


CHART_SIZE = (1200, 700)  # pixels
_DPI = 100


def render_chart_png(digest: Digest, path: str | Path) -> Path:
    """A 1200×700 PNG: tasks by department (stacked administrative/service) and estimated hours by kind."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from matplotlib.ticker import MaxNLocator

    font = FontProperties(fname=find_cjk_font())
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(CHART_SIZE[0] / _DPI, CHART_SIZE[1] / _DPI), dpi=_DPI)
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    depts = list(digest.by_department[:10])[::-1]
    names = [r.department for r in depts]
    admin = [r.administrative for r in depts]
    service = [r.tasks - r.administrative for r in depts]
    left.barh(names, admin, color="#c0504d", label="行政事务")
    left.barh(names, service, left=admin, color="#4f81bd", label="服务性事务")
    left.set_title("各部门派发任务(件)", fontproperties=font, fontsize=14)
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.legend(prop=font, loc="lower right")
    for label in left.get_yticklabels():
        label.set_fontproperties(font)
    kinds = list(digest.by_kind)
    right.bar([r.label for r in kinds], [r.hours for r in kinds], color="#9bbb59")
    right.set_title("估算工时(小时)", fontproperties=font, fontsize=14)
    for label in right.get_xticklabels():
        label.set_fontproperties(font)
        label.set_rotation(45)
        label.set_ha("right")
    fig.suptitle(
        f"{digest.title}  任务{digest.tasks}件 · 行政事务{_pct(digest.administrative_share)} · "
        f"工时占人力{_pct(digest.load_ratio)}",
        fontproperties=font, fontsize=16,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    fig.savefig(path, format="png", dpi=_DPI)
    return path


# --- sending ----------------------------------------------------------------------------------------


async def archive_digest(conn: AsyncConnection, *, digest: Digest, now: dt.datetime) -> None:
    """Store (or replace) the digest's JSON in ``digests`` (unique per month and scope)."""
    existing = (
        await conn.execute(
            sa.select(T_DIGESTS.c.id).where(T_DIGESTS.c.month == digest.month, T_DIGESTS.c.scope == digest.scope)
        )
    ).scalar_one_or_none()
    content = to_json(digest)
    if existing is None:
        await conn.execute(sa.insert(T_DIGESTS).values(month=digest.month, scope=digest.scope, content=content,
                                                       created_at=now))
    else:
        await conn.execute(sa.update(T_DIGESTS).where(T_DIGESTS.c.id == existing).values(content=content))


def digest_link(public_url: str, *, month: str, scope: str) -> str:
    return f"{public_url.rstrip('/')}/admin/digests/{month}/{scope}"


async def send_monthly_digests(services: Services, *, now: dt.datetime, only_if_due: bool = True,
                               month: str | None = None) -> int:
    """Build, archive and queue the digests of the previous month (or `month`); returns how many were built.

    Idempotent: the district digest is archived last and marks the month done; a rerun after
    a crash rebuilds the communities, and the outbox's idempotency keys keep messages single.
    """
    from intake.outbox import add_outbox_message, list_admin_recipients, list_community_recipients

    settings = services.settings
    schedule = settings.schedule
    if month is None:
        month = digest_month_due(now=now, day=schedule.digest_day, hour=schedule.digest_hour, tz=settings.tz)
        if month is None:
            return 0
    async with services.engine.connect() as conn:
        if only_if_due:
            done = (
                await conn.execute(
                    sa.select(T_DIGESTS.c.id).where(T_DIGESTS.c.month == month, T_DIGESTS.c.scope == DISTRICT)
                )
            ).first()
            if done is not None:
                return 0
        district, *digests = await build_monthly_digests(conn, month=month, settings=settings)
    out_dir = settings.base_dir / schedule.digest_dir
    built = 0
    for digest in [*digests, district]:
        chart: Path | None = None
        if digest.tasks:
            chart = await asyncio.to_thread(render_chart_png, digest, out_dir / f"{month}-{slug(digest.scope)}.png")
        link = digest_link(services.public_url, month=month, scope=digest.scope)
        text = render_chat_text(digest, limit_bytes=schedule.digest_chat_bytes, link=link)

        async def unit(conn: AsyncConnection, digest: Digest = digest, chart: Path | None = chart,
                       link: str = link, text: str = text) -> None:
            if digest.tasks:
                if digest.is_district:
                    recipients = await list_admin_recipients(conn, configured=settings.notify.admins)
                else:
                    cid = (await conn.execute(
                        sa.select(T_COMMUNITIES.c.id).where(T_COMMUNITIES.c.name == digest.scope))).scalar_one()
                    recipients = await list_community_recipients(conn, community_id=int(cid),
                                                                  configured=settings.notify.heads)
                for rcp in recipients:
                    payload: dict[str, Any] = {"month": digest.month, "scope": digest.scope, "link": link,
                                               "format": "markdown",
                                               "fields": {"month": digest.month, "tasks": str(digest.tasks)}}
                    if rcp.webhook:
                        payload["webhook"] = rcp.webhook
                    key = f"digest:{digest.month}:{digest.scope}:{rcp.channel}:{rcp.recipient}"
                    await add_outbox_message(
                        conn, idempotency_key=key, channel=rcp.channel, recipient=rcp.recipient, kind="digest",
                        subject=digest.title, body=text, account_id=rcp.account_id, community_id=rcp.community_id,
                        payload=payload, now=now,
                    )
                    if chart is not None and rcp.channel == "wecom_robot":
                        await add_outbox_message(
                            conn, idempotency_key=key + ":chart", channel=rcp.channel, recipient=rcp.recipient,
                            kind="digest_chart", subject=digest.title, body=digest.title,
                            community_id=rcp.community_id, payload={**payload, "image_path": str(chart)}, now=now,
                        )
            await archive_digest(conn, digest=digest, now=now)

        await services.writer.submit(unit)
        built += 1
    return built
