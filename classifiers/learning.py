"""Learning from labelled examples (the admin's corrections): trigger words to suggest, and what a rule
change would do to the examples before it is saved.

Both work on lines of a labelled corpus (the format of tests/data/dev.jsonl), so the same code serves
the corrections kept in the database and any labelled file.

`suggest_triggers` proposes, for each item (or kind) the examples are labelled with, the words that
separate its examples from the other examples: jieba words of the rules' own tokenizer and character
n-grams that stay inside or join whole words (for words the dictionary cuts apart or joins). Each suggestion carries its counts:
how many of the item's examples contain it, and how many of the others do. Words the item already
triggers on, department names and community names are never suggested: they name who sent the notice
or who it is for, not what it asks.

`compare_rules` reads every example with the current and the proposed rules: the examples a change
would undo (read right now, wrong after) and the ones it would fix.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from classifiers.classify import classify
from classifiers.evaluate import EVAL_FIELDS
from classifiers.model import Kind
from classifiers.rules import Rules
from classifiers.tokens import cut

__all__ = [
    "LEARNABLE_FIELDS",
    "CaseChange",
    "LabelledCase",
    "RuleChangeEffect",
    "Suggestion",
    "compare_rules",
    "read_cases",
    "suggest_triggers",
]

LEARNABLE_FIELDS = ("item", "kind")
MIN_PRECISION = 0.8
_HAN_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")


@dataclass(frozen=True, slots=True)
class LabelledCase:
    id: str
    text: str
    now: datetime
    sender_department: str | None
    expect: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Suggestion:
    field: str  # "item" or "kind"
    value: str  # the item code or the kind
    word: str
    inside: int  # examples of this value that contain the word
    total: int  # examples of this value
    outside: int  # other examples that contain it
    others: int  # other examples


@dataclass(frozen=True, slots=True)
class CaseChange:
    id: str
    field: str
    expected: Any
    before: Any
    after: Any
    text: str


@dataclass(frozen=True, slots=True)
class RuleChangeEffect:
    cases: int
    undone: tuple[CaseChange, ...]  # read right by the current rules, wrong by the proposed ones
    fixed: tuple[CaseChange, ...]  # read wrong now, right after

    @property
    def undone_cases(self) -> int:
        """How many labelled examples (not fields) the change would undo."""
        return len({change.id for change in self.undone})


def read_cases(lines: Iterable[str]) -> list[LabelledCase]:
    """The readable lines of a labelled corpus (others are skipped: `jianfu eval` reports them)."""
    cases = []
    for line in lines:
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            cases.append(LabelledCase(
                id=str(obj["id"]), text=str(obj["text"]), now=datetime.fromisoformat(obj["now"]),
                sender_department=obj.get("sender_department"), expect=dict(obj["expect"]),
            ))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            continue
    return cases


def _candidates(text: str, rules: Rules) -> set[str]:
    """Words of the text: jieba words, two neighbouring words joined (a compound the dictionary splits),
    and the halves of a four-character word that are words themselves (津贴 out of 高龄津贴). Character n-grams
    across a word boundary (会救 out of 社会|救助) are no words, and the lexicon's stopwords (通知, 配合 …) say
    nothing of the task: neither is ever a candidate."""
    stop = rules.stopwords
    tokens = [w for w in cut(text, rules) if _HAN_RUN.fullmatch(w)]
    words = {w for w in tokens if w not in stop}
    words.update(a + b for a, b in zip(tokens, tokens[1:], strict=False)
                 if a != b and a not in stop and b not in stop and len(a) + len(b) <= 6)
    known = rules.tokenizer.FREQ
    words.update(half for token in tokens if len(token) == 4 for half in (token[:2], token[2:]) if known.get(half))
    return words


def _known_words(rules: Rules, field: str, value: str) -> set[str]:
    """The live triggers of `value`: never suggested again."""
    own = rules.items[value].words if field == "item" else rules.kinds[Kind(value)].words
    return {w for w, weight in own.items() if weight > 0}


def _names(rules: Rules) -> tuple[str, ...]:
    return (*rules.alias_to_department, *rules.communities)


def _is_value(rules: Rules, field: str, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    return value in rules.items if field == "item" else value in {k.value for k in rules.kinds}


def _pick(ranked: list[Suggestion], per_value: int) -> list[Suggestion]:
    """The best few, skipping a word that contains or is contained in one already picked."""
    picked: list[Suggestion] = []
    for s in ranked:
        if any(s.word in p.word or p.word in s.word for p in picked):
            continue
        picked.append(s)
        if len(picked) == per_value:
            break
    return picked


def suggest_triggers(
    cases: Sequence[LabelledCase], rules: Rules, *, field: str = "item", min_count: int = 2, per_value: int = 5,
) -> list[Suggestion]:
    """Trigger words that separate the examples of each value of `field` from the other examples."""
    if field not in LEARNABLE_FIELDS:
        raise ValueError(f"field must be one of {LEARNABLE_FIELDS}")
    labelled = [(c.expect[field], _candidates(c.text, rules)) for c in cases if field in c.expect]
    per_value_docs: dict[str, list[set[str]]] = {}
    everywhere: Counter[str] = Counter()
    for value, words in labelled:
        everywhere.update(words)
        if _is_value(rules, field, value):
            per_value_docs.setdefault(value, []).append(words)
    tokens = {w for c in cases for w in cut(c.text, rules)}  # jieba words rank before n-grams of equal counts
    suggestions: list[Suggestion] = []
    for value in sorted(per_value_docs):
        docs = per_value_docs[value]
        inside: Counter[str] = Counter(w for words in docs for w in words)
        known = _known_words(rules, field, value)
        names = _names(rules)
        others = len(labelled) - len(docs)
        ranked = []
        for word, count in inside.items():
            outside = everywhere[word] - count
            if count < min_count or count / (count + outside) < MIN_PRECISION or word in known:
                continue
            if any(k in word for k in known) or any(word in n or n in word for n in names):
                continue  # a longer form of a live trigger adds nothing; a piece of a name says who, not what
            ranked.append(Suggestion(field, value, word, count, len(docs), outside, others))
        ranked.sort(key=lambda s: (-(s.inside - 2 * s.outside), s.word not in tokens, s.outside, len(s.word), s.word))
        suggestions.extend(_pick(ranked, per_value))
    return suggestions


def _read(case: LabelledCase, rules: Rules) -> dict[str, Any]:
    return classify(case.text, now=case.now, sender_department=case.sender_department, rules=rules).to_json(case.id)


def compare_rules(cases: Sequence[LabelledCase], current: Rules, proposed: Rules) -> RuleChangeEffect:
    """Which labelled fields a rule change would undo (right now, wrong after) and which it would fix."""
    undone: list[CaseChange] = []
    fixed: list[CaseChange] = []
    for case in cases:
        before, after = _read(case, current), _read(case, proposed)
        for field in EVAL_FIELDS:
            if field not in case.expect:
                continue
            expected = case.expect[field]
            was, now = before[field] == expected, after[field] == expected
            if was != now:
                change = CaseChange(case.id, field, expected, before[field], after[field], case.text)
                (undone if was else fixed).append(change)
    return RuleChangeEffect(cases=len(cases), undone=tuple(undone), fixed=tuple(fixed))
