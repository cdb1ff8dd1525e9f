"""Search terms: the words of a notice that the intake log's search index holds, and those of a query.

A notice is cut by the rules' jieba dictionary (the classifier's own cut, HMM off) at write time. Its
terms are its words, lowercased and split at anything that is not a letter or a digit, plus, for a
Chinese word of three characters or more, the dictionary words of two and three characters inside it
(jieba's search mode): "高龄老人" also yields "高龄" and "老人", so a search for 老人 finds it.

A query is cut the same way, without the inner words; a task matches when every query term is one of
its terms. Terms are plain strings without spaces, so the SQLite FTS5 table (``ascii`` tokenizer) and
the PostgreSQL GIN index over ``string_to_array(search_terms, ' ')`` hold exactly the same tokens.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from classifiers.rules import Rules
from classifiers.tokens import MAX_MEMO, cut

__all__ = ["document_terms", "index_terms", "query_terms", "plain_terms", "join_terms"]

MAX_TERMS = 400  # a long document still indexes its first distinct words (a notice has far fewer)


def _runs(word: str) -> list[str]:
    """The letter-or-digit runs of a lowercased word ("R-2026" → "r", "2026"; "，" → nothing)."""
    runs: list[str] = []
    current: list[str] = []
    for ch in word.lower():
        if ch.isalnum():
            current.append(ch)
        elif current:
            runs.append("".join(current))
            current = []
    if current:
        runs.append("".join(current))
    return runs


def _is_han(run: str) -> bool:
    return all("\u3400" <= ch <= "\u9fff" for ch in run)


def _word_terms(word: str, freq: Mapping[str, int]) -> tuple[str, ...]:
    """The terms of one cut word: its runs, and the inner dictionary words of a long Chinese run."""
    seen: dict[str, None] = {}
    for run in _runs(word):
        seen.setdefault(run, None)
        if len(run) > 2 and _is_han(run):
            for size in (2, 3):
                for i in range(len(run) - size + 1):
                    inner = run[i:i + size]
                    if inner != run and freq.get(inner):
                        seen.setdefault(inner, None)
    return tuple(seen)


def index_terms(
    words: Iterable[str], freq: Mapping[str, int], memo: dict[str, tuple[str, ...]] | None = None
) -> tuple[str, ...]:
    """Distinct terms of already cut `words`, in order of first appearance, with the inner dictionary
    words (two and three characters, as jieba's ``cut_for_search``) of longer Chinese words.

    A word's terms depend only on the word and `freq`: with a `memo` (kept per Rules, see
    `classifiers.tokens.Memo`), each distinct word is worked out once.
    """
    seen: dict[str, None] = {}
    for word in words:
        terms = memo.get(word) if memo is not None else None
        if terms is None:
            terms = _word_terms(word, freq)
            if memo is not None:
                if len(memo) >= MAX_MEMO:
                    memo.clear()
                memo[word] = terms
        seen.update(dict.fromkeys(terms))  # a term seen before keeps its first place
        if len(seen) >= MAX_TERMS:
            break
    return tuple(seen)[:MAX_TERMS]


def document_terms(text: str, rules: Rules) -> tuple[str, ...]:
    """The terms a stored notice is found by."""
    return index_terms(cut(text, rules), rules.tokenizer.FREQ)


def query_terms(text: str, rules: Rules) -> tuple[str, ...]:
    """The terms a query asks for (all of them must be among a task's terms)."""
    seen: dict[str, None] = {}
    for word in cut(text, rules):
        for run in _runs(word):
            seen.setdefault(run, None)
    return tuple(seen)


def plain_terms(text: str) -> tuple[str, ...]:
    """Terms of a query without a dictionary: its letter-or-digit runs (whole Chinese runs, uncut)."""
    return tuple(dict.fromkeys(run for word in text.split() for run in _runs(word)))


def join_terms(terms: Iterable[str]) -> str:
    """Terms as the stored column holds them: one space between."""
    return " ".join(terms)
