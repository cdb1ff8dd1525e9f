"""The classifier's result types: enums with the docs/policy.md values, and the frozen Classification.

Result types hold data and serialise to the jsonl object; the Chinese receipt is `classifiers.messages.describe`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class Kind(StrEnum):
    REPORT = "report"
    LEDGER = "ledger"
    CERTIFICATE = "certificate"
    INSPECTION = "inspection"
    MEETING = "meeting"
    SURVEY = "survey"
    DATA_ENTRY = "data_entry"
    CAMPAIGN = "campaign"
    SIGNBOARD = "signboard"
    LEVY = "levy"
    SERVICE = "service"
    ADHOC = "adhoc"


class Nature(StrEnum):
    ADMINISTRATIVE = "administrative"
    SERVICE = "service"


class Listing(StrEnum):
    DUTY = "duty"
    ASSIST = "assist"
    NEGATIVE = "negative"
    UNLISTED = "unlisted"


class CertificateDecision(StrEnum):
    ISSUE = "issue"
    CONDITIONAL = "conditional"
    REFUSE = "refuse"


class Recurrence(StrEnum):
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"


@dataclass(frozen=True, slots=True)
class Quantity:
    """How many units of the main work the community must handle (400户 -> 400, "户")."""

    value: int
    unit: str

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit}


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why one field got its value: the rule, the words that matched, a short Chinese explanation."""

    rule: str
    words: tuple[str, ...] = ()
    explanation: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "words": list(self.words), "why": self.explanation}


def _frozen_mapping(value: Mapping[str, Evidence]) -> Mapping[str, Evidence]:
    return MappingProxyType(dict(value))


@dataclass(frozen=True, slots=True)
class Classification:
    """One task notice, read. Immutable; `to_json(id)` gives the `jianfu classify --jsonl` object.

    `trace_demand` holds the words of a demand for proof of the work that is itself a burden (photos by
    the dozen, 留痕备查, daily check-ins; docs/policy.md §6), empty when the notice makes none.
    """

    department: str | None
    kind: Kind
    nature: Nature
    listing: Listing
    item: str | None
    certificate: CertificateDecision | None
    deadline: date | None
    deadline_time: time | None
    recurrence: Recurrence | None
    quantity: Quantity | None
    funded: bool
    amount_yuan: int | float | None
    communities: tuple[str, ...]
    emergency: bool
    keywords: tuple[str, ...]
    evidence: Mapping[str, Evidence] = field(default_factory=dict)
    confidence: float = 0.0
    needs_review: bool = False
    rules_version: str = ""
    trace_demand: tuple[str, ...] = ()
    # a forwarded notice: the issuer's own deadline, and what the forwarder added ("deadline", "work": 层层加码)
    issuer_deadline: date | None = None
    issuer_deadline_time: time | None = None
    escalation: tuple[str, ...] = ()
    search_terms: tuple[str, ...] = ()  # what the intake log's search finds it by (classifiers.search)
    issuer_city: bool = False  # the issuer was named as the city's (市民政局), not the district's (区民政局)

    def __post_init__(self) -> None:
        if not isinstance(self.evidence, MappingProxyType):
            object.__setattr__(self, "evidence", _frozen_mapping(self.evidence))

    def __hash__(self) -> int:  # evidence is a read-only mapping; hash the rest
        return hash((self.department, self.kind, self.listing, self.item, self.deadline, self.rules_version))

    def to_json(self, id: str | None = None) -> dict[str, Any]:  # noqa: A002 - the jsonl field name
        """The jsonl object of `jianfu classify --jsonl` (`id` first, keys in the documented order)."""
        return {
            "id": id,
            "department": self.department,
            "kind": str(self.kind),
            "nature": str(self.nature),
            "listing": str(self.listing),
            "item": self.item,
            "certificate": str(self.certificate) if self.certificate is not None else None,
            "deadline": self.deadline.isoformat() if self.deadline is not None else None,
            "deadline_time": self.deadline_time.strftime("%H:%M") if self.deadline_time is not None else None,
            "recurrence": str(self.recurrence) if self.recurrence is not None else None,
            "quantity": self.quantity.to_json() if self.quantity is not None else None,
            "funded": self.funded,
            "amount_yuan": self.amount_yuan,
            "communities": list(self.communities),
            "trace_demand": list(self.trace_demand) or None,
            "needs_review": self.needs_review,
            "evidence": {name: ev.to_json() for name, ev in self.evidence.items()},
        }
