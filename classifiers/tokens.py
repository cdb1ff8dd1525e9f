"""One pass of the Rules' jieba tokenizer over a message, with offsets and the rule tags it hits."""

from __future__ import annotations

from dataclasses import dataclass

from classifiers.rules import Rules, Tag

__all__ = ["Token", "tokenize"]

_DEPT_PREFIXES = ("区", "市", "省")


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    start: int
    end: int
    department: str | None  # canonical department when the token names one
    tags: tuple[Tag, ...]  # rule terms inside the token (empty for department names)


def tokenize(text: str, rules: Rules) -> list[Token]:
    out: list[Token] = []
    pos = 0
    aliases = rules.alias_to_department
    for word in rules.tokenizer.lcut(text):
        start, pos = pos, pos + len(word)
        dept = aliases.get(word)
        if dept is None and len(word) > 2 and word[0] in _DEPT_PREFIXES:
            dept = aliases.get(word[1:])
        tags: tuple[Tag, ...] = () if dept is not None or len(word) < 2 else rules.tags_for(word)
        out.append(Token(word, start, pos, dept, tags))
    return out
