"""Issue 15, the console and the HTTP edge: each test guards one finding of the outside probe."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient

from bot.keys import SERVICES
from intake.store.models import AUDIT_LOG, CONSOLE_SESSIONS, INVITES, LOGIN_THROTTLE
from tests.conftest import make_settings
from tests.console_support import PASSWORD, add_user, build_app, csrf_of, login

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

PROXY = {"server_trusted_proxies": "127.0.0.1"}


async def console(aiohttp_client: Any, sqlite_url: str, *, users: bool = True, **overrides: str) -> TestClient:
    client: TestClient = await aiohttp_client(build_app(make_settings(sqlite_url, **overrides)))
    if users:
        await add_user(client.server.app[SERVICES].engine, "wang")
        await add_user(client.server.app[SERVICES].engine, "li", role="viewer")
    return client


async def second_browser(aiohttp_client: Any, first: TestClient) -> TestClient:
    """Another client on the same server (its own cookie jar)."""
    other: TestClient = await aiohttp_client(first.server)
    return other


async def execute(client: TestClient, statement: Any) -> Any:
    async with client.server.app[SERVICES].engine.begin() as conn:
        return await conn.execute(statement)


async def try_login(client: TestClient, username: str, password: str, client_ip: str | None = None) -> Any:
    headers = {"X-Forwarded-For": client_ip} if client_ip else {}
    page = await client.get("/admin/login", headers=headers)
    return await client.post("/admin/login", headers=headers, allow_redirects=False, data={
        "username": username, "password": password, "csrf_token": csrf_of(await page.text())})


# --- 3. sessions end on the server --------------------------------------------------------------

async def test_a_saved_cookie_is_worthless_after_logout(aiohttp_client: Any, sqlite_url: str) -> None:
    client = await console(aiohttp_client, sqlite_url)
    token = await login(client)
    saved = {c.key: c.value for c in client.session.cookie_jar}
    await client.post("/admin/logout", data={"csrf_token": token})
    thief = await second_browser(aiohttp_client, client)
    thief.session.cookie_jar.update_cookies(saved)
    resp = await thief.post("/admin/invites", data={"csrf_token": token, "role": "clerk", "target": "民政局"},
                            allow_redirects=False)
    assert resp.status == 403
    assert (await execute(client, sa.select(sa.func.count()).select_from(INVITES))).scalar() == 0


async def test_password_change_and_end_all_sessions_end_other_sessions(aiohttp_client: Any, sqlite_url: str) -> None:
    client = await console(aiohttp_client, sqlite_url)
    token = await login(client)
    laptop = await second_browser(aiohttp_client, client)
    await login(laptop)
    await client.post("/admin/users/1/password", data={"csrf_token": token, "password": "brand-new-pass-1",
                                                       "password2": "brand-new-pass-1"})
    assert (await laptop.get("/admin/tasks", allow_redirects=False)).status == 303  # ended
    assert (await client.get("/admin/tasks", allow_redirects=False)).status == 200  # the one that changed it stays
    await login(laptop, password="brand-new-pass-1")
    resp = await client.post("/admin/users/1/sessions/end", data={"csrf_token": token}, allow_redirects=False)
    assert resp.status == 303 and "/admin/login" in resp.headers["Location"]
    for browser in (client, laptop):
        assert (await browser.get("/admin/tasks", allow_redirects=False)).status == 303
    reasons = (await execute(client, sa.select(CONSOLE_SESSIONS.c.ended_reason))).scalars().all()
    assert sorted(r for r in reasons if r) == ["ended_all", "ended_all", "password"]


async def test_deactivation_ends_the_users_sessions(aiohttp_client: Any, sqlite_url: str) -> None:
    client = await console(aiohttp_client, sqlite_url)
    token = await login(client)
    viewer = await second_browser(aiohttp_client, client)
    await login(viewer, "li")
    await client.post("/admin/users/2/active", data={"csrf_token": token, "active": "0"})
    assert (await viewer.get("/admin/tasks", allow_redirects=False)).status == 303
    reason = (await execute(client, sa.select(CONSOLE_SESSIONS.c.ended_reason)
                            .where(CONSOLE_SESSIONS.c.user_id == 2))).scalar()
    assert reason == "deactivated"


@pytest.mark.parametrize(("column", "age"), [("last_seen_at", dt.timedelta(minutes=31)),
                                             ("created_at", dt.timedelta(hours=3))])
async def test_sessions_end_after_the_idle_and_the_absolute_timeout(aiohttp_client: Any, sqlite_url: str,
                                                                    column: str, age: dt.timedelta) -> None:
    client = await console(aiohttp_client, sqlite_url, server_session_idle_minutes="30",
                           server_session_absolute_hours="2")
    await login(client)
    await execute(client, sa.update(CONSOLE_SESSIONS).values({column: dt.datetime.now(dt.UTC) - age}))
    assert (await client.get("/admin/tasks", allow_redirects=False)).status == 303


# --- 2. invite codes are shown once, and never to a viewer ---------------------------------------

async def test_an_invite_code_is_shown_once_then_only_its_hint_and_never_to_a_viewer(
        aiohttp_client: Any, sqlite_url: str) -> None:
    client = await console(aiohttp_client, sqlite_url)
    token = await login(client)
    created = await (await client.post("/admin/invites", data={"csrf_token": token, "role": "clerk",
                                                                "target": "民政局"})).text()
    code = created.split('<h2>新邀请码:<code>')[1].split("</code>")[0]
    assert len(code) == 8
    later = await (await client.get("/admin/invites")).text()
    assert code not in later and f"……{code[-2:]}" in later
    viewer = await second_browser(aiohttp_client, client)
    await login(viewer, "li")
    seen = await (await viewer.get("/admin/invites")).text()
    assert code not in seen and f"……{code[-2:]}" not in seen
    stored = await execute(client, sa.select(INVITES.c.code_hash, INVITES.c.hint))
    assert all(code not in str(value) for row in stored for value in row)
    audit = await execute(client, sa.select(AUDIT_LOG.c.after).where(AUDIT_LOG.c.entity == "invite"))
    assert all(code not in str(row.after) for row in audit)


async def test_a_revoked_invite_code_no_longer_binds(aiohttp_client: Any, sqlite_url: str) -> None:
    from tests.peer import WeChatPeer, text_xml

    client = await console(aiohttp_client, sqlite_url)
    token = await login(client)
    created = await (await client.post("/admin/invites", data={"csrf_token": token, "role": "clerk",
                                                                "target": "民政局"})).text()
    code = created.split('<h2>新邀请码:<code>')[1].split("</code>")[0]
    resp = await client.post("/admin/invites/1/revoke", data={"csrf_token": token})
    assert "已作废" in await resp.text()
    peer = WeChatPeer(client.server.app[SERVICES].settings)  # type: ignore[arg-type]
    reply = await peer.post_wechat(client, text_xml(from_user="o-late", content=f"绑定 {code}"))
    assert "无效或已失效" in reply.content


# --- 5. login back-off, not a lock; forwarded headers only from a trusted proxy -------------------

async def test_unknown_and_wrong_users_get_the_same_answers(aiohttp_client: Any, sqlite_url: str) -> None:
    client = await console(aiohttp_client, sqlite_url)
    answers: dict[str, list[tuple[int, str]]] = {}
    for name in ("wang", "nobody"):
        for attempt in range(4):
            resp = await try_login(client, name, "wrong-password", client_ip=None)
            text = await resp.text()
            alert = text.split('role="alert">')[1].split("<")[0]
            # the wait left depends on the clock and on this client's earlier failures, not on the name
            answers.setdefault(name, []).append((resp.status, re.sub(r"\d+ 秒", "N 秒", alert)))
            assert attempt < 3 or resp.status == 429
    assert answers["wang"] == answers["nobody"]


async def test_the_right_password_from_a_new_client_gets_in_after_a_delay(aiohttp_client: Any,
                                                                          sqlite_url: str) -> None:
    client = await console(aiohttp_client, sqlite_url, **PROXY)
    for _ in range(12):  # a guesser at 203.0.113.9 hammers the known name
        await try_login(client, "wang", "guess", client_ip="203.0.113.9")
    resp = await try_login(client, "wang", PASSWORD, client_ip="198.51.100.7")
    assert resp.status == 429  # the name's back-off: a short wait, not a lock
    await execute(client, sa.update(LOGIN_THROTTLE).where(LOGIN_THROTTLE.c.key == "user:wang")
                  .values(retry_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    assert (await try_login(client, "wang", PASSWORD, client_ip="198.51.100.7")).status == 303
    # the guesser's own address keeps its count, though the name's count was cleared by the success
    guesser = (await execute(client, sa.select(LOGIN_THROTTLE.c.failures)
                             .where(LOGIN_THROTTLE.c.key == "client:203.0.113.9"))).scalar()
    assert guesser >= 3


async def test_a_successful_login_does_not_reset_the_clients_limit(aiohttp_client: Any, sqlite_url: str) -> None:
    client = await console(aiohttp_client, sqlite_url, **PROXY)
    for i in range(9):
        await try_login(client, f"admin{i}", "guess", client_ip="203.0.113.9")
    own = await second_browser(aiohttp_client, client)  # the guesser logs in to an account of their own
    assert (await try_login(own, "li", PASSWORD, client_ip="203.0.113.9")).status == 303
    await try_login(client, "admin9", "guess", client_ip="203.0.113.9")
    assert (await try_login(client, "admin10", "guess", client_ip="203.0.113.9")).status == 429


async def test_forwarded_headers_from_an_untrusted_peer_are_ignored(aiohttp_client: Any, sqlite_url: str) -> None:
    client = await console(aiohttp_client, sqlite_url)
    for i in range(12):  # a different X-Forwarded-For each time must not give a fresh budget
        await try_login(client, f"user{i}", "guess", client_ip=f"203.0.113.{i}")
    keys = (await execute(client, sa.select(LOGIN_THROTTLE.c.key))).scalars().all()
    assert "client:127.0.0.1" in keys and not any("203.0.113" in k for k in keys)
    resp = await client.get("/admin/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in resp.headers


# --- 7. Secure cookies and HSTS behind a TLS proxy ---------------------------------------------

async def test_behind_a_trusted_tls_proxy_cookies_are_secure_and_hsts_is_sent(aiohttp_client: Any,
                                                                            sqlite_url: str) -> None:
    client = await console(aiohttp_client, sqlite_url, **PROXY)
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"}
    page = await client.get("/admin/login", headers=https)
    assert "Secure" in page.headers["Set-Cookie"]
    assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    plain = await client.get("/admin/login", headers={"X-Forwarded-Proto": "http"})
    assert "Secure" not in plain.headers.get("Set-Cookie", "") and "Strict-Transport-Security" not in plain.headers


# --- 10. security headers on every answer --------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/no-such-page", 404), ("GET", "/", 302), ("GET", "/admin/tasks", 303),
    ("POST", "/wechat", 403), ("GET", "/admin/static/nope.css", 404), ("POST", "/admin/logout", 403)])
async def test_security_headers_on_errors_and_redirects(aiohttp_client: Any, sqlite_url: str, method: str,
                                                        path: str, status: int) -> None:
    client = await console(aiohttp_client, sqlite_url)
    resp = await client.request(method, path, allow_redirects=False)
    assert resp.status == status
    for header in ("X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy", "Content-Security-Policy"):
        assert header in resp.headers, (path, header)


# --- 12. /metrics only for the allowed addresses -------------------------------------------------

async def test_metrics_are_served_only_to_metrics_allow(aiohttp_client: Any, sqlite_url: str) -> None:
    local = await console(aiohttp_client, sqlite_url)
    assert (await local.get("/metrics")).status == 200  # loopback, the default
    behind = await console(aiohttp_client, sqlite_url, users=False, **PROXY)
    outside = await behind.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert outside.status == 403 and "metrics_allow" in await outside.text()
    elsewhere = await console(aiohttp_client, sqlite_url, users=False, server_metrics_allow="10.0.0.0/8")
    assert (await elsewhere.get("/metrics")).status == 403


# --- 6. the simulator posts only to this server --------------------------------------------------

async def test_the_simulator_never_posts_to_the_requests_host(aiohttp_client: Any, sqlite_url: str) -> None:
    client = await console(aiohttp_client, sqlite_url)
    token = await login(client)
    resp = await client.post("/admin/simulator", headers={"Host": "attacker.invalid:9"},
                             data={"csrf_token": token, "account": "", "openid": "o-sim", "channel": "wechat",
                                   "message": "帮助"})
    assert resp.status == 200, await resp.text()
    accounts = await execute(client, sa.text("SELECT external_id FROM accounts"))
    assert [r.external_id for r in accounts] == ["o-sim"]


async def test_the_simulator_speaks_safe_mode_where_encryption_is_required(aiohttp_client: Any,
                                                                           sqlite_url: str) -> None:
    client = await console(aiohttp_client, sqlite_url, wechat_require_encryption="true")
    token = await login(client)
    resp = await client.post("/admin/simulator", data={"csrf_token": token, "account": "", "openid": "o-safe-sim",
                                                       "channel": "wechat", "message": "帮助"})
    page = await resp.text()
    assert resp.status == 200 and "绑定" in page and "require_encryption" not in page
