"""Voice, links and pictures end to end: POST /wechat and /wecom with the real XML, media fetched from a
local fake of the WeChat/WeCom API (media/get), pictures read by the real OCR in the media worker.

Each read notice gets the same receipt as the same text typed (checked against a fresh database),
followed by the text it was read from; what cannot be read gets a clear answer and leaves nothing."""

from __future__ import annotations

import asyncio
import itertools
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.app import create_app
from bot.chat import texts
from bot.keys import CLOCK, PENDING
from intake.store.models import Role
from tests.bot.test_intake_chat import ASSIST_UNFUNDED, NOW, Chat, bound, rows
from tests.conftest import make_settings
from tests.fake_wechat_api import FakeWeChatApi
from tests.peer import MovingClock, Reply, WeChatPeer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

_ids = itertools.count(5000)
Typed = Callable[[str], Awaitable[str]]


@pytest.fixture
async def fake(aiohttp_server: Any) -> FakeWeChatApi:
    api = FakeWeChatApi()
    server = await aiohttp_server(api.app(), host="127.0.0.1")
    api.base = str(server.make_url("")).rstrip("/")  # type: ignore[attr-defined]
    return api


async def _client(aiohttp_client: Any, url: str, fake: FakeWeChatApi, **media: Any) -> tuple[Any, WeChatPeer]:
    base: str = fake.base  # type: ignore[attr-defined]
    settings = make_settings(url, wechat_api_base=base, wecom_api_base=base)
    settings = settings.model_copy(update={"media": settings.media.model_copy(update=media)})
    client = await aiohttp_client(create_app(settings, background=False, clock=MovingClock(NOW.timestamp())))
    return client, WeChatPeer(settings)


@pytest.fixture
async def clerk(aiohttp_client: Any, sqlite_url: str, fake: FakeWeChatApi) -> Chat:
    client, peer = await _client(aiohttp_client, sqlite_url, fake)
    return await bound(client, peer, "o-clerk-media", Role.clerk, "民政局")


@pytest.fixture
async def typed(aiohttp_client: Any, tmp_path: Path, sqlite_template: Path, fake: FakeWeChatApi) -> Typed:
    """The receipt the same text gets when typed, from a fresh server on a fresh database."""
    target = tmp_path / "typed" / "jianfu.db"
    target.parent.mkdir()
    shutil.copyfile(sqlite_template, target)
    client, peer = await _client(aiohttp_client, f"sqlite:///{target}", fake)
    chat = await bound(client, peer, "o-clerk-typed", Role.clerk, "民政局")

    async def receipt(text: str) -> str:
        return (await chat.say(text)).content

    return receipt


def _xml(chat: Chat, msg_type: str, fields: str) -> str:
    create_time = int(NOW.timestamp())
    chat.client.server.app[CLOCK].now = create_time
    return (f"<xml><ToUserName>gh_jianfu</ToUserName><FromUserName>{chat.user}</FromUserName>"
            f"<CreateTime>{create_time}</CreateTime><MsgType>{msg_type}</MsgType>{fields}"
            f"<MsgId>{next(_ids)}</MsgId></xml>")


async def _send(chat: Chat, msg_type: str, fields: str) -> Reply:
    xml = _xml(chat, msg_type, fields)
    if chat.channel == "wecom":
        return await chat.peer.post_wecom(chat.client, xml, timestamp=int(NOW.timestamp()))
    return await chat.peer.post_wechat(chat.client, xml, timestamp=int(NOW.timestamp()))


async def _answer(chat: Chat, reply: Reply) -> str:
    """The passive reply, or (past the reply budget) the receipt pushed later through the outbox."""
    if reply.content:
        return reply.content
    assert reply.body == "success"
    await asyncio.gather(*chat.client.server.app[PENDING])
    found = await rows(chat.client, "SELECT body FROM outbox WHERE kind = 'late_reply' ORDER BY id DESC")
    return str(found[0][0])


def _receipt_and_note(answer: str) -> tuple[str, str]:
    receipt, _, note = answer.partition("\n——\n")
    return receipt, note


async def test_voice_with_recognition_gets_the_typed_receipt_and_shows_the_text(clerk: Chat, typed: Typed) -> None:
    reply = await _send(clerk, "voice", f"<MediaId>v1</MediaId><Format>amr</Format><Recognition>{ASSIST_UNFUNDED}"
                                        "</Recognition>")
    receipt, note = _receipt_and_note(reply.content)
    assert receipt == await typed(ASSIST_UNFUNDED)
    assert "语音识别" in note and ASSIST_UNFUNDED in note
    assert await rows(clerk.client, "SELECT source_type, source_sha256 FROM tasks") == [("voice", None)]


async def test_voice_without_recognition_asks_for_text_and_logs_nothing(clerk: Chat) -> None:
    reply = await _send(clerk, "voice", "<MediaId>v2</MediaId><Format>amr</Format>")
    assert reply.content == texts.VOICE_NOT_RECOGNISED
    assert await rows(clerk.client, "SELECT id FROM tasks") == []


async def test_link_is_read_from_title_and_description(clerk: Chat, typed: Typed, fake: FakeWeChatApi) -> None:
    title, description = "关于开展低保家庭入户核查的通知", ASSIST_UNFUNDED
    url = f"{fake.base}/s/a1"  # type: ignore[attr-defined]
    fake.pages["a1"] = "<html><body><div id='js_content'><p>不应读取的正文</p></div></body></html>"
    reply = await _send(clerk, "link", f"<Title>{title}</Title><Description>{description}</Description>"
                                       f"<Url>{url}</Url>")
    receipt, note = _receipt_and_note(reply.content)
    assert receipt == await typed(f"{title}\n{description}")
    assert "链接" in note
    assert not fake.calls_to("/s/a1")  # fetch_links is off by default
    assert await rows(clerk.client, "SELECT source_type, source_name FROM tasks") == [("link", url)]


async def test_link_article_is_fetched_from_an_allowed_host_only(aiohttp_client: Any, sqlite_url: str,
                                                                 fake: FakeWeChatApi) -> None:
    host = fake.base.removeprefix("http://")  # type: ignore[attr-defined]
    fake.pages["a3"] = f"<html><body><div id='js_content'>{ASSIST_UNFUNDED}</div></body></html>"
    elsewhere = f"http://localhost:{host.rsplit(':', 1)[1]}/s/a3"  # the same server under a name not allowed
    client, peer = await _client(aiohttp_client, sqlite_url, fake, fetch_links=True, link_hosts=(host,))
    chat = await bound(client, peer, "o-clerk-link", Role.clerk, "民政局")
    fake.pages["a2"] = ("<html><head><script>var x = '不算';</script></head><body><h1>标题</h1>"
                        f"<div id='js_content'><section><p>{ASSIST_UNFUNDED}</p></section></div>"
                        "<div>页脚</div></body></html>")
    reply = await _send(chat, "link", f"<Title>入户核查</Title><Description>民政局通知</Description>"
                                      f"<Url>{fake.base}/s/a2</Url>")  # type: ignore[attr-defined]
    assert "12-25" in reply.content and "截止" in reply.content
    text = (await rows(client, "SELECT raw_text FROM tasks"))[0][0]
    assert text == f"入户核查\n民政局通知\n{ASSIST_UNFUNDED}"  # the article's body, no script, no footer

    reply = await _send(chat, "link", f"<Title>入户核查</Title><Description>民政局通知</Description>"
                                      f"<Url>{elsewhere}</Url>")
    assert not fake.calls_to("/s/a3")
    assert (await rows(client, "SELECT raw_text FROM tasks ORDER BY id"))[1][0] == "入户核查\n民政局通知"
