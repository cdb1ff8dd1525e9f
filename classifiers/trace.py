"""Trace demands (留痕, docs/policy.md §6): proof of the work asked for in a form that is itself a burden.

照片不少于10张, 留痕备查, sign-in sheets and photos to show a meeting took place, daily check-ins,
screenshots of app use. The words and patterns are in `rules/trace.toml`; their weights add up and the
demand is flagged when the sum reaches the threshold. The flag does not change the listing; where the
demand is the whole task (download an app and check in daily), the listing reads it as N13.
"""

from __future__ import annotations

from dataclasses import dataclass

from classifiers.model import Evidence
from classifiers.rules import Rules

__all__ = ["TraceResult", "read_trace"]


@dataclass(frozen=True, slots=True)
class TraceResult:
    words: tuple[str, ...]  # what triggered the flag; empty when the notice makes no such demand
    evidence: Evidence


def read_trace(text: str, *, rules: Rules) -> TraceResult:
    """The words of a trace demand, if the notice makes one, and why. Never raises."""
    score = 0.0
    found: list[str] = []
    for word, weight in rules.trace_words.items():
        if word in text:
            score += weight
            found.append(word)
    for pattern, weight in rules.trace_patterns:
        m = pattern.search(text)
        if m is not None:
            score += weight
            found.append(m[0])
    if score < rules.trace_threshold or not found:
        return TraceResult((), Evidence("留痕:无", (), "未要求以照片、打卡、签到、截图等形式留痕"))
    words = tuple(dict.fromkeys(found))
    why = f"“{'、'.join(words[:4])}”属留痕要求:这部分可不做,已记入月报"
    return TraceResult(words, Evidence("留痕:有", words, why))
