"""One pass of the Rules' jieba dictionary over a message: words, offsets and the rule tags they hit.

`cut` gives exactly what `rules.tokenizer.lcut(text, HMM=False)` gives (a test holds it to that), in
one tight loop instead of jieba's generators and per-sentence DAG dicts. New-word discovery (HMM) is
off: every term the rules care about is in the dictionary, and the accuracy is the same without it.

Everything the decision modules ask of a word (which department it names, which rule terms it holds,
whether it can be a keyword) depends only on the word and the Rules, so it is worked out once per
distinct word and memoised. The memo lives beside the Rules (`memo_for(rules)`, keyed weakly by the
Rules object), never inside it: Rules stay read-only.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field
from math import log
from typing import NamedTuple

from classifiers.rules import Rules, Tag
from classifiers.text import CN_NUM_CHARS

__all__ = ["MAX_MEMO", "Memo", "Token", "Tokens", "WordInfo", "cut", "memo_for", "tokenize"]

MAX_MEMO = 50000

_DEPT_PREFIXES = ("区", "市", "省")
# jieba's own block splitting (jieba.re_han_default / re_skip_default), so the cut is the same
_RE_HAN = re.compile("([\u4e00-\u9fd5a-zA-Z0-9+#&\\._%\\-]+)")
_RE_SKIP = re.compile("(\r\n|\\s)")
_ASCII_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")

_DATEISH = frozenset("年月日号周点时分天")
_DATE_WORD = re.compile(r"(?:本|这|下|上)?(?:周|星期|礼拜)[一二三四五六日天末]|[今明后昨]天|月底|年底|日前|以来")
_CN_NUM = frozenset(CN_NUM_CHARS)


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    start: int
    end: int
    department: str | None  # canonical department when the token names one
    tags: tuple[Tag, ...]  # rule terms inside the token (only item words for department names)


class WordInfo(NamedTuple):
    """What the rules make of one word, whatever message it is in."""

    department: str | None
    tags: tuple[Tag, ...]
    marked: bool  # names a department, holds a rule term, or is a forwarding marker
    keyword: bool  # may be a keyword (content word)
    numeric: bool  # a number (12, 三十): a short word right after it is a measure, not a keyword


@dataclass(slots=True)
class Tokens:
    """A tokenised message: every word in order, and the marked ones as Tokens with offsets."""

    words: list[str]
    infos: list[WordInfo]
    marks: list[Token]


@dataclass(slots=True)
class Memo:
    """What one Rules object makes of words and blocks seen so far (each dict bounded by MAX_MEMO)."""

    words: dict[str, WordInfo] = field(default_factory=dict)
    blocks: dict[str, tuple[str, ...]] = field(default_factory=dict)
    terms: dict[str, tuple[str, ...]] = field(default_factory=dict)  # a word's search terms (classifiers.search)


_MEMOS: weakref.WeakKeyDictionary[Rules, Memo] = weakref.WeakKeyDictionary()


def memo_for(rules: Rules) -> Memo:
    """The memo kept beside `rules` (made on first use, dropped with the Rules)."""
    memo = _MEMOS.get(rules)
    if memo is None:
        memo = _MEMOS[rules] = Memo()
    return memo


def _cut_block(block: str, freq: dict[str, int], logtotal: float, out: list[str]) -> None:
    """jieba's DAG + max-probability route over one Han/alnum block, HMM off (ties: longer word)."""
    n = len(block)
    score = [0.0] * (n + 1)
    ends = [0] * n
    get = freq.get
    for k in range(n - 1, -1, -1):
        best = 0.0
        best_end = 0
        i = k + 1
        f = get(block[k])
        while f is not None:
            if f:
                s = log(f) - logtotal + score[i]
                if best_end == 0 or s >= best:
                    best, best_end = s, i
            if i >= n:
                break
            i += 1
            f = get(block[k:i])
        if best_end == 0:  # no dictionary word starts here: the character alone, frequency 1
            best, best_end = -logtotal + score[k + 1], k + 1
        score[k] = best
        ends[k] = best_end
    x = 0
    buf = ""
    while x < n:
        y = ends[x]
        if y - x == 1 and block[x] in _ASCII_ALNUM:
            buf += block[x]
        else:
            if buf:
                out.append(buf)
                buf = ""
            out.append(block[x:y])
        x = y
    if buf:
        out.append(buf)


def cut(text: str, rules: Rules) -> list[str]:
    """The same words as `rules.tokenizer.lcut(text, HMM=False)`, faster.

    A block's words depend only on the block and the dictionary, and notices repeat their
    clauses (请各社区高度重视, 逾期将通报, 联系人…): each distinct block is cut once per Rules
    (bounded like the word memo).
    """
    tokenizer = rules.tokenizer
    freq: dict[str, int] = tokenizer.FREQ
    logtotal = log(tokenizer.total)
    memo = memo_for(rules).blocks
    out: list[str] = []
    for index, block in enumerate(_RE_HAN.split(text)):
        if not block:
            continue
        if index % 2:  # the captured (Han/alnum) blocks sit at odd positions of the split
            words = memo.get(block)
            if words is None:
                start = len(out)
                _cut_block(block, freq, logtotal, out)
                if len(memo) >= MAX_MEMO:
                    memo.clear()
                memo[block] = tuple(out[start:])
            else:
                out.extend(words)
        else:
            for piece in _RE_SKIP.split(block):
                if not piece:
                    continue
                if _RE_SKIP.match(piece):
                    out.append(piece)
                else:
                    out.extend(piece)
    return out


def _is_keyword(word: str, department: str | None, rules: Rules) -> bool:
    if department is not None or len(word) < 2 or word in rules.stopwords:
        return False
    if any(ch.isdigit() for ch in word):
        return False
    if all(ch in _CN_NUM or ch in _DATEISH for ch in word):
        return False
    if not any("\u4e00" <= ch <= "\u9fff" or ch.isalpha() for ch in word):
        return False
    if word in rules.communities:
        return False
    return _DATE_WORD.search(word) is None


def word_info(word: str, rules: Rules) -> WordInfo:
    """Department, rule tags and keyword flags of one word (memoised per Rules)."""
    memo = memo_for(rules).words
    info = memo.get(word)
    if info is not None:
        return info
    aliases = rules.alias_to_department
    dept = aliases.get(word)
    if dept is None and len(word) > 2 and word[0] in _DEPT_PREFIXES:
        dept = aliases.get(word[1:])
    tags: tuple[Tag, ...] = () if len(word) < 2 else rules.tags_for(word)
    if dept is not None:  # a department's name (反诈中心) may hint at its item, never at a kind
        tags = tuple(tag for tag in tags if tag.category == "item")
    forward = word in rules.forward_markers or any(word.endswith(m) for m in rules.forward_markers)
    stripped = word.strip()
    numeric = stripped.isdigit() or (bool(stripped) and all(ch in _CN_NUM for ch in stripped))
    info = WordInfo(dept, tags, dept is not None or bool(tags) or forward, _is_keyword(stripped, dept, rules), numeric)
    if len(memo) >= MAX_MEMO:
        memo.clear()
    memo[word] = info
    return info


def tokenize(text: str, rules: Rules) -> Tokens:
    words = cut(text, rules)
    memo = memo_for(rules).words
    infos: list[WordInfo] = []
    marks: list[Token] = []
    pos = 0
    for word in words:
        info = memo.get(word)
        if info is None:
            info = word_info(word, rules)
        infos.append(info)
        end = pos + len(word)
        if info.marked:
            marks.append(Token(word, pos, end, info.department, info.tags))
        pos = end
    return Tokens(words, infos, marks)
