"""Admin pages refuse anonymous and viewer writes: every write route of /admin, enumerated from the router.

A route added later is covered without touching this file. For each POST route (placeholders filled
with a real task code, ids and a month): an anonymous POST, a viewer's POST with a valid CSRF token,
and an administrator's POST without one all get 403, and the database is byte-for-byte unchanged.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.console.core import PUBLIC_ROUTES
from bot.keys import SERVICES
from tests.conftest import make_settings
from tests.console_support import add_user, build_app, login, seed_task

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TABLES = ("departments", "communities", "accounts", "invites", "tasks", "task_targets", "reminders", "admin_users",
          "outbox", "audit_log", "rule_versions", "ratings")
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def write_routes(app: web.Application) -> list[tuple[str, str, str]]:
    """(method, path template, route name) of every non-safe route of the /admin sub-application."""
    found = []
    for resource in app.router.resources():
        sub = getattr(resource, "_app", None)
        if not isinstance(sub, web.Application):
            continue
        prefix = resource.canonical
        for route in sub.router.routes():
            if route.method in ("GET", "HEAD", "OPTIONS", "*") or route.name in PUBLIC_ROUTES:
                continue
            info = route.resource.get_info() if route.resource else {}
            template = str(info.get("path") or info.get("formatter") or "")
            found.append((route.method, prefix + template, route.name or template))
    return found


def fill(template: str, code: str) -> str:
    values = {"code": code, "id": "1", "month": "2025-11", "scope": "district"}
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), "1"), template)


async def fingerprint(client: TestClient) -> str:
    digest = hashlib.sha256()
    async with client.server.app[SERVICES].engine.connect() as conn:
        for table in TABLES:
            rows = (await conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY 1"))).all()
            digest.update(repr((table, [tuple(r) for r in rows])).encode())
    return digest.hexdigest()


@pytest.fixture
async def console(aiohttp_client: Any, sqlite_url: str) -> tuple[TestClient, str]:
    client = await aiohttp_client(build_app(make_settings(sqlite_url)))
    engine = client.server.app[SERVICES].engine
    await add_user(engine, "wang", role="admin")
    await add_user(engine, "li", role="viewer")
    code = await seed_task(engine)
    return client, code


FORM = {"name": "新部门", "staff": "5", "role": "admin", "reason": "测试", "listing": "duty", "item": "D1",
        "department": "民政局", "community": "幸福社区", "password": "another-pass-9", "username": "zhao",
        "message": "帮助", "active": "0", "note": "x"}


def test_the_console_has_write_routes_to_check(sqlite_url: str) -> None:
    routes = write_routes(build_app(make_settings(sqlite_url)))
    assert len(routes) >= 10, routes
    assert all(path.startswith("/admin/") for _, path, _ in routes)


async def test_anonymous_writes_are_refused_and_change_nothing(console: tuple[TestClient, str]) -> None:
    client, code = console
    before = await fingerprint(client)
    for method, template, name in write_routes(client.server.app):
        resp = await client.request(method, fill(template, code), data=FORM, allow_redirects=False)
        assert resp.status in (401, 403) or (resp.status == 303 and "/admin/login" in resp.headers["Location"]), \
            (name, resp.status)
    assert await fingerprint(client) == before


async def test_viewer_writes_are_refused_even_with_a_valid_csrf_token(console: tuple[TestClient, str]) -> None:
    client, code = console
    token = await login(client, "li")
    before = await fingerprint(client)
    for method, template, name in write_routes(client.server.app):
        if name == "logout":
            continue
        resp = await client.request(method, fill(template, code), data={**FORM, "csrf_token": token},
                                    allow_redirects=False)
        assert resp.status == 403, (name, resp.status)
    assert await fingerprint(client) == before


async def test_admin_writes_without_csrf_token_are_refused(console: tuple[TestClient, str]) -> None:
    client, code = console
    await login(client, "wang")
    before = await fingerprint(client)
    for method, template, name in write_routes(client.server.app):
        for token in (None, "forged-token"):
            data = FORM if token is None else {**FORM, "csrf_token": token}
            resp = await client.request(method, fill(template, code), data=data, allow_redirects=False)
            assert resp.status == 403, (name, token, resp.status)
    assert await fingerprint(client) == before
