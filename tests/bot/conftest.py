"""Fixtures of the chat tests."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import make_settings
from tests.console_support import add_user, build_app
from tests.fake_wechat_api import FakeWeChatApi


@pytest.fixture
async def fake(aiohttp_server: Any) -> FakeWeChatApi:
    """A local fake of the WeChat / WeCom servers (media, articles, the bot's media URLs and response_url)."""
    api = FakeWeChatApi()
    server = await aiohttp_server(api.app(), host="127.0.0.1")
    api.base = str(server.make_url("")).rstrip("/")  # type: ignore[attr-defined]
    return api


@pytest.fixture
def settings(db_url: str) -> Any:
    """The console tests' settings: every one runs on SQLite and on a real PostgreSQL (a module may override)."""
    return make_settings(db_url)


@pytest.fixture
async def console(aiohttp_client: Any, settings: Any, engine: Any) -> Any:
    """The app, logged out, with the admin user wang."""
    await add_user(engine)
    return await aiohttp_client(build_app(settings))
