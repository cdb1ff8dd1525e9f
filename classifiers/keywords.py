"""Distinctive content words of a notice (for spotting two departments collecting the same data)."""

from __future__ import annotations

import re

from classifiers.rules import Rules
from classifiers.text import CN_NUM_CHARS
from classifiers.tokens import Token

__all__ = ["read_keywords"]

_DATEISH = set("年月日号周点时分天")
_DATE_WORD = re.compile(r"(?:本|这|下|上)?(?:周|星期|礼拜)[一二三四五六日天末]|[今明后昨]天|月底|年底|日前|以来")


_CONTENT_MEMO: dict[tuple[str, str], bool] = {}


def _is_content(word: str, rules: Rules) -> bool:
    key = (rules.version, word)
    cached = _CONTENT_MEMO.get(key)
    if cached is None:
        if len(_CONTENT_MEMO) > 50000:
            _CONTENT_MEMO.clear()
        cached = _CONTENT_MEMO[key] = _check_content(word, rules) and not _DATE_WORD.search(word)
    return cached


def _check_content(word: str, rules: Rules) -> bool:
    if len(word) < 2 or word in rules.stopwords:
        return False
    if any(ch.isdigit() for ch in word):
        return False
    if all(ch in CN_NUM_CHARS or ch in _DATEISH for ch in word):
        return False
    if not any("\u4e00" <= ch <= "\u9fff" or ch.isalpha() for ch in word):
        return False
    return word not in rules.communities


def read_keywords(tokens: list[Token], *, rules: Rules) -> tuple[str, ...]:
    """Content words in order of first appearance, without stopwords, numbers, dates, departments."""
    out: dict[str, None] = {}
    previous = ""
    for token in tokens:
        word = token.text.strip()
        after_number = previous.isdigit() or (bool(previous) and previous[0] in CN_NUM_CHARS and all(ch in CN_NUM_CHARS for ch in previous))
        previous = word
        if token.department is not None or not _is_content(word, rules):
            continue
        if after_number and len(word) <= 2:  # 120/余名, 20/日前, 10/点到
            continue
        out.setdefault(word, None)
        if len(out) >= rules.max_keywords:
            break
    return tuple(out)
