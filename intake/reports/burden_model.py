"""The yearly burden report's data (frozen): what ``burden.build_burden_report`` reads from the log.

Every figure names the query it came from (``source``: F for the monthly figures, Q1, Q3, …, C1); the
report's appendix prints each query's SQL and parameters, so a reader can run it again.
"""

from __future__ import annotations

from dataclasses import dataclass

from intake.catalogue.queries import CatalogueRow

__all__ = ["Source", "Quote", "DepartmentItems", "SevenCount", "PlatformLoad", "CertificateRow", "UnfundedItem",
           "Recommendation", "FormRepeat", "ForwardingOffice", "BurdenReport", "SEVEN"]

# the field reports' "seven too many", in their order: (key, label, unit)
SEVEN = (
    ("tasks", "任务", "项"),
    ("inspection", "检查考核", "次"),
    ("ledger", "台账", "本"),
    ("report", "报表", "份"),
    ("certificate", "证明", "件"),
    ("meeting", "会议", "场"),
    ("platform", "平台", "个"),
)


@dataclass(frozen=True)
class Source:
    id: str  # Q1, Q2, …
    title: str
    sql: str
    params: str


@dataclass(frozen=True)
class Quote:
    code: str
    department: str
    text: str  # the notice, shortened
    note: str  # why it is quoted (数量、时限、…)


@dataclass(frozen=True)
class DepartmentItems:
    department: str
    items: int  # distinct 事项
    administrative_items: int
    tasks: int  # notices
    assignments: int  # notice × community


@dataclass(frozen=True)
class SevenCount:
    key: str
    label: str
    unit: str
    total: int  # across the scope's communities: notices + counter (platforms: distinct platforms named)
    notices: int  # assignments of notices of this kind (platforms: distinct platforms named in notices)
    counter: int  # counter work logged by communities (platforms: 多平台录入 lines, not in the total)
    per_community: float
    most: tuple[str, int]  # the community with most, and its count
    top_departments: tuple[tuple[str, int], ...]
    quotes: tuple[Quote, ...]
    source: str


@dataclass(frozen=True)
class PlatformLoad:
    community: str
    platforms: int
    names: tuple[str, ...]
    repeated_data: tuple[tuple[str, tuple[str, ...]], ...]  # (data, platforms it went into), 2+ platforms


@dataclass(frozen=True)
class CertificateRow:
    name: str
    decision: str  # issue / conditional / refuse / unknown
    requests: int
    departments: tuple[str, ...]


@dataclass(frozen=True)
class UnfundedItem:
    item: str
    text: str
    department: str
    tasks: int


@dataclass(frozen=True)
class FormRepeat:
    form: str
    department: str
    earlier: str
    earlier_department: str
    shared: int
    total: int
    decision: str


@dataclass(frozen=True)
class ForwardingOffice:
    """层层加码 by one forwarding office (Q8): its forwards that set an earlier deadline or added work."""

    office: str  # the office with its street (乙街道街道办)
    escalated: int  # forwards flagged 层层加码
    earlier: int  # of them, with an earlier deadline than the issuer's
    added_work: int  # of them, asking for work the issuer did not
    most_days: int  # the largest advance of a deadline, in days


@dataclass(frozen=True)
class Recommendation:
    topic: str
    text: str
    source: str


@dataclass(frozen=True)
class BurdenReport:
    year: int
    scope: str  # "district:NAME" or "community:NAME"
    scope_name: str
    communities: int
    tasks: int
    assignments: int
    hours: float  # estimated, as the monthly figures estimate them
    seconded_people: int  # staff lent out (借调), logged by communities
    items: int
    administrative_items: int
    departments: tuple[DepartmentItems, ...]
    kinds: tuple[tuple[str, str, int, int], ...]  # (kind, label, tasks, assignments)
    seven: tuple[SevenCount, ...]
    refused: int
    refused_by_department: tuple[tuple[str, int], ...]
    refused_quotes: tuple[Quote, ...]
    stopped_forms_refused: int
    unlisted: int
    unlisted_by_department: tuple[tuple[str, int], ...]
    unfunded: int
    unfunded_items: tuple[UnfundedItem, ...]
    unfunded_quotes: tuple[Quote, ...]
    short_notice: int
    short_by_department: tuple[tuple[str, int], ...]
    short_quotes: tuple[Quote, ...]
    duplicates: int
    escalations: int
    escalation_quotes: tuple[Quote, ...]
    forwarding: tuple[ForwardingOffice, ...]  # 层层加码 along the forwarding chain, most first (Q8)
    forwarding_quotes: tuple[Quote, ...]  # the worst cases: the largest advance, then added work
    repeat_collection: int
    form_repeats: tuple[FormRepeat, ...]
    forms: tuple[CatalogueRow, ...]
    form_submissions: int
    platforms: tuple[PlatformLoad, ...]
    certificates: tuple[CertificateRow, ...]
    recommendations: tuple[Recommendation, ...]
    sources: tuple[Source, ...]

    @property
    def administrative_share(self) -> float:
        return 0.0 if self.items == 0 else round(self.administrative_items / self.items, 4)

    @property
    def title(self) -> str:
        return f"{self.scope_name}{self.year}年度社区减负报告"

    @property
    def forwarding_total(self) -> int:
        return sum(f.escalated for f in self.forwarding)

    def count(self, key: str) -> SevenCount:
        return next(c for c in self.seven if c.key == key)
