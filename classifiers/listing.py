"""Listing and item (准入): emergency first, then certificates, the negative list, duty and assist."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from classifiers.certificate import CertificateResult
from classifiers.model import CertificateDecision, Evidence, Kind, Listing
from classifiers.rules import Rules
from classifiers.tokens import Token

__all__ = ["NO_ITEM_RULE", "ListingResult", "read_listing"]

DEPARTMENT_BONUS = 0.5
DEPARTMENT_NAME_SHARE = 0.5  # an item word inside a department's name (反诈中心, 退役军人服务中心) counts half
SHADOW_SCORE = 2.0  # a negative item's words this strong, even out of context, make an admission need review
# a weak negative item (under `strong_negative`) does not compete with a strong admitted item that outscores it this
# many times over (one 处罚 in a census notice): the task is admitted, shadowed by the negative item, for review
DOMINANCE = 3.0
CALM_WINDOW = 4  # characters either side of an emergency word searched for calm words (高发, 预防 ...)
NO_ITEM_RULE = "准入:未列入清单"  # the rules found no (or too little) evidence of any item: a second opinion may look
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
    needs_review: bool = False
    candidate: str | None = None  # the negative item a held task may be (the admin decides)
    rival: str | None = None  # the admitted item a task held on a weak negative may be (a second opinion may side with it)


class _Tally(NamedTuple):
    scores: dict[str, float]  # item code -> score (a department name's own item words count half)
    words: dict[str, list[str]]  # item code -> the words and pattern matches that scored
    groups: dict[str, set[int]]  # item code -> the `require` groups met
    emergency: list[Token]  # tokens carrying an emergency word
    demands: set[str]  # negative items whose `demand` pattern matched: what is asked is the item itself


def _tally(text: str, tokens: Sequence[Token], rules: Rules) -> _Tally:
    """Item scores, matched words, require groups, emergency tokens and demands of one notice."""
    scores: dict[str, float] = defaultdict(float)
    words: dict[str, list[str]] = defaultdict(list)
    groups: dict[str, set[int]] = defaultdict(set)
    emergency: list[Token] = []
    demands: set[str] = set()
    for code, pattern, weight, starts, demand in rules.item_patterns:
        if starts and not any(word in text for word in starts):
            continue
        m = pattern.search(text)
        if m is not None:
            scores[code] += weight
            words[code].append(m[0])
            groups[code].update(range(len(rules.items[code].require)))
            if demand:
                demands.add(code)
    for token in tokens:
        share = DEPARTMENT_NAME_SHARE if token.department is not None else 1.0
        for tag in token.tags:
            if tag.category == "item":
                scores[tag.key] += tag.weight * share
                words[tag.key].append(tag.term)
            elif tag.category == "req":
                groups[tag.key].add(int(tag.weight))
            elif tag.category == "emergency":
                emergency.append(token)
    return _Tally(scores, words, groups, emergency, demands)


def _live_emergency(text: str, tokens: list[Token], rules: Rules) -> tuple[str, str, tuple[str, ...]] | None:
    """The first emergency word not spoken of calmly (火灾高发期, 预防火灾): (word, item code, all such words)."""
    live: list[tuple[str, str]] = []
    for token in tokens:
        around = text[max(0, token.start - CALM_WINDOW) : token.end + CALM_WINDOW]
        if any(word in around for word in rules.emergency_calm):
            continue
        live.extend((tag.term, tag.key) for tag in token.tags if tag.category == "emergency")
    if not live:
        return None
    return live[0][0], live[0][1], tuple(dict.fromkeys(t for t, _ in live))


def _certificate_listing(certificate: CertificateResult, no_emergency: Evidence) -> ListingResult:
    decision = certificate.decision
    if decision is CertificateDecision.ISSUE:
        return ListingResult(Listing.DUTY, "C", decision, False, 10.0, _cert_ev(certificate, "社区应出具,属依法履职(C)"), no_emergency)
    if decision is CertificateDecision.CONDITIONAL:
        return ListingResult(Listing.ASSIST, "C", decision, False, 10.0, _cert_ev(certificate, "核实后可出具,属协助事项(C)"), no_emergency)
    if decision is CertificateDecision.REFUSE:
        return ListingResult(Listing.NEGATIVE, "N10", decision, False, 10.0, _cert_ev(certificate, "不应由社区出具(N10)"), no_emergency)
    return ListingResult(
        Listing.UNLISTED, None, None, False, 0.0, _cert_ev(certificate, "证明不在清单中,待审核"), no_emergency, needs_review=True
    )


def read_listing(
    text: str, tokens: Sequence[Token], *, kind: Kind, certificate: CertificateResult, department: str | None, rules: Rules
) -> ListingResult:
    """Listing, item code, certificate decision, emergency flag and why. Never raises.

    Refuses only on strong evidence: a negative item that matches weakly, or that an admitted item
    matches as strongly (unless the negative item's own context words matched too), is held for review (unlisted, `needs_review`, both candidates in the evidence).
    An admission on weak evidence is kept but marked `needs_review`.
    """
    scores, words, groups, emergency, demands = _tally(text, tokens, rules)
    no_emergency = Evidence("紧急:否", (), "未发现危及生命安全的突发事件")
    live = _live_emergency(text, emergency, rules) if emergency else None
    if live is not None:
        term, code, all_terms = live
        ev = Evidence("紧急:突发事件", all_terms, f"“{term}”属突发事件,立即按 {code} 准入")
        return ListingResult(Listing.ASSIST, code, None, True, 10.0, ev, ev)
    if kind is Kind.CERTIFICATE and certificate.requested:
        return _certificate_listing(certificate, no_emergency)

    eligible: dict[str, float] = {}
    for code, score in scores.items():
        item = rules.items.get(code)
        if item is None or score <= 0:
            continue
        if item.require and not all(i in groups[code] for i in range(len(item.require))):
            continue
        bonus = DEPARTMENT_BONUS if department is not None and department in item.departments else 0.0
        eligible[code] = score + bonus
    if not eligible:
        return ListingResult(
            Listing.UNLISTED, None, None, False, 0.0, Evidence(NO_ITEM_RULE, (), "未命中清单中的任何事项,待管理员准入审核"), no_emergency
        )
    order = rules.item_rank

    def best(listings: tuple[Listing, ...]) -> str | None:
        pool = [c for c in eligible if rules.items[c].listing in listings]
        return max(pool, key=lambda c: (eligible[c], -order[c])) if pool else None

    negative = best((Listing.NEGATIVE,))
    admitted = best((Listing.DUTY, Listing.ASSIST))
    outscored = negative if negative is not None and _dominated(negative, admitted, eligible, rules) else None
    if outscored is not None:
        negative = None
    if negative is not None:
        rival = eligible[admitted] if admitted is not None else 0.0
        compound = bool(rules.items[negative].require) or negative in demands  # 创卫 + 迎检; or 出人、出钱 itself
        if eligible[negative] >= rules.strong_negative and (compound or rival < eligible[negative]):
            return _item_result(negative, eligible, words, rules, no_emergency, review=False, rival=admitted,
                                demand=negative in demands)
        return _held(negative, admitted, eligible, words, rules, no_emergency)
    assert admitted is not None
    if eligible[admitted] < rules.admit_floor:  # one passing word (垃圾, 老人) is no evidence of a listed item
        why = f"只有“{'、'.join(_matched(admitted, words))}”一类零星用语,不足以认定为 {admitted},待管理员准入审核"
        ev = Evidence(NO_ITEM_RULE, _matched(admitted, words), why)
        return ListingResult(Listing.UNLISTED, None, None, False, eligible[admitted], ev, no_emergency, needs_review=True)
    shadow = [c for c, v in scores.items() if rules.items[c].listing is Listing.NEGATIVE and (v >= SHADOW_SCORE or c == outscored)]
    item = rules.items[admitted]
    corroborated = len(set(words[admitted])) >= 2 or (department is not None and department in item.departments)
    weak = eligible[admitted] < rules.strong_admission or not corroborated or bool(shadow) or kind.value in rules.review_kinds
    return _item_result(admitted, eligible, words, rules, no_emergency, review=weak, rival=None, shadow=shadow)


def _dominated(negative: str, admitted: str | None, eligible: dict[str, float], rules: Rules) -> bool:
    """A weak negative item against a strong admitted item many times its score: no contest (see DOMINANCE)."""
    if admitted is None or eligible[negative] >= rules.strong_negative:
        return False
    return eligible[admitted] >= rules.strong_admission and eligible[admitted] >= DOMINANCE * eligible[negative]


def _matched(code: str, words: dict[str, list[str]]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(words[code]))


def _item_result(
    code: str, eligible: dict[str, float], words: dict[str, list[str]], rules: Rules, no_emergency: Evidence, *, review: bool,
    rival: str | None, shadow: Sequence[str] = (), demand: bool = False,
) -> ListingResult:
    item = rules.items[code]
    matched = _matched(code, words)
    why = f"“{'、'.join(matched[:5])}”对应 {code}「{item.text}」,属{_LISTING_ZH[item.listing]}"
    if rival is not None and demand:
        why += f"(要求的正是这件事本身,{rival} 的用语只是它的去向或名目,予以拒绝)"
    elif rival is not None:
        why += f"(负面清单证据强于 {rival},予以拒绝)"
    if shadow:
        why += f"(也出现了负面清单 {'、'.join(shadow)} 的用语,需人工复核)"
    elif review and eligible[code] >= rules.strong_admission:
        why += "(这类任务常属负面清单,需人工复核)"
    elif review:
        why += f"(证据较弱,得分 {eligible[code]:g},需人工复核)"
    ev = Evidence(f"准入:{code}", matched, why)
    return ListingResult(item.listing, code, None, False, eligible[code], ev, no_emergency, needs_review=review)


def _held(
    negative: str, admitted: str | None, eligible: dict[str, float], words: dict[str, list[str]], rules: Rules, no_emergency: Evidence
) -> ListingResult:
    """A negative item on weak or contested evidence: hold the task for review, showing both candidates."""
    neg = rules.items[negative]
    matched = _matched(negative, words)
    why = f"“{'、'.join(matched[:5])}”可能属负面清单 {negative}「{neg.text}」(得分 {eligible[negative]:g})"
    if admitted is not None:
        adm = rules.items[admitted]
        why += f",也可能属 {admitted}「{adm.text}」(得分 {eligible[admitted]:g})"
        matched = (*matched, *_matched(admitted, words))
    else:
        why += ",证据不足以直接拒绝"
    why += ";转管理员复核,不直接拒绝"
    ev = Evidence(f"准入:待复核({negative}{'/' + admitted if admitted else ''})", matched, why)
    return ListingResult(
        Listing.UNLISTED, None, None, False, eligible[negative], ev, no_emergency, needs_review=True, candidate=negative,
        # only against a weak negative item may a second opinion side with the admitted one; a strong negative
        # contested by an admitted item stays held whatever the neighbours say
        rival=admitted if eligible[negative] < rules.strong_negative else None,
    )


def _cert_ev(certificate: CertificateResult, tail: str) -> Evidence:
    ev = certificate.evidence
    return Evidence(ev.rule, ev.words, f"{ev.explanation};{tail}")
