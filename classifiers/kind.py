"""Task kind: the one the community spends the work on (docs/policy.md §2), by weighted rule words."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from classifiers.model import Evidence, Kind, Nature
from classifiers.rules import Rules
from classifiers.tokens import Token

__all__ = ["KindResult", "read_kind"]

CERTIFICATE_WEIGHT = 20.0
_KINDS = {k.value: k for k in Kind}


@dataclass(frozen=True, slots=True)
class KindResult:
    kind: Kind
    nature: Nature
    score: float
    runner_up: float
    evidence: Evidence


def _discount_records(scores: dict[Kind, float], rules: Rules) -> None:
    """The primary kind is the work, not its record (docs/policy.md §2). A recording kind (forms to fill in,
    data to enter: `order.recording`) counts `recording_factor` of its weight when the notice also asks for
    one of the kinds of work it records, scoring at least `recording_work_floor` ("入户核查并填写核查表" is a
    survey)."""
    if rules.recording_factor >= 1:
        return
    for kind, work_kinds in rules.recording_kinds.items():
        if kind in scores and any(scores.get(w, 0.0) >= rules.recording_work_floor for w in work_kinds):
            scores[kind] *= rules.recording_factor


def read_kind(text: str, tokens: Sequence[Token], *, certificate_requested: bool, rules: Rules) -> KindResult:
    """The primary kind, its nature and why. Unknown text gets `adhoc` with score 0. Never raises."""
    scores: dict[Kind, float] = defaultdict(float)
    words: dict[Kind, list[str]] = defaultdict(list)
    seen: set[tuple[str, str]] = set()
    for token in tokens:
        for tag in token.tags:
            if tag.category == "kind" and (tag.key, tag.term) not in seen:  # a word counts once, however often said
                seen.add((tag.key, tag.term))
                kind = _KINDS[tag.key]
                scores[kind] += tag.weight
                words[kind].append(tag.term)
    for kind, rule in rules.kinds.items():
        for pattern, weight in rule.patterns:
            for m in pattern.finditer(text):
                scores[kind] += weight
                words[kind].append(m[0])
    if certificate_requested:
        scores[Kind.CERTIFICATE] += CERTIFICATE_WEIGHT
        words[Kind.CERTIFICATE].append("出具证明")
    elif "证明" in text:  # the certificate reader looked and found none asked of the community (医院出具的诊断证明)
        scores.pop(Kind.CERTIFICATE, None)
    _discount_records(scores, rules)
    order = rules.kind_rank
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], order.get(kv[0], 99)))
    if not ranked or ranked[0][1] <= 0:
        kind = Kind.ADHOC
        return KindResult(kind, rules.kinds[kind].nature, 0.0, 0.0, Evidence("类型:无匹配", (), "没有命中任何类型词,暂作临时任务,需人工复核"))
    kind, score = ranked[0]
    runner = ranked[1][1] if len(ranked) > 1 else 0.0
    rule = rules.kinds[kind]
    matched = tuple(dict.fromkeys(words[kind]))
    why = f"“{'、'.join(matched[:5])}”指向{rule.name_zh}(得分 {score:g}"
    if len(ranked) > 1:
        second = rules.kinds[ranked[1][0]].name_zh
        why += f",次高为{second} {runner:g}"
    why += ")"
    return KindResult(kind, rule.nature, score, runner, Evidence(f"类型:{kind.value}", matched, why))


def follow_item(kind: KindResult, item: str | None, *, rules: Rules) -> KindResult:
    """The kind of the work a list item itself is (`kind` of the item in items.toml), when it has one.

    A task read as N7 (募捐、献血指标摊派) is a levy whatever words it asked in: the item names the work.
    """
    rule = rules.items.get(item) if item is not None else None
    if rule is None or rule.kind is None or rule.kind is kind.kind:
        return kind
    target = rules.kinds[rule.kind]
    why = f"事项 {item}「{rule.text}」本身就是{target.name_zh}类工作(类型词原指向{rules.kinds[kind.kind].name_zh})"
    ev = Evidence(f"类型:{rule.kind.value}(随事项 {item})", kind.evidence.words, why)
    return KindResult(rule.kind, target.nature, max(kind.score, 1.0), kind.runner_up, ev)
