"""The security checklist of issue 7, one test per line, on the real app over real signed callbacks.

* a signature replayed outside the timestamp window is refused (plaintext and safe mode, both directions);
* an account that is not bound as a clerk cannot create tasks (unknown, head, unsubscribed, used code);
* a community head cannot act on another community's task, nor a clerk on another department's;
* admin pages refuse anonymous and viewer writes (see test_security_console.py).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

import pytest

from bot.app import create_app
from bot.keys import SERVICES
from intake.accounts import add_invite
from intake.store.models import Role
from tests.conftest import make_settings, scalar
from tests.peer import Reply, WeChatPeer, event_xml, text_xml
from tests.serverproc import RECEIPT_CODE

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ASSIST = "【区民政局】请各社区于12月25日前对辖区低保家庭开展入户核查,共68户,填写核查表后报社会救助科。"
ONLY_HEPING = "【区民政局】请和平社区于12月25日前报送辖区高龄老人补贴发放名单,共35人。"


@dataclass
class Chat:
    client: Any
    peer: WeChatPeer
    user: str

    async def say(self, text: str, *, mode: str = "plain", timestamp: int | None = None) -> Reply:
        xml = text_xml(from_user=self.user, content=text)
        return await self.peer.post_wechat(self.client, xml, mode=mode, timestamp=timestamp)


@pytest.fixture
async def app_client(aiohttp_client: Any, db_url: str) -> tuple[Any, WeChatPeer]:
    settings = make_settings(db_url)
    client = await aiohttp_client(create_app(settings, background=False))
    return client, WeChatPeer(settings)


async def _bind(client: Any, peer: WeChatPeer, user: str, role: Role, target: str) -> Chat:
    kw = {"department": target} if role is Role.clerk else {"community": target}
    async with client.server.app[SERVICES].engine.begin() as conn:
        code = await add_invite(conn, role=role, now=dt.datetime.now(dt.UTC), **kw)
    chat = Chat(client, peer, user)
    reply = await chat.say(f"绑定 {code}")
    assert "绑定成功" in reply.content, reply.content
    return chat


def _code(reply: Reply) -> str:
    found = RECEIPT_CODE.search(reply.content)
    assert found is not None, reply.content
    return found.group(0)


async def _count(client: Any, sql: str, **params: Any) -> int:
    return int(await scalar(client.server.app[SERVICES].engine, sql, **params))


@pytest.mark.parametrize("mode", ["plain", "aes"])
@pytest.mark.parametrize("skew", [-1, +1])
async def test_signature_replayed_outside_the_time_window_is_refused(
    app_client: tuple[Any, WeChatPeer], mode: str, skew: int
) -> None:
    client, peer = app_client
    clerk = await _bind(client, peer, f"o-replay-{mode}", Role.clerk, "民政局")
    window = peer.settings.server.timestamp_window_s
    stale = int(time.time()) + skew * (window + 5)
    reply = await clerk.say(ASSIST, mode=mode, timestamp=stale)
    assert reply.status == 403
    assert await _count(client, "SELECT count(*) FROM tasks") == 0
    # the same message inside the window goes through: the refusal was the timestamp, nothing else
    fresh = await clerk.say(ASSIST, mode=mode, timestamp=int(time.time()) - window + 30)
    assert fresh.status == 200 and fresh.content.startswith("已登记 R-")


async def test_unbound_accounts_cannot_create_tasks(app_client: tuple[Any, WeChatPeer]) -> None:
    client, peer = app_client
    stranger = Chat(client, peer, "o-stranger")
    assert "绑定" in (await stranger.say(ASSIST)).content

    head = await _bind(client, peer, "o-head-xf", Role.head, "幸福社区")
    # a head's notice is a report of what reached the community, addressed to it alone: never a dispatch
    assert (await head.say(ASSIST)).content.startswith("已登记(社区报送)")

    # a code already used by one account does not bind a second one
    async with client.server.app[SERVICES].engine.begin() as conn:
        code = await add_invite(conn, role=Role.clerk, department="民政局", now=dt.datetime.now(dt.UTC))
    assert "绑定成功" in (await Chat(client, peer, "o-first").say(f"绑定 {code}")).content
    thief = Chat(client, peer, "o-thief")
    assert "绑定成功" not in (await thief.say(f"绑定 {code}")).content
    assert not (await thief.say(ASSIST)).content.startswith("已登记")

    # a clerk who unsubscribed is inactive: no tasks until they come back
    leaver = await _bind(client, peer, "o-leaver", Role.clerk, "民政局")
    await peer.post_wechat(client, event_xml(from_user="o-leaver", event="unsubscribe"))
    assert not (await leaver.say(ASSIST)).content.startswith("已登记")

    assert await _count(client, "SELECT count(*) FROM tasks WHERE source <> 'community'") == 0
    assert await _count(client, "SELECT count(*) FROM task_targets") == 1


async def test_head_cannot_act_on_another_community(app_client: tuple[Any, WeChatPeer]) -> None:
    client, peer = app_client
    clerk = await _bind(client, peer, "o-mzj-sec", Role.clerk, "民政局")
    receipt = await clerk.say(ONLY_HEPING)
    assert receipt.content.startswith("已登记 R-"), receipt.content
    code = _code(receipt)
    targets = await _count(client, "SELECT count(*) FROM task_targets t JOIN tasks k ON k.id = t.task_id "
                                   "WHERE k.code = :c", c=code)
    assert targets == 1  # only 和平社区

    other = await _bind(client, peer, "o-head-gm", Role.head, "光明社区")
    assert code not in (await other.say("任务")).content
    refused = await other.say(f"完成 {code}")
    assert code in refused.content
    open_targets = "SELECT count(*) FROM task_targets t JOIN tasks k ON k.id = t.task_id " \
                   "WHERE k.code = :c AND t.status = 'open'"
    assert await _count(client, open_targets, c=code) == 1

    own = await _bind(client, peer, "o-head-hp", Role.head, "和平社区")
    assert code in (await own.say("任务")).content
    await own.say(f"完成 {code}")
    assert await _count(client, open_targets, c=code) == 0


async def test_clerk_cannot_withdraw_another_departments_task(app_client: tuple[Any, WeChatPeer]) -> None:
    client, peer = app_client
    owner = await _bind(client, peer, "o-mzj-own", Role.clerk, "民政局")
    code = _code(await owner.say(ASSIST))
    intruder = await _bind(client, peer, "o-xcb-in", Role.clerk, "宣传部")
    reply = await intruder.say(f"撤回 {code}")
    assert code in reply.content
    status = await scalar(client.server.app[SERVICES].engine, "SELECT status FROM tasks WHERE code = :c", c=code)
    assert status == "accepted"
