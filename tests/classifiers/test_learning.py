"""Learning from labelled examples (classifiers.learning) and the primary kind when a notice asks for
several things. The notices are written for these tests; none is copied from a corpus."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from classifiers import Kind, Rules, classify, load_rules
from classifiers.learning import compare_rules, read_cases, suggest_triggers

SH = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 20, 9, 30, tzinfo=SH)


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules(communities=("幸福社区", "和平社区"))


def _line(ident: str, text: str, **expect: object) -> str:
    return json.dumps({"id": ident, "text": text, "now": NOW.isoformat(), "sender_department": None,
                       "expect": expect}, ensure_ascii=False)


DOGS = [
    _line("a", "【区卫健委】请各社区12月8日前报送辖区养犬登记情况。", item="A8", listing="assist"),
    _line("b", "【区卫健委】养犬登记集中办理点请幸福社区12月15日前通知居民。", item="A8", listing="assist"),
    _line("c", "【区卫健委】犬只养犬年检请和平社区配合通知。", item="A8", listing="assist"),
    _line("d", "【区民政局】时间银行积分兑换点请各社区12月15日前配合设置。", item="D3", listing="duty"),
]


def test_suggestions_separate_an_items_corrections_from_the_rest_with_counts(rules: Rules) -> None:
    suggestions = suggest_triggers(read_cases(DOGS), rules)
    dog = next(s for s in suggestions if s.word == "养犬")
    assert (dog.value, dog.inside, dog.total, dog.outside, dog.others) == ("A8", 3, 3, 0, 1)
    assert all(s.value != "D3" for s in suggestions)  # a single example shows no pattern
    words = {s.word for s in suggestions}
    assert not words & {"卫健委", "区卫健委", "幸福社区", "和平社区", "社区"}  # names say who, not what
    assert not any("养犬" in w and w != "养犬" for w in words)  # one of overlapping forms is enough


def test_stopwords_and_words_across_a_word_boundary_are_never_suggested(rules: Rules) -> None:
    words = {s.word for s in suggest_triggers(read_cases(DOGS), rules)}
    assert not words & {"通知", "配合", "请各", "各社区", "犬养"}


def test_no_word_the_item_already_triggers_on_is_suggested(rules: Rules) -> None:
    lines = [_line(str(n), f"【区民政局】请各社区做好低保对象第{n}批复核。", item="A1") for n in range(3)]
    assert all(s.word != "低保" for s in suggest_triggers(read_cases(lines), rules))


def test_suggestions_for_kinds_use_the_kind_labels(rules: Rules) -> None:
    lines = [_line(str(n), f"【区民政局】请各社区第{n}次组织居民观摩演练。", kind="meeting") for n in range(2)]
    lines.append(_line("x", "【区民政局】请各社区报送低保月报表。", kind="report"))
    suggestions = suggest_triggers(read_cases(lines), rules, field="kind")
    meeting = {s.word for s in suggestions if s.value == "meeting"}
    assert "演练" in meeting and "观摩" not in meeting  # 观摩 already makes a meeting
    with pytest.raises(ValueError):
        suggest_triggers(read_cases(lines), rules, field="department")


def test_compare_rules_names_the_corrections_a_change_would_undo_and_fix(rules: Rules) -> None:
    cases = read_cases(DOGS)
    learnt = load_rules(communities=rules.communities, overrides={"items": {"A8": {"words": {"养犬": 3}}}})
    fixed = compare_rules(cases, rules, learnt)
    assert {c.id for c in fixed.fixed} == {"a", "b", "c"} and not fixed.undone
    undo = compare_rules(cases, learnt, rules)
    assert undo.undone_cases == 3 and {c.field for c in undo.undone} == {"item", "listing"}
    assert compare_rules(cases, rules, rules).undone == ()


def test_unreadable_lines_are_skipped_by_read_cases() -> None:
    assert [c.id for c in read_cases(["not json", "", DOGS[0], '{"id": 1}'])] == ["a"]


def test_a_form_that_only_reports_the_work_yields_to_the_work(rules: Rules) -> None:
    """docs/policy.md §2: "入户核查并填写核查表" is a survey; the form records the visits."""
    text = "【区民政局】请各社区12月10日前对辖区独居老人开展走访摸排,填写摸排情况汇总表报送民政科。"
    assert classify(text, now=NOW, sender_department=None, rules=rules).kind is Kind.SURVEY
    counted_alike = load_rules(communities=rules.communities, overrides={"order": {"recording_factor": 1.0}})
    assert classify(text, now=NOW, sender_department=None, rules=counted_alike).kind is Kind.REPORT


def test_a_plain_form_to_send_is_still_a_report(rules: Rules) -> None:
    text = "【区统计局】请各社区12月5日前报送11月份统计月报表。"
    assert classify(text, now=NOW, sender_department=None, rules=rules).kind is Kind.REPORT
