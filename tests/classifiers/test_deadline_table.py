"""Deadline expressions read against a fixed message time (Asia/Shanghai)."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifiers import Recurrence, Rules, holidays, load_rules
from classifiers.deadline import read_deadline

TZ = ZoneInfo("Asia/Shanghai")
WED = "2026-11-04T10:00"  # a Wednesday


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules()


def at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp).replace(tzinfo=TZ)


# (now, text, deadline, time, recurrence)
CASES: list[tuple[str, str, str | None, str | None, str | None]] = [
    (WED, "12月5日前报送", "2026-12-05", None, None),
    (WED, "请于12.5前报送", "2026-12-05", None, None),
    (WED, "请于12/05前报送", "2026-12-05", None, None),
    (WED, "2026年12月1日前完成", "2026-12-01", None, None),
    (WED, "本月25日前完成", "2026-11-25", None, None),
    (WED, "本周五前报送", "2026-11-06", None, None),
    (WED, "下周一上午10点开会", "2026-11-09", "10:00", None),
    (WED, "明天下班前报来", "2026-11-05", None, None),
    (WED, "今天下午3点前报送", "2026-11-04", "15:00", None),
    (WED, "11月30日17:00前提交", "2026-11-30", "17:00", None),
    (WED, "请三天内完成", "2026-11-07", None, None),
    (WED, "请3日内完成", "2026-11-07", None, None),
    (WED, "两周内完成摸排", "2026-11-18", None, None),
    (WED, "月底前完成", "2026-11-30", None, None),
    (WED, "年底前完成", "2026-12-31", None, None),
    (WED, "即日起至12月10日开展", "2026-12-10", None, None),
    (WED, "每月5日前报送", "2026-11-05", None, "monthly"),
    (WED, "每月3日前报送", "2026-12-03", None, "monthly"),
    (WED, "每周一报送周报", "2026-11-09", None, "weekly"),
    (WED, "每季度末报送", "2026-12-31", None, "quarterly"),
    (WED, "每年3月31日前报送年报", "2027-03-31", None, "yearly"),
    (WED, "十二月五日前报送", "2026-12-05", None, None),
    (WED, "1月10日前报送", "2027-01-10", None, None),
    (WED, "后天上午报到", "2026-11-06", None, None),
    (WED, "大后天完成", "2026-11-07", None, None),
    (WED, "本周日前完成", "2026-11-08", None, None),
    (WED, "下周三前报送", "2026-11-11", None, None),
    (WED, "11月4日当天完成", "2026-11-04", None, None),
    (WED, "11月3日前报送", "2027-11-03", None, None),
    (WED, "2026-11-20前报送", "2026-11-20", None, None),
    (WED, "下月5日前报送", "2026-12-05", None, None),
    (WED, "下月底前完成", "2026-12-31", None, None),
    (WED, "5个工作日内完成", "2026-11-11", None, None),
    (WED, "一个月内完成", "2026-12-04", None, None),
    (WED, "半个月内完成", "2026-11-19", None, None),
    (WED, "11月18日下午2点半开会", "2026-11-18", "14:30", None),
    (WED, "12月1日至12月10日开展", "2026-12-10", None, None),
    (WED, "12月1日至10日开展", "2026-12-10", None, None),
    (WED, "初稿11月20日前报送，终稿12月5日前报送", "2026-12-05", None, None),
    (WED, "根据10月20日会议精神，请于11月15日前完成", "2026-11-15", None, None),
    (WED, "按照《2026年10月8日区长办公会纪要》要求，请于11月20日前完成", "2026-11-20", None, None),
    (WED, "请于11月25日前完成。\n区民政局\n2026年11月3日", "2026-11-25", None, None),
    (WED, "12月底前完成", "2026-12-31", None, None),
    (WED, "请尽快完成", None, None, None),
    (WED, "即日起开展巡查", None, None, None),
    (WED, "每月底前报送", "2026-11-30", None, "monthly"),
    (WED, "每周五下午4点前报送", "2026-11-06", "16:00", "weekly"),
    (WED, "12月1日（周二）上午9点开会", "2026-12-01", "09:00", None),
    (WED, "周五前报送", "2026-11-06", None, None),
    (WED, "今晚8点前报送", "2026-11-04", "20:00", None),
    (WED, "11月10日12时前报送", "2026-11-10", "12:00", None),
    (WED, "中午12点前报送", "2026-11-04", "12:00", None),
    (WED, "12月5号前报送", "2026-12-05", None, None),
    (WED, "请于１２月５日前报送", "2026-12-05", None, None),
    (WED, "发放补助1.5万元", None, None, None),
    (WED, "请于2月30日前报送", None, None, None),
    (WED, "每季度首月10日前报送", "2027-01-10", None, "quarterly"),
    ("2026-12-28T09:00", "1月5日前报送", "2027-01-05", None, None),
    ("2026-12-28T09:00", "下周一前报送", "2027-01-04", None, None),
    ("2026-12-28T09:00", "月底前报送", "2026-12-31", None, None),
    ("2026-12-31T09:00", "三天内完成", "2027-01-03", None, None),
    ("2026-12-31T09:00", "每月5日前报送", "2027-01-05", None, "monthly"),
    ("2026-12-29T17:40", "即日起至1月3日值守", "2027-01-03", None, None),
    ("2026-12-20T09:00", "年底前完成", "2026-12-31", None, None),
    ("2028-02-27T09:00", "月底前完成", "2028-02-29", None, None),
    ("2028-02-27T09:00", "两天内完成", "2028-02-29", None, None),
    ("2028-02-28T09:00", "2月29日前完成", "2028-02-29", None, None),
    ("2027-02-27T09:00", "月底前完成", "2027-02-28", None, None),
    ("2027-02-27T09:00", "本周五前完成", "2027-02-26", None, None),
    ("2027-02-27T09:00", "下周一前完成", "2027-03-01", None, None),
    ("2026-11-06T09:00", "本周五前完成", "2026-11-06", None, None),
    ("2026-11-08T09:00", "下周五前完成", "2026-11-13", None, None),
    ("2026-11-08T09:00", "每周一上报", "2026-11-09", None, "weekly"),
    ("2026-11-09T09:00", "每周一12:00前上报", "2026-11-09", "12:00", "weekly"),
    ("2026-03-30T09:00", "每季度末报送", "2026-03-31", None, "quarterly"),
    ("2026-11-30T09:00", "月底前完成", "2026-11-30", None, None),
    # working days: 国庆 2026 is 10-01..10-07 off, Saturday 10-10 a make-up working day (调休)
    ("2026-09-29T09:00", "3个工作日内报送", "2026-10-09", None, None),
    ("2026-10-08T09:00", "2个工作日内报送", "2026-10-10", None, None),
    ("2026-09-25T09:00", "三个工作日内完成", "2026-09-30", None, None),
    # festivals and lunar dates
    ("2026-10-12T09:00", "重阳节前完成高龄老人走访", "2026-10-18", None, None),
    ("2026-12-10T09:00", "春节前完成困难群众慰问", "2027-02-06", None, None),
    ("2026-09-20T09:00", "国庆节后第一个工作日报送", "2026-10-08", None, None),
    ("2027-01-20T09:00", "元宵节组织猜灯谜活动", "2027-02-20", None, None),
    ("2026-11-04T09:00", "除夕前完成安全巡查", "2027-02-05", None, None),
    ("2026-10-12T09:00", "中秋节前报送", "2027-09-15", None, None),
    ("2026-12-10T09:00", "1月25日前完成春节前走访慰问", "2027-01-25", None, None),
    # 周末 is the Sunday of the message's week
    (WED, "周末前报送", "2026-11-08", None, None),
    (WED, "本周末前完成", "2026-11-08", None, None),
    (WED, "下周末前完成", "2026-11-15", None, None),
    ("2026-11-08T09:00", "周末前报送", "2026-11-08", None, None),
    # within a named month; tonight's hour; monthly on the following month's day
    ("2026-10-30T09:00", "请在11月内完成", "2026-11-30", None, None),
    (WED, "晚8点前报送", "2026-11-04", "20:00", None),
    (WED, "代征税款按月于次月10日前解缴", "2026-11-10", None, "monthly"),
    ("2026-11-12T09:00", "代征税款按月于次月10日前解缴", "2026-12-10", None, "monthly"),
    (WED, "每月至少上门探访1次，每月15日前报送记录", "2026-11-15", None, "monthly"),
    (WED, "请于11月25日前完成。\n区民政局\n2026年11月4日", "2026-11-25", None, None),
    (WED, "区民政局\n2026年11月4日", None, None, None),
]


@pytest.mark.parametrize(("now", "text", "deadline", "clock", "recurrence"), CASES)
def test_deadline_expression(rules: Rules, now: str, text: str, deadline: str | None, clock: str | None, recurrence: str | None) -> None:
    result = read_deadline(text, now=at(now), rules=rules)
    assert (result.deadline.isoformat() if result.deadline else None) == deadline, result.evidence
    assert (result.deadline_time.strftime("%H:%M") if result.deadline_time else None) == clock, result.evidence
    assert (result.recurrence.value if result.recurrence else None) == recurrence


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 60


def test_off_work_time_comes_from_rules() -> None:
    custom = load_rules(overrides={"deadline": {"off_work_time": "18:00"}})
    result = read_deadline("明天下班前报来", now=at(WED), rules=custom)
    assert result.deadline == date(2026, 11, 5)
    assert result.deadline_time == time(18, 0)


def test_working_days_beyond_the_published_years_are_weekdays() -> None:
    assert holidays.is_working_day(date(2031, 3, 7)) and not holidays.is_working_day(date(2031, 3, 8))
    assert holidays.add_working_days(date(2031, 3, 7), 1) == date(2031, 3, 10)


def test_festivals_fall_on_their_lunar_dates() -> None:
    assert holidays.festival_day("春节", 2028) == date(2028, 1, 26)
    assert holidays.festival_day("重阳节", 2030) == date(2030, 10, 5)
    assert holidays.festival_day("腊八", 2027) == date(2027, 1, 15)
    assert holidays.festival_day("不是节日", 2027) is None


def test_recurrence_enum_values() -> None:
    assert [r.value for r in Recurrence] == ["weekly", "monthly", "quarterly", "yearly"]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789年月日号前后至到每周星期一二三四五六日天十两本下上个内半底末季度点时分:./-上午下午今明即起（）《》\n ")), max_size=40))
def test_deadline_never_raises(text: str) -> None:
    rules = load_rules()
    result = read_deadline(text, now=at(WED), rules=rules)
    assert result.deadline is None or isinstance(result.deadline, date)
