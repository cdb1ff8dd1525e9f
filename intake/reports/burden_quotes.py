"""The notices the report quotes for each case: largest quantity first, then short notice, then the earliest.

Cases: ``kind`` (one kind, one department), ``refused``, ``unfunded``, ``short``. Q7 reads, per
period, the top candidates of every case (per kind and department for ``kind``) in one query with
window functions; the district's year keeps them per settled month like the counts, and the report
picks the worst of the candidates (:class:`CandidateQuotes`), so no quote scans the year's log.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from intake.reports.burden_model import Quote
from intake.reports.measures import NO_DEPARTMENT, conditions
from intake.store.models import TASKS
from intake.texts_notify import summarise

__all__ = ["q7_quote_candidates", "CandidateQuotes", "CANDIDATES"]

CANDIDATES = 3  # per case (and per kind × department) and period
_TEXT = 160


def _department() -> Any:
    """The department as the figures name it, with the name inlined (a bound parameter inside a window's
    PARTITION BY is a different expression from the select list's on PostgreSQL)."""
    return sa.func.coalesce(TASKS.c.department, sa.literal_column(f"'{NO_DEPARTMENT}'"))


def _cases() -> dict[str, tuple[Any, list[Any]]]:
    """case → (what the ranking is partitioned by, the case's filter: the figures' own conditions)."""
    dept = _department()
    measure = conditions()
    return {
        "kind": (sa.tuple_(TASKS.c.kind, dept), []),
        "refused": (None, [measure["refused"]]),
        "unfunded": (None, [measure["unfunded"]]),
        "short": (None, [measure["short_notice"]]),
    }


def q7_quote_candidates(where: Sequence[Any]) -> Any:
    """Each case's top candidates in the period (UNION ALL of one ranked select per case)."""
    dept = _department()
    order = (TASKS.c.quantity_value.is_(None), TASKS.c.quantity_value.desc(), TASKS.c.short_notice.desc(),
             TASKS.c.code)
    selects = []
    for case, (partition, extra) in _cases().items():
        by = [TASKS.c.kind, dept] if partition is not None else None
        rank = sa.func.row_number().over(partition_by=by, order_by=order).label("rank")
        inner = (sa.select(sa.literal(case).label("case"), TASKS.c.code, dept.label("department"), TASKS.c.kind,
                           sa.func.substr(TASKS.c.raw_text, 1, _TEXT).label("text"), TASKS.c.quantity_value,
                           TASKS.c.quantity_unit, TASKS.c.short_notice, rank)
                 .where(*where, *extra).subquery())
        selects.append(sa.select(*(c for c in inner.c if c.name != "rank")).where(inner.c.rank <= CANDIDATES))
    return sa.union_all(*selects)


class CandidateQuotes:
    """Quotes picked from Q7's candidates (of every month of the period)."""

    def __init__(self, rows: Sequence[Any]) -> None:
        self._rows = rows

    def pick(self, case: str, *, kind: str | None = None, department: str | None = None, limit: int = 2,
             note: str = "") -> tuple[Quote, ...]:
        found = [r for r in self._rows if r.case == case and (kind is None or r.kind == kind)
                 and (department is None or r.department == department)]
        found.sort(key=lambda r: (r.quantity_value is None, -(r.quantity_value or 0), not r.short_notice, r.code))
        return tuple(Quote(code=r.code, department=r.department, text=summarise(r.text, limit=80),
                           note=note or (f"数量 {r.quantity_value}{r.quantity_unit or ''}" if r.quantity_value else ""))
                     for r in found[:limit])
