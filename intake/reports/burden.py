"""The yearly burden report (年度减负报告): the monthly figures summed, plus the report's own queries.

What is counted (the year is local time, by the task's ``received_at``; every received notice counts,
refused ones included, as in the monthly digest):

* **figures (F)** — notices, assignments, estimated hours, refused, unlisted, 费未随事转, short notice,
  duplicates and 重复采集, by department, kind and community: the twelve months of
  :mod:`intake.reports.figures` (``burden_figures``), the same definitions as the digests and the
  dashboard (``intake.reports.measures``), read from ``month_rollups`` where a month is kept;
* **事项 (items)** — one department × one list item; a notice with no list item is its department ×
  its kind; a recurring catalogued form whose notices carry no list item is its own item (Q1, Q6);
* **the seven counts** — assignments (notice × community) in all and of the kinds 检查考核, 台账,
  报表, 证明, 会议 (F), plus the counter work communities logged (C1); platforms are the distinct
  platforms (after admins' merges) named in notices that reached the community (Q5);
* **problems** — the figures' refused, unlisted, unfunded, short notice, duplicates and 重复采集, with
  层层加码 (Q4), certificates (Q3), forms repeating forms (Q6) and quotes (Q7).

``BurdenReport.sources`` keeps each query's SQL and parameters (``burden_queries``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake import scope as org_scope
from intake.catalogue.platforms import platform_roots
from intake.catalogue.queries import CatalogueRow, catalogue_statement, list_catalogue
from intake.errors import InvalidRequest, NotFound
from intake.reports.burden_assemble import Inputs, assemble
from intake.reports.burden_figures import get_year_figures
from intake.reports.burden_model import BurdenReport
from intake.reports.burden_queries import (
    c1_counter,
    c2_counter_certificates,
    describe,
    q8_forwarding,
    statements_for,
    task_filters,
)
from intake.reports.burden_rollup import BURDEN_SCOPE, collect, combine, run_rows
from intake.reports.figures import DISTRICT_SCOPE, assignments_statement
from intake.reports.rollups import get_kept_contents, is_closed, list_months
from intake.scope import SCOPE_OPTION
from intake.settings import IntakeSettings
from intake.store.models import COMMUNITIES, DISTRICTS
from intake.store.values import OrgLevel

__all__ = ["build_burden_report", "parse_scope", "year_bounds", "Scope"]


@dataclass(frozen=True)
class Scope:
    """The report's area: ``kind`` district | street | community, its plain ``name`` (as ``--scope`` names it)
    and its ``title`` (a street's with its district's name). A district or street other than the whole
    deployment is read through ``area``, the one scope filter of :mod:`intake.scope`; a community through
    its id (its kept monthly figures are its own)."""

    kind: str
    name: str
    community_ids: tuple[int, ...] | None  # a community's; None: every community the connection sees
    communities: int
    area: org_scope.Scope | None = None  # the filter the build runs under (None: none beyond the connection's)
    title: str = ""


def year_bounds(year: int, tz: Any) -> tuple[dt.datetime, dt.datetime]:
    if not 1970 <= year <= 9999:
        raise InvalidRequest(f"年份 {year} 不对,请写四位年份,如 2026。")
    return dt.datetime(year, 1, 1, tzinfo=tz), dt.datetime(year + 1, 1, 1, tzinfo=tz)


def _filter_of(conn: AsyncConnection) -> org_scope.Scope | None:
    """The scope filter the connection already carries (a console user's), if any."""
    sync = conn.sync_connection
    found = sync.get_execution_options().get(SCOPE_OPTION) if sync is not None else None
    return found if isinstance(found, org_scope.Scope) else None


_DEPTH = {None: 0, OrgLevel.city: 0, OrgLevel.district: 1, OrgLevel.street: 2, OrgLevel.community: 3}


async def _active_communities(conn: AsyncConnection) -> int:
    count = (await conn.execute(sa.select(sa.func.count()).select_from(COMMUNITIES)
                                .where(COMMUNITIES.c.active.is_(True)))).scalar_one()
    return max(int(count), 1)


async def _is_whole(conn: AsyncConnection, area: org_scope.Scope) -> bool:
    """A district that holds every community of the deployment (the usual one-district set-up)."""
    every = set((await conn.execute(sa.select(COMMUNITIES.c.id))).scalars())
    return area.level is OrgLevel.district and set(area.community_ids) == every


async def _district_title(conn: AsyncConnection, area: org_scope.Scope) -> str:
    names = (await conn.execute(sa.select(DISTRICTS.c.name).where(DISTRICTS.c.id.in_(sorted(area.district_ids)))
                                .order_by(DISTRICTS.c.id))).scalars().all()
    return f"{names[0]}{area.name}" if len(names) == 1 else area.name


async def parse_scope(conn: AsyncConnection, *, scope: str | None, settings: IntakeSettings) -> Scope:
    """``district:NAME``, ``street:NAME`` (``street:区名/街道名``), ``community:NAME`` on the organisation tree
    (:func:`intake.scope.parse_scope`), or nothing: what the connection sees (the whole deployment, or a
    console user's own scope). An area above or beside the connection's own is not found."""
    seen = _filter_of(conn) or org_scope.EVERYTHING
    if scope is None:
        if seen.is_everything:
            return Scope("district", settings.district.name, None, await _active_communities(conn),
                         title=settings.district.name)
        area = seen
    else:
        level, ident = await org_scope.parse_scope(conn, text=scope)
        if _DEPTH[level] < _DEPTH[seen.level]:
            raise NotFound(scope)
        area = await org_scope.resolve_scope(conn, level=level.value, scope_id=ident)
    name = scope.partition(":")[2].strip() if scope else area.name
    if area.level is OrgLevel.community:
        return Scope("community", area.name, tuple(sorted(area.community_ids)), 1, title=area.name)
    if seen.is_everything and await _is_whole(conn, area):
        return Scope("district", name, None, await _active_communities(conn), title=area.name)
    title = await _district_title(conn, area) if area.level is OrgLevel.street else area.name
    return Scope(str(area.level), name, None, 0, area=area, title=title)


async def _community_names(conn: AsyncConnection) -> dict[int, str]:
    return {int(r.id): str(r.name) for r in (await conn.execute(sa.select(COMMUNITIES.c.id, COMMUNITIES.c.name)))}


async def _own_rows(conn: AsyncConnection, *, scope: Scope, months: list[str], kept: dict[str, Any],
                    settings: IntakeSettings, start: dt.datetime, end: dt.datetime) -> dict[str, list[Any]]:
    """Q1, Q3, Q4, Q5, Q7: the district's month by month (kept months read back), a community's over the year."""
    statements = statements_for(scope.community_ids)
    if scope.community_ids is None:
        burden = {m: contents[BURDEN_SCOPE] for m, contents in kept.items() if BURDEN_SCOPE in contents}
        return await collect(conn, months=months, kept=burden, statements=statements, settings=settings)
    return {q: combine(q, [rows]) for q, rows in (await run_rows(conn, statements(start, end))).items()}


async def build_burden_report(
    conn: AsyncConnection, *, year: int, scope: str | None, settings: IntakeSettings, item_texts: dict[str, str],
    now: dt.datetime,
) -> BurdenReport:
    """The report of one year and scope: kept months from ``month_rollups`` (the sweep of
    ``intake.reports.rollups`` keeps them), the others computed from the log. A district or street other
    than the whole deployment is built on the connection confined to it (``intake.scope``), as a street's
    digest is: every query below then reads only that area's rows."""
    year_bounds(year, settings.tz)
    the_scope = await parse_scope(conn, scope=scope, settings=settings)
    if the_scope.area is None:
        return await _build(conn, year=year, the_scope=the_scope, settings=settings, item_texts=item_texts, now=now)
    previous = _filter_of(conn)
    await conn.execution_options(**{SCOPE_OPTION: the_scope.area})
    try:
        confined = dataclasses.replace(the_scope, communities=await _active_communities(conn))
        return await _build(conn, year=year, the_scope=confined, settings=settings, item_texts=item_texts, now=now)
    finally:
        await conn.execution_options(**{SCOPE_OPTION: previous})


async def _build(
    conn: AsyncConnection, *, year: int, the_scope: Scope, settings: IntakeSettings, item_texts: dict[str, str],
    now: dt.datetime,
) -> BurdenReport:
    start, end = year_bounds(year, settings.tz)
    months = list_months(f"{year:04d}-12", 12)
    closed = [m for m in months if is_closed(m, settings=settings, now=now)]
    kept = await get_kept_contents(conn, months=closed, scopes=[DISTRICT_SCOPE.key, BURDEN_SCOPE]) \
        if closed and the_scope.community_ids is None else {}
    figures = await get_year_figures(conn, months=months, community=None if the_scope.kind != "community"
                                     else the_scope.name, kept=kept, settings=settings, now=now)
    results = await _own_rows(conn, scope=the_scope, months=months, kept=kept, settings=settings, start=start, end=end)
    first, last = start.date(), (end - dt.timedelta(days=1)).date()
    where = task_filters(start, end, the_scope.community_ids)
    forwarding_stmt = q8_forwarding(where)  # live: only the year's forwarded tasks (ix_tasks_forwarded_received)
    counter_stmt = c1_counter(first, last, the_scope.community_ids)
    certificates_stmt = c2_counter_certificates(first, last, the_scope.community_ids)
    forms: list[CatalogueRow] = await list_catalogue(conn, start=start, end=end,
                                                     community_ids=the_scope.community_ids, only_sent=True)
    shown = {"F": assignments_statement(start, end, the_scope.community_ids, settings.schedule),
             **statements_for(the_scope.community_ids)(start, end),
             "Q6": catalogue_statement(start=start, end=end, community_ids=the_scope.community_ids),
             "Q8": forwarding_stmt, "C1": counter_stmt, "C2": certificates_stmt}
    inputs = Inputs(
        year=year, scope=the_scope, where=tuple(where), figures=figures,
        results={**results, "Q8": (await conn.execute(forwarding_stmt)).all(),
                 "C2": (await conn.execute(certificates_stmt)).all()},
        counter=tuple((await conn.execute(counter_stmt)).all()), forms=tuple(forms),
        community_names=await _community_names(conn), platform_roots=await platform_roots(conn),
        sources=tuple(describe(conn, qid, shown[qid]) for qid in ("F", "Q1", "Q3", "Q4", "Q5", "Q6", "Q7", "Q8", "C1", "C2")),
        item_texts=item_texts,
    )
    return await assemble(conn, inputs)
