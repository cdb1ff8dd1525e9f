"""The yearly burden report (年度减负报告), built from the log with a few GROUP BY queries.

What is counted (the year is local time, by the task's ``received_at``; every received notice counts,
refused ones included, as in the monthly digest):

* **事项 (items)** — one department × one list item; a notice with no list item is its department ×
  its kind; a recurring catalogued form whose notices carry no list item is its own item.
  An item is administrative when most of its notices are.
* **the seven counts** — assignments (notice × community) in all and of the kinds 检查考核, 台账,
  报表, 证明, 会议; platforms are the distinct platforms (after admins' merges) named in notices
  that reached the community. Per community: the total over the scope's communities.
* **problems** — refused, unlisted, 费未随事转, short notice, duplicates, 层层加码 (a resent notice
  that asks for more or sooner than the original), 重复采集 (notices and forms).

The queries are Q1 (notices grouped), Q2 (assignments by community, department and kind), Q3
(certificates), Q4 (层层加码), Q5 (platforms by community), Q6 (the catalogue); quotes are read per
case with a LIMIT. ``BurdenReport.sources`` keeps each query's SQL and parameters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.catalogue.platforms import platform_roots
from intake.catalogue.queries import CatalogueRow, catalogue_statement, list_catalogue
from intake.errors import InvalidRequest, NotFound
from intake.reports.burden_assemble import Inputs, assemble
from intake.reports.burden_model import BurdenReport, Source
from intake.reports.burden_quotes import q7_quote_candidates
from intake.reports.burden_rollup import Collected, add_rollups, collect, combine, plain_row, project
from intake.settings import IntakeSettings
from intake.store.models import COMMUNITIES, TASK_TARGETS, TASKS
from intake.store.models_catalogue import FORM_SENDS, PLATFORM_MENTIONS

__all__ = ["build_burden_report", "build_burden_report_and_rollups", "parse_scope", "year_bounds", "Scope"]

NO_DEPARTMENT = "未注明部门"


@dataclass(frozen=True)
class Scope:
    kind: str  # district | community
    name: str
    community_ids: tuple[int, ...] | None  # None: every community
    communities: int


def year_bounds(year: int, tz: Any) -> tuple[dt.datetime, dt.datetime]:
    if not 1970 <= year <= 9999:
        raise InvalidRequest(f"年份 {year} 不对,请写四位年份,如 2026。")
    return dt.datetime(year, 1, 1, tzinfo=tz), dt.datetime(year + 1, 1, 1, tzinfo=tz)


async def parse_scope(conn: AsyncConnection, *, scope: str | None, settings: IntakeSettings) -> Scope:
    """``district:NAME`` (or nothing: the configured district) or ``community:NAME``."""
    kind, _, name = (scope or f"district:{settings.district.name}").partition(":")
    if kind == "district":
        count = (await conn.execute(sa.select(sa.func.count()).select_from(COMMUNITIES)
                                    .where(COMMUNITIES.c.active.is_(True)))).scalar_one()
        return Scope("district", name or settings.district.name, None, max(int(count), 1))
    if kind == "community":
        cid = (await conn.execute(sa.select(COMMUNITIES.c.id).where(COMMUNITIES.c.name == name))).scalar_one_or_none()
        if cid is None:
            raise NotFound(name)
        return Scope("community", name, (int(cid),), 1)
    raise InvalidRequest(f"范围 {scope!r} 不对:请写 district:区名 或 community:社区名。")


def _dept() -> Any:
    return sa.func.coalesce(TASKS.c.department, NO_DEPARTMENT)


def _filters(start: dt.datetime, end: dt.datetime, scope: Scope) -> list[Any]:
    where: list[Any] = [TASKS.c.received_at >= start, TASKS.c.received_at < end]
    if scope.community_ids is not None:
        where.append(TASKS.c.id.in_(sa.select(TASK_TARGETS.c.task_id)
                                    .where(TASK_TARGETS.c.community_id.in_(scope.community_ids))))
    return where


def _grouped(columns: dict[str, Any], where: Sequence[Any], *, joined: Any = TASKS) -> Any:
    """GROUP BY every column of an inner SELECT (PostgreSQL cannot match a repeated expression with
    bound parameters, e.g. coalesce(department, $1), between the select list and GROUP BY)."""
    inner = sa.select(*(col.label(name) for name, col in columns.items())).select_from(joined).where(*where).subquery()
    cols = list(inner.c)
    return sa.select(*cols, sa.func.count().label("n")).group_by(*cols)


def q1_notices(where: Sequence[Any]) -> Any:
    """Notices grouped; ``form`` is whether a notice with no list item sends a catalogued form."""
    sends_form = sa.exists().where(FORM_SENDS.c.task_id == TASKS.c.id)
    return _grouped({
        "department": _dept(), "kind": TASKS.c.kind, "nature": TASKS.c.nature, "listing": TASKS.c.listing,
        "item": TASKS.c.item, "status": TASKS.c.status, "funded": TASKS.c.funded,
        "short_notice": TASKS.c.short_notice, "dup": TASKS.c.duplicate_of.is_not(None),
        "repeat_collection": TASKS.c.repeat_collection, "stopped": TASKS.c.review_note.like("报表目录停用%"),
        "form": sa.case((TASKS.c.item.is_(None), sends_form), else_=sa.false()),
    }, where)


def q2_assignments(where: Sequence[Any], scope: Scope) -> Any:
    extra = [] if scope.community_ids is None else [TASK_TARGETS.c.community_id.in_(scope.community_ids)]
    return _grouped({"community_id": TASK_TARGETS.c.community_id, "department": _dept(), "kind": TASKS.c.kind},
                    [*where, *extra], joined=TASKS.join(TASK_TARGETS, TASK_TARGETS.c.task_id == TASKS.c.id))


def q3_certificates(where: Sequence[Any]) -> Any:
    return _grouped({"name": TASKS.c.evidence["certificate"]["rule"].as_string(), "certificate": TASKS.c.certificate,
                     "department": _dept()}, [*where, TASKS.c.kind == "certificate"])


def q4_escalations(where: Sequence[Any]) -> Any:
    original = TASKS.alias("original")
    more = sa.or_(TASKS.c.deadline < original.c.deadline, TASKS.c.quantity_value > original.c.quantity_value)
    return (sa.select(TASKS.c.code, _dept().label("department"), sa.func.substr(TASKS.c.raw_text, 1, 160).label("raw_text"),
                      TASKS.c.deadline,
                      TASKS.c.quantity_value, original.c.code.label("original_code"),
                      original.c.deadline.label("original_deadline"),
                      original.c.quantity_value.label("original_quantity"))
            .select_from(TASKS.join(original, original.c.id == TASKS.c.duplicate_of)).where(*where, more)
            .order_by(TASKS.c.received_at))


def q5_platforms(start: dt.datetime, end: dt.datetime, community_ids: Sequence[int] | None) -> Any:
    joined = PLATFORM_MENTIONS.join(TASKS, TASKS.c.id == PLATFORM_MENTIONS.c.task_id).join(
        TASK_TARGETS, TASK_TARGETS.c.task_id == PLATFORM_MENTIONS.c.task_id)
    where = [PLATFORM_MENTIONS.c.received_at >= start, PLATFORM_MENTIONS.c.received_at < end]
    if community_ids is not None:
        where.append(TASK_TARGETS.c.community_id.in_(community_ids))
    return _grouped({"community_id": TASK_TARGETS.c.community_id, "platform_id": PLATFORM_MENTIONS.c.platform_id,
                     "department": _dept(), "item": TASKS.c.item, "kind": TASKS.c.kind}, where, joined=joined)


def _source(conn: AsyncConnection, qid: str, title: str, stmt: Any) -> Source:
    compiled = stmt.compile(dialect=conn.dialect)
    params = ", ".join(f"{k}={v!s}" for k, v in compiled.params.items())
    return Source(qid, title, " ".join(str(compiled).split()), params)


async def _community_names(conn: AsyncConnection) -> dict[int, str]:
    return {int(r.id): str(r.name) for r in (await conn.execute(sa.select(COMMUNITIES.c.id, COMMUNITIES.c.name)))}


def _statements(scope: Scope) -> Any:
    """The rolled queries (Q1–Q5, Q7) for a period of this scope."""

    def build(start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
        where = _filters(start, end, scope)
        return {"Q1": q1_notices(where), "Q2": q2_assignments(where, scope), "Q3": q3_certificates(where),
                "Q4": q4_escalations(where), "Q5": q5_platforms(start, end, scope.community_ids),
                "Q7": q7_quote_candidates(where)}

    return build


TITLES = {
    "Q1": "通知按部门、类型、清单、事项、状态、经费、时限、重复分组计数(按月汇总)",
    "Q2": "派发(通知×社区)按社区、部门、类型计数(按月汇总)",
    "Q3": "证明类通知按证明名称、出具结论、部门计数(按月汇总)",
    "Q4": "层层加码:再次下发时截止提前或数量加大的通知",
    "Q5": "社区被要求录入的平台(通知×平台×社区,按月汇总)",
    "Q6": "报表目录:每张表的下发次数、填报社区数、填报份数",
    "Q7": "引用的通知:每类情形数量最大、时限最紧的通知(按月汇总)",
}


async def build_burden_report_and_rollups(
    conn: AsyncConnection, *, year: int, scope: str | None, settings: IntakeSettings, item_texts: dict[str, str],
    now: dt.datetime,
) -> tuple[BurdenReport, Collected]:
    """The report, and the settled months computed live (for the caller to keep with :func:`add_rollups`).

    The district's rolled queries are summed month by month (kept months read from ``report_rollups``);
    a community's run over the year directly.
    """
    start, end = year_bounds(year, settings.tz)
    the_scope = await parse_scope(conn, scope=scope, settings=settings)
    where = _filters(start, end, the_scope)
    statements = _statements(the_scope)
    if the_scope.community_ids is None:
        collected = await collect(conn, year=year, tz=settings.tz, now=now, statements=statements)
    else:
        live = {q: project(q, [plain_row(r) for r in (await conn.execute(stmt)).all()])
                for q, stmt in statements(start, end).items()}
        collected = Collected(rows={q: combine(q, [rows]) for q, rows in live.items()})
    year_statements = {**statements(start, end),
                       "Q6": catalogue_statement(start=start, end=end, community_ids=the_scope.community_ids)}
    results = collected.rows
    forms: list[CatalogueRow] = await list_catalogue(conn, start=start, end=end,
                                                     community_ids=the_scope.community_ids, only_sent=True)
    inputs = Inputs(
        year=year, scope=the_scope, where=tuple(where), results=results, forms=tuple(forms),
        community_names=await _community_names(conn), platform_roots=await platform_roots(conn),
        sources=tuple(_source(conn, qid, TITLES[qid], year_statements[qid]) for qid in sorted(year_statements)),
        item_texts=item_texts,
    )
    return await assemble(conn, inputs), collected


async def build_burden_report(
    conn: AsyncConnection, *, year: int, scope: str | None, settings: IntakeSettings, item_texts: dict[str, str],
    now: dt.datetime, store_rollups: bool = False,
) -> BurdenReport:
    """The report of one year and scope; with ``store_rollups`` the settled months are kept (caller commits)."""
    report, collected = await build_burden_report_and_rollups(
        conn, year=year, scope=scope, settings=settings, item_texts=item_texts, now=now)
    if store_rollups and collected.fresh:
        await add_rollups(conn, collected=collected, now=now)
    return report
