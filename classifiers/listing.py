"""Listing and item (准入): emergency first, then certificates, the negative list, duty and assist."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from classifiers.certificate import CertificateResult
from classifiers.model import CertificateDecision, Evidence, Kind, Listing
from classifiers.rules import Rules
from classifiers.tokens import Token

__all__ = ["ListingResult", "read_listing"]

DEPARTMENT_BONUS = 0.5
_LISTING_ZH = {Listing.DUTY: "依法履职事项", Listing.ASSIST: "协助政府事项", Listing.NEGATIVE: "负面清单事项"}


@dataclass(frozen=True, slots=True)
class ListingResult:
    listing: Listing
    item: str | None
    certificate: CertificateDecision | None
    emergency: bool
    score: float
    evidence: Evidence
    emergency_evidence: Evidence


def read_listing(
    tokens: Sequence[Token], *, kind: Kind, certificate: CertificateResult, department: str | None, rules: Rules
) -> ListingResult:
    """Listing, item code, certificate decision, emergency flag and why. Never raises."""
    scores: dict[str, float] = defaultdict(float)
    words: dict[str, list[str]] = defaultdict(list)
    groups: dict[str, set[int]] = defaultdict(set)
    emergency: list[tuple[str, str]] = []
    for token in tokens:
        for tag in token.tags:
            if tag.category == "item":
                scores[tag.key] += tag.weight
                words[tag.key].append(tag.term)
            elif tag.category == "req":
                groups[tag.key].add(int(tag.weight))
            elif tag.category == "emergency":
                emergency.append((tag.term, tag.key))
    no_emergency = Evidence("紧急:否", (), "未发现危及生命安全的突发事件")

    if emergency:
        term, code = emergency[0]
        ev = Evidence("紧急:突发事件", tuple(t for t, _ in emergency), f"“{term}”属突发事件,立即按 {code} 准入")
        return ListingResult(Listing.ASSIST, code, None, True, 10.0, ev, ev)

    if kind is Kind.CERTIFICATE and certificate.requested:
        decision = certificate.decision
        if decision is CertificateDecision.ISSUE:
            return ListingResult(Listing.DUTY, "C", decision, False, 10.0, _cert_ev(certificate, "社区应出具,属依法履职(C)"), no_emergency)
        if decision is CertificateDecision.CONDITIONAL:
            return ListingResult(Listing.ASSIST, "C", decision, False, 10.0, _cert_ev(certificate, "核实后可出具,属协助事项(C)"), no_emergency)
        if decision is CertificateDecision.REFUSE:
            return ListingResult(Listing.NEGATIVE, "N10", decision, False, 10.0, _cert_ev(certificate, "不应由社区出具(N10)"), no_emergency)
        return ListingResult(Listing.UNLISTED, None, None, False, 0.0, _cert_ev(certificate, "证明不在清单中,待审核"), no_emergency)

    eligible: dict[str, float] = {}
    for code, score in scores.items():
        item = rules.items.get(code)
        if item is None or score <= 0:
            continue
        if item.require and not all(i in groups[code] for i in range(len(item.require))):
            continue
        bonus = DEPARTMENT_BONUS if department is not None and department in item.departments else 0.0
        eligible[code] = score + bonus
    order = rules.item_rank
    negative = [c for c in eligible if rules.items[c].listing is Listing.NEGATIVE]
    pool = negative or list(eligible)
    if not pool:
        return ListingResult(
            Listing.UNLISTED, None, None, False, 0.0, Evidence("准入:未列入清单", (), "未命中清单中的任何事项,待管理员准入审核"), no_emergency
        )
    code = max(pool, key=lambda c: (eligible[c], -order[c]))
    item = rules.items[code]
    matched = tuple(dict.fromkeys(words[code]))
    why = f"“{'、'.join(matched[:5])}”对应 {code}「{item.text}」,属{_LISTING_ZH[item.listing]}"
    if negative and len(eligible) > len(negative):
        why += "(命中负面清单,优先拒绝)"
    return ListingResult(item.listing, code, None, False, eligible[code], Evidence(f"准入:{code}", matched, why), no_emergency)


def _cert_ev(certificate: CertificateResult, tail: str) -> Evidence:
    ev = certificate.evidence
    return Evidence(ev.rule, ev.words, f"{ev.explanation};{tail}")
