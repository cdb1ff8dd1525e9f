"""Distinctive content words of a notice (for spotting two departments collecting the same data)."""

from __future__ import annotations

from classifiers.rules import Rules
from classifiers.tokens import Tokens

__all__ = ["read_keywords"]


def read_keywords(tokens: Tokens, *, rules: Rules) -> tuple[str, ...]:
    """Content words in order of first appearance, without stopwords, numbers, dates, departments.

    Which words are content words is decided once per word (`classifiers.tokens.word_info`).
    """
    out: dict[str, None] = {}
    after_number = False
    limit = rules.max_keywords
    for word, info in zip(tokens.words, tokens.infos, strict=True):
        if info.keyword and not (after_number and len(word.strip()) <= 2):  # 120/余名, 20/日前, 10/点到
            out.setdefault(word.strip(), None)
            if len(out) >= limit:
                break
        after_number = info.numeric
    return tuple(out)
