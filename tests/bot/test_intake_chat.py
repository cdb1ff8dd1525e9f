"""The chat side end to end, through POST /wechat and /wecom with real XML, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from bot.app import create_app
from bot.keys import CLOCK, SERVICES
from bot.settings import Settings
from intake.accounts import add_invite
from intake.store.models import Role
from tests.conftest import make_settings
from tests.peer import MovingClock, Reply, WeChatPeer, text_xml

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SH = dt.timezone(dt.timedelta(hours=8))
# a Monday morning, so the deadlines below are comfortably ahead and not short-notice
NOW = dt.datetime(2026, 12, 7, 9, 30, tzinfo=SH)

NEGATIVE_LEVY = "【区委宣传部】请各社区完成2027年度党报党刊征订任务,每个社区订阅10份,12月20日前报订阅名单。"
ASSIST_UNFUNDED = "【区民政局】请各社区于12月25日前对辖区低保家庭开展入户核查,共68户,填写核查表后报社会救助科。"
DUTY_MEETING = "街道办事处:请各社区于12月22日前召开居民代表会议,民主协商停车管理方案,会议记录报街道备案。"
UNLISTED = "环保局:请各社区在12月28日前开展生态环境保护主题宣传,发放宣传资料300份。"
NO_DEADLINE = "【区民政局】请幸福社区协助做好辖区高龄老人信息核对,核对后报养老服务科。"


@dataclass
class Chat:
    """One conversation partner of the server: an OpenID that sends texts at a moving clock."""

    client: Any
    peer: WeChatPeer
    user: str
    channel: str = "wechat"

    async def say(self, text: str, *, at: dt.datetime | None = None, msg_id: int | None = None) -> Reply:
        create_time = int((at or NOW).timestamp())
        self.client.server.app[CLOCK].now = create_time  # the server's clock follows the conversation
        xml = text_xml(from_user=self.user, content=text, create_time=create_time, msg_id=msg_id)
        if self.channel == "wecom":
            return await self.peer.post_wecom(self.client, xml, timestamp=create_time)
        return await self.peer.post_wechat(self.client, xml, timestamp=create_time)


@pytest.fixture
async def env(aiohttp_client: Any, db_url: str) -> AsyncIterator[tuple[Any, WeChatPeer, Settings]]:
    # the server's clock is moved to each message's moment (NOW, or the `at` a test gives)
    settings = make_settings(db_url)
    client = await aiohttp_client(create_app(settings, background=False, clock=MovingClock(NOW.timestamp())))
    yield client, WeChatPeer(settings), settings


async def invite(client: Any, role: Role, *, department: str | None = None, community: str | None = None) -> str:
    services = client.server.app[SERVICES]
    async with services.engine.begin() as conn:
        return await add_invite(conn, role=role, department=department, community=community,
                                now=NOW - dt.timedelta(days=1))


async def rows(client: Any, sql: str, **params: Any) -> list[Any]:
    async with client.server.app[SERVICES].engine.connect() as conn:
        return list((await conn.execute(sa.text(sql), params)).all())


async def bound(client: Any, peer: WeChatPeer, user: str, role: Role, target: str, channel: str = "wechat") -> Chat:
    chat = Chat(client, peer, user, channel)
    kw = {"department": target} if role is Role.clerk else {"community": target}
    code = await invite(client, role, **kw)
    reply = await chat.say(f"绑定 {code}")
    assert "绑定成功" in reply.content, reply.content
    return chat


_ids = itertools.count(1)


async def test_binding_codes_single_use_and_unknown(env: Any) -> None:
    client, peer, _ = env
    code = await invite(client, Role.clerk, department="民政局")
    first = Chat(client, peer, "o-clerk-a")
    reply = await first.say(f"绑定\u3000{code.lower()}")  # full-width space, lower case: still accepted
    assert "绑定成功" in reply.content and "民政局" in reply.content
    second = Chat(client, peer, "o-clerk-b")
    used = await second.say(f"绑定 {code}")
    assert "无效或已失效" in used.content
    unknown = await second.say("绑定 ZZZZ9999")
    assert unknown.content == used.content  # one answer: it must not tell which codes exist
    assert (await rows(client, "SELECT role FROM accounts WHERE external_id='o-clerk-b'"))[0].role is None


async def test_unbound_sender_gets_help_and_nothing_is_logged(env: Any) -> None:
    client, peer, _ = env
    reply = await Chat(client, peer, "o-nobody").say(ASSIST_UNFUNDED)
    assert "绑定" in reply.content
    assert await rows(client, "SELECT id FROM tasks") == []


async def test_negative_task_refused_with_item_quoted(env: Any) -> None:
    client, peer, _ = env
    clerk = await bound(client, peer, "o-xcb", Role.clerk, "宣传部")
    reply = await clerk.say(NEGATIVE_LEVY)
    assert "不予派发" in reply.content and "N6" in reply.content
    assert "不应由社区承担的工作事项" in reply.content
    task = (await rows(client, "SELECT status, listing, item FROM tasks"))[0]
    assert (task.status, task.listing, task.item) == ("refused", "negative", "N6")
    assert await rows(client, "SELECT id FROM reminders") == []


async def test_assist_task_accepted_unfunded_with_targets_and_reminders(env: Any) -> None:
    client, peer, settings = env
    clerk = await bound(client, peer, "o-mzj", Role.clerk, "民政局")
    reply = await clerk.say(ASSIST_UNFUNDED)
    content = reply.content
    assert content.startswith("已登记 R-20261207-")
    assert "部门:民政局" in content
    assert "2026-12-25(周五)" in content
    assert "A1" in content and "费未随事转" in content
    task = (await rows(client, "SELECT id, code, status, listing, funded, quantity_value FROM tasks"))[0]
    assert task.status == "accepted" and task.listing == "assist" and not task.funded
    assert task.quantity_value == 68
    targets = await rows(client, "SELECT id FROM task_targets WHERE task_id=:t AND status='open'", t=task.id)
    assert len(targets) == len(settings.district.communities)
    reminders = await rows(client, "SELECT kind, fire_at FROM reminders")
    assert {r.kind for r in reminders} == {"before_3", "before_1", "due", "overdue"}
    assert len(reminders) == 4 * len(targets)


async def test_duty_and_unlisted(env: Any) -> None:
    client, peer, _ = env
    street = await bound(client, peer, "o-jd", Role.clerk, "街道办")
    reply = await street.say(DUTY_MEETING)
    assert "依法履行职责事项" in reply.content and "D1" in reply.content
    env_clerk = await bound(client, peer, "o-hb", Role.clerk, "生态环境局")
    reply = await env_clerk.say(UNLISTED)
    assert "准入审核" in reply.content and "法律法规依据" in reply.content and "经费" in reply.content
    statuses = {r.listing: r.status for r in await rows(client, "SELECT listing, status FROM tasks")}
    assert statuses == {"duty": "accepted", "unlisted": "pending_review"}


async def test_missing_deadline_is_asked_once_and_answered(env: Any) -> None:
    client, peer, _ = env
    clerk = await bound(client, peer, "o-mz2", Role.clerk, "民政局")
    reply = await clerk.say(NO_DEADLINE)
    assert "请补充截止时间" in reply.content
    code = reply.content.split()[1]
    answer = await clerk.say("12月18日前", at=NOW + dt.timedelta(minutes=3))
    assert code in answer.content and "2026-12-18" in answer.content
    task = (await rows(client, "SELECT deadline FROM tasks WHERE code=:c", c=code))[0]
    assert str(task.deadline) == "2026-12-18"
    assert len(await rows(client, "SELECT id FROM tasks")) == 1
    assert len(await rows(client, "SELECT id FROM reminders")) > 0


async def test_deadline_question_not_limited_and_new_task_instead(env: Any) -> None:
    client, peer, _ = env
    clerk = await bound(client, peer, "o-mz3", Role.clerk, "民政局")
    first = await clerk.say(NO_DEADLINE)
    answer = await clerk.say("不限", at=NOW + dt.timedelta(minutes=1))
    assert "不限" in answer.content
    second = await clerk.say(NO_DEADLINE.replace("幸福社区", "和平社区"), at=NOW + dt.timedelta(minutes=2))
    assert "请补充截止时间" in second.content
    third = await clerk.say(ASSIST_UNFUNDED, at=NOW + dt.timedelta(minutes=3))  # not an answer: a new task
    assert third.content.startswith("已登记")
    assert len(await rows(client, "SELECT id FROM tasks")) == 3
    assert first.content != second.content


async def test_duplicates_and_repeat_collection(env: Any) -> None:
    client, peer, _ = env
    civil = await bound(client, peer, "o-mz4", Role.clerk, "民政局")
    first = await civil.say(ASSIST_UNFUNDED)
    again = await civil.say(ASSIST_UNFUNDED.replace("68户", "69户"), at=NOW + dt.timedelta(days=2))
    first_code = first.content.split()[1]
    assert "重复" in again.content and first_code in again.content
    dup = (await rows(client, "SELECT duplicate_of FROM tasks ORDER BY id"))[1]
    assert dup.duplicate_of is not None
    stats = await bound(client, peer, "o-tj", Role.clerk, "统计局")
    await stats.say("【区统计局】请各社区12月20日前填报辖区老年人口统计表,包括姓名、年龄、身份证号、居住地址。")
    health = await bound(client, peer, "o-wj", Role.clerk, "卫健委")
    reply = await health.say(
        "【区卫健委】请各社区12月21日前上报辖区老年人口信息统计表,含姓名、年龄、身份证号、居住地址。"
    )
    assert "重复采集" in reply.content and "统计局" in reply.content
    flagged = await rows(client, "SELECT department FROM tasks WHERE repeat_collection")
    assert {r.department for r in flagged} == {"统计局", "卫健委"}


async def test_clerk_commands_and_wrong_codes(env: Any) -> None:
    client, peer, _ = env
    clerk = await bound(client, peer, "o-mz5", Role.clerk, "民政局")
    other = await bound(client, peer, "o-mz6", Role.clerk, "民政局")
    code = (await clerk.say(ASSIST_UNFUNDED)).content.split()[1]
    status = await clerk.say(f"查询 {code}")
    assert code in status.content and "0/5" in status.content
    mine = await clerk.say("我的任务")
    assert code in mine.content
    assert "R-20990101-0001" in (await clerk.say("查询 R-20990101-0001")).content
    assert "查询 R-" in (await clerk.say("查询")).content
    refused = await other.say(f"撤回 {code}")
    assert "只能撤回自己" in refused.content
    done = await clerk.say(f"撤回\u3000{code}")
    assert "已撤回" in done.content
    assert (await rows(client, "SELECT status FROM tasks"))[0].status == "withdrawn"
    assert "只有进行中" in (await clerk.say(f"撤回 {code}")).content
    pending = await rows(client, "SELECT count(*) AS n FROM reminders WHERE sent_at IS NULL AND NOT cancelled")
    assert pending[0].n == 0
    assert "没有进行中的任务" in (await clerk.say("我的任务")).content


async def test_head_commands(env: Any) -> None:
    client, peer, _ = env
    clerk = await bound(client, peer, "o-mz7", Role.clerk, "民政局")
    head = await bound(client, peer, "o-xf", Role.head, "幸福社区")
    far = (await clerk.say(ASSIST_UNFUNDED)).content.split()[1]
    near = (await clerk.say(DUTY_MEETING.replace("12月22日", "12月15日"))).content.split()[1]
    only_hp = (await clerk.say("【区民政局】请和平社区12月10日前报送低保季度报表。")).content.split()[1]
    listing = await head.say("任务")
    assert listing.content.index(near) < listing.content.index(far)  # nearest deadline first
    assert only_hp not in listing.content
    assert "不能由本社区标记完成" in (await head.say(f"完成 {only_hp}")).content
    assert "已标记" in (await head.say(f"完成 {near}")).content
    assert near not in (await head.say("任务")).content
    assert "R-20000101-0009" in (await head.say("完成 R-20000101-0009")).content
    rated = await head.say("评价 区民政局 4 材料要求清楚")
    assert "民政局" in rated.content and "4分" in rated.content
    assert "评价格式" in (await head.say("评价 民政局 九")).content
    assert "没有找到部门" in (await head.say("评价 火星局 3")).content
    rating = (await rows(client, "SELECT score, comment, month FROM ratings"))[0]
    assert (rating.score, rating.comment, rating.month) == (4, "材料要求清楚", "2026-12")
    assert "只有部门联络员" in (await head.say(f"撤回 {far}")).content
    # a head's free text is never a task
    await head.say("请各社区报送报表")
    assert len(await rows(client, "SELECT id FROM tasks")) == 3


async def test_retries_log_nothing_twice(env: Any) -> None:
    client, peer, _ = env
    clerk = await bound(client, peer, "o-mz8", Role.clerk, "民政局")
    first = await clerk.say(ASSIST_UNFUNDED, msg_id=99_000_001)
    second = await clerk.say(ASSIST_UNFUNDED, msg_id=99_000_001)
    assert first.content == second.content
    assert len(await rows(client, "SELECT id FROM tasks")) == 1
    assert len(await rows(client, "SELECT id FROM audit_log WHERE entity='task'")) == 1


async def test_wecom_clerk_end_to_end(env: Any) -> None:
    client, peer, _ = env
    clerk = await bound(client, peer, "lisi", Role.clerk, "人社局", channel="wecom")
    reply = await clerk.say("【区人社局】请各社区12月18日前完成就业失业登记情况摸排,填写摸排表。")
    assert reply.content.startswith("已登记")
    account = (await rows(client, "SELECT channel FROM accounts WHERE external_id='lisi'"))[0]
    assert account.channel == "wecom"


async def test_task_codes_are_sequential_per_day(env: Any) -> None:
    client, peer, _ = env
    clerk = await bound(client, peer, "o-mz9", Role.clerk, "民政局")
    codes = [
        (await clerk.say(f"【区民政局】请各社区12月2{i}日前报送第{i}批低保复核表。", at=NOW + dt.timedelta(minutes=i))).content.split()[1]
        for i in range(3)
    ]
    assert codes == ["R-20261207-0001", "R-20261207-0002", "R-20261207-0003"]


async def test_notice_that_starts_with_a_command_word_is_still_a_notice(env: Any) -> None:
    client, peer, _ = env
    clerk = await bound(client, peer, "o-mz10", Role.clerk, "民政局")
    reply = await clerk.say("完成 本月高龄老人信息采集,请各社区12月20日前报养老服务科。")
    assert reply.content.startswith("已登记"), reply.content
    reply = await clerk.say("查询辖区低保户家庭收入情况,请各社区12月25日前报送核查表。", at=NOW + dt.timedelta(minutes=1))
    assert reply.content.startswith("已登记"), reply.content
    assert "XYZ" in (await clerk.say("查询 XYZ", at=NOW + dt.timedelta(minutes=2))).content
    assert len(await rows(client, "SELECT id FROM tasks")) == 2


async def test_admin_invite_needs_no_department_and_points_to_the_console(env: Any) -> None:
    client, peer, _ = env
    code = await invite(client, Role.admin)
    reply = await Chat(client, peer, "o-admin").say(f"绑定 {code}")
    assert "绑定成功" in reply.content and "区减负办" in reply.content and "/admin" in reply.content
