"""Quantity: how many units of the main work (400户, 100多份 -> 100, 三十余人 -> 30, 2场)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from classifiers.model import Evidence, Quantity
from classifiers.rules import Rules
from classifiers.text import NUM, normalize, parse_number

__all__ = ["QuantityResult", "read_quantity"]

_PATTERN = re.compile(rf"(?P<n>{NUM})\s*(?P<approx>余|多|来)?\s*(?P<u>[\u4e00-\u9fff])")
_THOUSANDS = re.compile(r"(?<![\d.])\d{1,3}(?:,\d{3})+(?![\d,])")  # 1,200份 is 1200份
_NOT_BEFORE = set("第每周年月日号初前近后上下")  # 第3户, 每户, 周一……
_MAX_VALUE = 10_000_000
_CLAUSE_BREAKS = re.compile(r"[，,。；;！!？?\n]")
_SENTENCE_BREAKS = re.compile(r"[。；;！!？?\n]")
_PER_PERIOD = re.compile(r"每(?:个)?(?:月|周|年|天|日|季度|星期|半年)")  # a frequency, not an amount of work


def _clause_before(text: str, pos: int) -> str:
    starts = [m.end() for m in _CLAUSE_BREAKS.finditer(text, 0, pos)]
    return text[starts[-1] if starts else 0 : pos]


def _in_asking_sentence(text: str, start: int, end: int, asks: tuple[str, ...]) -> bool:
    """Whether the sentence around a number asks something of the community or names its scope (`ask_words`).

    In a notice that asks something somewhere, a number in a sentence with none of them is the issuer's
    background (涉及消费者300余人), not the work; a notice that asks nothing in these words is not judged so.
    """
    if not asks or not any(word in text for word in asks):
        return True
    left = max((m.end() for m in _SENTENCE_BREAKS.finditer(text, 0, start)), default=0)
    right = _SENTENCE_BREAKS.search(text, end)
    sentence = text[left : right.start() if right else len(text)]
    return any(word in sentence for word in asks)


@dataclass(frozen=True, slots=True)
class QuantityResult:
    quantity: Quantity | None
    evidence: Evidence


def read_quantity(text: str, *, rules: Rules) -> QuantityResult:
    """The main quantity and why. Never raises on any str."""
    norm = _THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), normalize(text))
    found: list[tuple[int, int, Quantity, str]] = []  # (priority, position, quantity, words)
    for m in _PATTERN.finditer(norm):
        unit_char = m["u"]
        unit = rules.units.get(unit_char)
        if unit is None:
            continue
        raw = m["n"]
        start = m.start()
        before = norm[start - 1] if start > 0 else ""
        if before in _NOT_BEFORE or before.isdigit() or before in ".:/-":
            continue
        after = norm[m.end() : m.end() + 4]
        if after.startswith(rules.unit_not_after.get(unit_char, ())):
            continue
        if raw == "一" and unit_char not in rules.one_units:  # 一个、一名: mostly an article
            continue
        if norm[m.end() : m.end() + 1] == "一":  # 一户一档、一人一表
            continue
        value = parse_number(raw)
        if value is None or value <= 0 or value > _MAX_VALUE:
            continue
        head = norm[max(0, start - 4) : start]
        marked = head.endswith(rules.total_markers)
        if unit_char in rules.marked_units and not marked:  # 12栋: a building's number
            continue
        if not _in_asking_sentence(norm, start, m.end(), rules.quantity_ask_words):
            continue
        clause = _clause_before(norm, start)
        if any(word in clause[-10:] for word in rules.not_community_before) or _PER_PERIOD.search(clause):
            continue  # 全区约1350人; 每月至少探访1次
        priority = 2 if any(word in clause for word in rules.community_share_before) else int(marked)
        found.append((priority, start, Quantity(value=value, unit=unit), m[0]))
    if not found:
        return QuantityResult(None, Evidence("数量:无", (), "未发现“数字+单位”的工作量"))
    best = max(found, key=lambda f: (f[0], -f[1]))
    quantity = best[2]
    why = f"按“{best[3]}”读作 {quantity.value}{quantity.unit}"
    if best[0] == 2:
        why += "(分到每个社区的量)"
    elif best[0]:
        why += "(有“共/不少于/涉及”等总量说法)"
    return QuantityResult(quantity, Evidence("数量:数字加单位", tuple(f[3] for f in found), why))
