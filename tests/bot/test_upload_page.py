"""The upload page end to end: ``上传`` in chat (WeChat, WeCom bot), then the real app served with aiohttp's
test client and real multipart bodies: read a file, correct its text, submit; the receipt is queued for
the chat it was asked for in, and bad files, bad forms and used or expired links leave nothing behind."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from bot.app import create_app
from bot.chat import texts, texts_media
from bot.keys import CLOCK, HTTP, SERVICES
from bot.push.wecom_bot import WeComBotReplySender
from intake.senders import OutgoingMessage
from intake.store.models import Role
from tests.bot.test_intake_chat import ASSIST_UNFUNDED, NOW, Chat, bound, rows
from tests.bot.test_wecom_bot import Bot, _settings
from tests.bot_peer import BotPeer, bot_message
from tests.fake_wechat_api import FakeWeChatApi
from tests.intake.media.samples import FORM_HEADERS, make_docx, make_xlsx
from tests.peer import MovingClock, WeChatPeer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CORRECTED = ASSIST_UNFUNDED.replace("68户", "70户")
LINK = re.compile(r"https?://\S+/upload/[0-9a-f]{32}\?e=\d+&s=[0-9a-f]+")


async def _app(aiohttp_client: Any, db_url: str, fake: FakeWeChatApi, **media: Any) -> Any:
    settings = _settings(db_url, fake)
    settings = settings.model_copy(update={"media": settings.media.model_copy(update=media)})
    return await aiohttp_client(create_app(settings, background=False, clock=MovingClock(NOW.timestamp())))


@pytest.fixture
async def clerk(aiohttp_client: Any, sqlite_url: str, fake: FakeWeChatApi) -> Chat:
    client = await _app(aiohttp_client, sqlite_url, fake)
    return await bound(client, WeChatPeer(client.server.app[SERVICES].settings), "o-clerk-up", Role.clerk, "民政局")


async def _link(chat: Chat) -> str:
    reply = await chat.say("上传")
    found = LINK.search(reply.content)
    assert found is not None, reply.content
    assert "30分钟" in reply.content and "只能用一次" in reply.content
    parts = urlsplit(found.group(0))
    return f"{parts.path}?{parts.query}"


def _form(**fields: str | tuple[str, bytes]) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for name, value in fields.items():
        if isinstance(value, tuple):
            form.add_field(name, value[1], filename=value[0], content_type="application/octet-stream")
        else:
            form.add_field(name, value)
    return form


def _action(link: str, step: str) -> str:
    path, _, query = link.partition("?")
    return f"{path}/{step}?{query}"


def _leftovers(client: Any) -> list[Path]:
    media_dir = client.server.app[SERVICES].settings.media_dir
    return [p for p in media_dir.rglob("*") if p.is_file()] if media_dir.exists() else []


async def test_read_correct_submit_logs_the_corrected_text_and_queues_the_receipt_for_the_chat(
    clerk: Chat, aiohttp_client: Any, tmp_path: Path, sqlite_template: Path, fake: FakeWeChatApi
) -> None:
    client = clerk.client
    link = await _link(clerk)
    page = await client.get(link)
    assert page.status == 200 and 'type="file"' in await page.text()
    docx = make_docx(with_table=False, paragraphs=(ASSIST_UNFUNDED,))
    read = await client.post(_action(link, "read"), data=_form(file=("低保核查通知.docx", docx)))
    html = await read.text()
    assert read.status == 200 and ASSIST_UNFUNDED in html and "Word" in html and "<textarea" in html
    assert await rows(client, "SELECT id FROM tasks") == []  # nothing is logged before the clerk submits
    assert [p.parent.name for p in _leftovers(client)] == [".staging", ".staging"]  # kept aside, not an original

    done = await client.post(_action(link, "submit"), data=_form(text=CORRECTED))
    html = await done.text()
    assert done.status == 200 and texts_media.UPLOAD_SUBMITTED in html
    [(code, raw_text, source_type, name, sha256)] = await rows(
        client, "SELECT code, raw_text, source_type, source_name, source_sha256 FROM tasks")
    assert (raw_text, source_type, name) == (CORRECTED, "docx", "低保核查通知.docx")
    [(channel, recipient, kind, body)] = await rows(
        client, "SELECT channel, recipient, kind, body FROM outbox WHERE kind = 'upload_receipt'")
    assert (channel, recipient) == ("wechat", "o-clerk-up") and code in body and code in html
    assert [p.name for p in _leftovers(client)] == [sha256]  # the original, and no staged copy

    target = tmp_path / "typed" / "jianfu.db"  # the same text typed gets the same receipt
    target.parent.mkdir()
    shutil.copyfile(sqlite_template, target)
    typed_client = await _app(aiohttp_client, f"sqlite:///{target}", fake)
    typed = await bound(typed_client, WeChatPeer(typed_client.server.app[SERVICES].settings), "o-t", Role.clerk, "民政局")
    assert body.partition("\n——\n")[0] == (await typed.say(CORRECTED)).content

    again = await client.post(_action(link, "submit"), data=_form(text=CORRECTED))
    assert again.status == 410 and texts_media.UPLOAD_EXPIRED in await again.text()
    assert len(await rows(client, "SELECT id FROM tasks")) == 1


async def test_bad_files_get_a_clear_answer_on_the_page_and_leave_nothing(
    aiohttp_client: Any, sqlite_url: str, fake: FakeWeChatApi
) -> None:
    client = await _app(aiohttp_client, sqlite_url, fake, max_bytes=4096)
    chat = await bound(client, WeChatPeer(client.server.app[SERVICES].settings), "o-clerk-bad", Role.clerk, "民政局")
    link = await _link(chat)
    big = await client.post(_action(link, "read"), data=_form(file=("big.txt", ("通知" * 3000).encode())))
    assert big.status == 413 and "文件太大" in await big.text()
    broken = await client.post(_action(link, "read"), data=_form(file=("notice.docx", b"PK\x03\x04 not a docx")))
    assert broken.status == 400 and "文件" in await broken.text()
    empty = await client.post(_action(link, "read"), data=_form(note="no file here"))
    assert empty.status == 400 and texts_media.UPLOAD_NO_FILE in await empty.text()
    not_a_form = await client.post(_action(link, "read"), data=b"plain", headers={"Content-Type": "text/plain"})
    assert not_a_form.status == 400 and texts_media.UPLOAD_BAD_FORM in await not_a_form.text()
    unread = await client.post(_action(link, "submit"), data=_form(text=ASSIST_UNFUNDED))
    assert unread.status == 400  # nothing was read with this link yet
    assert await rows(client, "SELECT id FROM tasks") == [] and _leftovers(client) == []
    assert (await client.get(link)).status == 200  # the link is still good for a proper file


async def test_empty_text_is_refused_and_the_link_stays_usable(clerk: Chat) -> None:
    link = await _link(clerk)
    await clerk.client.post(_action(link, "read"), data=_form(file=("n.txt", ASSIST_UNFUNDED.encode())))
    blank = await clerk.client.post(_action(link, "submit"), data=_form(text="  \n "))
    assert blank.status == 400 and texts_media.UPLOAD_EMPTY_TEXT in await blank.text()
    done = await clerk.client.post(_action(link, "submit"), data=_form(text=ASSIST_UNFUNDED))
    assert done.status == 200 and len(await rows(clerk.client, "SELECT id FROM tasks")) == 1


async def test_forged_expired_and_unbound_links_are_refused(clerk: Chat) -> None:
    link = await _link(clerk)
    forged = re.sub(r"s=[0-9a-f]+", "s=" + "0" * 32, link)
    assert (await clerk.client.get(forged)).status == 403
    clerk.client.server.app[CLOCK].now = NOW.timestamp() + 31 * 60  # past the link's 30 minutes
    expired = await clerk.client.get(link)
    assert expired.status == 403 and texts_media.UPLOAD_EXPIRED in await expired.text()
    stranger = Chat(clerk.client, clerk.peer, "o-stranger")
    reply = await stranger.say("上传")
    assert LINK.search(reply.content) is None and reply.content == texts.HELP_UNBOUND


async def test_upload_asked_in_a_bot_group_answers_through_its_response_url(
    aiohttp_client: Any, sqlite_url: str, fake: FakeWeChatApi
) -> None:
    client = await _app(aiohttp_client, sqlite_url, fake)
    settings = client.server.app[SERVICES].settings
    chat = await bound(client, WeChatPeer(settings), "zhaoliu", Role.clerk, "民政局", channel="wecom")
    bot = Bot(chat, BotPeer(settings))
    response_url = f"{fake.base}/bot/response/r1"  # type: ignore[attr-defined]
    asked = await bot.send(bot_message("text", {"content": "@减负通 上传"}, user="zhaoliu", chat="wrkGROUP",
                                       response_url=response_url))
    found = LINK.search(asked.content)
    assert found is not None, asked.content
    parts = urlsplit(found.group(0))
    link = f"{parts.path}?{parts.query}"
    await client.post(_action(link, "read"), data=_form(file=("n.txt", ASSIST_UNFUNDED.encode())))
    await client.post(_action(link, "submit"), data=_form(text=ASSIST_UNFUNDED))
    assert await rows(client, "SELECT source_chat, channel FROM tasks") == [("wrkGROUP", "wecom")]
    [(channel, body, payload)] = await rows(client, "SELECT channel, body, payload FROM outbox "
                                                    "WHERE kind = 'upload_receipt'")
    assert channel == "wecom_bot" and response_url in str(payload)

    sender = WeComBotReplySender(client.server.app[HTTP])
    message = OutgoingMessage(recipient="zhaoliu", body=body, now=NOW, channel="wecom_bot",
                              payload={"response_url": response_url})
    assert (await sender.send(message)).ok
    assert fake.bot_replies == [{"msgtype": "markdown", "markdown": {"content": body}}]
    again = await sender.send(message)  # a response_url answers once
    assert not again.ok and again.permanent


async def test_an_uploaded_excel_form_is_logged_and_registered_in_the_form_catalogue(clerk: Chat) -> None:
    client = clerk.client
    link = await _link(clerk)
    read = await client.post(_action(link, "read"), data=_form(file=("低保核查表.xlsx", make_xlsx())))
    assert read.status == 200 and "低保核查表" in await read.text()
    done = await client.post(_action(link, "submit"), data=_form(text=ASSIST_UNFUNDED))
    assert done.status == 200
    [(task_id, source_type)] = await rows(client, "SELECT id, source_type FROM tasks")
    [(form_id, name, source, fields)] = await rows(client, "SELECT id, name, source, fields FROM forms")
    assert (source_type, name, source) == ("xlsx", "低保核查表", "attachment")
    assert set(FORM_HEADERS) <= set(json.loads(fields) if isinstance(fields, str) else fields)
    assert await rows(client, "SELECT form_id, task_id FROM form_sends") == [(form_id, task_id)]
