"""`classify`: one notice in, one frozen Classification out. Pure: no I/O, no clock, never raises."""

from __future__ import annotations

import logging
from datetime import datetime, tzinfo
from typing import Any

from classifiers.certificate import read_certificate
from classifiers.communities import read_communities
from classifiers.deadline import DeadlineResult, read_deadline
from classifiers.department import DepartmentResult, read_department
from classifiers.forwarding import ADDED_DEADLINE, Forwarding, read_forwarding
from classifiers.funding import read_funding
from classifiers.keywords import read_keywords
from classifiers.kind import KindResult, follow_item, read_kind
from classifiers.listing import read_listing
from classifiers.model import Classification, Evidence, Kind, Listing, Nature
from classifiers.quantity import read_quantity
from classifiers.rules import Rules
from classifiers.search import index_terms
from classifiers.second_opinion import read_second_opinion
from classifiers.tokens import tokenize
from classifiers.trace import read_trace

__all__ = ["classify"]

MAX_TEXT = 20000
REVIEW_BELOW = 0.35
log = logging.getLogger(__name__)


def _local(now: datetime, tz: tzinfo | None) -> datetime:
    """The message time on the wall clock that its dates are read against.

    With `tz`, an aware `now` is converted to it and a naive one is taken as already in it; without,
    an aware `now` keeps its own zone and a naive one is read as it stands.
    """
    if tz is None:
        return now
    return now.replace(tzinfo=tz) if now.tzinfo is None else now.astimezone(tz)


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def classify(
    text: str, *, now: datetime, sender_department: str | None, rules: Rules, tz: tzinfo | None = None
) -> Classification:
    """Read one task notice. `now` is the message's own time, read in its own zone or in `tz` when given."""
    local = _local(now, tz)
    try:
        return _classify(text, now=local, sender_department=sender_department, rules=rules)
    except Exception:  # noqa: BLE001 - the contract is "never raises"; log and return a review case
        log.exception("classifier failed; returning a review placeholder")
        return _fallback(sender_department, rules)


def _fallback(sender_department: str | None, rules: Rules) -> Classification:
    kind = Kind.ADHOC
    return Classification(
        department=sender_department,
        kind=kind,
        nature=rules.kinds[kind].nature if kind in rules.kinds else Nature.ADMINISTRATIVE,
        listing=Listing.UNLISTED,
        item=None,
        certificate=None,
        deadline=None,
        deadline_time=None,
        recurrence=None,
        quantity=None,
        funded=False,
        amount_yuan=None,
        communities=("*",),
        emergency=False,
        keywords=(),
        evidence={"kind": Evidence("内部错误", (), "无法读取此消息,已转人工复核")},
        confidence=0.0,
        needs_review=True,
        rules_version=rules.version,
    )


def _confidence(text: str, kind: KindResult, item: str | None, department: str | None) -> float:
    """How clearly the kind won, whether a list item matched, whether the department is known (0..1)."""
    kind_conf = 0.0
    if kind.score > 0:
        kind_conf = min(1.0, kind.score / 5.0) * (0.5 + 0.5 * (kind.score - kind.runner_up) / kind.score)
    item_conf = 1.0 if item is not None else 0.4
    dept_conf = 1.0 if department is not None else 0.3
    confidence = round(0.55 * kind_conf + 0.3 * item_conf + 0.15 * dept_conf, 3)
    return confidence if _has_cjk(text) else min(confidence, 0.1)  # unreadable: always reviewed


def _forwarding(text: str, *, now: datetime, rules: Rules, department: DepartmentResult,
                sender_department: str | None) -> Forwarding:
    """What a forwarding office added: read when the text says it forwards, or names another issuer."""
    sender = rules.alias_to_department.get(sender_department or "", sender_department)
    forwarded = department.evidence.rule == "部门:转发" or (sender is not None and department.department not in (None, sender))
    return read_forwarding(text, now=now, rules=rules, forwarded=forwarded)


def _deadlines(deadline: DeadlineResult, forwarding: Forwarding) -> dict[str, Any]:
    """The task's deadline (the forwarder's, when it moved it earlier) and, for 层层加码, the issuer's."""
    moved = ADDED_DEADLINE in forwarding.added
    return {
        "deadline": forwarding.deadline if moved else deadline.deadline,
        "deadline_time": forwarding.deadline_time if moved else deadline.deadline_time,
        "issuer_deadline": forwarding.issuer_deadline if forwarding.added else None,
        "issuer_deadline_time": forwarding.issuer_deadline_time if forwarding.added else None,
        "escalation": forwarding.added,
    }


def _classify(text: str, *, now: datetime, sender_department: str | None, rules: Rules) -> Classification:
    text = (text if isinstance(text, str) else str(text))[:MAX_TEXT]
    tokens = tokenize(text, rules)
    marks = tokens.marks  # the marked tokens: departments, rule terms, forwarding markers
    department = read_department(text, marks, sender_department=sender_department, rules=rules)
    certificate = read_certificate(text, rules=rules)
    kind = read_kind(text, marks, certificate_requested=certificate.requested, rules=rules)
    listing = read_listing(text, marks, kind=kind.kind, certificate=certificate, department=department.department, rules=rules)
    second = read_second_opinion(text, kind=kind, listing=listing, rules=rules)
    kind, listing = second.kind, second.listing
    kind = follow_item(kind, listing.item or listing.candidate, rules=rules)
    deadline = read_deadline(text, now=now, rules=rules)
    forwarding = _forwarding(text, now=now, rules=rules, department=department, sender_department=sender_department)
    quantity = read_quantity(text, rules=rules)
    funding = read_funding(text, rules=rules)
    communities = read_communities(text, rules=rules)
    keywords = read_keywords(tokens, rules=rules)
    trace = read_trace(text, rules=rules)
    confidence = _confidence(text, kind, listing.item, department.department)
    needs_review = confidence < REVIEW_BELOW or kind.score <= 0 or listing.needs_review

    evidence = {
        "department": department.evidence,
        "kind": kind.evidence,
        "listing": listing.evidence,
        "certificate": certificate.evidence,
        "deadline": deadline.evidence,
        "recurrence": deadline.recurrence_evidence,
        "quantity": quantity.evidence,
        "funding": funding.evidence,
        "communities": communities.evidence,
        "emergency": listing.emergency_evidence,
        "trace_demand": trace.evidence,
        "forwarding": forwarding.evidence,
    }
    if second.evidence is not None:
        evidence["similar"] = second.evidence
    return Classification(
        department=department.department,
        issuer_city=department.city,
        kind=kind.kind,
        nature=kind.nature,
        listing=listing.listing,
        item=listing.item,
        certificate=listing.certificate,
        **_deadlines(deadline, forwarding),
        recurrence=deadline.recurrence,
        quantity=quantity.quantity,
        funded=funding.funded,
        amount_yuan=funding.amount_yuan,
        communities=communities.communities,
        emergency=listing.emergency,
        keywords=keywords,
        evidence=evidence,
        confidence=confidence,
        needs_review=needs_review,
        rules_version=rules.version,
        trace_demand=trace.words,
        search_terms=index_terms(tokens.words, rules.tokenizer.FREQ),
    )
