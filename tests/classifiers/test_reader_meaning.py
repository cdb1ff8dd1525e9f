"""The reader reads meaning: certificates by what they certify, polite negatives, abstention, trace demands.

The notices here are written for these tests (none is copied from a corpus) and each checks one rule of
docs/policy.md against the behaviour that guards it.
"""

from __future__ import annotations

import argparse
import io
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from classifiers import CertificateDecision, Listing, Rules, classify, cli, load_rules
from classifiers.evaluate import is_wrongly_admitted, is_wrongly_refused
from classifiers.messages import describe
from classifiers.rules import RulesError

SH = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 4, 10, 0, tzinfo=SH)  # a Wednesday
DATA = Path(__file__).parent.parent / "data"


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules()


# ---------------------------------------------------------------- certificates by what they certify
@pytest.mark.parametrize(
    ("text", "decision"),
    [
        ("民政局：请幸福社区给王某开个证明，证明她们两人是母女，盖社区公章。", CertificateDecision.REFUSE),
        ("住建局：申请人需社区出具证明，证明他名下没有房，请加盖公章。", CertificateDecision.REFUSE),
        ("人社局：请和平社区出具一份证明，证明李某已下落不明三年。", CertificateDecision.REFUSE),
        ("请社区出具证明，写明该同志在本社区居住期间没有违法犯罪记录。", CertificateDecision.REFUSE),
        ("请光明社区为张某出具居住证明，写明实际居住年限。", CertificateDecision.ISSUE),
        ("派出所：请和平社区开个证明，证明赵某与刘某是姑嫂，盖章后交申请人。", CertificateDecision.REFUSE),
        ("社保中心：请幸福社区出具一份证明，证明陈某的老伴仍在世。", CertificateDecision.REFUSE),
        ("银行：请光明社区出具证明，证明孙某的还款能力和信用状况。", CertificateDecision.REFUSE),
        # what it certifies after a colon, after 说明/内容是, inside quotes, or in a 情况说明 the community issues
        ("请社区出具证明：陈某系本辖区居民，其子已于2025年病逝。", CertificateDecision.REFUSE),
        ("请社区出具证明材料，说明李某长期在外务工。", CertificateDecision.REFUSE),
        ("请社区给居民王某开一张证明，内容是他家里只有这一套房。", CertificateDecision.REFUSE),
        ("学校要求家长提供社区开具的“学生假期参加社区志愿活动”的证明，请各社区配合出具。", CertificateDecision.ISSUE),
        ("法院：请和平社区出具一份情况说明并加盖公章，说明刘某平时的居住和生活情况。", CertificateDecision.ISSUE),
    ],
)
def test_a_certificate_is_known_by_what_it_certifies(rules: Rules, text: str, decision: CertificateDecision) -> None:
    result = classify(text, now=NOW, sender_department=None, rules=rules)
    assert result.certificate is decision, result.evidence["certificate"]
    assert result.kind.value == "certificate"
    assert result.item == ("N10" if decision is CertificateDecision.REFUSE else "C")


@pytest.mark.parametrize(
    "text",
    [
        "医保局：居民凭医院出具的诊断证明直接到窗口申报，不需要社区盖章。请各社区在宣传栏张贴申报指南。",
        "住建局：收入证明由申请人到工作单位开具，社区不需要出具任何证明，请收齐公租房年审材料。",
        "请各社区报送2026年工作情况说明，加盖公章后交街道。",  # a report the community writes about itself
    ],
)
def test_a_certificate_someone_else_issues_is_no_certificate_task(rules: Rules, text: str) -> None:
    result = classify(text, now=NOW, sender_department=None, rules=rules)
    assert result.certificate is None and result.kind.value != "certificate"
    assert result.listing is not Listing.NEGATIVE


# ---------------------------------------------------------------- negatives in polite or indirect words
@pytest.mark.parametrize(
    ("text", "item"),
    [
        ("统计局：新版年鉴已出版，按惯例每个社区认购3册，请于月底前将书款转账。", "N6"),
        ("区慈善会：请各社区动员辖区商户踊跃捐款，支持困难群众过冬。", "N7"),
        ("投促局：恳请各社区发挥熟悉辖区的优势，积极引荐有投资意向的企业客商。", "N1"),
        ("区统计局：经研究，从各社区抽调工作人员1名到区普查办集中办公三个月。", "N12"),
        ("区人社局：年底工作量大，恳请各社区支持一下，安排一名熟悉电脑的社工到区社保中心帮忙录入数据。", "N12"),
        ("请网格员入户时顺便对辖区小旅馆、网吧逐家查看消防设施并拍照。", "N5"),
    ],
)
def test_polite_and_indirect_negatives_are_read(rules: Rules, text: str, item: str) -> None:
    result = classify(text, now=NOW, sender_department=None, rules=rules)
    assert result.listing is Listing.NEGATIVE and result.item == item, result.evidence["listing"]


# ---------------------------------------------------------------- abstain instead of guessing
def test_a_lone_weak_negative_word_is_held_for_review_not_refused(rules: Rules) -> None:
    result = classify("请各社区组织居民订阅防诈骗提醒短信。", now=NOW, sender_department=None, rules=rules)
    assert result.listing is not Listing.NEGATIVE
    assert not is_wrongly_refused("assist", result.to_json("x"))


def test_a_negative_contested_by_a_stronger_admitted_item_is_held_with_both_candidates(rules: Rules) -> None:
    text = "民政局：请各社区对低保、特困、临时救助对象逐户入户核查，核查后在系统中点赞确认。"
    result = classify(text, now=NOW, sender_department="民政局", rules=rules)
    assert result.listing is Listing.ASSIST and result.item == "A1"  # 点赞 alone is no N13
    text = "请各社区做好低保、特困人员入户核查，并对拆迁户中的困难家庭做好临时救助。"
    contested = classify(text, now=NOW, sender_department=None, rules=rules)
    assert contested.listing is Listing.UNLISTED and contested.needs_review
    ev = contested.evidence["listing"]
    assert "N3" in ev.rule and "A1" in ev.rule and "复核" in ev.explanation


@pytest.mark.parametrize(
    ("demand", "topic", "item", "admitted"),
    [
        # a staff loan: the place the staff go (a vaccination site) is A8's work, but what is asked is staff
        ("区疾控中心：接种点人手紧张，请各社区抽调1名工作人员下周一到区接种点协助登记疫苗接种信息。",
         "区疾控中心：请各社区协助做好疫苗接种动员，提醒辖区老人到接种点登记接种。", "N12", "A8"),
        # a donation per head among party members: D9's words are only who is to pay
        ("街道党工委：开展爱心募集，请各社区党员每人捐出不少于100元，周五前报党员名单和金额。",
         "街道党工委：请各社区党组织本周召开党员大会，学习传达会议精神，报党员参会名单。", "N7", "D9"),
    ],
)
def test_a_demand_is_refused_whatever_topic_it_names(rules: Rules, demand: str, topic: str, item: str, admitted: str) -> None:
    refused = classify(demand, now=NOW, sender_department=None, rules=rules)
    assert refused.listing is Listing.NEGATIVE and refused.item == item and not refused.needs_review
    assert admitted in refused.evidence["listing"].explanation  # the admin sees what the topic was
    # the same topic without the demand is that admitted item's work
    plain = classify(topic, now=NOW, sender_department=None, rules=rules)
    assert plain.listing is not Listing.NEGATIVE and plain.item == admitted


def test_demand_patterns_are_only_for_negative_items(tmp_path: Path) -> None:
    bad = tmp_path / "demand.toml"
    bad.write_text('[items.A8]\ndemand = [{ re = "接种", weight = 3 }]\n', encoding="utf-8")
    with pytest.raises(RulesError) as info:
        load_rules(override_paths=[bad])
    assert "items.A8.demand" in str(info.value) and "patterns" in str(info.value)


def test_a_weak_admission_is_kept_but_marked_for_review(rules: Rules) -> None:
    result = classify("请各社区在宣传栏张贴就业政策问答。", now=NOW, sender_department="总工会", rules=rules)
    assert result.listing is Listing.ASSIST and result.item == "A5" and result.needs_review
    assert not is_wrongly_admitted("unlisted", result.to_json("x"))


def test_a_stray_negative_word_does_not_hold_a_well_evidenced_admission(rules: Rules) -> None:
    text = "区普查办：请各社区普查员逐户清查辖区住户，填写住户清查表，对拒不配合的不作处罚，耐心解释。"
    result = classify(text, now=NOW, sender_department="统计局", rules=rules)
    assert result.listing is Listing.ASSIST and result.item == "A11" and result.needs_review
    assert "N4" in result.evidence["listing"].explanation  # the admin sees the word that made it doubtful
    assert not is_wrongly_admitted("negative", result.to_json("x"))


def test_one_passing_word_is_no_listed_item(rules: Rules) -> None:
    result = classify("请各社区宣传消费者权益保护知识。", now=NOW, sender_department="市场监管局", rules=rules)
    assert result.listing is Listing.UNLISTED and result.item is None and result.needs_review
    assert "权益" in result.evidence["listing"].words


def test_a_well_evidenced_admission_is_not_sent_to_review(rules: Rules) -> None:
    text = "区民政局：请各社区12月5日前完成低保家庭入户核查，填写核查表报社会救助科。"
    result = classify(text, now=NOW, sender_department="民政局", rules=rules)
    assert result.listing is Listing.ASSIST and result.item == "A1" and not result.needs_review


def test_harm_counts_exclude_tasks_held_for_review() -> None:
    refused = {"listing": "negative", "needs_review": False}
    held = {"listing": "negative", "needs_review": True}
    admitted = {"listing": "assist", "needs_review": False}
    assert is_wrongly_refused("assist", refused) and not is_wrongly_refused("assist", held)
    assert not is_wrongly_refused("negative", refused)
    assert is_wrongly_admitted("negative", admitted) and is_wrongly_admitted("unlisted", admitted)
    assert not is_wrongly_admitted("assist", admitted)
    assert not is_wrongly_admitted("negative", {"listing": "unlisted", "needs_review": True})


def test_an_emergency_spoken_of_calmly_is_not_an_emergency(rules: Rules) -> None:
    calm = classify("冬季进入火灾高发期，请各社区对辖区小作坊、商户开展安全检查。", now=NOW, sender_department=None, rules=rules)
    assert not calm.emergency and calm.item == "N5"
    live = classify("和平社区3栋发生火灾，请社区立即组织居民疏散。", now=NOW, sender_department=None, rules=rules)
    assert live.emergency and live.item == "A12" and live.listing is Listing.ASSIST


# ---------------------------------------------------------------- trace demands (docs/policy.md §6)
def test_a_trace_demand_is_flagged_with_its_words_and_keeps_the_listing(rules: Rules) -> None:
    result = classify("请各社区开展垃圾分类宣传，活动照片不少于10张，留痕备查。", now=NOW, sender_department=None, rules=rules)
    assert result.item == "A15" and result.listing is Listing.ASSIST
    assert "留痕" in result.trace_demand and any("不少于10" in w for w in result.trace_demand)
    data = result.to_json("x")
    assert data["trace_demand"] == list(result.trace_demand)
    assert "留痕" in describe(result)


def test_a_notice_without_a_trace_demand_has_none(rules: Rules) -> None:
    result = classify("请各社区12月5日前报送低保家庭名单，附一张活动照片。", now=NOW, sender_department=None, rules=rules)
    assert result.trace_demand == () and result.to_json("x")["trace_demand"] is None


def test_where_the_demand_is_the_whole_task_it_is_n13(rules: Rules) -> None:
    text = "网信办：请各社区干部下载“江城学习”App并实名注册，每日打卡，学习时长每周排名通报。"
    result = classify(text, now=NOW, sender_department=None, rules=rules)
    assert result.listing is Listing.NEGATIVE and result.item == "N13"
    assert "打卡" in result.trace_demand


def test_trace_words_come_from_the_rules(rules: Rules) -> None:
    quiet = load_rules(overrides={"trace": {"threshold": 100}})
    text = "请各社区开展垃圾分类宣传，活动照片不少于10张，留痕备查。"
    assert classify(text, now=NOW, sender_department=None, rules=rules).trace_demand
    assert classify(text, now=NOW, sender_department=None, rules=quiet).trace_demand == ()


# ---------------------------------------------------------------- time zone and the eval command
def test_dates_are_read_in_the_message_times_own_zone(rules: Rules) -> None:
    late_utc = datetime(2026, 11, 4, 20, 0, tzinfo=UTC)  # 11-05 04:00 in Shanghai
    assert classify("明天报送", now=late_utc, sender_department=None, rules=rules).deadline.isoformat() == "2026-11-05"  # type: ignore[union-attr]
    in_shanghai = classify("明天报送", now=late_utc, sender_department=None, rules=rules, tz=SH)
    assert in_shanghai.deadline is not None and in_shanghai.deadline.isoformat() == "2026-11-06"


def test_eval_split_prints_both_halves_harm_and_the_gap() -> None:
    out = io.StringIO()
    args = argparse.Namespace(
        file=str(DATA / "train.jsonl"), json=False, split=True, rule_paths=None, communities=None
    )
    assert cli.handle_eval(args, stdout=out) == 0
    text = out.getvalue()
    assert "调参半" in text and "检验半" in text and "错误拒绝" in text and "错误准入" in text
    assert "差(检验-调参)" in text


def test_eval_split_json_gives_one_report_per_half(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["eval", str(DATA / "train.jsonl"), "--split", "--json"]) == 0
    reports = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["half"] for r in reports] == ["tune", "check"]
    assert sum(r["cases"] for r in reports) == len((DATA / "train.jsonl").read_text(encoding="utf-8").splitlines())
    assert all({"wrongly_refused", "wrongly_admitted", "held_for_review"} == set(r["harm"]) for r in reports)
