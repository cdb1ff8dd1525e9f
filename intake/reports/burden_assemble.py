"""From the figures and the query rows to the report: items, the seven counts, the problems and their quotes.

Counts of notices come from the year's monthly figures (``burden_figures``, source F); items,
certificates, 层层加码, platforms and quotes from the report's own rows (``burden_queries``); counter
work from C1. The recommendations are generated from the assembled figures by ``burden_advice``.
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
from intake.reports.burden_figures import YearFigures
from intake.reports.burden_forwarding import forwarding_offices, forwarding_quotes
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
from intake.reports.burden_quotes import CandidateQuotes
from intake.reports.figures import Counts
from intake.reports.measures import NO_DEPARTMENT, department_name
from intake.store.models import TASKS
from intake.store.models_catalogue import PLATFORM_MENTIONS
from intake.store.values import CounterKind
from intake.texts_notify import summarise

if TYPE_CHECKING:
    from intake.reports.burden import Scope

__all__ = ["Inputs", "assemble"]


@dataclass(frozen=True)
class Inputs:
    year: int
    scope: Scope
    where: tuple[Any, ...]
    figures: YearFigures
    results: Mapping[str, Sequence[Any]]
    counter: tuple[Any, ...]  # C1 rows: community_id, kind, entries, copies, systems, people
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
    rows = (await conn.execute(
        sa.select(TASKS.c.code, department_name().label("department"), TASKS.c.raw_text)
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
            natures[(form.department or NO_DEPARTMENT, f"表:{form.name}")]["administrative"] += form.sends
    by_department: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for key in natures:
        by_department[key[0]].add(key)
    return by_department, natures


def _is_administrative(natures: Counter[str]) -> bool:
    return natures["administrative"] >= natures["service"]


def _departments(inputs: Inputs) -> tuple[tuple[DepartmentItems, ...], int, int]:
    by_department, natures = _items(inputs)
    figures = inputs.figures.by_department
    rows = []
    for department in set(by_department) | set(figures):
        keys = by_department.get(department, set())
        admin = sum(1 for key in keys if _is_administrative(natures[key]))
        counts = figures.get(department, Counts())
        rows.append(DepartmentItems(department=department, items=len(keys), administrative_items=admin,
                                    tasks=counts.tasks, assignments=counts.assignments))
    rows.sort(key=lambda d: (-d.items, -d.assignments, d.department))
    return tuple(rows), sum(d.items for d in rows), sum(d.administrative_items for d in rows)


# what a counter line adds to the seven: (counter kind, C1 column)
COUNTER_SOURCES = {"inspection": (CounterKind.inspection, "entries"), "certificate": (CounterKind.certificate, "copies"),
                   "meeting": (CounterKind.meeting, "entries"), "platform": (CounterKind.platform, "entries")}


def _counter(inputs: Inputs, key: str) -> Counter[str]:
    """Counter work per community (by name) that adds to the seven count `key`."""
    out: Counter[str] = Counter()
    if key in COUNTER_SOURCES:
        kind, column = COUNTER_SOURCES[key]
        for r in inputs.counter:
            if r.kind == kind.value:
                out[inputs.community_names.get(int(r.community_id), str(r.community_id))] += int(getattr(r, column))
    return out


def _most(by_community: Counter[str]) -> tuple[str, int]:
    return min(by_community.items(), key=lambda kv: (-kv[1], kv[0]), default=("—", 0))


async def _seven(conn: AsyncConnection, inputs: Inputs) -> tuple[SevenCount, ...]:
    counts = []
    for key, label, unit in SEVEN:
        if key == "platform":
            counts.append(await _platform_count(conn, inputs, label, unit))
            continue
        kind = None if key == "tasks" else key
        notices = inputs.figures.community_assignments(kind)
        counter = _counter(inputs, key)
        by_community = notices + counter
        top = _top(Counter(inputs.figures.department_assignments(kind)))
        total = sum(by_community.values())
        quoted = inputs.quotes.pick("kind", kind=kind, department=top[0][0]) if top else ()
        counts.append(SevenCount(
            key=key, label=label, unit=unit, total=total, notices=sum(notices.values()),
            counter=sum(counter.values()), per_community=round(total / inputs.scope.communities, 1),
            most=_most(by_community), top_departments=top, quotes=quoted,
            source="F、C1" if key in COUNTER_SOURCES else "F",
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
    return SevenCount(key="platform", label=label, unit=unit, total=len(everyone), notices=len(everyone),
                      counter=sum(_counter(inputs, "platform").values()), per_community=round(per_community, 1),
                      most=most, top_departments=_top(by_department), quotes=found, source="Q5、C1")


def _certificates(inputs: Inputs) -> tuple[CertificateRow, ...]:
    requests: Counter[tuple[str, str]] = Counter()
    departments: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in [*inputs.results["Q3"], *inputs.results["C2"]]:  # asked in notices, and at the counter
        name = (r.name or "证明:未列入清单").split(":", 1)[-1]
        key = (name, r.certificate or "unknown")
        requests[key] += r.n
        departments[key].add(r.department)
    order = {"refuse": 0, "unknown": 1, "conditional": 2, "issue": 3}
    return tuple(CertificateRow(name=k[0], decision=k[1], requests=n, departments=tuple(sorted(departments[k])))
                 for k, n in sorted(requests.items(), key=lambda kv: (order.get(kv[0][1], 4), -kv[1], kv[0][0])))


def _never_funded(inputs: Inputs) -> tuple[UnfundedItem, ...]:
    """The assist items (worked, not refused or withdrawn) that never once came with funding."""
    funded: Counter[tuple[str, str]] = Counter()
    notices: Counter[tuple[str, str]] = Counter()
    for r in inputs.results["Q1"]:
        if r.assist:
            key = (r.item or "—", r.department)
            notices[key] += r.n
            funded[key] += r.n if r.funded else 0
    never = [UnfundedItem(item=item, text=inputs.item_texts.get(item, ""), department=dept, tasks=n)
             for (item, dept), n in notices.items() if funded[(item, dept)] == 0]
    return tuple(sorted(never, key=lambda u: (-u.tasks, u.item, u.department)))


def _by_department(inputs: Inputs, field: str) -> tuple[tuple[str, int], ...]:
    """The departments with most of one figure (a field of ``Counts``)."""
    counter = Counter({name: getattr(c, field) for name, c in inputs.figures.by_department.items()})
    return _top(+counter, 5)


def _seconded(inputs: Inputs) -> int:
    return sum(int(r.people) for r in inputs.counter if r.kind == CounterKind.secondment.value)


async def assemble(conn: AsyncConnection, inputs: Inputs) -> BurdenReport:
    departments, items, admin_items = _departments(inputs)
    total = inputs.figures.total
    kinds = sorted(inputs.figures.by_kind.items(), key=lambda kv: (-kv[1].tasks, kv[0]))
    escalations = inputs.results["Q4"]
    report = BurdenReport(
        year=inputs.year, scope=f"{inputs.scope.kind}:{inputs.scope.name}", scope_name=inputs.scope.title or inputs.scope.name,
        communities=inputs.scope.communities, tasks=total.tasks, assignments=total.assignments,
        hours=round(total.hours, 1), seconded_people=_seconded(inputs),
        items=items, administrative_items=admin_items, departments=departments,
        kinds=tuple((k, KIND_ZH.get(k, k), c.tasks, c.assignments) for k, c in kinds),
        seven=await _seven(conn, inputs),
        refused=total.refused, refused_by_department=_by_department(inputs, "refused"),
        refused_quotes=inputs.quotes.pick("refused", limit=3),
        stopped_forms_refused=sum(r.n for r in inputs.results["Q1"] if r.stopped),
        unlisted=total.unlisted, unlisted_by_department=_by_department(inputs, "unlisted"),
        unfunded=total.unfunded, unfunded_items=_never_funded(inputs),
        unfunded_quotes=inputs.quotes.pick("unfunded"),
        short_notice=total.short_notice, short_by_department=_by_department(inputs, "short_notice"),
        short_quotes=inputs.quotes.pick("short", note="留给社区不足3个工作日"),
        duplicates=total.duplicates, escalations=len(escalations),
        escalation_quotes=tuple(burden_advice.escalation_quote(r) for r in escalations[:3]),
        forwarding=forwarding_offices(inputs.results["Q8"]), forwarding_quotes=forwarding_quotes(inputs.results["Q8"]),
        repeat_collection=total.repeat_collection,
        form_repeats=tuple(FormRepeat(form=f.name, department=f.department, earlier=f.repeat_of or "",
                                      earlier_department=f.repeat_of_department or "", shared=f.repeat_shared,
                                      total=len(f.field_keys), decision=f.decision)
                           for f in inputs.forms if f.repeat_of),
        forms=inputs.forms, form_submissions=sum(f.submissions for f in inputs.forms),
        platforms=_platform_loads(inputs), certificates=_certificates(inputs), recommendations=(),
        sources=inputs.sources,
    )
    return dataclasses.replace(report, recommendations=burden_advice.recommend(report))
