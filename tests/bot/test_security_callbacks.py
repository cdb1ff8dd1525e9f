"""Issue 15, the chat side: each test guards one finding of the outside probe, through POST /wechat."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
import sqlalchemy as sa

from bot.app import create_app
from bot.keys import SERVICES
from intake.accounts import add_invite
from intake.directory import set_account_active
from intake.store.models import Role
from tests.conftest import make_settings
from tests.peer import WeChatPeer, event_xml, sign, text_xml

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

NOTICE = "【区民政局】请各社区于12月25日前对辖区低保家庭开展入户核查,共68户,填写核查表后报社会救助科。"


async def rows(client: Any, sql: str) -> list[Any]:
    async with client.server.app[SERVICES].engine.connect() as conn:
        return list((await conn.execute(sa.text(sql))).all())


async def new_code(client: Any, role: Role = Role.clerk, *, days: int = 7, **target: str) -> str:
    async with client.server.app[SERVICES].engine.begin() as conn:
        return await add_invite(conn, role=role, now=dt.datetime.now(dt.UTC) - dt.timedelta(days=7 - days),
                                **(target or {"department": "民政局"}))


async def say(client: Any, peer: WeChatPeer, user: str, text: str, **kw: Any) -> Any:
    return await peer.post_wechat(client, text_xml(from_user=user, content=text, **kw))


async def bound_clerk(client: Any, peer: WeChatPeer, user: str, department: str = "民政局") -> None:
    reply = await say(client, peer, user, f"绑定 {await new_code(client, department=department)}")
    assert "绑定成功" in reply.content, reply.content


@pytest.fixture
async def strict(aiohttp_client: Any, sqlite_url: str) -> Any:
    settings = make_settings(sqlite_url, wechat_require_encryption="true")
    return await aiohttp_client(create_app(settings, background=False))


# --- 1. disabling a chat account lasts ----------------------------------------------------------

async def test_account_disabled_by_an_admin_stays_disabled_after_unfollow_and_follow(client: Any,
                                                                                     peer: WeChatPeer) -> None:
    await bound_clerk(client, peer, "o-off")
    account_id = (await rows(client, "SELECT id FROM accounts WHERE external_id = 'o-off'"))[0].id
    async with client.server.app[SERVICES].engine.begin() as conn:
        await set_account_active(conn, account_id=account_id, active=False, actor="admin:wang",
                                 now=dt.datetime.now(dt.UTC))
    await peer.post_wechat(client, event_xml(from_user="o-off", event="unsubscribe"))
    await peer.post_wechat(client, event_xml(from_user="o-off", event="subscribe", create_time=int(time.time()) + 1))
    reply = await say(client, peer, "o-off", NOTICE)
    assert "停用" in reply.content
    assert await rows(client, "SELECT id FROM tasks") == []
    # nor does a fresh invite code undo the admin's decision
    reply = await say(client, peer, "o-off", f"绑定 {await new_code(client)}")
    assert "停用" in reply.content
    assert (await rows(client, "SELECT active FROM accounts WHERE external_id = 'o-off'"))[0].active in (0, False)


async def test_an_account_that_only_unfollowed_is_back_after_following_again(client: Any, peer: WeChatPeer) -> None:
    await bound_clerk(client, peer, "o-away")
    await peer.post_wechat(client, event_xml(from_user="o-away", event="unsubscribe"))
    await peer.post_wechat(client, event_xml(from_user="o-away", event="subscribe", create_time=int(time.time()) + 1))
    reply = await say(client, peer, "o-away", NOTICE)
    assert "已登记" in reply.content


# --- 4. safe mode cannot be downgraded, signatures cannot be replayed ---------------------------

async def test_require_encryption_refuses_plaintext_and_compatible_mode(strict: Any) -> None:
    peer = WeChatPeer(strict.server.app[SERVICES].settings)  # type: ignore[arg-type]
    plain = await say(strict, peer, "o-plain", "帮助")
    assert plain.status == 403 and "require_encryption" in plain.body
    compat = await peer.post_wechat(strict, text_xml(from_user="o-compat", content="帮助"), mode="compat")
    assert compat.status == 403 and "compatible mode" in compat.body
    safe = await peer.post_wechat(strict, text_xml(from_user="o-safe", content="帮助"), mode="aes")
    assert safe.status == 200 and "绑定" in safe.content
    assert [r.external_id for r in await rows(strict, "SELECT external_id FROM accounts")] == ["o-safe"]


async def test_a_captured_safe_mode_url_without_encrypt_type_is_refused(strict: Any) -> None:
    settings = strict.server.app[SERVICES].settings
    query = WeChatPeer(settings).signed_query()
    query["msg_signature"] = sign(settings.wechat.token, query["timestamp"], query["nonce"], "captured")
    resp = await strict.post("/wechat", params=query, data=text_xml(from_user="o-forger", content="完成 R-1").encode())
    assert resp.status == 403
    assert await rows(strict, "SELECT id FROM accounts") == []


def test_require_encryption_is_on_by_default_in_production(settings: Any) -> None:
    production = settings.model_copy(update={"server": settings.server.model_copy(update={"environment": "production"})})
    assert production.wechat_requires_encryption is True
    assert settings.wechat_requires_encryption is False  # the test environment, like development
    off = production.model_copy(update={"wechat": production.wechat.model_copy(update={"require_encryption": False})})
    assert off.wechat_requires_encryption is False


async def test_a_signed_url_replayed_with_another_body_is_refused(client: Any, peer: WeChatPeer) -> None:
    await bound_clerk(client, peer, "o-clerk")
    query = peer.signed_query()
    first = await client.post("/wechat", params=query, data=text_xml(from_user="o-clerk", content=NOTICE).encode())
    assert first.status == 200 and "已登记" in await first.text()
    forged = text_xml(from_user="o-clerk", content=NOTICE.replace("68户", "99户"))
    replay = await client.post("/wechat", params=query, data=forged.encode())
    assert replay.status == 403 and "already carried another message" in await replay.text()
    assert len(await rows(client, "SELECT id FROM tasks")) == 1


async def test_a_true_retry_with_the_same_url_and_body_gets_the_first_reply(client: Any, peer: WeChatPeer) -> None:
    await bound_clerk(client, peer, "o-retry")
    query, body = peer.signed_query(), text_xml(from_user="o-retry", content=NOTICE).encode()
    first = await client.post("/wechat", params=query, data=body)
    again = await client.post("/wechat", params=query, data=body)
    assert first.status == again.status == 200
    assert await first.text() == await again.text()
    assert len(await rows(client, "SELECT id FROM tasks")) == 1


async def test_the_nonce_is_remembered_in_the_database_with_the_message_row(client: Any, peer: WeChatPeer) -> None:
    query = peer.signed_query(nonce="4242")
    await client.post("/wechat", params=query, data=text_xml(from_user="o-n", content="帮助", msg_id=31337).encode())
    stored = await rows(client, "SELECT key, nonce FROM processed_messages")
    assert [(r.key, r.nonce) for r in stored] == [("wechat:msg:31337", f"wechat:{query['timestamp']}:4242")]


async def test_the_nonce_memory_holds_across_processes(aiohttp_client: Any, settings: Any) -> None:
    peer = WeChatPeer(settings)
    one = await aiohttp_client(create_app(settings, background=False))
    two = await aiohttp_client(create_app(settings, background=False))
    query = peer.signed_query()
    assert (await one.post("/wechat", params=query, data=text_xml(from_user="o-a", content="帮助").encode())).status == 200
    resp = await two.post("/wechat", params=query, data=text_xml(from_user="o-b", content="帮助").encode())
    assert resp.status == 403


async def test_create_time_far_from_the_clock_is_replaced_by_the_receive_time(client: Any, peer: WeChatPeer,
                                                                              caplog: Any) -> None:
    await bound_clerk(client, peer, "o-backdate")
    backdated = int(dt.datetime(2020, 1, 1, 9, tzinfo=dt.UTC).timestamp())
    reply = await say(client, peer, "o-backdate", NOTICE, create_time=backdated)
    assert "R-2020" not in reply.content
    code = (await rows(client, "SELECT code FROM tasks"))[0].code
    assert code.startswith("R-" + dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8)))
                           .strftime("%Y%m%d"))
    assert any("receive time is used instead" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("field", ["<CreateTime>99999999999999999999</CreateTime>",
                                   "<CreateTime>253402300800</CreateTime>"])
async def test_an_overflowing_create_time_is_a_400(client: Any, peer: WeChatPeer, field: str) -> None:
    xml = text_xml(from_user="o-big", content="帮助")
    xml = xml[: xml.index("<CreateTime>")] + field + xml[xml.index("</CreateTime>") + len("</CreateTime>"):]
    reply = await peer.post_wechat(client, xml)
    assert reply.status == 400 and "CreateTime" in reply.body


async def test_an_overflowing_location_is_a_400(client: Any, peer: WeChatPeer) -> None:
    xml = (f"<xml><ToUserName>gh</ToUserName><FromUserName>o-loc</FromUserName><CreateTime>{int(time.time())}"
           "</CreateTime><MsgType>location</MsgType><Location_X>1e999</Location_X><Location_Y>1</Location_Y>"
           "<Scale>99999999999999999999999</Scale><Label>x</Label><MsgId>9</MsgId></xml>")
    reply = await peer.post_wechat(client, xml)
    assert reply.status == 400 and "out of range" in reply.body


# --- 11. a notice in another department's name is recorded as forwarded -----------------------

async def test_a_notice_naming_another_department_is_recorded_as_forwarded_by_the_sender(
        client: Any, peer: WeChatPeer) -> None:
    await bound_clerk(client, peer, "o-street", department="街道办")
    await say(client, peer, "o-street", NOTICE)
    task = (await rows(client, "SELECT department, forwarded_by FROM tasks"))[0]
    assert (task.department, task.forwarded_by) == ("民政局", "街道办")
    await bound_clerk(client, peer, "o-own")
    await say(client, peer, "o-own", NOTICE.replace("68户", "12户"))
    assert (await rows(client, "SELECT forwarded_by FROM tasks ORDER BY id"))[1].forwarded_by is None


# --- 12. 绑定: one answer, and a limit per account ------------------------------------------

async def test_bind_gives_one_answer_for_unknown_used_expired_and_revoked_codes(client: Any, peer: WeChatPeer) -> None:
    used = await new_code(client)
    await say(client, peer, "o-first", f"绑定 {used}")
    expired = await new_code(client, days=-1)
    revoked = await new_code(client)
    async with client.server.app[SERVICES].engine.begin() as conn:
        await conn.execute(sa.text("UPDATE invites SET revoked_at = created_at WHERE hint = :h"), {"h": revoked[-2:]})
    answers = {(await say(client, peer, f"o-try-{i}", f"绑定 {code}")).content
               for i, code in enumerate([used, expired, revoked, "ZZZZ9999"])}
    assert len(answers) == 1 and "无效或已失效" in answers.pop()


async def test_bind_is_rate_limited_per_account(client: Any, peer: WeChatPeer) -> None:
    for guess in ("AAAA2222", "AAAA3333", "AAAA4444"):
        assert "无效" in (await say(client, peer, "o-guess", f"绑定 {guess}")).content
    good = await new_code(client)
    reply = await say(client, peer, "o-guess", f"绑定 {good}")
    assert "次数过多" in reply.content and "分钟后" in reply.content
    assert (await rows(client, "SELECT role FROM accounts WHERE external_id = 'o-guess'"))[0].role is None
    # another account is not held back by this one's guesses
    assert "绑定成功" in (await say(client, peer, "o-honest", f"绑定 {good}")).content
