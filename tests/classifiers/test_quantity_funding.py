"""Quantity and funding readers; they never raise on any text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifiers import Rules, load_rules
from classifiers.funding import read_funding
from classifiers.quantity import read_quantity


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules()


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("请对辖区400户开展入户调查", 400, "户"),
        ("发放问卷100多份", 100, "份"),
        ("对行动不便的三十余人上门服务", 30, "人"),
        ("组织反诈宣传活动2场", 2, "场"),
        ("为120余名退休人员出具证明", 120, "人"),
        ("涉及商户30余户", 30, "户"),
        ("组织一场文体活动", 1, "场"),
        ("每户20元，共45户", 45, "户"),
        ("低保档案一户一档", None, None),
        ("80周岁以上老人", None, None),
        ("3个工作日内完成", None, None),
        ("第一时间上报", None, None),
        ("每个社区一名联络员", None, None),
        ("整理两项补贴台账", None, None),
    ],
)
def test_quantity(rules: Rules, text: str, value: int | None, unit: str | None) -> None:
    result = read_quantity(text, rules=rules)
    if value is None:
        assert result.quantity is None, result.evidence
    else:
        assert result.quantity is not None and (result.quantity.value, result.quantity.unit) == (value, unit)


@pytest.mark.parametrize(
    ("text", "funded", "amount"),
    [
        ("每个社区活动经费3000元", True, 3000),
        ("核查工作经费按每户20元补助", True, 20),
        ("标识牌制作费用由城管局承担", True, None),
        ("补助宣传经费2万元", True, 20000),
        ("每条数据补助5元", True, 5),
        ("逾期未认证的暂停发放津贴", False, None),
        ("每户发放慰问金500元", False, None),
        ("为困难老人发放高龄补贴", False, None),
        ("工作经费自筹", False, None),
        ("请各社区及时完成", False, None),
    ],
)
def test_funding(rules: Rules, text: str, funded: bool, amount: int | None) -> None:
    result = read_funding(text, rules=rules)
    assert (result.funded, result.amount_yuan) == (funded, amount), result.evidence


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_quantity_and_funding_never_raise(text: str) -> None:
    rules = load_rules()
    read_quantity(text, rules=rules)
    read_funding(text, rules=rules)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        # the issuer's background: a count in a sentence that asks nothing of the community
        ("本月我区举办春季招聘会,80余家企业参加。请各社区在居民群转发招聘信息。", None),
        ("上周我区发生两起电信诈骗案,受骗群众40余人。请各社区张贴防骗海报。", None),
        # the community's own scope, named in the sentence, is its work
        ("辖区还有15名老人未做待遇认证。请社区上门核实。", 15),
        ("上周我区发生两起电信诈骗案。请各社区对受骗的40余人逐一回访。", 40),
    ],
)
def test_a_count_of_the_issuers_background_is_not_the_communitys_quantity(rules: Rules, text: str, value: int | None) -> None:
    quantity = read_quantity(text, rules=rules).quantity
    assert (quantity.value if quantity else None) == value
