"""层层加码 along the forwarding chain in the yearly report: per forwarding office, and the worst cases quoted.

The rows are Q8's (``burden_queries.q8_forwarding``): the year's forwards whose forwarder set an earlier
deadline than the issuer's, or asked for work the issuer's text did not (``tasks.escalation``, read by
``classifiers.forwarding``). An office is named with its street (each street has its own 街道办).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from intake.reports.burden_model import ForwardingOffice, Quote
from intake.reports.burden_texts import NOTE
from intake.texts_notify import summarise

__all__ = ["forwarding_offices", "forwarding_quotes"]

QUOTED = 3


def _office(row: Any) -> str:
    office, street = str(row.office or NOTE["unknown_office"]), row.street
    return office if not street or office.startswith(street) else f"{street}{office}"


def _added(row: Any) -> tuple[str, ...]:
    value = row.escalation
    return tuple(str(v) for v in value) if isinstance(value, list | tuple) else ()


def _date(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value if isinstance(value, dt.date) else None


def _days(row: Any) -> int:
    """How many days earlier than the issuer's the forwarder's deadline is (0: not earlier)."""
    own, issuer = _date(row.deadline), _date(row.issuer_deadline)
    return max((issuer - own).days, 0) if own is not None and issuer is not None else 0


def forwarding_offices(rows: Sequence[Any]) -> tuple[ForwardingOffice, ...]:
    """Each forwarding office's 层层加码 of the year, most first."""
    counts: dict[str, list[int]] = {}
    for row in rows:
        added = _added(row)
        entry = counts.setdefault(_office(row), [0, 0, 0, 0])
        entry[0] += 1
        entry[1] += "deadline" in added
        entry[2] += "work" in added
        entry[3] = max(entry[3], _days(row))
    offices = [ForwardingOffice(office=name, escalated=n, earlier=earlier, added_work=work, most_days=days)
               for name, (n, earlier, work, days) in counts.items()]
    return tuple(sorted(offices, key=lambda f: (-f.escalated, -f.most_days, f.office)))


def forwarding_quotes(rows: Sequence[Any]) -> tuple[Quote, ...]:
    """The worst cases: the largest advance of the deadline first, then forwards that also added work."""
    worst = sorted(rows, key=lambda r: (-_days(r), -len(_added(r)), str(r.code)))[:QUOTED]
    quotes = []
    for row in worst:
        parts = []
        if _days(row):
            own, issuer = _date(row.deadline), _date(row.issuer_deadline)
            assert own is not None and issuer is not None
            parts.append(NOTE["forward_earlier"].format(issuer=f"{issuer.month}月{issuer.day}日",
                                                        own=f"{own.month}月{own.day}日", days=_days(row)))
        if "work" in _added(row):
            parts.append(NOTE["forward_work"])
        quotes.append(Quote(code=str(row.code), department=NOTE["forward_by"].format(office=_office(row),
                                                                                       department=row.department),
                            text=summarise(str(row.raw_text), limit=80), note=",".join(parts)))
    return tuple(quotes)
