"""The HTTP edge on the real app: every mode of both channels, every bad input, retries and the reply budget."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from defusedxml.ElementTree import fromstring

from bot.app import create_app
from bot.keys import PENDING
from tests.conftest import make_settings, scalar
from tests.peer import WeChatPeer, event_xml, sign, text_xml

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

HELP_MARK = "绑定 邀请码"


async def count(client: Any, sql: str) -> int:
    from bot.keys import SERVICES

    return int(await scalar(client.server.app[SERVICES].engine, sql))


async def test_healthz_answers_when_database_answers(client: Any) -> None:
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert (await resp.json())["database"] == "ok"


async def test_metrics_in_prometheus_text_format(client: Any, peer: WeChatPeer) -> None:
    await peer.post_wechat(client, text_xml(from_user="o-metrics", content="你好"))
    resp = await client.get("/metrics")
    body = await resp.text()
    assert resp.status == 200
    assert 'jianfu_messages_total{channel="wechat",msg_type="text"} 1.0' in body


async def test_wechat_url_verification_echoes(client: Any, peer: WeChatPeer) -> None:
    query = peer.signed_query() | {"echostr": "4213387912342"}
    resp = await client.get("/wechat", params=query)
    assert resp.status == 200
    assert await resp.text() == "4213387912342"


async def test_wechat_url_verification_forged_is_403(client: Any, peer: WeChatPeer) -> None:
    query = peer.signed_query() | {"echostr": "x"}
    query["signature"] = "0" * 40
    resp = await client.get("/wechat", params=query)
    assert resp.status == 403
    assert "signature" in (await resp.text()).lower()


async def test_wecom_url_verification_published_vector(aiohttp_client: Any, sqlite_url: str) -> None:
    settings = make_settings(
        sqlite_url,
        wecom_token="QDG6eK",
        wecom_corp_id="wx5823bf96d3bd56c7",
        wecom_encoding_aes_key="jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
        server_timestamp_window_s=str(10**10),  # the published vector is from 2014
        retention_replies_hours=str(10**7),  # nonces outlive two such windows (else start-up stops)
    )
    client = await aiohttp_client(create_app(settings, background=False))
    resp = await client.get(
        "/wecom",
        params={
            "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
            "timestamp": "1409659589",
            "nonce": "263014780",
            "echostr": "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
        },
    )
    assert resp.status == 200
    assert await resp.text() == "1616140317555161061"


@pytest.mark.parametrize("mode", ["plain", "compat", "aes"])
async def test_wechat_modes_round_trip_with_independent_peer(client: Any, peer: WeChatPeer, mode: str) -> None:
    reply = await peer.post_wechat(client, text_xml(from_user="o-stranger", content="你好"), mode=mode)
    assert reply.status == 200
    assert reply.fields["ToUserName"] == "o-stranger"  # From/To swapped
    assert reply.fields["FromUserName"] == "gh_jianfu"
    assert reply.fields["MsgType"] == "text"
    assert HELP_MARK in reply.content


async def test_wecom_encrypted_round_trip(client: Any, peer: WeChatPeer) -> None:
    reply = await peer.post_wecom(client, text_xml(from_user="zhangsan", content="帮助", agent_id="1000002"))
    assert reply.status == 200
    assert reply.fields["ToUserName"] == "zhangsan"
    assert HELP_MARK in reply.content


async def test_unknown_sender_gets_help_and_no_task(client: Any, peer: WeChatPeer) -> None:
    reply = await peer.post_wechat(client, text_xml(from_user="o-unknown", content="请各社区12月5日前上报低保户花名册"))
    assert HELP_MARK in reply.content
    assert await count(client, "SELECT count(*) FROM tasks") == 0


async def test_retry_gets_identical_reply_and_is_handled_once(client: Any, peer: WeChatPeer) -> None:
    xml = text_xml(from_user="o-retry", content="你好", msg_id=424242)
    first = await peer.post_wechat(client, xml)
    second = await peer.post_wechat(client, xml)
    third = await peer.post_wechat(client, xml, mode="aes")
    assert first.content == second.content == third.content
    assert await count(client, "SELECT count(*) FROM processed_messages") == 1


async def test_retry_after_restart_is_answered_from_the_database(aiohttp_client: Any, settings: Any) -> None:
    peer = WeChatPeer(settings)
    xml = text_xml(from_user="o-restart", content="你好", msg_id=515151)
    first_client = await aiohttp_client(create_app(settings, background=False))
    first = await peer.post_wechat(first_client, xml)
    await first_client.close()
    second_client = await aiohttp_client(create_app(settings, background=False))
    second = await peer.post_wechat(second_client, xml)
    assert second.content == first.content
    assert await count(second_client, "SELECT count(*) FROM processed_messages") == 1


async def test_subscribe_welcome_unsubscribe_deactivates(client: Any, peer: WeChatPeer) -> None:
    welcome = await peer.post_wechat(client, event_xml(from_user="o-sub", event="subscribe"))
    assert "欢迎" in welcome.content
    bye = await peer.post_wechat(client, event_xml(from_user="o-sub", event="unsubscribe", create_time=int(time.time()) + 1))
    assert bye.status == 200 and bye.body == "success"
    assert await count(client, "SELECT count(*) FROM accounts WHERE external_id='o-sub' AND active") == 0


async def test_picture_from_unbound_account_gets_binding_help_without_download(client: Any, peer: WeChatPeer) -> None:
    xml = (
        "<xml><ToUserName>gh_jianfu</ToUserName><FromUserName>o-img</FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType>image</MsgType>"
        "<PicUrl>http://example.invalid/a.jpg</PicUrl><MediaId>m1</MediaId><MsgId>777</MsgId></xml>"
    )
    reply = await peer.post_wechat(client, xml)
    assert "绑定" in reply.content  # the media API (unreachable here) was never asked


async def test_video_message_gets_polite_answer(client: Any, peer: WeChatPeer) -> None:
    xml = (
        "<xml><ToUserName>gh_jianfu</ToUserName><FromUserName>o-img</FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType>video</MsgType>"
        "<MediaId>m1</MediaId><ThumbMediaId>t1</ThumbMediaId><MsgId>779</MsgId></xml>"
    )
    reply = await peer.post_wechat(client, xml)
    assert "请发送通知文字、图片或文件" in reply.content


async def test_unknown_message_type_is_not_an_error(client: Any, peer: WeChatPeer) -> None:
    xml = (
        "<xml><ToUserName>gh_jianfu</ToUserName><FromUserName>o-new</FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType>miniprogrampage</MsgType><MsgId>778</MsgId></xml>"
    )
    reply = await peer.post_wechat(client, xml)
    assert reply.status == 200
    assert "请发送通知文字" in reply.content


BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    b"<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime>"
    b"<MsgType>text</MsgType><Content>&lol3;</Content><MsgId>1</MsgId></xml>"
)
EXTERNAL = (
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b"<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime>"
    b"<MsgType>text</MsgType><Content>&xxe;</Content><MsgId>2</MsgId></xml>"
)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (BOMB, 400),
        (EXTERNAL, 400),
        (b"\x00\xffgarbage<<<", 400),
        (b"<xml><ToUserName>a</ToUserName><Content>\xff\xfe</Content></xml>", 400),
        (b"<html><body>hi</body></html>", 400),
        (b"<xml><ToUserName>a</ToUserName></xml>", 400),
        (b"<xml>" + b"a" * (70 * 1024) + b"</xml>", 413),
    ],
    ids=["entity-bomb", "external-entity", "garbage", "invalid-utf8", "wrong-root", "missing-fields", "too-large"],
)
async def test_hostile_bodies_are_refused_and_nothing_is_stored(
    client: Any, peer: WeChatPeer, body: bytes, status: int
) -> None:
    resp = await client.post("/wechat", params=peer.signed_query(), data=body)
    assert resp.status == status
    assert (await resp.text()).strip()  # says what was wrong
    assert await count(client, "SELECT count(*) FROM processed_messages") == 0
    assert await count(client, "SELECT count(*) FROM tasks") == 0
    assert (await client.get("/healthz")).status == 200  # and the server lives on


@pytest.mark.parametrize("problem", ["forged", "missing", "stale", "not-a-number"])
async def test_bad_signatures_are_403(client: Any, peer: WeChatPeer, problem: str) -> None:
    query = peer.signed_query()
    if problem == "forged":
        query["signature"] = sign("wrong-token", query["timestamp"], query["nonce"])
    elif problem == "missing":
        del query["signature"]
    elif problem == "stale":
        query = peer.signed_query(timestamp=int(time.time()) - 3600)
    else:
        query["timestamp"] = "yesterday"
        query["signature"] = sign(peer.settings.wechat.token, "yesterday", query["nonce"])
    resp = await client.post("/wechat", params=query, data=text_xml(from_user="o-x", content="你好").encode())
    assert resp.status == 403
    assert await count(client, "SELECT count(*) FROM processed_messages") == 0


async def test_safe_mode_with_forged_msg_signature_is_403(client: Any, peer: WeChatPeer) -> None:
    query = peer.signed_query() | {"encrypt_type": "aes", "msg_signature": "f" * 40}
    envelope = fromstring(peer.wechat.encrypt_message(text_xml(from_user="o", content="x"), "n0nce", query["timestamp"]))
    body = f"<xml><ToUserName>gh</ToUserName><Encrypt>{envelope.findtext('Encrypt')}</Encrypt></xml>"
    resp = await client.post("/wechat", params=query, data=body.encode())
    assert resp.status == 403


async def test_safe_mode_with_corrupt_ciphertext_is_400(client: Any, peer: WeChatPeer) -> None:
    query = peer.signed_query() | {"encrypt_type": "aes"}
    encrypt = "QUJDREVGR0g="  # valid base64, not a whole AES block
    query["msg_signature"] = sign(peer.settings.wechat.token, query["timestamp"], query["nonce"], encrypt)
    resp = await client.post("/wechat", params=query, data=f"<xml><Encrypt>{encrypt}</Encrypt></xml>".encode())
    assert resp.status == 400


async def test_wecom_plaintext_post_is_refused(client: Any, peer: WeChatPeer) -> None:
    resp = await client.post("/wecom", params=peer.signed_query(), data=text_xml(from_user="u", content="x").encode())
    assert resp.status in (400, 403)


async def test_slow_handler_answers_success_and_pushes_later(aiohttp_client: Any, sqlite_url: str) -> None:
    # the writer lingers 300 ms gathering a batch; the budget is 50 ms: the reply cannot make it in time
    settings = make_settings(sqlite_url, server_reply_budget_s="0.05", database_batch_wait_ms="300")
    app = create_app(settings, background=False)
    client = await aiohttp_client(app)
    reply = await WeChatPeer(settings).post_wechat(client, text_xml(from_user="o-slow", content="帮助"))
    assert reply.status == 200 and reply.body == "success"
    await asyncio.gather(*app[PENDING])
    late = await count(client, "SELECT count(*) FROM outbox WHERE kind='late_reply' AND recipient='o-slow' AND channel='wechat'")
    assert late == 1


async def test_root_sends_people_to_the_console(client: Any) -> None:
    resp = await client.get("/", allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == "/admin/"
