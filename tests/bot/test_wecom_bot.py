"""The WeCom intelligent bot (智能机器人) end to end: POST /wecom/bot with JSON encrypted as WeCom does
(tests/bot_peer.py, wechatpy's cipher, receive id empty), pictures and files served encrypted by a local
fake of WeCom's media URLs, the receipt compared with the same notice typed in the WeCom app."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.app import create_app
from bot.chat import texts, texts_media
from bot.keys import CLOCK, PENDING, SERVICES
from bot.settings import Settings
from intake.media.texts import NO_TEXT_IMAGE
from intake.store.models import Role
from tests.bot.test_intake_chat import ASSIST_UNFUNDED, NOW, Chat, bound, invite, rows
from tests.bot_peer import BotPeer, BotReply, bot_message
from tests.conftest import make_settings
from tests.fake_wechat_api import FakeWeChatApi
from tests.intake.media.samples import make_docx, png_bytes
from tests.peer import MovingClock, WeChatPeer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

GROUP = "wrkSFfCgAAtestgroupchatid"
Typed = Callable[[str], Awaitable[str]]


def _settings(db_url: str, fake: FakeWeChatApi, **bot: Any) -> Settings:
    base: str = fake.base  # type: ignore[attr-defined]
    settings = make_settings(db_url, wechat_api_base=base, wecom_api_base=base)
    return settings.model_copy(update={"wecom_bot": settings.wecom_bot.model_copy(update=bot)})


class Bot:
    """One WeCom member talking to the bot (and, for binding, to the WeCom app)."""

    def __init__(self, chat: Chat, peer: BotPeer) -> None:
        self.chat, self.peer, self.client = chat, peer, chat.client

    async def send(self, message: dict[str, Any], **kw: Any) -> BotReply:
        self.client.server.app[CLOCK].now = int(NOW.timestamp())
        return await self.peer.post(self.client, message, timestamp=int(NOW.timestamp()), **kw)

    async def answer(self, message: dict[str, Any]) -> str:
        """The receipt: in the reply, or (past the budget) from the stream refresh WeCom then sends."""
        reply = await self.send(message)
        assert reply.status == 200, reply.body
        if reply.stream.get("finish", True):
            return reply.content
        assert reply.content == texts_media.BOT_READING
        await asyncio.gather(*self.client.server.app[PENDING])
        refresh = await self.send(bot_message("stream", {"id": reply.stream["id"]}, user=message["from"]["userid"]))
        assert refresh.stream["finish"] is True and refresh.stream["id"] == reply.stream["id"]
        return refresh.content


async def _bot(aiohttp_client: Any, settings: Settings, user: str = "zhangsan") -> Bot:
    client = await aiohttp_client(create_app(settings, background=False, clock=MovingClock(NOW.timestamp())))
    chat = await bound(client, WeChatPeer(settings), user, Role.clerk, "民政局", channel="wecom")
    return Bot(chat, BotPeer(settings))


@pytest.fixture
async def bot(aiohttp_client: Any, sqlite_url: str, fake: FakeWeChatApi) -> Bot:
    return await _bot(aiohttp_client, _settings(sqlite_url, fake))


@pytest.fixture
async def typed(aiohttp_client: Any, tmp_path: Path, sqlite_template: Path, fake: FakeWeChatApi) -> Typed:
    """The receipt the same text gets when typed in the WeCom app, on a fresh database."""
    target = tmp_path / "typed" / "jianfu.db"
    target.parent.mkdir()
    shutil.copyfile(sqlite_template, target)
    settings = _settings(f"sqlite:///{target}", fake)
    client = await aiohttp_client(create_app(settings, background=False, clock=MovingClock(NOW.timestamp())))
    chat = await bound(client, WeChatPeer(settings), "lisi", Role.clerk, "民政局", channel="wecom")

    async def receipt(text: str) -> str:
        return (await chat.say(text)).content

    return receipt


def _encrypted_file(bot: Bot, fake: FakeWeChatApi, name: str, data: bytes, filename: str) -> str:
    fake.bot_files[name] = (bot.peer.encrypt_media(data), filename)
    return f"{fake.base}/bot/file/{name}"  # type: ignore[attr-defined]


async def test_url_verification_answers_the_decrypted_echostr_and_refuses_a_forged_one(bot: Bot) -> None:
    echo = bot.peer.prp._encrypt("8317025634952189", "").decode()
    query = bot.peer.query(echo, timestamp=int(NOW.timestamp())) | {"echostr": echo}
    resp = await bot.client.get("/wecom/bot", params=query)
    assert resp.status == 200 and await resp.text() == "8317025634952189"
    forged = bot.peer.query(echo, timestamp=int(NOW.timestamp()), token="not-the-token") | {"echostr": echo}
    assert (await bot.client.get("/wecom/bot", params=forged)).status == 403


async def test_group_mention_under_a_quoted_notice_gets_the_typed_receipt_and_keeps_the_group(
    bot: Bot, typed: Typed
) -> None:
    message = bot_message("text", {"content": "@减负通 "}, chat=GROUP,
                          quote={"msgtype": "text", "text": {"content": ASSIST_UNFUNDED}})
    reply = await bot.send(message)
    assert reply.stream["finish"] is True and reply.stream["id"] == message["msgid"]
    assert reply.content == await typed(ASSIST_UNFUNDED)
    assert await rows(bot.client, "SELECT raw_text, channel, source_type, source_chat FROM tasks") == [
        (ASSIST_UNFUNDED, "wecom", "text", GROUP)]
    again = await bot.send(message)  # WeCom's retry of the same msgid: the first answer, no second task
    assert again.content == reply.content
    assert len(await rows(bot.client, "SELECT id FROM tasks")) == 1


async def test_one_to_one_text_voice_and_commands_go_through_the_same_dialogue(bot: Bot, typed: Typed) -> None:
    voice = await bot.send(bot_message("voice", {"content": ASSIST_UNFUNDED}))
    receipt, _, note = voice.content.partition("\n——\n")
    assert receipt == await typed(ASSIST_UNFUNDED) and "语音" in note
    assert (await bot.send(bot_message("text", {"content": "无"}))).status == 200  # the funding question
    mine = await bot.send(bot_message("text", {"content": "我的任务"}))
    [(code, chat)] = await rows(bot.client, "SELECT code, source_chat FROM tasks")
    assert code in mine.content and chat is None  # one-to-one: no group


async def test_file_is_downloaded_decrypted_read_and_kept(bot: Bot, fake: FakeWeChatApi, typed: Typed) -> None:
    docx = make_docx(with_table=False, paragraphs=(ASSIST_UNFUNDED,))
    url = _encrypted_file(bot, fake, "f1", docx, "低保核查通知.docx")
    answer = await bot.answer(bot_message("file", {"url": url}, chat=GROUP))
    receipt, _, note = answer.partition("\n——\n")
    assert receipt == await typed(ASSIST_UNFUNDED)
    assert "Word" in note or "文档" in note
    [(source_type, name, sha256, chat)] = await rows(
        bot.client, "SELECT source_type, source_name, source_sha256, source_chat FROM tasks")
    assert (source_type, name, chat) == ("docx", "低保核查通知.docx", GROUP)
    media_dir = bot.client.server.app[SERVICES].settings.media_dir
    assert (media_dir / sha256[:2] / sha256).read_bytes() == docx


async def test_past_the_budget_the_stream_is_refreshed_until_the_receipt_is_stored(
    aiohttp_client: Any, sqlite_url: str, fake: FakeWeChatApi
) -> None:
    settings = _settings(sqlite_url, fake)
    settings = settings.model_copy(update={"server": settings.server.model_copy(update={"reply_budget_s": 0.001})})
    client = await aiohttp_client(create_app(settings, background=False, clock=MovingClock(NOW.timestamp())))
    bot = Bot(Chat(client, WeChatPeer(settings), "wangwu", "wecom"), BotPeer(settings))
    code = await invite(client, Role.clerk, department="民政局")
    bound_reply = await bot.answer(bot_message("text", {"content": f"绑定 {code}"}, user="wangwu"))
    assert "绑定成功" in bound_reply  # bound through the bot: the WeCom member's account
    assert await rows(client, "SELECT channel, external_id FROM accounts") == [("wecom", "wangwu")]
    url = _encrypted_file(bot, fake, "slow", ASSIST_UNFUNDED.encode("gb18030"), "通知.txt")
    answer = await bot.answer(bot_message("file", {"url": url}, user="wangwu"))
    assert answer.startswith("已登记") and "文本文件" in answer
    outbox = await rows(bot.client, "SELECT kind FROM outbox WHERE kind = 'late_reply'")
    assert outbox == []  # the bot fetched the receipt itself; nothing was pushed twice


async def test_mixed_message_reads_the_words_and_passes_over_a_blank_picture(bot: Bot, fake: FakeWeChatApi) -> None:
    blank = _encrypted_file(bot, fake, "blank", png_bytes(Image.new("RGB", (400, 200), "white")), "b.png")
    answer = await bot.answer(bot_message("mixed", {"msg_item": [
        {"msgtype": "text", "text": {"content": f"@减负通 {ASSIST_UNFUNDED}"}},
        {"msgtype": "image", "image": {"url": blank}}]}, chat=GROUP))
    assert answer.startswith("已登记")
    assert await rows(bot.client, "SELECT raw_text, source_type FROM tasks") == [(ASSIST_UNFUNDED, "text")]


async def test_unreadable_files_get_a_clear_answer_and_leave_nothing(bot: Bot, fake: FakeWeChatApi) -> None:
    blank = _encrypted_file(bot, fake, "blank", png_bytes(Image.new("RGB", (400, 200), "white")), "b.png")
    assert await bot.answer(bot_message("image", {"url": blank})) == NO_TEXT_IMAGE
    fake.bot_files["garbled"] = (b"not encrypted with the bot's key!" * 3, "x.docx")
    garbled = f"{fake.base}/bot/file/garbled"  # type: ignore[attr-defined]
    assert await bot.answer(bot_message("file", {"url": garbled})) == texts.MEDIA_DOWNLOAD_FAILED
    gone = f"{fake.base}/bot/file/expired"  # type: ignore[attr-defined]
    assert await bot.answer(bot_message("file", {"url": gone})) == texts.MEDIA_DOWNLOAD_FAILED
    assert await rows(bot.client, "SELECT id FROM tasks") == []
    media_dir = bot.client.server.app[SERVICES].settings.media_dir
    assert not media_dir.exists() or not any(media_dir.rglob("*"))


async def test_forged_malformed_and_foreign_callbacks_are_refused_and_store_nothing(
    aiohttp_client: Any, sqlite_url: str, fake: FakeWeChatApi
) -> None:
    bot = await _bot(aiohttp_client, _settings(sqlite_url, fake, aibot_id="AIBOTID"))
    notice = bot_message("text", {"content": ASSIST_UNFUNDED})
    assert (await bot.send(notice, token="forged")).status == 403
    query = bot.peer.query("x", timestamp=int(NOW.timestamp()))
    assert (await bot.client.post("/wecom/bot", params=query, data=b"<xml/>")).status == 400
    assert (await bot.send(notice | {"aibotid": "ANOTHER"})).status == 403
    broken = await bot.send({"msgtype": "text", "text": "not an object"})
    assert broken.status == 400
    assert await rows(bot.client, "SELECT id FROM tasks") == []


async def test_entering_the_chat_gets_the_welcome_and_an_unknown_type_a_clear_answer(bot: Bot) -> None:
    welcome = await bot.send(bot_message("event", {"eventtype": "enter_chat"}))
    assert welcome.message == {"msgtype": "text", "text": {"content": texts_media.BOT_WELCOME}}
    video = await bot.send(bot_message("video", {"url": "http://x/v"}))
    assert video.content == texts_media.BOT_UNSUPPORTED


async def test_a_disabled_bot_answers_404_naming_the_setting(aiohttp_client: Any, sqlite_url: str,
                                                            fake: FakeWeChatApi) -> None:
    settings = _settings(sqlite_url, fake, enabled=False)
    client = await aiohttp_client(create_app(settings, background=False, clock=MovingClock(NOW.timestamp())))
    resp = await client.post("/wecom/bot", data=json.dumps({"encrypt": "x"}))
    assert resp.status == 404 and "[wecom_bot] enabled" in await resp.text()


async def test_the_group_shows_on_the_console_task_page_and_in_the_export(bot: Bot) -> None:
    from intake.reports.export import TaskFilters, iter_task_records
    from tests.console_support import add_user, login

    await bot.send(bot_message("text", {"content": f"@减负通 {ASSIST_UNFUNDED}"}, chat=GROUP))
    [(code,)] = await rows(bot.client, "SELECT code FROM tasks")
    services = bot.client.server.app[SERVICES]
    async with services.engine.connect() as conn:
        records = [r async for r in iter_task_records(conn, filters=TaskFilters(), tz=services.settings.tz)]
    assert [r["source_chat"] for r in records] == [GROUP]
    await add_user(services.engine)
    await login(bot.client)
    page = await (await bot.client.get(f"/admin/tasks/{code}")).text()
    assert f"群ID {GROUP}" in page
