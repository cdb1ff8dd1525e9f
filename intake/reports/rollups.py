"""Monthly rollups: a closed month's figures are computed once and read as rows.

A month is *closed* once it ended :data:`CLOSED_AFTER` ago. The sweep (:func:`refresh_rollups`) keeps
the last :data:`KEEP_MONTHS` closed months rolled up for the district and every community; the
13-month trend of the dashboard then reads twelve rows and aggregates only the open month.

Correctness: the triggers of ``intake.store.triggers`` delete a month's rollups whenever a task or
an assignment of it changes (a correction, a late completion, a withdrawal). A month is rolled up in
three steps so a change made meanwhile is never lost: (1) a ``rollup_months`` row is committed with
``computed_at`` NULL; (2) the figures are computed from a snapshot taken after it; (3) they are
stored only if that row still exists (a trigger would have deleted it). Readers use only rows whose
``computed_at`` is set, and compute anything else live, with the same functions.

The open month cannot be kept that way (every notice changes it). The scheduler's holder counts it
every ``[schedule] open_month_minutes`` instead (:func:`count_open_month`: one pass over the month on
the report thread, then every scope's figures replaced in one write) into ``open_month_figures``; a
dashboard reads them (:func:`get_open_month`) while they are at most twice that old, with the time
they were counted at, and aggregates the log itself otherwise. The digests, exports and reports never
read them: they count the log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from intake.calendar import month_bounds, month_key, previous_month
from intake.reports.burden_rollup import BURDEN_SCOPE, get_burden_rows
from intake.reports.figures import DISTRICT_SCOPE, Figures, Scope, ScopeKind, get_figures, get_month_figures
from intake.reports.measures import department_name
from intake.reports.runner import run_report
from intake.settings import IntakeSettings
from intake.store.models import (
    COMMUNITIES,
    MONTH_ROLLUPS,
    OPEN_MONTH_FIGURES,
    ROLLUP_MONTHS,
    TASKS,
    TargetStatus,
)
from intake.store.models import TASK_TARGETS as TARGETS
from intake.store.writer import Unit

if TYPE_CHECKING:
    from intake.context import Services

__all__ = ["CLOSED_AFTER", "KEEP_MONTHS", "is_closed", "get_trend", "list_months", "refresh_rollups",
           "get_kept_contents", "roll_up_month", "keep_closed_months", "get_department_tasks", "OpenMonth",
           "count_open_month", "get_open_month", "open_month_due", "get_counted_open"]

CLOSED_AFTER = dt.timedelta(days=1)  # a notice's CreateTime can trail its arrival by minutes, never a day
KEEP_MONTHS = 24


def list_months(month: str, count: int) -> list[str]:
    """The `count` months ending with `month`, oldest first."""
    months = [month]
    while len(months) < count:
        months.append(previous_month(months[-1]))
    return months[::-1]


def is_closed(month: str, *, settings: IntakeSettings, now: dt.datetime) -> bool:
    return month_bounds(month, settings.tz)[1] + CLOSED_AFTER <= now


async def get_kept_contents(
    conn: AsyncConnection, *, months: Sequence[str], scopes: Sequence[str] | None = None
) -> dict[str, dict[str, Any]]:
    """month → scope key → kept content, of the `months` whose rollup is complete (every scope when
    `scopes` is None; the yearly report's own rows are the scope ``burden``)."""
    where = [MONTH_ROLLUPS.c.month.in_(months), ROLLUP_MONTHS.c.computed_at.is_not(None)]
    if scopes is not None:
        where.append(MONTH_ROLLUPS.c.scope.in_(scopes))
    rows = await conn.execute(
        sa.select(MONTH_ROLLUPS.c.month, MONTH_ROLLUPS.c.scope, MONTH_ROLLUPS.c.content)
        .join(ROLLUP_MONTHS, ROLLUP_MONTHS.c.month == MONTH_ROLLUPS.c.month).where(*where)
    )
    kept: dict[str, dict[str, Any]] = {}
    for r in rows:
        kept.setdefault(str(r.month), {})[str(r.scope)] = r.content
    return kept


async def _rolled_up(conn: AsyncConnection, *, months: Sequence[str], scope: Scope) -> dict[str, Figures]:
    kept = await get_kept_contents(conn, months=months, scopes=[scope.key])
    return {month: Figures.from_json(contents[scope.key]) for month, contents in kept.items()}


async def get_trend(
    conn: AsyncConnection, *, month: str, scope: Scope, settings: IntakeSettings, now: dt.datetime, months: int = 13,
    known: Mapping[str, Figures] | None = None,
) -> list[Figures]:
    """The figures of the `months` months ending with `month`, oldest first: `known` (month → figures the caller
    has, e.g. the open month's last count), rollups where they are kept, the rest (the open month, or a month
    corrected since) computed live."""
    wanted = list_months(month, months)
    closed = [m for m in wanted if is_closed(m, settings=settings, now=now)]
    kept = await _rolled_up(conn, months=closed, scope=scope) if closed else {}
    kept.update(known or {})
    return [kept.get(m) or await get_figures(conn, month=m, scope=scope, settings=settings, now=now) for m in wanted]


async def get_department_tasks(
    conn: AsyncConnection, *, month: str, settings: IntakeSettings, now: dt.datetime, months: int = 13
) -> dict[str, int]:
    """Tasks per department (as the figures name it) over the `months` months ending with `month`, the
    dashboard's 13-month table summed: kept months read from their rollups, the open month from its last count
    (:func:`get_open_month`), the others (a month corrected since, the open month not counted lately) counted
    live over the log's time index. What the directory shows."""
    wanted = list_months(month, months)
    closed = [m for m in wanted if is_closed(m, settings=settings, now=now)]
    kept = await _rolled_up(conn, months=closed, scope=DISTRICT_SCOPE) if closed else {}
    totals: dict[str, int] = {}
    opened = await get_open_month(conn, month=wanted[-1], scope=DISTRICT_SCOPE, settings=settings, now=now)
    if opened is not None:
        kept[wanted[-1]] = opened.figures
    for figures in kept.values():
        for name, counts in figures.by_department:
            totals[name] = totals.get(name, 0) + counts.tasks
    department = department_name()
    for live in (m for m in wanted if m not in kept):
        start, end = month_bounds(live, settings.tz)
        rows = await conn.execute(sa.select(department.label("name"), sa.func.count().label("n"))
                                  .where(TASKS.c.received_at >= start, TASKS.c.received_at < end).group_by(department))
        for row in rows:
            totals[str(row.name)] = totals.get(str(row.name), 0) + int(row.n)
    return totals


async def _missing_months(services: Services, *, now: dt.datetime) -> list[str]:
    settings = services.settings
    local = now.astimezone(settings.tz)
    recent = [m for m in list_months(f"{local.year:04d}-{local.month:02d}", KEEP_MONTHS + 1)
              if is_closed(m, settings=settings, now=now)]
    async with services.engine.connect() as conn:
        done = set((await conn.execute(
            sa.select(ROLLUP_MONTHS.c.month).where(ROLLUP_MONTHS.c.month.in_(recent),
                                                   ROLLUP_MONTHS.c.computed_at.is_not(None)))).scalars())
    return [m for m in recent if m not in done]


async def _roll_up(services: Services, *, month: str, now: dt.datetime) -> bool:
    return await roll_up_month(month=month, now=now, settings=services.settings, submit=services.writer.submit,
                               compute_with=lambda job: run_report(services.reports, services.engine, job))


async def _every_scope(conn: AsyncConnection, *, month: str, settings: IntakeSettings, now: dt.datetime,
                       ) -> tuple[Figures, dict[int, Figures]]:
    """The whole deployment's figures of `month` and every community's, from one pass over the month."""
    rows = (await conn.execute(sa.select(COMMUNITIES.c.id, COMMUNITIES.c.name, COMMUNITIES.c.staff,
                                         COMMUNITIES.c.active))).all()
    staff = sum(int(r.staff) for r in rows if r.active)
    return await get_month_figures(conn, month=month, settings=settings, now=now, district_staff=staff,
                                   communities=[(int(r.id), str(r.name), int(r.staff)) for r in rows])


async def roll_up_month(
    *, month: str, now: dt.datetime, settings: IntakeSettings, submit: Callable[[Unit[Any]], Awaitable[Any]],
    compute_with: Callable[[Callable[[AsyncConnection], Awaitable[Any]]], Awaitable[Any]],
) -> bool:
    """Roll up one month in three steps: `submit` runs a write in its own transaction (the writer), `compute_with`
    a read on a connection of its own (the report thread). True when the rollup was stored."""
    start, end = month_bounds(month, settings.tz)

    async def begin(conn: AsyncConnection) -> None:  # (1) the marker a change of the month would delete
        await conn.execute(sa.delete(MONTH_ROLLUPS).where(MONTH_ROLLUPS.c.month == month))
        await conn.execute(sa.delete(ROLLUP_MONTHS).where(ROLLUP_MONTHS.c.month == month))
        await conn.execute(sa.insert(ROLLUP_MONTHS).values(
            month=month, starts_at=start, ends_at=end, first_day=start.date(),
            last_day=(end - dt.timedelta(days=1)).date(), computed_at=None))

    await submit(begin)

    async def compute(conn: AsyncConnection) -> list[tuple[str, Any]]:  # (2) from a snapshot taken after (1)
        top, per_community = await _every_scope(conn, month=month, settings=settings, now=now)
        burden = await get_burden_rows(conn, month=month, settings=settings,  # the yearly report's own rows
                                       per_community=per_community.values())
        return [(f.scope.key, f.to_json()) for f in (top, *per_community.values())] + [(BURDEN_SCOPE, burden)]

    contents = await compute_with(compute)

    async def store(conn: AsyncConnection) -> bool:  # (3) only if nothing of the month changed meanwhile
        marker = (await conn.execute(sa.select(ROLLUP_MONTHS.c.month).where(
            ROLLUP_MONTHS.c.month == month, ROLLUP_MONTHS.c.computed_at.is_(None)))).first()
        if marker is None:
            return False
        await conn.execute(sa.insert(MONTH_ROLLUPS), [
            {"month": month, "scope": scope, "content": content} for scope, content in contents])
        await conn.execute(sa.update(ROLLUP_MONTHS).where(ROLLUP_MONTHS.c.month == month).values(computed_at=now))
        return True

    return bool(await submit(store))


async def refresh_rollups(services: Services, *, now: dt.datetime, limit: int = 6) -> int:
    """Roll up (at most `limit` of) the recent closed months that have no current rollup; returns how many."""
    done = 0
    for month in (await _missing_months(services, now=now))[::-1][:limit]:  # the newest first
        done += await _roll_up(services, month=month, now=now)
    return done



async def keep_closed_months(engine: AsyncEngine, *, months: Sequence[str], settings: IntakeSettings,
                             now: dt.datetime) -> int:
    """Roll up the closed months among `months` that have no current rollup, on a plain engine (the command
    line has no writer: each step is its own transaction); returns how many were stored."""

    async def submit(unit: Unit[Any]) -> Any:
        async with engine.begin() as conn:
            return await unit(conn)

    async def compute_with(job: Callable[[AsyncConnection], Awaitable[Any]]) -> Any:
        async with engine.connect() as conn:
            return await job(conn)

    closed = [m for m in months if is_closed(m, settings=settings, now=now)]
    async with engine.connect() as conn:
        kept = set((await conn.execute(
            sa.select(MONTH_ROLLUPS.c.month).join(ROLLUP_MONTHS, ROLLUP_MONTHS.c.month == MONTH_ROLLUPS.c.month)
            .where(MONTH_ROLLUPS.c.month.in_(closed), MONTH_ROLLUPS.c.scope == BURDEN_SCOPE,
                   ROLLUP_MONTHS.c.computed_at.is_not(None)))).scalars())
    done = 0
    for month in closed:
        if month not in kept:
            done += await roll_up_month(month=month, now=now, settings=settings, submit=submit,
                                        compute_with=compute_with)
    return done


# --- the open month, counted every [schedule] open_month_minutes -------------------------------------------------


@dataclass(frozen=True)
class OpenMonth:
    figures: Figures
    as_of: dt.datetime  # when they were counted


async def count_open_month(services: Services, *, now: dt.datetime) -> int:
    """Count the open month for every scope (on the report thread) and replace the kept counts with them in one
    write; returns how many scopes were stored."""
    settings = services.settings
    month = month_key(now, settings.tz)

    async def compute(conn: AsyncConnection) -> list[dict[str, Any]]:
        top, per_community = await _every_scope(conn, month=month, settings=settings, now=now)
        still_open = {int(r[0]): int(r[1]) for r in await conn.execute(
            sa.select(TARGETS.c.community_id, sa.func.count())  # count(*): the (status, community_id) index alone
            .where(TARGETS.c.status == TargetStatus.open).group_by(TARGETS.c.community_id))}
        return [{"scope": top.scope.key, "month": month, "as_of": now, "content": top.to_json(),
                 "open_assignments": sum(still_open.values())}] + [
                {"scope": f.scope.key, "month": month, "as_of": now, "content": f.to_json(),
                 "open_assignments": still_open.get(cid, 0)} for cid, f in per_community.items()]

    rows = await run_report(services.reports, services.engine, compute)

    async def store(conn: AsyncConnection) -> None:
        await conn.execute(sa.delete(OPEN_MONTH_FIGURES))
        await conn.execute(sa.insert(OPEN_MONTH_FIGURES), rows)

    await services.writer.submit(store)
    return len(rows)


async def get_open_month(conn: AsyncConnection, *, month: str, scope: Scope, settings: IntakeSettings,
                         now: dt.datetime) -> OpenMonth | None:
    """`scope`'s figures of `month` as last counted, when `month` is the open month and they are at most twice
    ``open_month_minutes`` old (a scheduler that stopped counting leaves the dashboards to count the log)."""
    every = settings.schedule.open_month_minutes
    if not every or month != month_key(now, settings.tz):
        return None
    row = (await conn.execute(sa.select(OPEN_MONTH_FIGURES.c.content, OPEN_MONTH_FIGURES.c.as_of).where(
        OPEN_MONTH_FIGURES.c.scope == scope.key, OPEN_MONTH_FIGURES.c.month == month,
        OPEN_MONTH_FIGURES.c.as_of >= now - dt.timedelta(minutes=2 * every),
        OPEN_MONTH_FIGURES.c.as_of <= now))).first()
    return None if row is None else OpenMonth(Figures.from_json(row.content), row.as_of)


async def get_counted_open(conn: AsyncConnection, *, settings: IntakeSettings, now: dt.datetime,
                           ) -> tuple[dict[str, int], dt.datetime] | None:
    """Each community's open assignments (by name) and when they were counted, from the open month's recent
    count (as :func:`get_open_month` reads it); None without one."""
    every = settings.schedule.open_month_minutes
    if not every:
        return None
    rows = (await conn.execute(sa.select(OPEN_MONTH_FIGURES.c.scope, OPEN_MONTH_FIGURES.c.open_assignments,
                                         OPEN_MONTH_FIGURES.c.as_of).where(
        OPEN_MONTH_FIGURES.c.month == month_key(now, settings.tz),
        OPEN_MONTH_FIGURES.c.as_of >= now - dt.timedelta(minutes=2 * every), OPEN_MONTH_FIGURES.c.as_of <= now))).all()
    prefix = f"{ScopeKind.community.value}:"
    counted = {str(r.scope).removeprefix(prefix): int(r.open_assignments) for r in rows
               if str(r.scope).startswith(prefix)}
    return (counted, min(r.as_of for r in rows)) if rows else None


async def open_month_due(services: Services, *, now: dt.datetime) -> bool:
    """Whether the open month should be counted again (its last count is `open_month_minutes` old, or none)."""
    every = services.settings.schedule.open_month_minutes
    if not every:
        return False
    async with services.engine.connect() as conn:
        last = (await conn.execute(sa.select(sa.func.max(OPEN_MONTH_FIGURES.c.as_of)).where(
            OPEN_MONTH_FIGURES.c.month == month_key(now, services.settings.tz)))).scalar_one_or_none()
    return last is None or not (now - dt.timedelta(minutes=every) < last <= now)
