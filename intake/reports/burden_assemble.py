"""From the query rows to the report: items, the seven counts, the problems and their quotes.

Pure sums over the rows of ``burden``'s queries, plus a few LIMIT queries for the notices quoted.
The recommendations are generated from the assembled figures by ``burden_advice``.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.catalogue.queries import CatalogueRow
from intake.labels import KIND_ZH
from intake.reports import burden_advice
from intake.reports.burden_model import (
    SEVEN,
    BurdenReport,
    CertificateRow,
    DepartmentItems,
    FormRepeat,
    PlatformLoad,
    Quote,
    SevenCount,
    Source,
    UnfundedItem,
)
from intake.reports.burden_quotes import NOT_WORKED, CandidateQuotes
from intake.store.models import TASKS
from intake.store.models_catalogue import PLATFORM_MENTIONS
from intake.texts_notify import summarise

if TYPE_CHECKING:
    from intake.reports.burden import Scope

__all__ = ["Inputs", "assemble"]


@dataclass(frozen=True)
class Inputs:
    year: int
    scope: Scope
    where: tuple[Any, ...]
    results: Mapping[str, Sequence[Any]]
    forms: tuple[CatalogueRow, ...]
    community_names: Mapping[int, str]
    platform_roots: Mapping[int, tuple[int, str]]
    sources: tuple[Source, ...]
    item_texts: Mapping[str, str]

    @property
    def quotes(self) -> CandidateQuotes:
        return CandidateQuotes(self.results["Q7"])


async def _platform_quotes(conn: AsyncConnection, where: Sequence[Any], task_ids: Any) -> tuple[Quote, ...]:
    """The notices that named the most-named platform (few rows: looked up by id)."""
    dept = sa.func.coalesce(TASKS.c.department, "未注明部门")
    rows = (await conn.execute(
        sa.select(TASKS.c.code, dept.label("department"), TASKS.c.raw_text)
        .where(TASKS.c.id.in_(task_ids), *where).order_by(TASKS.c.id).limit(2))).all()
    return tuple(Quote(code=r.code, department=r.department, text=summarise(r.raw_text, limit=80), note="")
                 for r in rows)


def _axis(inputs: Inputs, query: str, axis: str) -> list[Any]:
    return [r for r in inputs.results[query] if r.axis == axis]


def _top(counter: Counter[str], n: int = 3) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n])


def _items(inputs: Inputs) -> tuple[dict[str, set[tuple[str, str]]], dict[tuple[str, str], Counter[str]]]:
    """事项 by department, and each item's notices by nature (an item is administrative when most are)."""
    natures: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for r in inputs.results["Q1"]:
        if r.item is None and r.form:
            continue  # its 事项 is the catalogued form, counted below
        key = (r.department, r.item if r.item is not None else f"类型:{KIND_ZH.get(r.kind, r.kind)}")
        natures[key][r.nature] += r.n
    for form in inputs.forms:
        if form.is_recurring and form.listed_sends < form.sends:
            natures[(form.department or "未注明部门", f"表:{form.name}")]["administrative"] += form.sends
    by_department: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for key in natures:
        by_department[key[0]].add(key)
    return by_department, natures


def _is_administrative(natures: Counter[str]) -> bool:
    return natures["administrative"] >= natures["service"]


def _departments(inputs: Inputs) -> tuple[tuple[DepartmentItems, ...], int, int]:
    by_department, natures = _items(inputs)
    tasks: Counter[str] = Counter()
    for r in inputs.results["Q1"]:
        tasks[r.department] += r.n
    assignments: Counter[str] = Counter()
    for r in _axis(inputs, "Q2", "department"):
        assignments[r.department] += r.n
    rows = []
    for department in set(by_department) | set(tasks):
        keys = by_department.get(department, set())
        admin = sum(1 for key in keys if _is_administrative(natures[key]))
        rows.append(DepartmentItems(department=department, items=len(keys), administrative_items=admin,
                                    tasks=tasks[department], assignments=assignments[department]))
    rows.sort(key=lambda d: (-d.items, -d.assignments, d.department))
    return tuple(rows), sum(d.items for d in rows), sum(d.administrative_items for d in rows)


async def _seven(conn: AsyncConnection, inputs: Inputs) -> tuple[SevenCount, ...]:
    counts = []
    for key, label, unit in SEVEN:
        if key == "platform":
            counts.append(await _platform_count(conn, inputs, label, unit))
            continue
        by_community: Counter[int] = Counter()
        by_department: Counter[str] = Counter()
        for r in _axis(inputs, "Q2", "community"):
            if key == "tasks" or r.kind == key:
                by_community[r.community_id] += r.n
        for r in _axis(inputs, "Q2", "department"):
            if key == "tasks" or r.kind == key:
                by_department[r.department] += r.n
        total = sum(by_community.values())
        most = max(by_community.items(), key=lambda kv: (kv[1], -kv[0]), default=(0, 0))
        top = _top(by_department)
        quoted = inputs.quotes.pick("kind", kind=None if key == "tasks" else key, department=top[0][0]) if top else ()
        counts.append(SevenCount(
            key=key, label=label, unit=unit, total=total, per_community=round(total / inputs.scope.communities, 1),
            most=(inputs.community_names.get(most[0], "—"), most[1]), top_departments=top, quotes=quoted,
            source="Q2",
        ))
    return tuple(counts)


def _platform_loads(inputs: Inputs) -> tuple[PlatformLoad, ...]:
    per_community: dict[int, set[str]] = defaultdict(set)
    per_data: dict[tuple[int, str], set[str]] = defaultdict(set)
    for r in _axis(inputs, "Q5", "data"):
        root = inputs.platform_roots.get(r.platform_id, (r.platform_id, str(r.platform_id)))[1]
        per_community[r.community_id].add(root)
        data = f"{r.item} {inputs.item_texts.get(r.item, '')}".strip() if r.item else KIND_ZH.get(r.kind, r.kind)
        per_data[(r.community_id, data)].add(root)
    loads = []
    for cid, names in per_community.items():
        repeated = tuple(sorted((data, tuple(sorted(p))) for (c, data), p in per_data.items() if c == cid and len(p) > 1))
        loads.append(PlatformLoad(community=inputs.community_names.get(cid, str(cid)), platforms=len(names),
                                  names=tuple(sorted(names)), repeated_data=repeated))
    return tuple(sorted(loads, key=lambda p: (-p.platforms, p.community)))


async def _platform_count(conn: AsyncConnection, inputs: Inputs, label: str, unit: str) -> SevenCount:
    loads = _platform_loads(inputs)
    everyone = {name for load in loads for name in load.names}
    by_department: Counter[str] = Counter()
    by_platform: Counter[int] = Counter()
    for r in _axis(inputs, "Q5", "department"):
        by_department[r.department] += r.n
    for r in _axis(inputs, "Q5", "data"):
        by_platform[inputs.platform_roots.get(r.platform_id, (r.platform_id, ""))[0]] += r.n
    found: tuple[Quote, ...] = ()
    if by_platform:
        top_root = max(by_platform.items(), key=lambda kv: (kv[1], -kv[0]))[0]
        ids = [pid for pid, (root, _) in inputs.platform_roots.items() if root == top_root]
        mentioned = sa.select(PLATFORM_MENTIONS.c.task_id).where(PLATFORM_MENTIONS.c.platform_id.in_(ids))
        found = await _platform_quotes(conn, inputs.where, mentioned)
    per_community = sum(load.platforms for load in loads) / inputs.scope.communities
    most = (loads[0].community, loads[0].platforms) if loads else ("—", 0)
    return SevenCount(key="platform", label=label, unit=unit, total=len(everyone), per_community=round(per_community, 1),
                      most=most, top_departments=_top(by_department), quotes=found, source="Q5")


def _certificates(inputs: Inputs) -> tuple[CertificateRow, ...]:
    requests: Counter[tuple[str, str]] = Counter()
    departments: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in inputs.results["Q3"]:
        name = (r.name or "证明:未列入清单").split(":", 1)[-1]
        key = (name, r.certificate or "unknown")
        requests[key] += r.n
        departments[key].add(r.department)
    order = {"refuse": 0, "unknown": 1, "conditional": 2, "issue": 3}
    return tuple(CertificateRow(name=k[0], decision=k[1], requests=n, departments=tuple(sorted(departments[k])))
                 for k, n in sorted(requests.items(), key=lambda kv: (order.get(kv[0][1], 4), -kv[1], kv[0][0])))


def _unfunded_items(inputs: Inputs) -> tuple[int, tuple[UnfundedItem, ...]]:
    """Unfunded assist notices, and the assist items that never once came with funding."""
    funded: Counter[tuple[str, str]] = Counter()
    notices: Counter[tuple[str, str]] = Counter()
    unfunded = 0
    for r in inputs.results["Q1"]:
        if r.listing != "assist" or r.status in NOT_WORKED:
            continue
        key = (r.item or "—", r.department)
        notices[key] += r.n
        funded[key] += r.n if r.funded else 0
        unfunded += 0 if r.funded else r.n
    never = [UnfundedItem(item=item, text=inputs.item_texts.get(item, ""), department=dept, tasks=n)
             for (item, dept), n in notices.items() if funded[(item, dept)] == 0]
    return unfunded, tuple(sorted(never, key=lambda u: (-u.tasks, u.item, u.department)))


def _sum(inputs: Inputs, test: Any) -> int:
    return sum(r.n for r in inputs.results["Q1"] if test(r))


def _by_department(inputs: Inputs, test: Any) -> tuple[tuple[str, int], ...]:
    counter: Counter[str] = Counter()
    for r in inputs.results["Q1"]:
        if test(r):
            counter[r.department] += r.n
    return _top(counter, 5)


async def assemble(conn: AsyncConnection, inputs: Inputs) -> BurdenReport:
    departments, items, admin_items = _departments(inputs)
    kinds: Counter[str] = Counter()
    kind_assignments: Counter[str] = Counter()
    for r in inputs.results["Q1"]:
        kinds[r.kind] += r.n
    for r in _axis(inputs, "Q2", "department"):
        kind_assignments[r.kind] += r.n
    unfunded, never_funded = _unfunded_items(inputs)
    escalations = inputs.results["Q4"]
    report = BurdenReport(
        year=inputs.year, scope=f"{inputs.scope.kind}:{inputs.scope.name}", scope_name=inputs.scope.name,
        communities=inputs.scope.communities, tasks=sum(kinds.values()), assignments=sum(kind_assignments.values()),
        items=items, administrative_items=admin_items, departments=departments,
        kinds=tuple((k, KIND_ZH.get(k, k), kinds[k], kind_assignments[k]) for k, _ in kinds.most_common()),
        seven=await _seven(conn, inputs),
        refused=_sum(inputs, lambda r: r.status == "refused"),
        refused_by_department=_by_department(inputs, lambda r: r.status == "refused"),
        refused_quotes=inputs.quotes.pick("refused", limit=3),
        stopped_forms_refused=_sum(inputs, lambda r: r.stopped),
        unlisted=_sum(inputs, lambda r: r.listing == "unlisted"),
        unlisted_by_department=_by_department(inputs, lambda r: r.listing == "unlisted"),
        unfunded=unfunded, unfunded_items=never_funded,
        unfunded_quotes=inputs.quotes.pick("unfunded"),
        short_notice=_sum(inputs, lambda r: r.short_notice),
        short_by_department=_by_department(inputs, lambda r: r.short_notice),
        short_quotes=inputs.quotes.pick("short", note="留给社区不足3个工作日"),
        duplicates=_sum(inputs, lambda r: r.dup), escalations=len(escalations),
        escalation_quotes=tuple(burden_advice.escalation_quote(r) for r in escalations[:3]),
        repeat_collection=_sum(inputs, lambda r: r.repeat_collection),
        form_repeats=tuple(FormRepeat(form=f.name, department=f.department, earlier=f.repeat_of or "",
                                      earlier_department=f.repeat_of_department or "", shared=f.repeat_shared,
                                      total=len(f.field_keys), decision=f.decision)
                           for f in inputs.forms if f.repeat_of),
        forms=inputs.forms, form_submissions=sum(f.submissions for f in inputs.forms),
        platforms=_platform_loads(inputs), certificates=_certificates(inputs), recommendations=(),
        sources=inputs.sources,
    )
    return dataclasses.replace(report, recommendations=burden_advice.recommend(report))
