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

Every figure comes from a handful of GROUP BY queries (a few hundred groups, never a row per
task), so the district digest over a million tasks stays within seconds on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel

from intake.models import AwareDateTime
from intake.scheduler import digest_month_due, month_bounds, previous_month
from intake.settings import Settings
from intake.texts_notify import KIND_ZH, LISTING_ZH

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
    "render_markdown",
    "render_chat_text",
    "to_json",
    "write_xlsx",
    "render_chart_png",
    "find_cjk_font",
    "CjkFontMissing",
    "send_monthly_digests",
    "archive_digest",
    "register_cli",
    "run_digest_command",
]

DISTRICT = "district"
DEFAULT_HOURS = 2.0
NO_DEPARTMENT = "未注明部门"
T_TASKS = SQLModel.metadata.tables["tasks"]
T_TARGETS = SQLModel.metadata.tables["task_targets"]
T_COMMUNITIES = SQLModel.metadata.tables["communities"]
T_DEPARTMENTS = SQLModel.metadata.tables["departments"]
T_RATINGS = SQLModel.metadata.tables["ratings"]
T_DIGESTS = SQLModel.metadata.tables["digests"]
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


def _scope_filter(community_id: int | None) -> list[Any]:
    return [] if community_id is None else [T_TARGETS.c.community_id == community_id]


def _sum_if(condition: Any) -> Any:
    return sa.func.sum(sa.case((condition, 1), else_=0))


async def _task_groups(
    conn: AsyncConnection, *, start: dt.datetime, end: dt.datetime, community_id: int | None
) -> list[Any]:
    """One scan of the month: counts, flags and quantities grouped by the attributes the digest splits on."""
    department = sa.func.coalesce(T_TASKS.c.department, NO_DEPARTMENT).label("department")
    columns = [department, T_TASKS.c.kind, T_TASKS.c.nature, T_TASKS.c.listing, T_TASKS.c.status,
               T_TASKS.c.quantity_unit]
    if community_id is None:
        assigned: Any = (
            sa.select(sa.func.count()).where(T_TARGETS.c.task_id == T_TASKS.c.id).correlate(T_TASKS).scalar_subquery()
        )
    else:
        assigned = sa.literal(1)
    query = sa.select(
        *columns,
        sa.func.count().label("n"),
        sa.func.sum(assigned).label("assigned"),
        sa.func.sum(T_TASKS.c.quantity_value).label("qty"),
        _sum_if(T_TASKS.c.funded.is_(False)).label("unfunded"),
        _sum_if(T_TASKS.c.short_notice.is_(True)).label("short"),
        _sum_if(T_TASKS.c.duplicate_of.is_not(None)).label("duplicate"),
        _sum_if(T_TASKS.c.repeat_collection.is_(True)).label("repeat"),
    )
    if community_id is not None:
        query = query.select_from(T_TARGETS.join(T_TASKS, T_TASKS.c.id == T_TARGETS.c.task_id)).where(
            T_TARGETS.c.community_id == community_id
        )
    query = query.where(T_TASKS.c.received_at >= start, T_TASKS.c.received_at < end).group_by(*columns)
    return list((await conn.execute(query)).all())


async def _heat_groups(conn: AsyncConnection, *, start: dt.datetime, end: dt.datetime) -> list[Any]:
    """Assignments (task × community) by community and department: the district heat map."""
    department = sa.func.coalesce(T_TASKS.c.department, NO_DEPARTMENT).label("department")
    columns = [T_TARGETS.c.community_id, department]
    query = (
        sa.select(*columns, sa.func.count().label("n"))
        .select_from(T_TASKS.join(T_TARGETS, T_TASKS.c.id == T_TARGETS.c.task_id))
        .where(T_TASKS.c.received_at >= start, T_TASKS.c.received_at < end)
        .group_by(*columns)
    )
    return list((await conn.execute(query)).all())


async def _core_counts(
    conn: AsyncConnection, *, start: dt.datetime, end: dt.datetime, community_id: int | None, settings: Settings
) -> _Core:
    """The few totals the trend compares: tasks, administrative tasks, estimated hours (one small GROUP BY)."""
    if community_id is None:
        assigned: Any = (
            sa.select(sa.func.count()).where(T_TARGETS.c.task_id == T_TASKS.c.id).correlate(T_TASKS).scalar_subquery()
        )
        source: Any = T_TASKS
    else:
        assigned = sa.literal(1)
        source = T_TARGETS.join(T_TASKS, T_TASKS.c.id == T_TARGETS.c.task_id)
    worked = T_TASKS.c.status.not_in(NOT_WORKED).label("worked")
    columns = [T_TASKS.c.kind, T_TASKS.c.nature, worked]
    rows = (
        await conn.execute(
            sa.select(*columns, sa.func.count().label("n"), sa.func.sum(assigned).label("assigned"))
            .select_from(source)
            .where(T_TASKS.c.received_at >= start, T_TASKS.c.received_at < end, *_scope_filter(community_id))
            .group_by(*columns)
        )
    ).all()
    tasks = sum(int(r.n) for r in rows)
    administrative = sum(int(r.n) for r in rows if r.nature != "service")
    hours = sum(int(r.assigned or 0) * _hours(settings, r.kind) for r in rows if r.worked)
    return _Core(tasks, administrative, round(hours, 1))


async def _timeliness(
    conn: AsyncConnection, *, month: str, settings: Settings, community_id: int | None
) -> tuple[int, int, int, int]:
    """(due, on_time, late, overdue) over assignments due in the month."""
    tz = settings.tz
    start, end = month_bounds(month, tz)
    first, last = start.date(), (end - dt.timedelta(days=1)).date()
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
            sa.func.count().label("due"),
            sa.func.coalesce(sa.func.sum(sa.case((on_time, 1), else_=0)), 0).label("on_time"),
            sa.func.coalesce(sa.func.sum(sa.case((done, 1), else_=0)), 0).label("done"),
            sa.func.coalesce(sa.func.sum(sa.case((T_TARGETS.c.status == "open", 1), else_=0)), 0).label("open"),
        )
        .select_from(T_TARGETS.join(T_TASKS, T_TASKS.c.id == T_TARGETS.c.task_id))
        .where(
            T_TARGETS.c.due_date >= first, T_TARGETS.c.due_date <= last,
            T_TARGETS.c.status.in_(("open", "done")), T_TASKS.c.status.in_(("accepted", "done")),
            *_scope_filter(community_id),
        )
    )
    row = (await conn.execute(query)).one()
    due, on, done_n, open_n = int(row.due), int(row.on_time), int(row.done), int(row.open)
    return due, on, done_n - on, open_n


async def _ratings(conn: AsyncConnection, *, month: str, community_id: int | None) -> list[RatingRow]:
    query = (
        sa.select(T_DEPARTMENTS.c.name, sa.func.avg(T_RATINGS.c.score), sa.func.count())
        .select_from(T_RATINGS.join(T_DEPARTMENTS, T_DEPARTMENTS.c.id == T_RATINGS.c.department_id))
        .where(T_RATINGS.c.month == month)
        .group_by(T_DEPARTMENTS.c.name)
        .order_by(T_DEPARTMENTS.c.name)
    )
    if community_id is not None:
        query = query.where(T_RATINGS.c.community_id == community_id)
    return [RatingRow(str(name), round(float(avg), 2), int(n)) for name, avg, n in await conn.execute(query)]


async def _unfunded_codes(
    conn: AsyncConnection, *, start: dt.datetime, end: dt.datetime, community_id: int | None, limit: int = 20
) -> tuple[str, ...]:
    query = sa.select(T_TASKS.c.code).where(
        T_TASKS.c.received_at >= start, T_TASKS.c.received_at < end, T_TASKS.c.listing == "assist",
        T_TASKS.c.funded.is_(False), T_TASKS.c.status.not_in(NOT_WORKED),
    )
    if community_id is not None:
        query = query.where(
            T_TASKS.c.id.in_(sa.select(T_TARGETS.c.task_id).where(T_TARGETS.c.community_id == community_id))
        )
    query = query.order_by(T_TASKS.c.received_at).limit(limit)
    return tuple(str(c) for c in (await conn.execute(query)).scalars())


def _hours(settings: Settings, kind: str) -> float:
    return float(settings.schedule.hours_per_kind.get(kind, DEFAULT_HOURS))


@dataclass
class _Core:
    tasks: int
    administrative: int
    hours: float


def _core_from(task_groups: Sequence[Any], settings: Settings) -> _Core:
    tasks = sum(int(g.n) for g in task_groups)
    administrative = sum(int(g.n) for g in task_groups if g.nature != "service")
    hours = sum(int(g.assigned or 0) * _hours(settings, g.kind) for g in task_groups if g.status not in NOT_WORKED)
    return _Core(tasks, administrative, round(hours, 1))


async def build_digest(conn: AsyncConnection, *, month: str, community: str | None, settings: Settings) -> Digest:
    """The digest of `month` ("YYYY-MM") for one community (by name) or, with None, the whole district."""
    tz = settings.tz
    start, end = month_bounds(month, tz)
    communities = (
        await conn.execute(
            sa.select(T_COMMUNITIES.c.id, T_COMMUNITIES.c.name, T_COMMUNITIES.c.staff, T_COMMUNITIES.c.active)
            .order_by(T_COMMUNITIES.c.id)
        )
    ).all()
    community_id: int | None = None
    if community is not None:
        match = [c for c in communities if c.name == community]
        if not match:
            from intake.errors import NotFound

            raise NotFound(community)
        community_id = int(match[0].id)
        staff = int(match[0].staff)
    else:
        staff = sum(int(c.staff) for c in communities if c.active)
    names = {int(c.id): str(c.name) for c in communities}

    groups = await _task_groups(conn, start=start, end=end, community_id=community_id)
    heat_groups = await _heat_groups(conn, start=start, end=end) if community_id is None else []
    prev_month = previous_month(month)
    prev_start, prev_end = month_bounds(prev_month, tz)
    prev = await _core_counts(conn, start=prev_start, end=prev_end, community_id=community_id, settings=settings)
    core = _core_from(groups, settings)

    # by kind: task counts and quantities from the task groups, hours from the assignments
    kind_tasks: dict[str, int] = defaultdict(int)
    kind_qty: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    kind_hours: dict[str, float] = defaultdict(float)
    dept: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    listing: dict[str, int] = {key: 0 for key in ("duty", "assist", "negative", "unlisted")}
    counters: dict[str, int] = defaultdict(int)
    league: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for g in groups:
        n = int(g.n)
        kind_tasks[g.kind] += n
        if g.quantity_unit and g.qty is not None:
            kind_qty[g.kind][g.quantity_unit] += int(g.qty)
        listing[g.listing] = listing.get(g.listing, 0) + n
        d = dept[g.department]
        d["tasks"] += n
        worked = g.status not in NOT_WORKED
        if worked:
            hours = int(g.assigned or 0) * _hours(settings, g.kind)
            kind_hours[g.kind] += hours
            d["hours"] += hours
            league[g.department]["hours"] += hours
        if g.nature != "service":
            d["administrative"] += n
        if g.status == "refused":
            d["refused"] += n
            counters["refused"] += n
        if g.status == "pending_review":
            counters["pending_review"] += n
        unfunded = int(g.unfunded or 0) if g.listing == "assist" and worked else 0
        short, duplicate, repeat = int(g.short or 0), int(g.duplicate or 0), int(g.repeat or 0)
        counters["unfunded"] += unfunded
        counters["short_notice"] += short
        counters["duplicates"] += duplicate
        counters["repeat_collection"] += repeat
        row = league[g.department]
        row["tasks"] += n
        row["refused"] += n if g.status == "refused" else 0
        row["unfunded"] += unfunded
        row["short_notice"] += short
        row["duplicates"] += duplicate
        row["repeat_collection"] += repeat
    heat: dict[tuple[int, str], int] = defaultdict(int)
    for a in heat_groups:
        heat[(int(a.community_id), a.department)] += int(a.n)

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
    ratings = await _ratings(conn, month=month, community_id=community_id)
    due, on_time, late, overdue = await _timeliness(conn, month=month, settings=settings, community_id=community_id)
    unfunded_codes = await _unfunded_codes(conn, start=start, end=end, community_id=community_id)

    league_rows: tuple[LeagueRow, ...] = ()
    heatmap: HeatMap | None = None
    if community_id is None:
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
        heat_departments = tuple(r.department for r in by_department)
        heat_communities = tuple(int(c.id) for c in communities if c.active or any(k[0] == c.id for k in heat))
        heatmap = HeatMap(
            communities=tuple(names[c] for c in heat_communities),
            departments=heat_departments,
            cells=tuple(tuple(heat.get((c, d), 0) for d in heat_departments) for c in heat_communities),
        )

    return Digest(
        month=month,
        scope=community if community is not None else DISTRICT,
        district=settings.district.name,
        tasks=core.tasks,
        assignments=sum(int(g.assigned or 0) for g in groups),
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
        capacity_hours=round(staff * settings.schedule.staff_hours_per_month, 1),
        staff=staff,
        top_departments=top,
        ratings=tuple(ratings),
        trend=Trend(
            month=prev_month, tasks=prev.tasks, administrative_share=_share(prev.administrative, prev.tasks),
            hours=prev.hours, tasks_change=core.tasks - prev.tasks, hours_change=round(core.hours - prev.hours, 1),
        ),
        league=league_rows,
        heatmap=heatmap,
    )


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
    from intake.channels.base import truncate_utf8

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


def digest_link(settings: Settings, *, month: str, scope: str) -> str:
    return f"{settings.server.public_url.rstrip('/')}/admin/digests/{month}/{scope}"


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
        community_names = [
            str(n) for n in (await conn.execute(
                sa.select(T_COMMUNITIES.c.name).where(T_COMMUNITIES.c.active.is_(True)).order_by(T_COMMUNITIES.c.id)
            )).scalars()
        ]
        district = await build_digest(conn, month=month, community=None, settings=settings)
        digests = [await build_digest(conn, month=month, community=name, settings=settings) for name in community_names]
    out_dir = settings.base_dir / schedule.digest_dir
    built = 0
    for digest in [*digests, district]:
        chart: Path | None = None
        if digest.tasks:
            chart = await asyncio.to_thread(render_chart_png, digest, out_dir / f"{month}-{digest.scope}.png")
        link = digest_link(settings, month=month, scope=digest.scope)
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


# --- command line -------------------------------------------------------------------------------------


def register_cli(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``digest --month YYYY-MM [--community NAME] [--format md|json|xlsx] [--output PATH]``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "digest", help="月度减负月报 (monthly burden digest)",
        description="Print or write the monthly digest of one community or the whole district.",
    )
    parser.add_argument("--month", required=True, help="YYYY-MM")
    parser.add_argument("--community", default=None, help="community name (default: the district)")
    parser.add_argument("--format", choices=("md", "json", "xlsx", "png"), default="md")
    parser.add_argument("--output", default=None, help="file to write (required for xlsx and png)")
    parser.set_defaults(handler=run_digest_command, func=run_digest_command)
    return parser


async def _cli_digest(settings: Settings, month: str, community: str | None) -> Digest:
    from intake.db import create_engine

    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            return await build_digest(conn, month=month, community=community, settings=settings)
    finally:
        await engine.dispose()


def run_digest_command(args: argparse.Namespace) -> int:
    """The ``jianfu digest`` handler; prints errors as one line and returns the exit code."""
    from intake.errors import NotFound
    from intake.settings import ConfigError, load_settings

    try:
        month_bounds(args.month, ZoneInfo("UTC"))
    except ValueError:
        print(f"--month {args.month!r} is not YYYY-MM", file=sys.stderr)
        return 2
    try:
        settings = load_settings(getattr(args, "config", None) or "config.toml")
        digest = asyncio.run(_cli_digest(settings, args.month, args.community))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except NotFound as exc:
        print(f"community {exc} not found", file=sys.stderr)
        return 1
    fmt = args.format
    if fmt in ("xlsx", "png"):
        output = Path(args.output or f"digest-{digest.month}-{digest.scope}.{fmt}")
        written = write_xlsx(digest, output) if fmt == "xlsx" else render_chart_png(digest, output)
        print(written)
        return 0
    text = render_markdown(digest) if fmt == "md" else json.dumps(to_json(digest), ensure_ascii=False, indent=2) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(args.output)
    else:
        sys.stdout.write(text)
    return 0
