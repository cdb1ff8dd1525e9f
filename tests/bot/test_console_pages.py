"""Console users, the outbox page, digest pages and the WeCom simulator (SQLite and a real PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import io
import re
import struct
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from bot.console.markdown import markdown_to_html
from bot.console.views.digests import BUILT, KEEP_MAX, KEEP_S, BuiltDigests
from intake.outbox import add_outbox_message
from intake.store.models import ACCOUNTS, ADMIN_USERS, LOGIN_THROTTLE, OUTBOX, TASKS
from intake.store.models import AUDIT_LOG as AUDIT
from tests.console_support import PASSWORD, add_user, build_app, login, scalar, seed_task

# --- console users -------------------------------------------------------------------------------

async def test_users_page_is_for_admins_only(console, engine):
    await add_user(engine, "li", role="viewer")
    token = await login(console, "li")
    assert "后台用户" not in await (await console.get("/admin/")).text()
    resp = await console.get("/admin/users")
    assert resp.status == 403 and "只有管理员" in await resp.text()
    resp = await console.post("/admin/users", data={"csrf_token": token, "username": "x", "password": PASSWORD,
                                                   "password2": PASSWORD})
    assert resp.status == 403


async def test_create_user_hashes_with_argon2_and_can_log_in(console, engine):
    token = await login(console)
    resp = await console.post("/admin/users", data={"csrf_token": token, "username": "zhao", "role": "viewer",
                                                   "password": "zhao-pass-1", "password2": "zhao-pass-1"})
    text = await resp.text()
    assert resp.status == 200 and "已创建后台用户 zhao" in text and "zhao-pass-1" not in text
    stored = await scalar(engine, sa.select(ADMIN_USERS.c.password_hash).where(ADMIN_USERS.c.username == "zhao"))
    assert stored.startswith("$argon2")
    assert await scalar(engine, sa.select(AUDIT.c.actor).where(AUDIT.c.entity == "admin_user",
                                                               AUDIT.c.entity_id == 2)) == "admin:wang"
    await console.post("/admin/logout", data={"csrf_token": token})
    await login(console, "zhao", "zhao-pass-1")


async def test_create_user_errors_are_explained(console):
    token = await login(console)
    cases = [
        ({"username": "wang", "password": PASSWORD, "password2": PASSWORD}, "已存在"),
        ({"username": "zhou", "password": "short", "password2": "short"}, "至少 8 位"),
        ({"username": "zhou", "password": "long-enough-1", "password2": "long-enough-2"}, "不一致"),
        ({"username": "zhou", "role": "root", "password": PASSWORD, "password2": PASSWORD}, "角色"),
    ]
    for form, message in cases:
        resp = await console.post("/admin/users", data={"csrf_token": token, **form})
        assert message in await resp.text(), form


async def test_reset_password_clears_the_users_failed_logins(console, engine):
    other = await add_user(engine, "sun")
    async with engine.begin() as conn:
        await conn.execute(sa.insert(LOGIN_THROTTLE).values(
            key="user:sun", failures=9, last_failed_at=dt.datetime.now(dt.UTC),
            retry_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)))
    token = await login(console)
    resp = await console.post(f"/admin/users/{other}/password", data={"csrf_token": token, "password": "new-pass-99",
                                                                     "password2": "new-pass-99"})
    assert "已重置 sun 的密码" in await resp.text()
    assert await scalar(engine, sa.select(sa.func.count()).select_from(LOGIN_THROTTLE)) == 0
    await console.post("/admin/logout", data={"csrf_token": token})
    await login(console, "sun", "new-pass-99")


async def test_deactivate_user_ends_their_session_but_never_your_own(console, engine, aiohttp_client, settings):
    other = await add_user(engine, "qian")
    second = await aiohttp_client(build_app(settings))
    await login(second, "qian")
    token = await login(console)
    me = await scalar(engine, sa.select(ADMIN_USERS.c.id).where(ADMIN_USERS.c.username == "wang"))
    resp = await console.post(f"/admin/users/{me}/active", data={"csrf_token": token, "active": "0"})
    assert "不能停用自己" in await resp.text()
    resp = await console.post(f"/admin/users/{other}/active", data={"csrf_token": token, "active": "0"})
    assert "已停用后台用户 qian" in await resp.text()
    assert (await second.get("/admin/tasks", allow_redirects=False)).status == 303  # logged out
    await console.post(f"/admin/users/{other}/active", data={"csrf_token": token, "active": "1"})
    assert await scalar(engine, sa.select(ADMIN_USERS.c.active).where(ADMIN_USERS.c.id == other)) is True


async def test_password_reset_ends_their_sessions_but_keeps_your_own(console, engine, aiohttp_client, settings):
    other = await add_user(engine, "zhou")
    second = await aiohttp_client(build_app(settings))
    await login(second, "zhou")
    assert (await second.get("/admin/tasks", allow_redirects=False)).status == 200
    token = await login(console)
    resp = await console.post(f"/admin/users/{other}/password", data={"csrf_token": token, "password": "reset-pass-7",
                                                                     "password2": "reset-pass-7"})
    assert "已重置 zhou 的密码" in await resp.text()
    assert (await second.get("/admin/tasks", allow_redirects=False)).status == 303  # the old password's session ended
    await login(second, "zhou", "reset-pass-7")
    assert (await second.get("/admin/tasks", allow_redirects=False)).status == 200
    # resetting one's own password keeps the session it was done from
    me = await scalar(engine, sa.select(ADMIN_USERS.c.id).where(ADMIN_USERS.c.username == "wang"))
    resp = await console.post(f"/admin/users/{me}/password", data={"csrf_token": token, "password": "mine-pass-88",
                                                                  "password2": "mine-pass-88"})
    assert "已重置 wang 的密码" in await resp.text()
    assert (await console.get("/admin/tasks", allow_redirects=False)).status == 200


async def test_last_active_admin_cannot_be_deactivated(engine):
    from intake.console_users import set_admin_active
    from intake.errors import InvalidRequest

    only = await add_user(engine, "solo")
    viewer = await add_user(engine, "viewer1", role="viewer")
    async with engine.begin() as conn:
        with pytest.raises(InvalidRequest, match="最后一位"):
            await set_admin_active(conn, user_id=only, active=False, actor_id=viewer, actor="t",
                                   now=dt.datetime.now(dt.UTC))


async def test_users_form_without_csrf_is_refused(console, engine):
    await login(console)
    resp = await console.post("/admin/users", data={"username": "evil", "password": PASSWORD, "password2": PASSWORD})
    assert resp.status == 403
    assert await scalar(engine, sa.select(sa.func.count()).select_from(ADMIN_USERS)) == 1


# --- outbox: dead letters and inbox --------------------------------------------------------------

async def _queue(engine, key: str, *, channel: str = "wecom_app", dead: bool = False, body: str = "提醒") -> int:
    now = dt.datetime.now(dt.UTC)
    async with engine.begin() as conn:
        message_id = await add_outbox_message(conn, idempotency_key=key, channel=channel, recipient="zhangsan",
                                              kind="reminder", body=body, subject="截止提醒", now=now)
        assert message_id is not None
        if dead:
            await conn.execute(sa.update(OUTBOX).where(OUTBOX.c.id == message_id).values(
                status="dead", attempts=5, last_error="errcode 60020: not allow to access from your ip"))
    return message_id


async def test_dead_letters_are_visible_and_can_be_retried(console, engine):
    dead = await _queue(engine, "k-dead", dead=True, body="<script>x</script>请于明日前报送")
    await _queue(engine, "k-ok")
    token = await login(console)
    dashboard = await (await console.get("/admin/")).text()
    assert 'id="dead-letters"' in dashboard and "消息投递失败" in dashboard
    page = await (await console.get("/admin/outbox")).text()
    assert "errcode 60020" in page and "投递失败(1)" in page and "&lt;script&gt;" in page
    resp = await console.post(f"/admin/outbox/{dead}/retry", data={"csrf_token": token})
    assert "已重新排队" in await resp.text()
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(OUTBOX.c.status, OUTBOX.c.attempts).where(OUTBOX.c.id == dead))).one()
    assert row.status == "pending" and row.attempts == 0
    resp = await console.post(f"/admin/outbox/{dead}/retry", data={"csrf_token": token})
    assert "不在“投递失败”状态" in await resp.text()
    assert 'id="dead-letters"' not in await (await console.get("/admin/")).text()


async def test_inbox_messages_and_mark_read(console, engine):
    message = await _queue(engine, "k-inbox", channel="inbox", body="【新任务】R-1 请报送")
    token = await login(console)
    page = await (await console.get("/admin/outbox")).text()
    assert "【新任务】R-1 请报送" in page and "未读" in page
    resp = await console.post(f"/admin/outbox/{message}/read", data={"csrf_token": token})
    assert "已标为已读" in await resp.text()
    assert await scalar(engine, sa.select(OUTBOX.c.read_at).where(OUTBOX.c.id == message)) is not None


async def test_viewer_sees_dead_letters_but_cannot_retry(console, engine):
    dead = await _queue(engine, "k-dead-2", dead=True)
    await add_user(engine, "li", role="viewer")
    token = await login(console, "li")
    page = await (await console.get("/admin/outbox")).text()
    assert "errcode 60020" in page and "重新投递" not in page
    assert (await console.post(f"/admin/outbox/{dead}/retry", data={"csrf_token": token})).status == 403


# --- digests -------------------------------------------------------------------------------------

async def _seed_month(engine):
    at = dt.datetime(2025, 11, 10, 9, tzinfo=dt.UTC)
    await seed_task(engine, received_at=at)
    await seed_task(engine, received_at=at, department="<b>坏</b>局", kind="meeting", communities=("幸福社区",))
    await seed_task(engine, received_at=at, listing="negative", item="N4", status="refused", department="城管局")


async def test_digest_page_renders_markdown_safely(console, engine):
    await _seed_month(engine)
    await login(console)
    resp = await console.get("/admin/digests/2025-11/district")
    text = await resp.text()
    assert resp.status == 200, text
    assert "2025年11月减负月报" in text
    assert '<table class="md">' in text and "<strong>3</strong>" in text
    assert "&lt;b&gt;坏&lt;/b&gt;局" in text and "<b>坏</b>" not in text
    assert "/admin/digests/2025-11/district/chart.png" in text
    assert "/admin/digests/2025-11/district/digest.xlsx" in text
    community = await console.get(f"/admin/digests/2025-11/{quote('幸福社区')}")
    assert community.status == 200 and "幸福社区2025年11月减负月报" in await community.text()


async def test_digest_chart_png_and_workbook(console, engine):
    await _seed_month(engine)
    await login(console)
    resp = await console.get("/admin/digests/2025-11/district/chart.png")
    assert resp.status == 200 and resp.content_type == "image/png"
    data = await resp.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (1200, 700)
    resp = await console.get(f"/admin/digests/2025-11/{quote('幸福社区')}/digest.xlsx")
    assert resp.status == 200 and "attachment" in resp.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(await resp.read()))
    assert wb.sheetnames[0] == "概览" and wb["概览"]["B1"].value == "幸福社区2025年11月减负月报"
    resp = await console.get("/admin/digests/2025-11/district/digest.json")
    assert (await resp.json())["tasks"] == 3


async def test_a_built_digest_is_served_again_for_a_minute(console, engine):
    """The page, then its JSON: one build. A task stored meanwhile shows once the minute is over."""
    await _seed_month(engine)
    await login(console)
    assert (await (await console.get("/admin/digests/2025-11/district/digest.json")).json())["tasks"] == 3
    await seed_task(engine, received_at=dt.datetime(2025, 11, 20, 2, 0, tzinfo=dt.UTC))
    assert (await (await console.get("/admin/digests/2025-11/district/digest.json")).json())["tasks"] == 3
    admin = next(r.get_info()["app"] for r in console.server.app.router.resources()
                 if r.get_info().get("prefix") == "/admin")
    kept = admin[BUILT]
    kept._kept = {key: (at - KEEP_S, digest) for key, (at, digest) in kept._kept.items()}  # a minute later
    assert (await (await console.get("/admin/digests/2025-11/district/digest.json")).json())["tasks"] == 4


async def test_a_sent_month_is_served_from_its_archive_and_fresh_rebuilds_it(console, engine, settings):
    """The monthly run's archive is the page (what the recipients got, at once, at any log size); a task
    corrected or stored since shows with ?fresh=1, which says so."""
    from intake.reports.digest import build_monthly_digests
    from intake.reports.monthly import archive_digest
    from intake.reports.render import from_json, render_markdown, to_json

    await _seed_month(engine)
    sent_at = dt.datetime(2025, 12, 1, 1, 0, tzinfo=dt.UTC)
    async with engine.begin() as conn:
        built = await build_monthly_digests(conn, month="2025-11", settings=settings, now=sent_at)
        for digest in built:
            await archive_digest(conn, digest=digest, now=sent_at)
    for digest in built:  # the archive renders as the digest did
        assert render_markdown(from_json(to_json(digest))) == render_markdown(digest)
    await seed_task(engine, received_at=dt.datetime(2025, 11, 20, 2, 0, tzinfo=dt.UTC))
    await login(console)
    page = await (await console.get("/admin/digests/2025-11/district")).text()
    assert 'id="digest-archived"' in page and "<strong>3</strong>" in page
    assert 'href="/admin/digests/2025-11/district?fresh=1"' in page
    assert (await (await console.get("/admin/digests/2025-11/district/digest.json")).json())["tasks"] == 3
    fresh = await (await console.get("/admin/digests/2025-11/district?fresh=1")).text()
    assert "<strong>4</strong>" in fresh and "按当前台账数据生成" in fresh and "digest.json?fresh=1" in fresh
    assert (await (await console.get("/admin/digests/2025-11/district/digest.json?fresh=1")).json())["tasks"] == 4


async def test_an_archive_of_an_older_shape_is_built_from_the_log(console, engine):
    await _seed_month(engine)
    async with engine.begin() as conn:
        await conn.execute(sa.text(
            "INSERT INTO digests (month, scope, content, created_at) VALUES ('2025-11', 'district', "
            "'{\"tasks\": 0}', '2025-12-01 00:00:00+00')"))
    await login(console)
    assert (await (await console.get("/admin/digests/2025-11/district/digest.json")).json())["tasks"] == 3


def test_built_digests_are_bounded() -> None:
    kept, digest = BuiltDigests(), object()
    for i in range(KEEP_MAX + 5):
        kept.put((f"2025-{i:02d}", "district"), digest, now=float(i))  # type: ignore[arg-type]
    assert kept.get(("2025-00", "district"), now=float(KEEP_MAX + 5)) is None
    assert kept.get((f"2025-{KEEP_MAX + 4:02d}", "district"), now=float(KEEP_MAX + 5)) is digest
    assert len(kept._kept) == KEEP_MAX
    assert kept.get((f"2025-{KEEP_MAX + 4:02d}", "district"), now=KEEP_MAX + 5 + KEEP_S) is None


async def test_digest_errors_name_what_to_fix(console):
    await login(console)
    resp = await console.get("/admin/digests/2025-13/district")
    assert resp.status == 400 and "YYYY-MM" in await resp.text()
    resp = await console.get(f"/admin/digests/2025-11/{quote('不存在社区')}")
    assert resp.status == 404 and "不存在社区" in await resp.text()


async def test_digest_archive_links_to_month_and_scope(console, engine):
    async with engine.begin() as conn:
        await conn.execute(sa.text(
            "INSERT INTO digests (month, scope, content, created_at) VALUES ('2025-10', 'district', "
            "'{\"tasks\": 0}', '2025-11-01 00:00:00+00')"))
    await login(console)
    archive = await (await console.get("/admin/digests")).text()
    assert "/admin/digests/2025-10/district" in archive
    resp = await console.get("/admin/digests/1", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/admin/digests/2025-10/district"
    dashboard = await (await console.get("/admin/", params={"month": "2025-10"})).text()
    assert 'href="/admin/digests/2025-10/district"' in dashboard
    resp = await console.get("/admin/digests/view", params={"month": "2025-09", "scope": "幸福社区"},
                             allow_redirects=False)
    assert resp.headers["Location"] == f"/admin/digests/2025-09/{quote('幸福社区')}"


def test_markdown_converter_escapes_and_handles_the_digest_subset():
    html = str(markdown_to_html(
        "# 标题 <i>\n\n- 收到 **3** 件\n- 第二项\n\n| 部门 | 件数 |\n|---|---:|\n| <script> | 2 |\n\n"
        "1. 民政局:4 小时\n2. 城管局\n\n普通段落 & 更多\n"))
    assert "<h2>标题 &lt;i&gt;</h2>" in html
    assert "<ul><li>收到 <strong>3</strong> 件</li><li>第二项</li></ul>" in html
    assert '<th class="num">件数</th>' in html and "<td>&lt;script&gt;</td>" in html
    assert "<ol><li>民政局:4 小时</li><li>城管局</li></ol>" in html
    assert "<p>普通段落 &amp; 更多</p>" in html
    assert "<script>" not in html and "<i>" not in html


# --- simulator over WeCom ------------------------------------------------------------------------

@pytest.fixture
async def wecom_console(aiohttp_client, settings, engine):
    await add_user(engine)
    app = build_app(settings)
    return await aiohttp_client(app)


async def test_simulator_binds_and_sends_through_wecom(wecom_console, engine):
    console = wecom_console
    token = await login(console)
    page = await (await console.get("/admin/simulator")).text()
    assert '<option value="wecom"' in page
    resp = await console.post("/admin/simulator", data={"csrf_token": token, "bind_role": "clerk",
                                                        "bind_target": "民政局", "channel": "wecom",
                                                        "openid": "zhangsan"})
    text = await resp.text()
    assert resp.status == 200 and "HTTP 200" in text and "企业微信 · zhangsan" in text, text
    assert await scalar(engine, sa.select(ACCOUNTS.c.role).where(
        ACCOUNTS.c.channel == "wecom", ACCOUNTS.c.external_id == "zhangsan")) == "clerk"
    resp = await console.post("/admin/simulator", data={
        "csrf_token": token, "account": "wecom:zhangsan",
        "message": "【区民政局】请各社区于12月5日前报送高龄老人花名册。"})
    text = await resp.text()
    assert resp.status == 200 and "R-" in text, text
    assert await scalar(engine, sa.select(TASKS.c.channel)) == "wecom"


async def test_simulator_offers_wecom_when_the_app_provides_it(console):
    # bot/app.py gives the console WeCom's crypto, so the simulator can speak both channels
    await login(console)
    page = await (await console.get("/admin/simulator")).text()
    assert '<option value="wecom"' in page and "企业微信模拟未启用" not in page


async def test_directory_department_tasks_are_the_dashboards_13_months_with_or_without_a_kept_board(console,
                                                                                                     engine):
    now = dt.datetime.now(dt.UTC)
    for days in (0, 40, 430):  # this month, about last month, fourteen months back (not counted)
        await seed_task(engine, received_at=now - dt.timedelta(days=days, minutes=5), department="民政局")
    await seed_task(engine, received_at=now - dt.timedelta(minutes=5), department="卫健委")
    await login(console)
    row = re.compile(r">(民政局|卫健委)</a></td><td>(\d+)</td>")
    before = dict(row.findall(await (await console.get("/admin/directory")).text()))  # rollups + live months
    assert before == {"民政局": "2", "卫健委": "1"}
    assert (await console.get("/admin/")).status == 200  # this month's dashboard, kept a minute
    assert dict(row.findall(await (await console.get("/admin/directory")).text())) == before


async def test_the_open_months_dashboard_reads_the_schedulers_recent_count_and_the_log_otherwise(console, engine,
                                                                                               settings):
    from intake.calendar import month_key
    from intake.reports.figures import DISTRICT_SCOPE, Scope, ScopeKind, get_figures
    from intake.store.models import OPEN_MONTH_FIGURES

    now = dt.datetime.now(dt.UTC)
    month = month_key(now, settings.tz)
    await seed_task(engine, received_at=now - dt.timedelta(minutes=5), communities=("幸福社区",))
    rows = []
    for scope, minutes_ago in ((DISTRICT_SCOPE, 1), (Scope(ScopeKind.community, "幸福社区"), 11)):
        async with engine.connect() as conn:
            figures = await get_figures(conn, month=month, scope=scope, settings=settings, now=now)
        content = figures.to_json()
        content["total"]["tasks"] = 77  # what the count says, unlike the log (1 task)
        rows.append({"scope": scope.key, "month": month, "as_of": now - dt.timedelta(minutes=minutes_ago),
                     "content": content})
    async with engine.begin() as conn:
        await conn.execute(sa.insert(OPEN_MONTH_FIGURES), rows)
    await login(console)
    district = await (await console.get("/admin/")).text()
    assert '<b data-figure="tasks">77</b>' in district and "本月数字每5分钟汇总一次" in district
    counted = (now - dt.timedelta(minutes=1)).astimezone(settings.tz).strftime("%H:%M:%S")
    assert f"数据截至 {counted}" in district
    # the community's count is 11 minutes old (over twice 5): its dashboard counts the log itself
    alone = await (await console.get("/admin/", params={"community": "幸福社区"})).text()
    assert '<b data-figure="tasks">1</b>' in alone and "汇总一次" not in alone


async def test_a_long_build_answers_at_once_and_the_page_reloads_until_the_digest_is_there(console, engine,
                                                                                          monkeypatch):
    """No request hangs on a long build: 202 with a self-refreshing page (the files: 202 and Retry-After);
    one build for everyone who asks; then the digest."""
    import asyncio
    import threading

    from bot.console.views import digests as digest_views
    from intake.reports import digest as digest_module

    await _seed_month(engine)
    gate, calls, real = threading.Event(), [], digest_module.build_digest

    async def slow_build(*args, **kwargs):
        calls.append(1)
        await asyncio.to_thread(gate.wait, 30)
        return await real(*args, **kwargs)

    monkeypatch.setattr(digest_module, "build_digest", slow_build)
    admin = next(r.get_info()["app"] for r in console.server.app.router.resources()
                 if r.get_info().get("prefix") == "/admin")
    admin[BUILT].wait_s = 0.2  # [server] digest_wait_s: the tests' settings wait a minute, as a patient person
    await login(console)
    resp = await console.get("/admin/digests/2025-11/district")
    page = await resp.text()
    assert resp.status == 202 and 'http-equiv="refresh"' in page and 'id="building"' in page
    resp = await console.get("/admin/digests/2025-11/district/digest.json")
    assert resp.status == 202 and resp.headers["Retry-After"] == str(digest_views.REFRESH_S) and "正在按当前台账生成" in await resp.text()
    gate.set()
    for _ in range(100):
        resp = await console.get("/admin/digests/2025-11/district")
        if resp.status == 200:
            break
        await asyncio.sleep(0.1)
    assert resp.status == 200 and "<strong>3</strong>" in await resp.text()
    assert (await (await console.get("/admin/digests/2025-11/district/digest.json")).json())["tasks"] == 3
    assert len(calls) == 1


async def test_the_directory_shows_the_schedulers_recent_count_of_open_assignments_or_counts_them(console, engine,
                                                                                                 settings):
    from intake.calendar import month_key
    from intake.reports.figures import Scope, get_figures
    from intake.store.models import OPEN_MONTH_FIGURES

    now = dt.datetime.now(dt.UTC)
    await seed_task(engine, received_at=now - dt.timedelta(days=40), communities=("幸福社区", "和平社区"))
    await seed_task(engine, received_at=now - dt.timedelta(minutes=5), communities=("幸福社区",))
    row = re.compile(r">(幸福社区|和平社区)</a></td><td>(\d+)</td>")
    await login(console)
    assert dict(row.findall(await (await console.get("/admin/directory")).text())) == {"幸福社区": "2", "和平社区": "1"}
    counted_at, month = now - dt.timedelta(minutes=3), month_key(now, settings.tz)
    rows = []
    for key, n in (("district", 12), ("community:幸福社区", 7), ("community:和平社区", 5)):
        async with engine.connect() as conn:
            figures = await get_figures(conn, month=month, scope=Scope.from_key(key), settings=settings, now=now)
        rows.append({"scope": key, "month": month, "as_of": counted_at, "content": figures.to_json(),
                     "open_assignments": n})
    async with engine.begin() as conn:  # the count says otherwise: the page shows the count, and its time
        await conn.execute(sa.insert(OPEN_MONTH_FIGURES), rows)
    page = await (await console.get("/admin/directory")).text()
    assert dict(row.findall(page)) == {"幸福社区": "7", "和平社区": "5"}
    assert f"截至 {counted_at.astimezone(settings.tz).strftime('%H:%M')}" in page
    async with engine.begin() as conn:  # eleven minutes old: over twice [schedule] open_month_minutes
        await conn.execute(sa.update(OPEN_MONTH_FIGURES).values(as_of=now - dt.timedelta(minutes=11)))
    page = await (await console.get("/admin/directory")).text()
    assert dict(row.findall(page)) == {"幸福社区": "2", "和平社区": "1"} and 'id="open-as-of"' not in page
