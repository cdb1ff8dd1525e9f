"""The community's side of a monthly digest: what reached it outside Jianfu, its counter work, trace demands.

* **reported tasks** — tasks whose source is a community's report (a work group, a phone call, paper).
  They are tasks like any other, so every figure of the digest already counts them; this says how many.
  A report that matched a logged task was linked to it and is not a task of its own (never counted twice).
* **departments that bypass Jianfu** — a department with more of its month's tasks reported by
  communities than sent through Jianfu (at least :data:`BYPASS_MIN` reported) is named.
* **counter work** — the lines heads logged: certificates (issued, refused, and issued although the
  certificate list says a community must not), inspections (暗访 among them) and their hours, meetings
  (people × hours), staff lent out, platforms typed into.
* **trace demands** (留痕, POLICY §6) — tasks flagged ``trace_demand``, per department.
* **ratings** — a department's score only as an average over at least :data:`MIN_RATERS` communities,
  the same figure in every digest; no rater is named.

Everything is read with a few grouped queries per monthly run, not per community.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.calendar import month_bounds
from intake.settings import IntakeSettings
from intake.store.models import (
    COMMUNITIES,
    COUNTER_ENTRIES,
    DEPARTMENTS,
    RATINGS,
    TASK_REPORTS,
    TASKS,
    TaskSource,
)
from intake.store.models import TASK_TARGETS as TARGETS

if TYPE_CHECKING:
    from intake.reports.model import Digest, RatingRow

__all__ = ["CommunitySide", "CounterFigures", "BypassRow", "MonthSide", "add_community_side", "get_month_side",
           "with_side", "build_side", "add_counters", "render_markdown_lines",
           "chat_lines", "MIN_RATERS", "BYPASS_MIN"]

MIN_RATERS = 3
BYPASS_MIN = 1
NO_DEPARTMENT = "未注明部门"


@dataclass
class CounterFigures:
    certificates: int = 0  # copies issued
    certificates_refused: int = 0
    certificates_not_due: int = 0  # issued although the certificate list says a community must not
    inspections: int = 0
    unannounced: int = 0  # 暗访
    inspection_hours: float = 0.0
    meetings: int = 0
    meeting_person_hours: float = 0.0
    seconded_people: int = 0
    secondment_days: int = 0
    platform_entries: int = 0
    platform_systems: int = 0

    @property
    def total(self) -> int:
        return (self.certificates + self.certificates_refused + self.inspections + self.meetings
                + self.seconded_people + self.platform_entries)


@dataclass(frozen=True)
class BypassRow:
    department: str
    reported: int  # tasks reported by communities (reached them outside Jianfu)
    via_jianfu: int  # tasks the department sent through Jianfu


@dataclass(frozen=True)
class CommunitySide:
    reported_tasks: int = 0
    linked_reports: int = 0
    counter: CounterFigures = field(default_factory=CounterFigures)
    bypass: tuple[BypassRow, ...] = ()
    trace_demands: tuple[tuple[str, int], ...] = ()  # (department, tasks with a trace demand)


def _month_filter(start: dt.datetime, end: dt.datetime) -> list[Any]:
    return [TASKS.c.received_at >= start, TASKS.c.received_at < end]


_DEPARTMENT = sa.func.coalesce(TASKS.c.department, NO_DEPARTMENT)
_ASSIGNMENTS = TARGETS.join(TASKS, TASKS.c.id == TARGETS.c.task_id)


def source_columns() -> tuple[list[Any], Any]:
    """(department, reported, via Jianfu, trace demands) of a group of tasks, and the HAVING that keeps only the
    departments with something to show: a department none of whose tasks was reported or asks for a trace
    adds nothing to a community side (no bypass, no trace line, no reported task)."""
    # a JSON column may hold SQL NULL or JSON null (PostgreSQL stores None as 'null'): both mean no demand
    trace = sa.func.coalesce(sa.cast(TASKS.c.trace_demand, sa.String), "null") != "null"
    reported = sa.func.sum(sa.case((TASKS.c.source == TaskSource.community.value, 1), else_=0))
    traced = sa.func.sum(sa.case((trace, 1), else_=0))
    return [_DEPARTMENT.label("department"), reported, sa.func.count() - reported, traced], sa.or_(reported > 0,
                                                                                                    traced > 0)


def add_source_row(cells: dict[str, list[int]], row: Sequence[Any]) -> None:
    """One (department, reported, via, traced) row of :func:`source_columns` into `cells`."""
    cells[str(row[0])] = [int(row[1] or 0), int(row[2] or 0), int(row[3] or 0)]


async def _sources(conn: AsyncConnection, *, start: dt.datetime, end: dt.datetime) -> dict[int | None, dict[str, list[int]]]:
    """[reported, via Jianfu, trace demands] per department, per community and (key None) the district."""
    result: dict[int | None, dict[str, list[int]]] = defaultdict(dict)
    columns, having = source_columns()
    district = await conn.execute(
        sa.select(*columns).where(*_month_filter(start, end)).group_by(columns[0]).having(having))
    for row in district:
        add_source_row(result[None], row)
    per_community = await conn.execute(
        sa.select(TARGETS.c.community_id, *columns).select_from(_ASSIGNMENTS)
        .where(*_month_filter(start, end)).group_by(TARGETS.c.community_id, columns[0]).having(having))
    for row in per_community:
        add_source_row(result[int(row[0])], row[1:])
    return result


async def _linked(conn: AsyncConnection, *, start: dt.datetime, end: dt.datetime) -> dict[int | None, int]:
    rows = await conn.execute(
        sa.select(TASK_REPORTS.c.community_id, sa.func.count().label("n"))
        .where(TASK_REPORTS.c.linked.is_(True), TASK_REPORTS.c.received_at >= start, TASK_REPORTS.c.received_at < end)
        .group_by(TASK_REPORTS.c.community_id)
    )
    result: dict[int | None, int] = {int(r.community_id): int(r.n) for r in rows}
    result[None] = sum(result.values())
    return result


def _count_entry(figures: CounterFigures, e: Any) -> None:
    hours = float(e.hours or 0.0)
    if e.kind == "certificate":
        if e.refused:
            figures.certificates_refused += int(e.count)
        else:
            figures.certificates += int(e.count)
            figures.certificates_not_due += int(e.count) if e.decision == "refuse" else 0
    elif e.kind == "inspection":
        figures.inspections += 1
        figures.unannounced += "暗访" in (e.subject or "")
        figures.inspection_hours += hours
    elif e.kind == "meeting":
        figures.meetings += 1
        figures.meeting_person_hours += hours * int(e.people or 1)
    elif e.kind == "secondment":
        figures.seconded_people += int(e.people or 1)
        figures.secondment_days += int(e.period_days or 0) * int(e.people or 1)
    elif e.kind == "platform":
        figures.platform_entries += 1
        figures.platform_systems += int(e.systems or 0)


async def _counter(conn: AsyncConnection, *, first: dt.date, last: dt.date) -> dict[int | None, CounterFigures]:
    rows = await conn.execute(
        sa.select(COUNTER_ENTRIES.c.community_id, COUNTER_ENTRIES.c.kind, COUNTER_ENTRIES.c.count,
                  COUNTER_ENTRIES.c.refused, COUNTER_ENTRIES.c.decision, COUNTER_ENTRIES.c.subject,
                  COUNTER_ENTRIES.c.people, COUNTER_ENTRIES.c.hours, COUNTER_ENTRIES.c.period_days,
                  COUNTER_ENTRIES.c.systems)
        .where(COUNTER_ENTRIES.c.removed.is_(False), COUNTER_ENTRIES.c.day >= first, COUNTER_ENTRIES.c.day <= last)
    )
    result: dict[int | None, CounterFigures] = defaultdict(CounterFigures)
    for e in rows:
        _count_entry(result[int(e.community_id)], e)
        _count_entry(result[None], e)
    return result


async def anonymous_ratings(conn: AsyncConnection, *, month: str) -> tuple[RatingRow, ...]:
    """Each department's average over the communities that rated it, shown only from MIN_RATERS of them."""
    from intake.reports.model import RatingRow

    rows = await conn.execute(
        sa.select(DEPARTMENTS.c.name, sa.func.avg(RATINGS.c.score).label("average"), sa.func.count().label("n"))
        .select_from(RATINGS.join(DEPARTMENTS, DEPARTMENTS.c.id == RATINGS.c.department_id))
        .where(RATINGS.c.month == month)
        .group_by(DEPARTMENTS.c.name)
        .having(sa.func.count(sa.distinct(RATINGS.c.community_id)) >= MIN_RATERS)
        .order_by(DEPARTMENTS.c.name)
    )
    return tuple(RatingRow(str(r.name), round(float(r.average), 2), int(r.n)) for r in rows)


def build_side(sources: dict[str, list[int]], *, linked: int, counter: CounterFigures) -> CommunitySide:
    bypass = tuple(
        BypassRow(department=name, reported=cell[0], via_jianfu=cell[1])
        for name, cell in sorted(sources.items(), key=lambda kv: (-kv[1][0], kv[0]))
        if cell[0] >= BYPASS_MIN and cell[0] > cell[1]
    )
    traces = tuple(sorted(((name, cell[2]) for name, cell in sources.items() if cell[2]), key=lambda kv: (-kv[1], kv[0])))
    return CommunitySide(reported_tasks=sum(cell[0] for cell in sources.values()), linked_reports=linked,
                         counter=counter, bypass=bypass, trace_demands=traces)


def add_counters(counters: Iterable[CounterFigures]) -> CounterFigures:
    """Several communities' counter work as one (an area's)."""
    total = CounterFigures()
    for c in counters:
        for f in fields(CounterFigures):
            setattr(total, f.name, getattr(total, f.name) + getattr(c, f.name))
    return total


@dataclass(frozen=True)
class MonthSide:
    """The month's community side for the district (key None) and each community, read once."""

    ids: dict[str, int]
    sources: dict[int | None, dict[str, list[int]]]
    linked: dict[int | None, int]
    counter: dict[int | None, CounterFigures]
    ratings: tuple[RatingRow, ...]


async def get_month_side(conn: AsyncConnection, *, month: str, settings: IntakeSettings) -> MonthSide:
    start, end = month_bounds(month, settings.tz)
    first, last = start.date(), (end - dt.timedelta(days=1)).date()
    ids = {str(r.name): int(r.id) for r in await conn.execute(sa.select(COMMUNITIES.c.id, COMMUNITIES.c.name))}
    return MonthSide(ids=ids, sources=await _sources(conn, start=start, end=end),
                     linked=await _linked(conn, start=start, end=end), counter=await _counter(conn, first=first, last=last),
                     ratings=await anonymous_ratings(conn, month=month))


def with_side(digests: Sequence[Digest], side: MonthSide) -> list[Digest]:
    result = []
    for digest in digests:
        key = None if digest.is_district else side.ids.get(digest.scope)
        mine = build_side(side.sources.get(key, {}), linked=side.linked.get(key, 0),
                          counter=side.counter.get(key, CounterFigures()))
        result.append(replace(digest, community=mine, ratings=side.ratings))
    return result


async def add_community_side(
    conn: AsyncConnection, digests: Sequence[Digest], *, month: str, settings: IntakeSettings
) -> list[Digest]:
    """The digests with their community side and anonymous ratings filled in (a few grouped queries)."""
    return with_side(digests, await get_month_side(conn, month=month, settings=settings))


def _counter_text(c: CounterFigures) -> list[str]:
    return [
        f"证明:出具 {c.certificates} 份,拒开 {c.certificates_refused} 份;其中按清单不应由社区出具的 "
        f"{c.certificates_not_due} 份",
        f"迎检 {c.inspections} 次(暗访 {c.unannounced} 次),{c.inspection_hours:g} 小时",
        f"参会 {c.meetings} 次,{c.meeting_person_hours:g} 人·小时",
        f"借调 {c.seconded_people} 人,{c.secondment_days} 人·天",
        f"多平台录入 {c.platform_entries} 项,涉及 {c.platform_systems} 个系统",
    ]


def render_markdown_lines(side: CommunitySide | None) -> list[str]:
    if side is None:
        return []
    lines = ["", "## 社区报送与窗口工作", "",
             f"- 社区报送的任务(经工作群、电话、纸质到达,部门未通过减负通派发)**{side.reported_tasks}** 件,"
             f"已计入以上各项;与已登记任务相同而关联、未重复计数的报送 {side.linked_reports} 条",
             *(f"- {line}" for line in _counter_text(side.counter))]
    if side.bypass:
        lines += ["", "## 绕开减负通派发的部门", "", "| 部门 | 社区报送 | 经减负通 |", "|---|---:|---:|",
                  *(f"| {r.department} | {r.reported} | {r.via_jianfu} |" for r in side.bypass)]
    if side.trace_demands:
        lines += ["", "## 留痕要求(社区可不做)", "", "| 部门 | 件数 |", "|---|---:|",
                  *(f"| {name} | {n} |" for name, n in side.trace_demands)]
    return lines


def chat_lines(side: CommunitySide | None) -> list[str]:
    if side is None:
        return []
    c = side.counter
    lines = [f"社区报送 {side.reported_tasks} 件;证明 {c.certificates} 份,迎检 {c.inspections} 次,参会 {c.meetings} 次。"]
    if side.bypass:
        lines.append("绕开减负通派发:" + "、".join(f"{r.department}({r.reported}件)" for r in side.bypass[:3]) + "。")
    if side.trace_demands:
        lines.append("留痕要求:" + "、".join(f"{name}{n}件" for name, n in side.trace_demands[:3]) + "。")
    return lines


def sheet_rows(side: CommunitySide | None) -> list[list[Any]]:
    if side is None:
        return []
    c = side.counter
    rows: list[list[Any]] = [
        ["社区报送任务", side.reported_tasks], ["关联未重复计数的报送", side.linked_reports],
        ["出具证明(份)", c.certificates], ["拒开证明(份)", c.certificates_refused],
        ["不应出具而出具(份)", c.certificates_not_due], ["迎检(次)", c.inspections], ["暗访(次)", c.unannounced],
        ["迎检工时", c.inspection_hours], ["参会(次)", c.meetings], ["参会人·小时", c.meeting_person_hours],
        ["借调(人)", c.seconded_people], ["借调人·天", c.secondment_days], ["多平台录入(项)", c.platform_entries],
        ["涉及系统(个)", c.platform_systems],
    ]
    rows += [[f"绕开减负通:{r.department}", f"报送{r.reported} / 经减负通{r.via_jianfu}"] for r in side.bypass]
    rows += [[f"留痕要求:{name}", n] for name, n in side.trace_demands]
    return rows
