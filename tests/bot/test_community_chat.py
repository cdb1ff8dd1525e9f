"""The community head's commands and what the sweep tells communities, through POST /wechat with real XML."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa

from bot.app import create_app
from bot.keys import SERVICES
from intake.announce import queue_dispatch_notices, queue_review_reminders
from tests.conftest import make_settings
from tests.e2e.test_community_month import HEAD, SH, bind, say
from tests.peer import MovingClock, WeChatPeer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

NOW = dt.datetime(2026, 12, 7, 9, 30, tzinfo=SH)
ASSIST = "【区民政局】请各社区于12月25日前对辖区低保家庭开展入户核查,共68户,填写核查表后报社会救助科。"
LEVY = "【区税务局】请各社区协助开展协税护税工作,12月20日前动员辖区商户申报缴纳税费。"
UNLISTED = "环保局:请各社区在12月28日前开展生态环境保护主题宣传,发放宣传资料300份。"
CLERK = "o-clerk-mz"


async def _client(aiohttp_client: Any, sqlite_url: str, **overrides: str) -> tuple[Any, WeChatPeer]:
    settings = make_settings(sqlite_url, **overrides)
    return await aiohttp_client(create_app(settings, background=False, clock=MovingClock(NOW.timestamp()))), WeChatPeer(settings)


@pytest.fixture
async def chat(aiohttp_client: Any, sqlite_url: str) -> AsyncIterator[tuple[Any, WeChatPeer]]:
    client, peer = await _client(aiohttp_client, sqlite_url)
    await bind(client, peer, HEAD, NOW - dt.timedelta(days=1), community="幸福社区")
    await bind(client, peer, CLERK, NOW - dt.timedelta(days=1), department="民政局")
    yield client, peer


async def rows(client: Any, sql: str, **params: Any) -> list[Any]:
    async with client.server.app[SERVICES].engine.connect() as conn:
        return list((await conn.execute(sa.text(sql), params)).all())


def _code(reply: str) -> str:
    from tests.e2e.test_community_month import _code as code

    return code(reply)


async def test_head_query_reads_the_full_notice_and_its_decision(chat) -> None:
    client, peer = chat
    code = _code(await say(client, peer, CLERK, ASSIST, NOW))
    reply = await say(client, peer, HEAD, f"查询 {code}", NOW + dt.timedelta(minutes=5))
    assert ASSIST in reply and "A1" in reply and "费未随事转" in reply and "部门通过减负通派发" in reply
    assert (await say(client, peer, HEAD, "查询", NOW)).startswith("请在命令后附上任务编号")
    assert "没有找到任务 R-20261207-0099" in await say(client, peer, HEAD, "查询 R-20261207-0099", NOW)


async def test_head_query_of_a_task_not_addressed_to_the_community_is_refused(chat) -> None:
    client, peer = chat
    code = _code(await say(client, peer, CLERK, "【区民政局】请和平社区于12月25日前核对辖区高龄老人名单,报养老服务科。", NOW))
    assert "没有派给幸福社区" in await say(client, peer, HEAD, f"查询 {code}", NOW + dt.timedelta(minutes=1))


async def test_quiet_stops_the_reminders_of_one_task_for_the_community(chat) -> None:
    client, peer = chat
    code = _code(await say(client, peer, CLERK, ASSIST, NOW))
    reply = await say(client, peer, HEAD, f"不再提醒 {code}", NOW + dt.timedelta(minutes=1))
    assert reply.startswith(f"{code} 不再提醒本社区")
    left = await rows(client, """SELECT r.cancelled, g.quiet FROM reminders r JOIN task_targets g ON g.id = r.target_id
                                 JOIN communities c ON c.id = g.community_id WHERE c.name = '幸福社区'""")
    assert left and all(r.cancelled and r.quiet for r in left)
    others = await rows(client, "SELECT count(*) AS n FROM reminders WHERE cancelled = 0")
    assert others[0].n > 0  # the other communities are still reminded
    assert (await say(client, peer, HEAD, "不再提醒", NOW)).startswith("请在命令后附上任务编号")
    assert "只有社区负责人" in await say(client, peer, CLERK, f"不再提醒 {code}", NOW)


@pytest.mark.parametrize(("line", "expected"), [
    ("证明 3 银行 贷款资信", "不应由社区出具(N10)"),
    ("证明 居民 居住", "社区应出具"),
    ("证明 2 派出所 无犯罪记录 拒开", "拒开2份"),
    ("检查 应急局 暗访 2小时", "迎检记录:12月7日 检查 应急管理局 暗访 2小时"),
    ("会议 街道 安全部署会 2人 半天", "会议记录:12月7日 会议 街道办 安全部署会 2人 4小时"),
    ("借调 1人 人社局 2个月", "借调 人社局 1人 60天"),
    ("平台 卫健 4个系统 录入同一批老人信息", "平台 卫健 录入同一批老人信息 4个系统"),
])
async def test_counter_lines_are_logged_and_answered_in_one_line(chat, line: str, expected: str) -> None:
    client, peer = chat
    reply = await say(client, peer, HEAD, line, NOW)
    assert expected in reply and "\n" not in reply, reply
    assert len(await rows(client, "SELECT id FROM counter_entries WHERE removed = 0")) == 1


@pytest.mark.parametrize(("line", "example"), [
    ("证明 3 银行", "证明 3 银行 贷款资信"),
    ("检查", "检查 应急管理局 暗访 2小时"),
    ("会议 街道", "会议 街道 安全部署会 2人 半天"),
    ("借调 人社局 2个月", "借调 1人 人社局 2个月"),
    ("平台 卫健 录入老人信息", "平台 卫健 4个系统"),
])
async def test_a_wrong_counter_line_gets_an_example_and_logs_nothing(chat, line: str, example: str) -> None:
    client, peer = chat
    reply = await say(client, peer, HEAD, line, NOW)
    assert reply.startswith("没有登记") and example in reply, reply
    assert await rows(client, "SELECT id FROM counter_entries") == []


async def test_undo_removes_only_the_heads_last_entry(chat) -> None:
    client, peer = chat
    assert await say(client, peer, HEAD, "撤销", NOW) == "没有可撤销的登记。"
    await say(client, peer, HEAD, "证明 1 居民 居住", NOW)
    await say(client, peer, HEAD, "会议 街道 部署会", NOW + dt.timedelta(minutes=1))
    assert await say(client, peer, HEAD, "撤销", NOW + dt.timedelta(minutes=2)) == "已撤销:会议 街道 部署会"
    kept = await rows(client, "SELECT kind FROM counter_entries WHERE removed = 0")
    assert [r.kind for r in kept] == ["certificate"]


async def test_a_reported_notice_is_logged_as_the_communitys_report(chat) -> None:
    client, peer = chat
    reply = await say(client, peer, HEAD, LEVY, NOW)
    assert reply.startswith("已登记(社区报送)") and "N2" in reply and "社区无需办理" in reply, reply
    (task,) = await rows(client, "SELECT source, status, department FROM tasks")
    assert (task.source, task.status, task.department) == ("community", "refused", "税务局")
    (target,) = await rows(client, "SELECT announced_at FROM task_targets")
    assert target.announced_at is not None  # the head has it already: no dispatch notice back


async def test_a_report_matching_a_dispatched_task_is_linked_not_doubled(chat) -> None:
    client, peer = chat
    code = _code(await say(client, peer, CLERK, ASSIST, NOW))
    reply = await say(client, peer, HEAD, "转发:" + ASSIST, NOW + dt.timedelta(hours=2))
    assert code in reply and "不重复计数" in reply, reply
    assert len(await rows(client, "SELECT id FROM tasks")) == 1
    (report,) = await rows(client, "SELECT linked, task_id FROM task_reports")
    assert report.linked


async def test_a_report_without_an_issuer_asks_for_it_and_keeps_the_text(chat) -> None:
    client, peer = chat
    notice = "请各社区本周五前报送辖区防汛物资储备情况统计表。"
    assert "哪个部门" in await say(client, peer, HEAD, notice, NOW)
    assert await rows(client, "SELECT id FROM tasks") == []
    assert [r.raw_text for r in await rows(client, "SELECT raw_text FROM task_reports")] == [notice]
    assert "没有找到部门“张三”" in await say(client, peer, HEAD, "张三", NOW + dt.timedelta(minutes=1))
    reply = await say(client, peer, HEAD, "应急局", NOW + dt.timedelta(minutes=2))
    assert reply.startswith("已登记(社区报送)") and "部门:应急管理局" in reply, reply


async def test_an_unanswered_issuer_question_still_files_the_report(chat) -> None:
    client, peer = chat
    await say(client, peer, HEAD, "请各社区本周五前报送辖区防汛物资储备情况统计表。", NOW)
    reply = await say(client, peer, HEAD, LEVY, NOW + dt.timedelta(minutes=1))
    assert reply.count("已登记(社区报送)") == 2 and "部门:未注明部门" in reply, reply


async def test_short_chat_from_a_head_gets_help_not_a_task(chat) -> None:
    client, peer = chat
    assert "一行记一笔" in await say(client, peer, HEAD, "你好", NOW)
    assert await rows(client, "SELECT id FROM task_reports") == []


async def test_dispatch_notice_one_message_per_community_with_refusals_and_holds(chat) -> None:
    client, peer = chat
    assist = _code(await say(client, peer, CLERK, ASSIST, NOW))
    levy = _code(await say(client, peer, CLERK, LEVY, NOW + dt.timedelta(minutes=1)))
    unlisted = _code(await say(client, peer, CLERK, UNLISTED, NOW + dt.timedelta(minutes=2)))
    services = client.server.app[SERVICES]
    queued = await queue_dispatch_notices(services, now=NOW + dt.timedelta(minutes=3))
    bodies = {r.recipient: r.body for r in await rows(client, "SELECT recipient, body FROM outbox WHERE kind = 'notice'")}
    assert queued == len(bodies) == 5  # one per community, the three tasks in each
    body = bodies[HEAD]
    assert assist in body and "费未随事转:可要求部门提供经费或工作条件" in body and ASSIST in body
    assert f"{levy} 税务局发来的" in body and "已按 N2 拒收,社区无需办理" in body
    assert unlisted in body and "待准入审核,审核通过前无需办理" in body
    assert await queue_dispatch_notices(services, now=NOW + dt.timedelta(minutes=4)) == 0


async def test_a_long_notice_is_cut_at_300_characters_with_the_query_command(chat) -> None:
    client, peer = chat
    long_notice = ASSIST[:-1] + ",请注意:" + "入户时核对家庭成员、收入和财产情况," * 20 + "按时上报。"
    code = _code(await say(client, peer, CLERK, long_notice, NOW))
    await queue_dispatch_notices(client.server.app[SERVICES], now=NOW + dt.timedelta(minutes=1))
    (row,) = await rows(client, "SELECT body FROM outbox WHERE recipient = :r", r=HEAD)
    assert f"全文请回复“查询 {code}”" in row.body and long_notice not in row.body


async def test_review_clock_pushes_admins_clerk_and_community_once(chat) -> None:
    client, peer = chat
    code = _code(await say(client, peer, CLERK, UNLISTED, NOW))
    services = client.server.app[SERVICES]
    assert await queue_review_reminders(services, now=NOW + dt.timedelta(days=2)) == 0
    assert await queue_review_reminders(services, now=NOW + dt.timedelta(days=3, minutes=1)) > 0
    sent = await rows(client, "SELECT recipient, body FROM outbox WHERE idempotency_key LIKE 'review:%'")
    to = {r.recipient: r.body for r in sent}
    assert "已等待准入审核3天" in to["admins"] and code in to[CLERK] and "审核通过前无需办理" in to[HEAD]
    assert await queue_review_reminders(services, now=NOW + dt.timedelta(days=5)) == 0


async def test_funding_question_answer_is_recorded_and_no_keeps_the_flag(chat) -> None:
    client, peer = chat
    receipt = await say(client, peer, CLERK, ASSIST, NOW)
    assert receipt.endswith("请说明经费或工作条件,或回复'无'。"), receipt
    reply = await say(client, peer, CLERK, "无", NOW + dt.timedelta(minutes=1))
    assert "按费未随事转计入" in reply
    (task,) = await rows(client, "SELECT funded, funding_note FROM tasks")
    assert (bool(task.funded), task.funding_note) == (False, "无")
    second = _code(await say(client, peer, CLERK, ASSIST.replace("68户", "70户").replace("25日", "26日"), NOW + dt.timedelta(hours=1)))
    reply = await say(client, peer, CLERK, "按每户20元拨付入户核查工作经费", NOW + dt.timedelta(hours=1, minutes=1))
    assert reply.startswith(f"{second} 已记录经费或工作条件"), reply
    head_view = await say(client, peer, HEAD, f"查询 {second}", NOW + dt.timedelta(hours=2))
    assert "经费:按每户20元拨付入户核查工作经费" in head_view or "经费:" in head_view


async def test_hold_keeps_an_unfunded_assist_task_for_review_until_funding_is_stated(aiohttp_client, sqlite_url) -> None:
    client, peer = await _client(aiohttp_client, sqlite_url, admission_unfunded_assist="hold")
    await bind(client, peer, CLERK, NOW - dt.timedelta(days=1), department="民政局")
    receipt = await say(client, peer, CLERK, ASSIST, NOW)
    assert "说明前暂不派发" in receipt and "请说明经费或工作条件" in receipt, receipt
    (task,) = await rows(client, "SELECT status FROM tasks")
    assert task.status == "pending_review"
    await say(client, peer, CLERK, "区里按每户20元拨付经费", NOW + dt.timedelta(minutes=1))
    (task,) = await rows(client, "SELECT status, funded FROM tasks")
    assert (task.status, bool(task.funded)) == ("accepted", True)
    assert (await rows(client, "SELECT count(*) AS n FROM reminders"))[0].n > 0


async def test_flag_policy_asks_nothing(aiohttp_client, sqlite_url) -> None:
    client, peer = await _client(aiohttp_client, sqlite_url, admission_unfunded_assist="flag")
    await bind(client, peer, CLERK, NOW - dt.timedelta(days=1), department="民政局")
    receipt = await say(client, peer, CLERK, ASSIST, NOW)
    assert "费未随事转" in receipt and "请说明经费" not in receipt


async def test_ratings_do_not_store_the_rater(chat) -> None:
    client, peer = chat
    assert "已记录" in await say(client, peer, HEAD, "评价 民政局 2 材料要求反复", NOW)
    (rating,) = await rows(client, "SELECT account_id FROM ratings")
    assert rating.account_id is None
    audit = await rows(client, "SELECT actor, after FROM audit_log WHERE entity = 'rating'")
    assert all(a.actor == "anonymous" and "score" not in str(a.after) for a in audit)
