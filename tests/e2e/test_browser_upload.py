"""The upload page in real headless Chromium (Debian's chromium driven by Playwright), on a real port:
``上传`` in chat, then choose a file, read it, correct the text and submit, as a clerk on a phone would."""

from __future__ import annotations

import datetime as dt
import html
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web

from bot.app import create_app
from bot.keys import SERVICES
from bot.settings import Settings
from intake.accounts import add_invite
from intake.store.models import Role
from tests.conftest import make_settings
from tests.e2e.test_browser_console import ARGS, chromium_path  # noqa: F401  (fixture)
from tests.peer import WeChatPeer, text_xml

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

NOTICE = "【区民政局】请各社区于12月25日前对辖区低保家庭开展入户核查,共68户,填写核查表后报社会救助科。"
LINK = re.compile(r"/upload/[0-9a-f]{32}\?e=\d+&s=[0-9a-f]+")


@pytest.fixture
async def served(sqlite_url: str) -> AsyncIterator[tuple[str, web.Application, Settings]]:
    settings = make_settings(sqlite_url)
    app = create_app(settings, background=False)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}", app, settings
    finally:
        await runner.cleanup()


async def _say(http: aiohttp.ClientSession, peer: WeChatPeer, text: str) -> str:
    ts = int(time.time())
    xml = text_xml(from_user="o-phone-clerk", content=text, create_time=ts)
    reply = await peer.post_wechat(http, xml, timestamp=ts)
    return html.unescape(reply.content)


async def test_a_clerk_uploads_corrects_and_submits_in_chromium(
    served: tuple[str, web.Application, Settings], chromium_path: str, tmp_path: Path  # noqa: F811
) -> None:
    from playwright.async_api import async_playwright

    base, app, settings = served
    async with app[SERVICES].engine.begin() as conn:
        code = await add_invite(conn, role=Role.clerk, department="民政局", now=dt.datetime.now(dt.UTC))
    peer = WeChatPeer(settings)
    async with aiohttp.ClientSession(base_url=base) as http:
        assert "绑定成功" in await _say(http, peer, f"绑定 {code}")
        found = LINK.search(await _say(http, peer, "上传"))
    assert found is not None
    notice = tmp_path / "通知.txt"
    notice.write_bytes(NOTICE.replace("68户", "86户").encode("gb18030"))  # the file has a typo to correct

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=ARGS)
        page = await browser.new_page(viewport={"width": 390, "height": 844})  # a phone
        await page.goto(f"{base}{found.group(0)}")
        await page.set_input_files("input#file", str(notice))
        await page.click("button:has-text('读取文字')")
        await page.wait_for_selector("textarea#text")
        assert "86户" in await page.input_value("textarea#text")
        await page.fill("textarea#text", NOTICE)
        await page.click("button:has-text('提交登记')")
        await page.wait_for_selector("pre")
        receipt = await page.inner_text("pre")
        colour = await page.eval_on_selector("body", "e => getComputedStyle(e).backgroundColor")
        await browser.close()
    assert receipt.startswith("已登记")
    assert colour == "rgb(246, 247, 249)"  # the page's stylesheet loads under the site's CSP
    async with app[SERVICES].engine.connect() as conn:
        rows = (await conn.execute(sa.text("SELECT raw_text, source_type FROM tasks"))).all()
    assert [tuple(r) for r in rows] == [(NOTICE, "txt")]
