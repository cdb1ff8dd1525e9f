"""A month as the field report describes it, through the real chat endpoint, read back from its digest.

Three departments post through the bot; a fourth (应急管理局) posts only in a WeCom work group, so the head
of 幸福社区 reports its notices; the head also pastes one 民政局 notice that reached the group too (linked,
not doubled) and logs certificates, an inspection and a meeting. :func:`run_month` builds the month from any
start (``test_community_year`` runs it twelve times); the test reads the month's digests.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.app import create_app
from bot.keys import CLOCK, SERVICES
from bot.settings import Settings
from intake.accounts import add_invite
from intake.reports.digest import Digest, build_monthly_digests
from intake.reports.render import render_chat_text, render_markdown
from intake.store.models import Role
from tests.conftest import make_settings
from tests.peer import MovingClock, WeChatPeer, text_xml

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SH = dt.timezone(dt.timedelta(hours=8))
HEAD = "o-head-xingfu"
_msg_ids = itertools.count(900_000)


def _md(day: dt.date) -> str:
    return f"{day.month}月{day.day}日"


@dataclass
class MonthRecord:
    """What a month put into Jianfu, to compare with its digest."""

    month: str
    bot_codes: list[str] = field(default_factory=list)  # tasks sent through the bot (to every community)
    reported_codes: list[str] = field(default_factory=list)  # new tasks reported by the head
    linked_codes: list[str] = field(default_factory=list)  # reports linked to a task already logged
    replies: dict[str, str] = field(default_factory=dict)  # what the head was told, by step
    certificates: int = 0
    certificates_not_due: int = 0
    inspections: int = 0
    meetings: int = 0


async def say(client: Any, peer: WeChatPeer, user: str, text: str, at: dt.datetime) -> str:
    client.server.app[CLOCK].now = int(at.timestamp())  # the server's clock follows the conversation
    xml = text_xml(from_user=user, content=text, create_time=int(at.timestamp()), msg_id=next(_msg_ids))
    return (await peer.post_wechat(client, xml, timestamp=int(at.timestamp()))).content


async def bind(client: Any, peer: WeChatPeer, user: str, at: dt.datetime, **target: str) -> None:
    role = Role.clerk if "department" in target else Role.head
    async with client.server.app[SERVICES].engine.begin() as conn:
        code = await add_invite(conn, role=role, now=at - dt.timedelta(hours=1), **target)
    reply = await say(client, peer, user, f"绑定 {code}", at)
    assert "绑定成功" in reply, reply


def _code(reply: str) -> str:
    found = re.search(r"R-\d{8}-\d{4}", reply)
    assert found is not None, reply
    return found.group(0)


async def _departments_post(client: Any, peer: WeChatPeer, start: dt.datetime, record: MonthRecord, *,
                            bind_clerks: bool, theme: str) -> str:
    """Three departments through the bot; returns the 民政局 notice (it also reaches the work group)."""
    day = start.date()
    minzheng = f"【区民政局】{theme}请各社区于{_md(day + dt.timedelta(days=18))}前对辖区低保家庭开展入户核查,共68户,填写核查表后报社会救助科。"
    notices = [
        ("o-clerk-mz", "民政局", minzheng),
        ("o-clerk-rs", "人社局", f"【区人社局】{theme}请各社区于{_md(day + dt.timedelta(days=16))}前开展就业失业登记情况摸排,"
                                 "填写失业人员登记表报就业服务中心。"),
        ("o-clerk-xc", "宣传部", f"【区委宣传部】{theme}请各社区完成2027年度党报党刊征订任务,每个社区订阅10份,"
                                 f"{_md(day + dt.timedelta(days=13))}前报订阅名单。"),
    ]
    for n, (user, department, text) in enumerate(notices):
        at = start + dt.timedelta(hours=n)
        if bind_clerks:
            await bind(client, peer, user, at, department=department)
        reply = await say(client, peer, user, text, at + dt.timedelta(minutes=5))
        assert reply.startswith(("已登记", "不予派发")), reply
        record.bot_codes.append(_code(reply))
    return minzheng


async def _head_reports(client: Any, peer: WeChatPeer, start: dt.datetime, minzheng: str, record: MonthRecord, *,
                        theme: str) -> None:
    """应急管理局 posts only in the work group: the head reports its notices (one names no issuer)."""
    day = start.date()
    at = start + dt.timedelta(days=2)
    for n, text in enumerate([
        f"【区应急管理局】{theme}请各社区于{_md(day + dt.timedelta(days=16))}前组织开展消防安全宣传,张贴宣传海报20张,"
        "并上传活动照片不少于10张留痕备查。",
        f"区应急管理局通知:{theme}请各社区{_md(day + dt.timedelta(days=23))}前排查辖区独居老人家中燃气安全隐患,填写排查表。",
    ]):
        reply = await say(client, peer, HEAD, text, at + dt.timedelta(hours=n))
        assert reply.startswith("已登记(社区报送)"), reply
        record.reported_codes.append(_code(reply))
        record.replies[f"report{n}"] = reply
    asked = await say(client, peer, HEAD, f"{theme}请各社区于{_md(day + dt.timedelta(days=11))}前报送辖区防汛物资储备情况统计表。",
                      at + dt.timedelta(hours=3))
    record.replies["asked"] = asked
    answered = await say(client, peer, HEAD, "应急管理局", at + dt.timedelta(hours=3, minutes=2))
    assert answered.startswith("已登记(社区报送)"), answered
    record.reported_codes.append(_code(answered))
    linked = await say(client, peer, HEAD, minzheng, at + dt.timedelta(hours=4))
    record.replies["linked"] = linked
    record.linked_codes.append(_code(linked))


async def _head_counter_work(client: Any, peer: WeChatPeer, start: dt.datetime, record: MonthRecord) -> None:
    at = start + dt.timedelta(days=5)
    lines = [
        ("证明 3 银行 贷款资信", "certificates", 3), ("证明 2 居民 居住", "certificates", 2),
        ("检查 应急管理局 暗访 2小时", "inspections", 1), ("会议 街道 安全部署会 2人 半天", "meetings", 1),
    ]
    for n, (line, attr, amount) in enumerate(lines):
        reply = await say(client, peer, HEAD, line, at + dt.timedelta(hours=n))
        assert reply.startswith("已记入"), reply
        setattr(record, attr, getattr(record, attr) + amount)
    record.certificates_not_due += 3  # 贷款资信: the certificate list says a community must not issue it
    # a line logged by mistake and undone: it counts nowhere
    await say(client, peer, HEAD, "会议 街道 重复登记的会 1人 1小时", at + dt.timedelta(hours=6))
    assert (await say(client, peer, HEAD, "撤销", at + dt.timedelta(hours=6, minutes=1))).startswith("已撤销")


async def run_month(client: Any, peer: WeChatPeer, *, start: dt.datetime, bind_accounts: bool = True,
                    theme: str = "") -> MonthRecord:
    """One month of the field report from `start` (a weekday morning early in the month), through POST /wechat;
    the head and the clerks bind first unless `bind_accounts` is false (a later month of the same year). `theme`
    opens every notice: a year's months differ, as real months do (the same text within 30 days is a resend)."""
    record = MonthRecord(month=start.strftime("%Y-%m"))
    if bind_accounts:
        await bind(client, peer, HEAD, start - dt.timedelta(days=1), community="幸福社区")
    minzheng = await _departments_post(client, peer, start, record, bind_clerks=bind_accounts, theme=theme)
    await _head_reports(client, peer, start, minzheng, record, theme=theme)
    await _head_counter_work(client, peer, start, record)
    return record


async def month_digests(client: Any, month: str) -> tuple[Digest, dict[str, Digest]]:
    services = client.server.app[SERVICES]
    async with services.engine.connect() as conn:
        district, *communities = await build_monthly_digests(conn, month=month, settings=services.settings,
                                                             now=dt.datetime.now(dt.UTC))
    return district, {d.scope: d for d in communities}


@pytest.fixture
async def env(aiohttp_client: Any, db_url: str) -> AsyncIterator[tuple[Any, WeChatPeer, Settings]]:
    settings = make_settings(db_url)
    client = await aiohttp_client(create_app(settings, background=False, clock=MovingClock(0)))
    yield client, WeChatPeer(settings), settings


async def test_a_month_of_the_field_report_is_counted_once_and_names_the_bypassing_department(env) -> None:
    client, peer, settings = env
    record = await run_month(client, peer, start=dt.datetime(2026, 11, 2, 9, 30, tzinfo=SH))
    assert len(record.bot_codes) == 3 and len(record.reported_codes) == 3
    assert record.linked_codes == [record.bot_codes[0]]  # the pasted 民政局 notice is the bot's task
    assert "不重复计数" in record.replies["linked"] and record.bot_codes[0] in record.replies["linked"]
    assert "哪个部门" in record.replies["asked"]
    assert "社区可不做" in record.replies["report0"]  # the trace demand is flagged to the head

    district, communities = await month_digests(client, record.month)
    xingfu, heping = communities["幸福社区"], communities["和平社区"]
    # every bot task once, every new report once, the linked report not at all
    assert district.tasks == len(record.bot_codes) + len(record.reported_codes) == 6
    assert xingfu.tasks == 6 and heping.tasks == 3
    assert xingfu.refused == 1  # the levy, announced to the community as refused
    side = district.community
    assert side is not None and xingfu.community is not None
    assert side.reported_tasks == xingfu.community.reported_tasks == 3
    assert side.linked_reports == 1
    assert heping.community is not None and heping.community.reported_tasks == 0
    counter = xingfu.community.counter
    assert (counter.certificates, counter.certificates_not_due, counter.inspections, counter.unannounced,
            counter.meetings, counter.meeting_person_hours) == (record.certificates, record.certificates_not_due,
                                                                 record.inspections, 1, record.meetings, 8.0)
    assert side.counter.certificates == record.certificates and side.counter.meetings == record.meetings
    # the department that reaches communities outside Jianfu is named; those that use it are not
    assert [(r.department, r.reported, r.via_jianfu) for r in side.bypass] == [("应急管理局", 3, 0)]
    assert ("应急管理局", 1) in side.trace_demands
    markdown = render_markdown(district)
    assert "绕开减负通派发的部门" in markdown and "| 应急管理局 | 3 | 0 |" in markdown
    assert "社区报送" in render_chat_text(district)

    # no community is ranked: on-time figures only in a community's own digest, departments ranked, not communities
    assert "按时率" not in markdown and "按时率" in render_markdown(xingfu)
    names = {c.name for c in settings.district.communities}
    assert not names & {row.department for row in district.league}
    assert district.heatmap is not None
    assert list(district.heatmap.communities) == [c.name for c in settings.district.communities]
