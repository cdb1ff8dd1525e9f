"""Round-trip properties of the deadline and quantity parsers: write a value into a notice, read it back.

The classifier's own tests check that the parsers never raise on any text (test_deadline_table.py,
test_quantity_funding.py, test_classifier_interface.py); these check that what they read is right,
for any date, any clock, any `now` and any count, wrapped in notice-like noise.
"""

from __future__ import annotations

import datetime as dt

import cn2an
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifiers import Rules, load_rules
from classifiers.deadline import read_deadline
from classifiers.quantity import read_quantity

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SH = dt.timezone(dt.timedelta(hours=8))
RULES: Rules = load_rules()
# words around a date or a count that carry no digits, no dates and no units of their own
BEFORE = st.sampled_from(["", "请各社区于", "【区民政局】请幸福社区在", "各社区:请于", "务必在", "通知:"])
AFTER = st.sampled_from(["前报送", "前完成入户核查", "之前上报街道", "前报社会救助科。", "前,逾期不候"])
NOW = st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2035, 12, 31)).map(
    lambda d: d.replace(tzinfo=SH))
UNITS = st.sampled_from(sorted({u for u in RULES.units.values() if u not in RULES.one_units}))
SETTINGS = settings(max_examples=300, deadline=None)


@SETTINGS
@given(now=NOW, ahead=st.integers(0, 3 * 365), before=BEFORE, after=AFTER)
def test_a_full_date_reads_back_exactly(now: dt.datetime, ahead: int, before: str, after: str) -> None:
    due = now.date() + dt.timedelta(days=ahead)
    text = f"{before}{due.year}年{due.month}月{due.day}日{after}"
    assert read_deadline(text, now=now, rules=RULES).deadline == due, text


@SETTINGS
@given(now=NOW, ahead=st.integers(1, 300), before=BEFORE, after=AFTER)
def test_a_month_and_day_is_the_next_such_day(now: dt.datetime, ahead: int, before: str, after: str) -> None:
    due = now.date() + dt.timedelta(days=ahead)
    text = f"{before}{due.month}月{due.day}日{after}"
    assert read_deadline(text, now=now, rules=RULES).deadline == due, text


@SETTINGS
@given(now=NOW, ahead=st.integers(1, 300), hour=st.integers(8, 20), minute=st.sampled_from([0, 15, 30, 45]))
def test_a_clock_time_reads_back(now: dt.datetime, ahead: int, hour: int, minute: int) -> None:
    due = now.date() + dt.timedelta(days=ahead)
    result = read_deadline(f"请于{due.month}月{due.day}日{hour}:{minute:02d}前报送", now=now, rules=RULES)
    assert (result.deadline, result.deadline_time) == (due, dt.time(hour, minute))


@SETTINGS
@given(n=st.integers(2, 999_999), unit=UNITS, before=st.sampled_from(["共", "涉及", "不少于", "发放资料", "请核对"]))
def test_a_count_in_digits_reads_back(n: int, unit: str, before: str) -> None:
    quantity = read_quantity(f"{before}{n}{unit},请于12月25日前完成。", rules=RULES).quantity
    if unit in RULES.marked_units and before not in RULES.total_markers:  # 请核对12栋: a building's number
        assert quantity is None
    else:
        assert quantity is not None and (quantity.value, quantity.unit) == (n, unit)


@SETTINGS
@given(n=st.integers(2, 9_999).filter(lambda n: len(cn2an.an2cn(n)) <= 6), unit=UNITS)
def test_a_count_in_chinese_numerals_reads_back(n: int, unit: str) -> None:
    text = f"共{cn2an.an2cn(n)}{unit},请于12月25日前完成。"
    quantity = read_quantity(text, rules=RULES).quantity
    assert quantity is not None and (quantity.value, quantity.unit) == (n, unit), text


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1_000, 999_999), unit=UNITS)
def test_a_count_with_thousands_separators_reads_back(n: int, unit: str) -> None:
    quantity = read_quantity(f"共{n:,}{unit}", rules=RULES).quantity
    assert quantity is not None and (quantity.value, quantity.unit) == (n, unit)
