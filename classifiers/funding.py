"""Funding: whether the notice brings money or conditions for the work (费随事转), and how much.

Money paid to residents (补贴、津贴、慰问金 ...) is not funding for the community's work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from classifiers.model import Evidence
from classifiers.rules import Rules
from classifiers.text import NUM, normalize, parse_number

__all__ = ["FundingResult", "read_funding"]

_MONEY = re.compile(rf"(?P<n>\d+(?:\.\d+)?|{NUM})\s*(?P<wan>万)?\s*元")
_CLAUSE_END = "。；;！!？?\n"


@dataclass(frozen=True, slots=True)
class FundingResult:
    funded: bool
    amount_yuan: int | float | None
    evidence: Evidence


def _money_value(m: re.Match[str]) -> int | float | None:
    raw = m["n"]
    value: float
    if re.fullmatch(r"\d+(?:\.\d+)?", raw):
        value = float(raw)
    else:
        parsed = parse_number(raw)
        if parsed is None:
            return None
        value = float(parsed)
    if m["wan"]:
        value *= 10000
    return int(value) if value.is_integer() else value


def _spans(text: str, words: tuple[str, ...]) -> list[tuple[int, int, str]]:
    out = []
    for word in words:
        start = text.find(word)
        while start != -1:
            out.append((start, start + len(word), word))
            start = text.find(word, start + 1)
    return out


def _clause(text: str, pos: int) -> tuple[int, int]:
    left = max((text.rfind(ch, 0, pos) for ch in _CLAUSE_END), default=-1) + 1
    rights = [i for i in (text.find(ch, pos) for ch in _CLAUSE_END) if i != -1]
    return left, min(rights) if rights else len(text)


def _about_resident_money(text: str, pos: int, resident: list[tuple[int, int, str]]) -> bool:
    left, right = _clause(text, pos)
    return any(left <= rs and re_ <= right for rs, re_, _ in resident)


def read_funding(text: str, *, rules: Rules) -> FundingResult:
    """Funded or not, the amount in yuan when stated, and why. Never raises on any str."""
    norm = normalize(text)
    resident: list[tuple[int, int, str]] = []
    negated_spans: list[tuple[int, int, str]] = []
    hits: list[tuple[int, int, str]] = []
    if rules.funding_any_re is not None and rules.funding_any_re.search(norm) is not None:
        resident = _spans(norm, rules.resident_money)
        negated_spans = _spans(norm, rules.funding_negations)
        for start, end, word in _spans(norm, rules.funding_words):
            if any(rs <= start and end <= re_ for rs, re_, _ in resident):
                continue
            if word in rules.transfer_words and _about_resident_money(norm, start, resident):
                continue  # 慰问金拨付到社区账户: the money passes through to residents
            hits.append((start, end, word))
    negated = [w for _, _, w in negated_spans]
    for pattern in rules.funding_patterns:
        for m in pattern.finditer(norm):
            hits.append((m.start(), m.end(), m[0]))
    hits = [h for h in hits if not any(h[0] < ne and ns < h[1] for ns, ne, _ in negated_spans)]
    if negated and not hits:
        return FundingResult(False, None, Evidence("经费:明确无经费", tuple(negated), "通知说明不安排经费"))
    if not hits:
        words = tuple(w for _, _, w in resident)
        why = "只有发给居民的钱(补贴、津贴等),不是工作经费" if words else "未提到经费、补助或其他工作条件"
        return FundingResult(False, None, Evidence("经费:无", words, why))
    hits.sort()
    amount: int | float | None = None
    for start, end, _word in hits:
        left, right = _clause(norm, start)
        after = [m for m in _MONEY.finditer(norm, end, right) if m.start() - end <= 20]
        before = [m for m in _MONEY.finditer(norm, left, start) if start - m.end() <= 12]
        chosen = after[0] if after else (before[-1] if before else None)
        if chosen is not None:
            amount = _money_value(chosen)
            if amount is not None:
                break
    words = tuple(dict.fromkeys(w for _, _, w in hits))
    why = "通知提供了工作经费或条件(费随事转)"
    if amount is not None:
        why += f",金额 {amount} 元"
    return FundingResult(True, amount, Evidence("经费:经费词", words, why))
