"""The public interface: load_rules, classify, Classification, to_json, the CLI."""

from __future__ import annotations

import argparse
import io
import json
import sys
from dataclasses import FrozenInstanceError
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifiers import (
    CertificateDecision,
    Classification,
    Kind,
    Listing,
    Nature,
    Rules,
    RulesError,
    classify,
    cli,
    load_rules,
)
from classifiers.messages import describe

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 7, 10, 15, tzinfo=TZ)
DATA = Path(__file__).parent.parent / "data"
SPEC_KEYS = ["id", "department", "kind", "nature", "listing", "item", "certificate", "deadline", "deadline_time",
             "recurrence", "quantity", "funded", "amount_yuan", "communities", "trace_demand", "needs_review", "evidence"]


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules(communities=("幸福社区", "和平社区", "光明社区"))


def test_enum_values_match_policy() -> None:
    assert [k.value for k in Kind] == ["report", "ledger", "certificate", "inspection", "meeting", "survey",
                                       "data_entry", "campaign", "signboard", "levy", "service", "adhoc"]
    assert [n.value for n in Nature] == ["administrative", "service"]
    assert [v.value for v in Listing] == ["duty", "assist", "negative", "unlisted"]
    assert [c.value for c in CertificateDecision] == ["issue", "conditional", "refuse"]


def test_classification_is_frozen_and_serialises_to_spec(rules: Rules) -> None:
    text = "【区社保中心】各社区：请为辖区120余名退休人员出具健在证明，12月20日前交中心待遇科。"
    result = classify(text, now=NOW, sender_department="人社局", rules=rules)
    assert isinstance(result, Classification)
    with pytest.raises(FrozenInstanceError):
        result.kind = Kind.REPORT  # type: ignore[misc]
    with pytest.raises(TypeError):
        result.evidence["kind"] = result.evidence["kind"]  # type: ignore[index]
    data = result.to_json("x1")
    assert list(data) == SPEC_KEYS
    assert data["deadline"] == "2026-12-20" and data["deadline_time"] is None
    assert data["quantity"] == {"value": 120, "unit": "人"}
    assert data["certificate"] == "refuse" and data["item"] == "N10"
    assert data["communities"] == ["*"]
    assert all({"rule", "words", "why"} <= set(ev) for ev in data["evidence"].values())
    json.dumps(data, ensure_ascii=False)
    assert "不应由社区出具" in describe(result)
    assert result.rules_version == rules.version


def test_named_communities_and_emergency(rules: Rules) -> None:
    result = classify("光明社区某小区发生燃气泄漏，请光明社区立即配合疏散居民。", now=NOW, sender_department="应急管理局", rules=rules)
    assert result.communities == ("光明社区",)
    assert result.emergency and result.listing is Listing.ASSIST and result.item == "A12"


def test_background_department_is_not_the_issuer(rules: Rules) -> None:
    text = "根据市卫健委要求，区民政局请各社区于12月10日前摸排辖区独居老人情况。"
    assert classify(text, now=NOW, sender_department=None, rules=rules).department == "民政局"
    forwarded = "街道转发区残联通知：请各社区完成残疾人入户调查。"
    assert classify(forwarded, now=NOW, sender_department="街道办", rules=rules).department == "残联"
    plain = "请各社区本周五前报送低保统计表。"
    assert classify(plain, now=NOW, sender_department="民政局", rules=rules).department == "民政局"


def test_keywords_are_content_words(rules: Rules) -> None:
    result = classify("民政局：请各社区12月5日前报送120户低保家庭收入核查表。", now=NOW, sender_department=None, rules=rules)
    assert "低保" in "".join(result.keywords)
    assert not any(ch.isdigit() for word in result.keywords for ch in word)
    assert "民政局" not in result.keywords and "社区" not in result.keywords


def test_grassroots_words_outside_jiebas_dictionary_stay_whole(rules: Rules) -> None:
    """With HMM off, a word jieba does not know falls apart into single characters and is lost as a keyword;
    lexicon.toml's [keywords] dictionary keeps the ones notices use (楼栋, 漏户, 旧改, …)."""
    text = "【区住建局】请各社区于12月10日前排查辖区楼栋安全隐患,统计旧改片区漏户情况。"
    keywords = classify(text, now=NOW, sender_department=None, rules=rules).keywords
    assert {"楼栋", "旧改", "漏户"} <= set(keywords)


@pytest.mark.parametrize("text", ["", " ", "😀😀😀", "asdf qwer", "\x00\x01", "证明" * 5000, "12月" * 3000])
def test_unreadable_text_gets_a_review_answer(rules: Rules, text: str) -> None:
    result = classify(text, now=NOW, sender_department=None, rules=rules)
    assert isinstance(result.kind, Kind)
    if not text.strip() or not any("\u4e00" <= ch <= "\u9fff" for ch in text):
        assert result.needs_review and result.confidence < 0.35 and result.listing is Listing.UNLISTED


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=120))
def test_classify_never_raises(text: str) -> None:
    rules = load_rules(communities=("幸福社区", "和平社区", "光明社区"))
    result = classify(text, now=NOW, sender_department=None, rules=rules)
    assert 0.0 <= result.confidence <= 1.0
    json.dumps(result.to_json("h"), ensure_ascii=False)


# ---------------------------------------------------------------- rules as data
def test_rules_expose_lists_and_cache_by_version(rules: Rules) -> None:
    assert rules.departments["民政局"][0] == "民政"
    assert rules.items["N10"].listing is Listing.NEGATIVE
    assert any(c.decision is CertificateDecision.ISSUE for c in rules.certificate_items)
    assert load_rules(communities=("幸福社区", "和平社区", "光明社区")) is rules
    assert len(rules.version) == 12
    lists = rules.describe_lists()
    assert set(lists) == {"version", "departments", "kinds", "items", "certificates"}


def test_override_file_and_dict_change_decisions(tmp_path: Path) -> None:
    override = tmp_path / "city.toml"
    override.write_text('[certificates."居住证明"]\ndecision = "refuse"\nwords = ["居住"]\n', encoding="utf-8")
    city = load_rules(override_paths=[override])
    text = "教体局：请相关社区在1月8日前为申请家庭出具居住证明。"
    assert classify(text, now=NOW, sender_department="教育局", rules=city).item == "N10"
    assert classify(text, now=NOW, sender_department="教育局", rules=load_rules()).item == "C"
    extra = load_rules(overrides={"departments": {"交通局": ["交通运输局"]}})
    assert extra.version != load_rules().version
    assert classify("交通运输局：请各社区填报统计表。", now=NOW, sender_department=None, rules=extra).department == "交通局"


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('[items.A1]\nlisting = "sometimes"\n', "items.A1.listing"),
        ('[kinds.report.words]\n"报表" = "很高"\n', "kinds.report.words.报表"),
        ("[items.A1\n", "不是合法的 TOML"),
        ('[emergency.words]\n"地陷" = "A99"\n', "emergency.words.地陷"),
        ('[kinds.report]\npatterns = [{ re = "(" }]\n', "kinds.report.patterns[0]"),
    ],
)
def test_bad_rule_data_names_the_file_and_key(tmp_path: Path, content: str, needle: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(content, encoding="utf-8")
    with pytest.raises(RulesError) as info:
        load_rules(override_paths=[bad])
    assert needle in str(info.value)


def test_missing_override_file() -> None:
    with pytest.raises(RulesError, match="不存在"):
        load_rules(override_paths=[Path("/nonexistent/rules.toml")])


# ---------------------------------------------------------------- CLI
def test_cli_classify_receipt(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["classify", "--now", "2026-12-07T10:15:00+08:00", "--sender-department", "民政局", "请各社区本周五前报送低保统计表"])
    out = capsys.readouterr().out
    assert code == 0 and "报表" in out and "2026-12-11" in out and "A1" in out


def test_cli_jsonl_answers_bad_lines_and_goes_on(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    lines = [
        json.dumps({"id": "a", "text": "请各社区月底前报送统计表", "now": "2026-12-07T10:15:00+08:00", "sender_department": "民政局"}, ensure_ascii=False),
        "not json",
        json.dumps({"id": "b", "text": "x"}),
        json.dumps({"id": "c", "now": "2026-12-07T10:15:00+08:00"}),
        json.dumps({"id": "d", "text": "请各社区明天开会", "now": "2026-12-07T10:15:00+08:00", "sender_department": None}, ensure_ascii=False),
    ]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
    assert cli.main(["classify", "--jsonl"]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["id"] for o in out] == ["a", None, "b", "c", "d"]
    assert out[0]["deadline"] == "2026-12-31" and list(out[0]) == SPEC_KEYS
    assert all("error" in o for o in out[1:4])
    assert out[4]["kind"] == "meeting" and out[4]["deadline"] == "2026-12-08"


def test_cli_eval_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["eval", str(DATA / "dev.jsonl"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["cases"] == 60 and report["accuracy"]["kind"] >= 0.92
    assert {"kind", "listing"} == set(report["confusion"])


def test_cli_eval_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["eval", str(DATA / "classifier_cases.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "准确率" in out and "混淆表" in out


def test_register_adds_both_subcommands() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    cli.register(sub)
    args = parser.parse_args(["classify", "--now", "2026-12-07T10:15:00+08:00", "今天下午3点开会"])
    assert args.handler is cli.handle_classify
    args = parser.parse_args(["eval", "f.jsonl", "--json"])
    assert args.handler is cli.handle_eval and args.json


def test_naive_now_is_read_as_shanghai(rules: Rules) -> None:
    result = classify("今天下午3点开会", now=datetime(2026, 12, 7, 10, 0), sender_department=None, rules=rules)  # noqa: DTZ001
    assert result.deadline == date(2026, 12, 7) and result.deadline_time == time(15, 0)
