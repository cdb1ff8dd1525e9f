"""Quality bars on the labelled corpora: dev.jsonl, our own cases, and both halves of train.jsonl.

train.jsonl is split once by `half_of(id)` into a tune half (rules were changed by reading its misses)
and a check half (only measured). The floors below sit just under what the reader measured; the check
half's are lower because those notices were never read, and that gap is the honest estimate on new ones.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from classifiers import Rules, load_rules
from classifiers.evaluate import HALVES, evaluate, half_of

DATA = Path(__file__).parent.parent / "data"
COMMUNITIES = ("幸福社区", "和平社区", "光明社区")

# the floors of issue 13 (department >= .98, kind/listing >= .93, item >= .90, deadline/quantity >= .95,
# funded >= .97, certificate >= .93): dev was read while writing the rules and must meet them
DEV_BAR = {
    "department": 0.98,
    "kind": 0.93,
    "listing": 0.93,
    "item": 0.90,
    "deadline": 0.95,
    "recurrence": 0.95,
    "quantity": 0.95,
    "funded": 0.97,
    "certificate": 0.93,
}
# our own cases (the field report's items) are harder and less polished: a slightly lower bar
CASES_BAR = {field: bar - 0.05 for field, bar in DEV_BAR.items()}


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules(communities=COMMUNITIES)


def _report(rules: Rules, name: str, half: str | None = None) -> dict[str, object]:
    with (DATA / name).open(encoding="utf-8") as handle:
        return evaluate(handle, rules, half=half)


# measured (tune / check) at the end of issue 13's third part: department .994/.987, kind .988/.893,
# listing .994/.887, item .994/.881, deadline .970/.981, quantity 1.00/.969, funded .994/.969, certificate
# 1.00/.975; wrongly refused 0/0, wrongly admitted 0/1. The tune half meets the floors; the check half
# does not (kind, listing and item are 4-5 points under), and its floors here are its own measure, one or two
# notices under it, not a target: they catch a change that makes new notices read worse.
TRAIN_BAR = {
    "tune": {"department": 0.98, "kind": 0.98, "listing": 0.98, "item": 0.98, "deadline": 0.95, "quantity": 0.97,
             "funded": 0.98, "certificate": 0.98},
    "check": {"department": 0.98, "kind": 0.88, "listing": 0.88, "item": 0.87, "deadline": 0.97, "quantity": 0.96,
              "funded": 0.96, "certificate": 0.96},
}
HARM_BAR = {"tune": (0, 1), "check": (0, 1)}  # at most (wrongly refused, wrongly admitted): 1 in 100 is 1


@pytest.mark.parametrize(("name", "bar", "minimum_cases"), [("dev.jsonl", DEV_BAR, 60), ("classifier_cases.jsonl", CASES_BAR, 40)])
def test_accuracy_meets_the_bar(rules: Rules, name: str, bar: dict[str, float], minimum_cases: int) -> None:
    report = _report(rules, name)
    assert report["cases"] >= minimum_cases
    assert not report["errors"]
    accuracy = report["accuracy"]
    assert isinstance(accuracy, dict)
    misses = report["misses"]
    for field, minimum in bar.items():
        assert accuracy[field] is not None and accuracy[field] >= minimum, (field, accuracy[field], misses)


def test_own_cases_cover_the_field_report_items() -> None:
    text = (DATA / "classifier_cases.jsonl").read_text(encoding="utf-8")
    for topic in ("低保", "残疾证", "医保", "收缴", "计生", "流动人口", "综治", "城管", "迎检", "报送", "台账", "证明",
                  "会议", "平台", "挂牌", "征收", "招商", "税", "征订", "捐款", "献血"):
        assert topic in text, topic


def test_train_halves_are_fixed_disjoint_and_cover_the_file() -> None:
    ids = [json.loads(line)["id"] for line in (DATA / "train.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    halves = {half: [i for i in ids if half_of(i) == half] for half in HALVES}
    assert len(ids) >= 300 and len(set(ids)) == len(ids)
    assert sorted(halves["tune"] + halves["check"]) == sorted(ids)
    assert all(len(members) >= 0.4 * len(ids) for members in halves.values())
    assert half_of("t1001") == half_of("t1001") and {half_of(str(n)) for n in range(50)} == set(HALVES)


@pytest.mark.parametrize("half", HALVES)
def test_train_half_meets_its_measured_floor(rules: Rules, half: str) -> None:
    report = _report(rules, "train.jsonl", half)
    assert report["half"] == half and int(str(report["cases"])) >= 150 and not report["errors"]
    accuracy = report["accuracy"]
    assert isinstance(accuracy, dict)
    for field, minimum in TRAIN_BAR[half].items():
        assert accuracy[field] >= minimum, (half, field, accuracy[field])
    harm = report["harm"]
    assert isinstance(harm, dict)
    refused, admitted = HARM_BAR[half]
    assert len(harm["wrongly_refused"]) <= refused and len(harm["wrongly_admitted"]) <= admitted, harm
