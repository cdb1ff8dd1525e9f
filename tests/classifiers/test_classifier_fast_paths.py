"""The fast paths change nothing: the cut is jieba's (HMM off) word for word, tokens keep their offsets,
normalize is the width table, and the deadline pre-checks never skip a pattern that would match."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifiers import Rules, load_rules
from classifiers.deadline import patterns_for
from classifiers.deadline_forms import PATTERNS
from classifiers.rules.reader import leading_literals
from classifiers.search import index_terms
from classifiers.text import _WIDTH, normalize
from classifiers.tokens import cut, tokenize

DATA = Path(__file__).parent.parent / "data"


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules(communities=("幸福社区", "和平社区", "光明社区"))


def _texts() -> list[str]:
    out: list[str] = []
    for name in ("dev.jsonl", "classifier_cases.jsonl"):
        for line in (DATA / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                out.append(json.loads(line)["text"])
    return out


def test_fast_cut_matches_jieba_lcut_without_hmm_on_the_corpus_and_mixed_text(rules: Rules) -> None:
    texts = _texts()
    rng = random.Random(7)
    alphabet = "".join(texts) + "abcXYZ0123 \t\r\n-_.%#&+，。！?？：:\u3000１２"
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80))) for _ in range(500)]
    for text in texts:
        assert cut(text, rules) == rules.tokenizer.lcut(text, HMM=False), text


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", categories=("Lo", "Nd", "Lu", "Ll", "Po", "Zs", "Cc")), max_size=60))
def test_fast_cut_matches_jieba_lcut_on_any_text(text: str) -> None:
    rules = load_rules(communities=("幸福社区", "和平社区", "光明社区"))
    assert cut(text, rules) == rules.tokenizer.lcut(text, HMM=False)


def test_tokens_keep_offsets_and_mark_rule_words(rules: Rules) -> None:
    text = "【区民政局】转发市卫健委通知：请各社区于12月5日前完成低保家庭入户核查。"
    tokens = tokenize(text, rules)
    assert "".join(tokens.words) == text
    assert len(tokens.infos) == len(tokens.words)
    for token in tokens.marks:
        assert text[token.start : token.end] == token.text
    assert any(t.department == "民政局" for t in tokens.marks)
    assert any(t.tags for t in tokens.marks)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="".join(chr(code) for code in _WIDTH) + "ab，。12年月", max_size=40))
def test_normalize_is_the_width_table(text: str) -> None:
    assert normalize(text) == text.translate(_WIDTH)


_DATEISH = "0123456789０１２３：:./-年月日号前后截止至内底末旬下上本这当每周星期礼拜天今明后点时分半季度去岁小班之以份个工作"


def _assert_prechecks_keep(text: str) -> None:
    norm = normalize(text)
    kept = {name for name, _pattern, _resolver in patterns_for(norm)}
    for name, pattern, _resolver in PATTERNS:
        if any(m.end() > m.start() for m in pattern.finditer(norm)):
            assert name in kept, (name, text)


def test_deadline_prechecks_keep_every_matching_pattern_on_the_corpus() -> None:
    for text in _texts():
        _assert_prechecks_keep(text)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=_DATEISH + "一二三四五六七八九十两", max_size=30))
def test_deadline_prechecks_keep_every_matching_pattern(text: str) -> None:
    _assert_prechecks_keep(text)


def test_memoised_search_terms_match_the_terms_worked_out_word_by_word(rules: Rules) -> None:
    memo: dict[str, tuple[str, ...]] = {}
    freq = rules.tokenizer.FREQ
    for _ in range(2):  # the second pass reads every word from the memo
        for text in _texts():
            words = cut(text, rules)
            assert index_terms(words, freq, memo) == index_terms(words, freq)
    assert memo  # the memo was used


def test_an_item_pattern_is_skipped_only_where_it_cannot_match(rules: Rules) -> None:
    texts = _texts()
    skipped = 0
    for _code, pattern, _weight, starts, _demand in rules.item_patterns:
        for text in texts:
            if starts and not any(word in text for word in starts):
                skipped += 1
                assert pattern.search(text) is None, (pattern.pattern, text[:40])
    assert skipped > 0  # the prefilter does skip searches


@pytest.mark.parametrize(
    ("source", "starts"),
    [
        ("(?:请|上门)[^，]{0,3}?收取", ("请", "上门")),
        ("每(?:个)?社区认购", ("每",)),
        ("个体(?:工商)?户", ("个体",)),
        ("发挥[^，]{0,3}优势", ("发挥",)),
        ("(?:请|上门)?收取", ()),  # the group is optional: nothing is required
        ("(?:请|上.)收取", ()),  # not every option is a plain word
        ("[0-9]+份", ()),
        ("ab?c", ("a",)),
    ],
)
def test_leading_literals_are_only_what_every_match_starts_with(source: str, starts: tuple[str, ...]) -> None:
    assert leading_literals(source) == starts
