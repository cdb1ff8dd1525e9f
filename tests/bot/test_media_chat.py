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
from PIL import Image

from bot.app import create_app
from bot.chat import texts
from bot.keys import CLOCK, PENDING, SERVICES
from intake.media.texts import NO_TEXT_IMAGE
from intake.store.models import Role
from tests.bot.test_intake_chat import ASSIST_UNFUNDED, NOW, Chat, bound, rows
from tests.conftest import IN_CI, make_settings
from tests.fake_wechat_api import FakeWeChatApi
from tests.intake.media.conftest import find_cjk_font
from tests.intake.media.samples import png_bytes, render_notice
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
    await chat.say("无")  # [admission] unfunded_assist = "ask": the clerk answers the funding question first

    reply = await _send(chat, "link", f"<Title>入户核查</Title><Description>民政局通知</Description>"
                                      f"<Url>{elsewhere}</Url>")
    assert not fake.calls_to("/s/a3")
    assert (await rows(client, "SELECT raw_text FROM tasks ORDER BY id"))[1][0] == "入户核查\n民政局通知"


@pytest.fixture(scope="module")
def notice_png() -> bytes:
    font = find_cjk_font()
    if font is None:
        if IN_CI:
            pytest.fail("the Noto CJK font is missing; .ci/run must install fonts-noto-cjk")
        pytest.skip("the Noto CJK font is not installed (apt-get install fonts-noto-cjk); it runs under CI=true")
    return png_bytes(render_notice(font))


async def test_picture_is_read_by_ocr_kept_once_and_a_resend_is_recognised(
    clerk: Chat, typed: Typed, fake: FakeWeChatApi, notice_png: bytes
) -> None:
    fake.media["img-1"] = (notice_png, "img-1.jpg")
    fake.media["img-2"] = (notice_png, "img-2.jpg")
    answer = await _answer(clerk, await _send(clerk, "image", "<PicUrl>http://x/1.jpg</PicUrl><MediaId>img-1</MediaId>"))
    receipt, note = _receipt_and_note(answer)
    [(text, source_type, sha256, code)] = await rows(
        clerk.client, "SELECT raw_text, source_type, source_sha256, code FROM tasks")
    assert source_type == "image" and "低保" in text and "入户核查" in text
    assert receipt == await typed(text)
    assert "图片识别" in note and text[:40] in note and f"撤回 {code}" in note
    media_dir = clerk.client.server.app[SERVICES].settings.media_dir
    assert (media_dir / sha256[:2] / sha256).read_bytes() == notice_png
    again = await _answer(clerk, await _send(clerk, "image", "<PicUrl>http://x/2.jpg</PicUrl><MediaId>img-2</MediaId>"))
    assert again == texts.MEDIA_RESEND.format(code=code)
    assert len(await rows(clerk.client, "SELECT id FROM tasks")) == 1
    assert len(fake.calls_to("/cgi-bin/token")) == 1  # one access_token for both downloads


async def test_picture_without_chinese_gets_the_clear_answer_and_leaves_nothing(
    clerk: Chat, fake: FakeWeChatApi
) -> None:
    fake.media["blank"] = (png_bytes(Image.new("RGB", (600, 300), "white")), "blank.png")
    answer = await _answer(clerk, await _send(clerk, "image", "<PicUrl>http://x/b.jpg</PicUrl><MediaId>blank</MediaId>"))
    assert answer == NO_TEXT_IMAGE
    assert await rows(clerk.client, "SELECT id FROM tasks") == []
    media_dir = clerk.client.server.app[SERVICES].settings.media_dir
    assert not media_dir.exists() or not any(media_dir.rglob("*"))


async def test_media_download_refetches_an_expired_token_once_and_reports_a_missing_media_id(
    clerk: Chat, fake: FakeWeChatApi
) -> None:
    fake.media["doc"] = ("【区民政局】请各社区于12月25日前上报低保核查表。".encode(), "notice.txt")
    first = await _answer(clerk, await _send(clerk, "image", "<PicUrl>http://x/t.jpg</PicUrl><MediaId>doc</MediaId>"))
    assert first.startswith("已登记")
    fake.expire_tokens()
    gone = await _answer(clerk, await _send(clerk, "image", "<PicUrl>http://x/g.jpg</PicUrl><MediaId>gone</MediaId>"))
    assert gone == texts.MEDIA_DOWNLOAD_FAILED
    assert len(fake.calls_to("/cgi-bin/token")) == 2  # the stale token was replaced once
    assert len(await rows(clerk.client, "SELECT id FROM tasks")) == 1


async def test_wecom_picture_goes_through_the_wecom_media_api(aiohttp_client: Any, sqlite_url: str,
                                                               fake: FakeWeChatApi) -> None:
    client, peer = await _client(aiohttp_client, sqlite_url, fake)
    chat = await bound(client, peer, "zhangsan", Role.clerk, "民政局", channel="wecom")
    fake.media["wx-doc"] = (ASSIST_UNFUNDED.encode("gb18030"), "通知.txt")
    answer = await _answer(chat, await _send(chat, "image", "<PicUrl>http://x/w.jpg</PicUrl><MediaId>wx-doc</MediaId>"))
    assert answer.startswith("已登记") and "文本文件" in answer
    assert fake.calls_to("/cgi-bin/gettoken") and not fake.calls_to("/cgi-bin/token")
    assert await rows(client, "SELECT source_type, channel FROM tasks") == [("txt", "wecom")]


async def test_export_carries_the_source_type(clerk: Chat) -> None:
    from intake.reports.export import TaskFilters, iter_task_records, record_row

    await _send(clerk, "voice", f"<MediaId>v3</MediaId><Format>amr</Format><Recognition>{ASSIST_UNFUNDED}</Recognition>")
    await clerk.say(ASSIST_UNFUNDED.replace("68户", "70户"))
    services = clerk.client.server.app[SERVICES]
    async with services.engine.connect() as conn:
        records = [r async for r in iter_task_records(conn, filters=TaskFilters(), tz=services.settings.tz)]
    assert [r["source_type"] for r in records] == ["voice", "text"]
    assert "语音" in record_row(records[0]) and "文字" in record_row(records[1])


async def test_file_past_max_bytes_is_refused_while_it_downloads_and_leaves_nothing(
    aiohttp_client: Any, sqlite_url: str, fake: FakeWeChatApi
) -> None:
    client, peer = await _client(aiohttp_client, sqlite_url, fake, max_bytes=4096)
    chat = await bound(client, peer, "o-clerk-big", Role.clerk, "民政局")
    fake.media["big"] = (("通知" * 3000).encode(), "big.txt")
    answer = await _answer(chat, await _send(chat, "image", "<PicUrl>http://x/big.jpg</PicUrl><MediaId>big</MediaId>"))
    assert answer.startswith("文件太大") and "4 KB" in answer
    assert await rows(client, "SELECT id FROM tasks") == []
    media_dir = client.server.app[SERVICES].settings.media_dir
    assert not media_dir.exists() or not any(media_dir.rglob("*"))


async def test_console_task_page_shows_the_original_next_to_the_text_with_a_download(
    clerk: Chat, fake: FakeWeChatApi
) -> None:
    from tests.console_support import add_user, login

    original = "【区民政局】请各社区于12月25日前上报低保核查表。".encode("gb18030")
    fake.media["form"] = (original, "核查通知.txt")
    await _answer(clerk, await _send(clerk, "image", "<PicUrl>http://x/f.jpg</PicUrl><MediaId>form</MediaId>"))
    [(code,)] = await rows(clerk.client, "SELECT code FROM tasks")
    await _answer(clerk, await clerk.say(ASSIST_UNFUNDED))
    [(typed_code,)] = await rows(clerk.client, "SELECT code FROM tasks WHERE source_type = 'text'")
    client = clerk.client
    await add_user(client.server.app[SERVICES].engine)
    await login(client)
    page = await (await client.get(f"/admin/tasks/{code}")).text()
    assert "读自文本文件「核查通知.txt」" in page and f"/admin/tasks/{code}/original" in page
    assert "上报低保核查表" in page  # the text read from it, beside it
    download = await client.get(f"/admin/tasks/{code}/original")
    assert download.status == 200 and await download.read() == original
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert "attachment" in download.headers["Content-Disposition"]
    assert (await client.get(f"/admin/tasks/{code}/original?inline=1")).headers["Content-Type"] == \
        "application/octet-stream"  # only pictures are shown inline
    typed_page = await (await client.get(f"/admin/tasks/{typed_code}")).text()
    assert "下载原件" not in typed_page
    missing = await client.get(f"/admin/tasks/{typed_code}/original")
    assert missing.status == 404


async def test_app_opens_the_media_worker_from_the_media_settings(aiohttp_client: Any, sqlite_url: str,
                                                                   fake: FakeWeChatApi) -> None:
    from bot.keys import MEDIA_WORKER
    from intake.media import Unsupported

    client, _ = await _client(aiohttp_client, sqlite_url, fake, warm_start=True, ocr=False, max_pages=7)
    worker = client.server.app[MEDIA_WORKER]
    assert worker.limits.max_pages == 7 and worker.limits.max_bytes == 20 * 1024 * 1024
    read = await worker.extract(ASSIST_UNFUNDED.encode(), filename="a.txt")
    assert read.text == ASSIST_UNFUNDED
    with pytest.raises(Unsupported):  # ocr = false: pictures are refused with the reason
        await worker.extract(png_bytes(Image.new("RGB", (60, 30), "white")), filename="a.png")
