"""The console in real headless Chromium (Debian's chromium driven by Playwright), on a real port."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import web
from openpyxl import load_workbook

from intake.outbox import add_outbox_message
from intake.store.models import OUTBOX, TASKS
from tests.conftest import IN_CI
from tests.console_support import PASSWORD, add_user, build_app, scalar, seed_task

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.browser


@pytest.fixture
def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail("/usr/bin/chromium is missing; .ci/run must install Debian's chromium")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium fonts-noto-cjk)")
    return CHROMIUM


@pytest.fixture
async def server(settings, engine) -> AsyncIterator[str]:
    app = build_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def browser(chromium_path: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=chromium_path, args=ARGS)
        try:
            yield b
        finally:
            await b.close()


async def _login(page: Any, base: str) -> None:
    await page.goto(f"{base}/admin/tasks")
    await page.fill("input[name=username]", "wang")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/admin/tasks")


async def test_console_in_chromium(server, browser, engine, tmp_path):
    SHOTS.mkdir(parents=True, exist_ok=True)
    await add_user(engine)
    now = dt.datetime.now(dt.UTC)
    report = await seed_task(engine, raw_text="【区民政局】请各社区于12月5日前报送高龄老人花名册,共400户。",
                             received_at=now, deadline=dt.date(2099, 12, 5))
    await seed_task(engine, raw_text="【区城管局】请配合开展占道经营执法检查。", department="城管局", kind="adhoc",
                    listing="negative", item="N4", status="refused", received_at=now, communities=("光明社区",))
    unlisted = await seed_task(engine, raw_text="请各社区协助开展老年助餐点满意度回访,每社区50户。", kind="survey",
                               listing="unlisted", item=None, status="pending_review", received_at=now,
                               deadline=dt.date(2099, 1, 10))
    hostile = await seed_task(engine, raw_text="<script>alert('pwned')</script>请报送表格", received_at=now)

    context = await browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True,
                                        locale="zh-CN")
    page = await context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))

    await page.goto(f"{server}/admin/login")
    await page.screenshot(path=str(SHOTS / "login.png"))
    await _login(page, server)

    # filter the log
    await page.select_option("select[name=department]", "城管局")
    await page.click(".filters button[type=submit]")
    await page.wait_for_url("**department=*")
    rows = page.locator("table.log tbody tr")
    assert await rows.count() == 1
    assert "城管局" in await rows.first.inner_text()
    await page.goto(f"{server}/admin/tasks")
    await page.screenshot(path=str(SHOTS / "tasks.png"), full_page=True)

    # open a task and correct its kind
    await page.click(f"text={report}")
    await page.wait_for_url(f"**/admin/tasks/{report}")
    await page.select_option("#correct-form select[name=kind]", "ledger")
    await page.click("#correct-form button[type=submit]")
    await page.wait_for_selector(".flash.ok")
    assert "已更正" in await page.locator(".flash.ok").first.inner_text()
    assert await scalar(engine, sa.select(TASKS.c.kind).where(TASKS.c.code == report)) == "ledger"
    await page.screenshot(path=str(SHOTS / "task.png"), full_page=True)

    # admit an unlisted task from the review queue
    await page.goto(f"{server}/admin/review")
    await page.screenshot(path=str(SHOTS / "review.png"), full_page=True)
    await page.click(f"text={unlisted}")
    await page.fill("#admit-form input[name=basis]", "《养老服务条例》第十条")
    await page.fill("#admit-form input[name=funding]", "按每户20元拨付")
    await page.fill("#admit-form input[name=duration]", "2026年全年")
    await page.click("#admit-form button[type=submit]")
    await page.wait_for_selector(".flash.ok")
    assert "已准入" in await page.locator(".flash.ok").first.inner_text()
    assert await scalar(engine, sa.select(TASKS.c.status).where(TASKS.c.code == unlisted)) == "accepted"

    # a hostile message is shown as text, never run
    await page.goto(f"{server}/admin/tasks/{hostile}")
    assert "<script>alert('pwned')</script>" in await page.locator("#raw-text").inner_text()
    assert dialogs == []

    # export Excel and open it
    await page.goto(f"{server}/admin/tasks")
    async with page.expect_download() as info:
        await page.click("#export-xlsx")
    download = await info.value
    target = tmp_path / "tasks.xlsx"
    await download.save_as(str(target))
    sheet = load_workbook(target).active
    codes = {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert {report, unlisted, hostile} <= codes

    # a form post without the CSRF token is refused (same browser session, same cookies)
    resp = await page.request.post(f"{server}/admin/departments", form={"name": "伪造部门"})
    assert resp.status == 403
    assert "CSRF" in await resp.text()

    # every other page, and the digest's chart as the browser shows it
    await _dead_letter_and_inbox(engine)
    for name, path in PAGES:
        response = await page.goto(f"{server}{path}")
        assert response is not None and response.status == 200, path
        await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    await page.goto(f"{server}{_digest_path()}")
    img = "document.querySelector('figure.chart-png img')"
    await page.wait_for_function(f"{img}.complete", timeout=30_000)
    assert await page.evaluate(f"{img}.naturalWidth") == 1200, "the digest chart did not load"
    await context.close()

    # a phone
    phone = await browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                      has_touch=True, locale="zh-CN")
    page = await phone.new_page()
    await _login(page, server)
    await page.screenshot(path=str(SHOTS / "phone-tasks.png"), full_page=True)
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, f"the log page scrolls sideways on a phone ({width}px)"
    await page.goto(f"{server}/admin/tasks/{report}")
    await page.screenshot(path=str(SHOTS / "phone-task.png"), full_page=True)
    wide = []
    for name, path in PAGES:
        await page.goto(f"{server}{path}")
        await page.screenshot(path=str(SHOTS / f"phone-{name}.png"), full_page=True)
        width = await page.evaluate("document.documentElement.scrollWidth")
        if width > 400:
            wide.append(f"{path} ({width}px)")
    assert not wide, f"pages that scroll sideways on a phone: {wide}"
    await phone.close()


def _digest_path() -> str:
    month = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m")
    return f"/admin/digests/{month}/district"


PAGES = (
    ("dashboard", "/admin/"), ("review", "/admin/review"), ("lists", "/admin/lists"),
    ("directory", "/admin/directory"), ("accounts", "/admin/accounts"), ("invites", "/admin/invites"),
    ("digests", "/admin/digests"), ("digest", _digest_path()), ("ledger", "/admin/ledger"),
    ("outbox", "/admin/outbox"), ("simulator", "/admin/simulator"), ("users", "/admin/users"),
)


async def _dead_letter_and_inbox(engine: Any) -> None:
    now = dt.datetime.now(dt.UTC)
    async with engine.begin() as conn:
        dead = await add_outbox_message(conn, idempotency_key="shot-dead", channel="wecom_app", recipient="zhangsan",
                                        kind="reminder", subject="截止提醒", now=now,
                                        body="【截止提醒】R-20251120-0001 区民政局报表,明天截止。回复“完成 R-20251120-0001”标记完成。")
        await conn.execute(sa.update(OUTBOX).where(OUTBOX.c.id == dead).values(
            status="dead", attempts=5, last_error="errcode 60020: not allow to access from your ip, hint: [x]"))
        await add_outbox_message(conn, idempotency_key="shot-inbox", channel="inbox", recipient="幸福社区",
                                 kind="notice", subject="新任务", now=now,
                                 body="【新任务】R-20251120-0002 民政局报表,截止 12月05日。回复“任务”查看。")
