"""The console's side of the community's work: task source filter, the community page, corrections, ledgers."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import load_workbook

from bot.app import create_app
from tests.bot.test_community_chat import LEVY, NOW, rows
from tests.conftest import make_settings
from tests.console_support import add_user, login
from tests.e2e.test_community_month import HEAD, bind, say
from tests.peer import MovingClock, WeChatPeer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
async def console(aiohttp_client, sqlite_url, engine):
    await add_user(engine)
    settings = make_settings(sqlite_url)
    client = await aiohttp_client(create_app(settings, background=False, clock=MovingClock(NOW.timestamp())))
    peer = WeChatPeer(settings)
    await bind(client, peer, HEAD, NOW - dt.timedelta(days=1), community="幸福社区")
    return client, peer


@pytest.fixture
def settings(sqlite_url):
    return make_settings(sqlite_url)


async def test_the_intake_log_shows_and_filters_the_source(console) -> None:
    client, peer = console
    await say(client, peer, HEAD, LEVY, NOW)
    await login(client)
    page = await (await client.get("/admin/tasks", params={"source": "community"})).text()
    assert "社区报送" in page and "R-20261207-0001" in page
    page = await (await client.get("/admin/tasks", params={"source": "bot"})).text()
    assert "R-20261207-0001" not in page


async def test_community_page_lists_corrects_removes_and_exports_the_ledgers(console) -> None:
    client, peer = console
    await say(client, peer, HEAD, "证明 3 银行 贷款资信", NOW)
    await say(client, peer, HEAD, "检查 应急管理局 暗访 2小时", NOW + dt.timedelta(minutes=1))
    token = await login(client)
    (community,) = await rows(client, "SELECT id FROM communities WHERE name = '幸福社区'")
    base = f"/admin/communities/{community.id}/work"
    page = await (await client.get(base, params={"month": "2026-12"})).text()
    assert "证明 3 银行 贷款资信" in page and "按清单不应出具" in page
    cert, inspection = await rows(client, "SELECT id FROM counter_entries ORDER BY id")
    bad = await client.post(f"{base}/{cert.id}", data={"csrf_token": token, "line": "证明 银行", "day": "2026-12-07"})
    assert "未保存" in await bad.text() and "缺少" in await bad.text()
    await client.post(f"{base}/{cert.id}", data={"csrf_token": token, "line": "证明 2 居民 居住", "day": "2026-12-06"})
    await client.post(f"{base}/{inspection.id}", data={"csrf_token": token, "line": "", "remove": "1"})
    kept = await rows(client, "SELECT party, subject, count, decision, day, removed FROM counter_entries ORDER BY id")
    assert [(k.party, k.subject, k.count, k.decision, str(k.day), bool(k.removed)) for k in kept] == [
        ("居民", "居住", 2, "issue", "2026-12-06", False), ("应急管理局", "暗访", 1, None, "2026-12-07", True)]
    audit = await rows(client, "SELECT actor, action FROM audit_log WHERE entity = 'counter_entry' ORDER BY id")
    assert [(a.actor, a.action) for a in audit][-2:] == [("admin:wang", "correct"), ("admin:wang", "remove")]
    resp = await client.get(f"{base}.xlsx", params={"month": "2026-12"})
    assert resp.status == 200
    wb = load_workbook(io.BytesIO(await resp.read()))
    assert wb.sheetnames == ["证明出具台账", "迎检记录", "会议记录", "借调记录", "多平台录入"]
    sheet = wb["证明出具台账"]
    assert [c.value for c in sheet[3]][2:7] == ["居住", "居民", 2, "出具", "社区应出具"]
    assert sheet.max_row == 3 and wb["迎检记录"].max_row == 2  # the removed inspection is not in the book
    assert (await client.get(f"{base}", params={"month": "2026-13"})).status == 400
    assert (await client.get("/admin/communities/999/work")).status == 404


async def test_a_heads_signed_digest_link_opens_read_only_and_expires(console) -> None:
    from bot.keys import SERVICES
    from intake.links import build_digest_link

    client, peer = console
    await say(client, peer, HEAD, "证明 3 银行 贷款资信", NOW)
    services = client.server.app[SERVICES]
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    link = build_digest_link("", services.link_secret, community="幸福社区", month="2026-12", expires_at=future)
    page = await client.get(link)
    assert page.status == 200 and "幸福社区2026年12月减负月报" in await page.text()
    assert "按时率" in await page.text()  # the community's own figures, for itself only
    assert (await client.get(link.replace("2026-12", "2026-11"))).status == 403  # signed for one month only
    other = link.replace("%E5%B9%B8%E7%A6%8F", "%E5%92%8C%E5%B9%B3")  # 幸福 → 和平: another community
    assert (await client.get(other)).status == 403
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    expired = build_digest_link("", services.link_secret, community="幸福社区", month="2026-12", expires_at=past)
    resp = await client.get(expired)
    assert resp.status == 403 and "已过期" in await resp.text()
    assert (await client.post(link)).status == 405  # read-only


async def test_the_dashboard_shows_no_on_time_rates_of_communities(console) -> None:
    client, _ = console
    await login(client)
    for params in ({}, {"community": "幸福社区"}):
        page = await (await client.get("/admin/", params=params)).text()
        assert "按时" not in page
