"""The second opinion by likeness, the kind that follows its item, and the honesty of the examples.

The notices here are written for these tests (none is copied from a corpus). The "银发课堂" notices use
no word of the rules, so only the labelled examples can place them.
"""

from __future__ import annotations

import argparse
import io
import json
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from classifiers import Kind, Listing, Rules, RulesError, classify, cli, load_rules
from classifiers.evaluate import build_examples, cross_validate, evaluate, half_of
from classifiers.messages import describe

SH = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 4, 10, 0, tzinfo=SH)
DATA = Path(__file__).parent.parent / "data"
NEW_NOTICE = "银发课堂下周开课,请社区通知学员带上智能手机,学习扫码乘车和网上挂号。"


def _examples(item: str, kind: str) -> list[dict[str, Any]]:
    texts = (
        "请各社区组织辖区银发课堂,教长者使用智能手机挂号、扫码乘车,每周二下午开课。",
        "银发课堂第二期开班,请社区招募学员,教授智能手机视频通话和扫码乘车。",
        "请社区继续办好银发课堂,手机扫码乘车、网上挂号两门课各开一次。",
    )
    return [{"id": f"x{n}", "text": text, "kind": kind, "item": item} for n, text in enumerate(texts, 1)]


@pytest.fixture(scope="module")
def shipped() -> Rules:
    return load_rules()


def test_rules_alone_leave_the_unknown_wording_unlisted(shipped: Rules) -> None:
    result = classify(NEW_NOTICE, now=NOW, sender_department=None, rules=shipped)
    assert result.listing is Listing.UNLISTED and result.item is None
    assert result.evidence["similar"].rule == "相近通知:无"


def test_neighbours_that_agree_on_an_admitted_item_admit_it_for_review() -> None:
    rules = load_rules(overrides={"similar": {"examples": _examples("A2", "service")}})
    result = classify(NEW_NOTICE, now=NOW, sender_department=None, rules=rules)
    assert (result.listing, result.item, result.needs_review) == (Listing.ASSIST, "A2", True)
    assert result.evidence["listing"].rule == "准入:A2(相近通知)"
    assert {"x1", "x2", "x3"} <= set(result.evidence["similar"].words)
    assert "相近通知" in describe(result)


def test_neighbours_pointing_to_a_negative_item_never_refuse() -> None:
    rules = load_rules(overrides={"similar": {"examples": _examples("N7", "levy")}})
    result = classify(NEW_NOTICE, now=NOW, sender_department=None, rules=rules)
    assert result.listing is Listing.UNLISTED and result.item is None
    assert "N7" in result.evidence["similar"].explanation and "不据此拒绝" in result.evidence["similar"].explanation


def test_neighbours_do_not_overrule_an_item_the_rules_found() -> None:
    rules = load_rules(overrides={"similar": {"examples": _examples("A2", "service")}})
    text = "银发课堂开课前,请社区对辖区低保家庭入户核查,核实家庭收入。"
    result = classify(text, now=NOW, sender_department=None, rules=rules)
    assert result.item == "A1" and "similar" not in result.evidence


def test_neighbours_give_a_kind_only_where_the_rules_found_no_kind_word() -> None:
    rules = load_rules(overrides={"similar": {"examples": _examples("A2", "service")}})
    bare = "银发课堂的学员名单见附件。"  # no kind word at all
    assert classify(bare, now=NOW, sender_department=None, rules=load_rules()).kind is Kind.ADHOC
    read = classify(bare, now=NOW, sender_department=None, rules=rules)
    assert read.kind is Kind.SERVICE and read.evidence["kind"].rule == "类型:service(相近通知)"


def test_a_notice_is_never_its_own_neighbour(shipped: Rules) -> None:
    example = shipped.similar.examples[0]
    assert example.id not in {e.id for _, e in shipped.similar.neighbours(example.text)}
    assert all(similarity < shipped.similar.settings.same_notice for similarity, _ in shipped.similar.neighbours(example.text))


def test_an_example_with_an_unknown_item_is_refused_by_name() -> None:
    with pytest.raises(RulesError, match=r"similar\.examples\[0\].*X9"):
        load_rules(overrides={"similar": {"examples": [{"text": "请社区开展活动", "kind": "service", "item": "X9"}]}})
    with pytest.raises(RulesError, match="未知的类型"):
        load_rules(overrides={"similar": {"examples": [{"text": "请社区开展活动", "kind": "party"}]}})


# ---------------------------------------------------------------- the kind of work an item is
@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("区红十字会:每个社区动员居民捐款不少于2000元,月底前把善款交到街道。", Kind.LEVY),
        ("请各社区成立垃圾分类工作领导小组,并在社区办公室挂牌。", Kind.SIGNBOARD),
    ],
)
def test_the_kind_follows_an_item_that_names_the_work(shipped: Rules, text: str, kind: Kind) -> None:
    result = classify(text, now=NOW, sender_department=None, rules=shipped)
    assert result.kind is kind, (result.kind, result.evidence["kind"], result.evidence["listing"])


def test_an_item_kind_that_is_no_kind_is_refused_by_name() -> None:
    with pytest.raises(RulesError, match=r"items\.N7\.kind"):
        load_rules(overrides={"items": {"N7": {"kind": "fundraising"}}})


# ---------------------------------------------------------------- honesty of the examples and the measure
def test_shipped_examples_hold_no_check_half_notice() -> None:
    shipped_text = resources.files("classifiers.rules").joinpath("examples.jsonl").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in shipped_text.splitlines() if line.strip()]
    train_ids = {json.loads(line)["id"] for line in (DATA / "train.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()}
    assert rows and not [r["id"] for r in rows if r["id"] in train_ids and half_of(r["id"]) == "check"]
    rebuilt = build_examples(
        [(DATA / name).read_text(encoding="utf-8").splitlines() for name in ("dev.jsonl", "classifier_cases.jsonl")],
        [(DATA / "train.jsonl").read_text(encoding="utf-8").splitlines()],
    )
    assert rows == rebuilt, "classifiers/rules/examples.jsonl is stale: rebuild it with `jianfu examples` (README)"


def test_examples_command_keeps_only_the_tune_half_of_a_split_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["examples", "--split", str(DATA / "train.jsonl")]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows and all(half_of(r["id"]) == "tune" for r in rows)
    assert set(rows[0]) == {"id", "kind", "item", "text"}


def test_cross_validation_measures_every_case_once_with_its_fold_left_out(shipped: Rules) -> None:
    lines = (DATA / "dev.jsonl").read_text(encoding="utf-8").splitlines()
    folded = cross_validate(lines, shipped, folds=4)
    plain = evaluate(lines, shipped)
    assert folded["cases"] == plain["cases"]
    assert folded["counts"]["kind"][1] == plain["counts"]["kind"][1]
    assert set(folded["harm"]) == set(plain["harm"])


def test_eval_refuses_a_single_fold() -> None:
    args = argparse.Namespace(file=str(DATA / "dev.jsonl"), json=False, split=False, folds=1, rule_paths=None, communities=None)
    assert cli.handle_eval(args, stdout=io.StringIO()) == 2


def test_the_check_half_is_reported_by_its_totals_only() -> None:
    out = io.StringIO()
    args = argparse.Namespace(file=str(DATA / "train.jsonl"), json=False, split=True, folds=0, rule_paths=None, communities=None)
    assert cli.handle_eval(args, stdout=out) == 0
    check_part = out.getvalue().split("检验半", 1)[1]
    check_ids = [json.loads(line)["id"] for line in (DATA / "train.jsonl").read_text(encoding="utf-8").splitlines()
                 if line.strip() and half_of(json.loads(line)["id"]) == "check"]
    assert "只报总数" in check_part and not [i for i in check_ids if i in check_part]


HELD_NOTICE = "请社区组织辖区老年人到银发课堂听养老政策讲解,学习智能手机扫码乘车,门口摊贩请城管劝走。"


def test_a_task_held_between_a_negative_and_an_admitted_item_is_admitted_for_review_when_neighbours_agree() -> None:
    shipped_reading = classify(HELD_NOTICE, now=NOW, sender_department=None, rules=load_rules())
    assert shipped_reading.listing is Listing.UNLISTED and shipped_reading.evidence["listing"].rule == "准入:待复核(N4/A2)"
    rules = load_rules(overrides={"similar": {"examples": _examples("A2", "service")}})
    result = classify(HELD_NOTICE, now=NOW, sender_department=None, rules=rules)
    assert (result.listing, result.item, result.needs_review) == (Listing.ASSIST, "A2", True)
    assert "N4" in result.evidence["listing"].explanation  # the admin still sees what the rules hesitated over


def test_neighbours_naming_another_admitted_item_leave_a_held_task_held() -> None:
    rules = load_rules(overrides={"similar": {"examples": _examples("D3", "service")}})
    result = classify(HELD_NOTICE, now=NOW, sender_department=None, rules=rules)
    assert result.listing is Listing.UNLISTED and result.item is None and result.needs_review
    assert "与规则所见的 A2 不一致" in result.evidence["similar"].explanation
