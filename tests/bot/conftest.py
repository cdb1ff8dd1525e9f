"""Fixtures of the chat tests."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fake_wechat_api import FakeWeChatApi


@pytest.fixture
async def fake(aiohttp_server: Any) -> FakeWeChatApi:
    """A local fake of the WeChat / WeCom servers (media, articles, the bot's media URLs and response_url)."""
    api = FakeWeChatApi()
    server = await aiohttp_server(api.app(), host="127.0.0.1")
    api.base = str(server.make_url("")).rstrip("/")  # type: ignore[attr-defined]
    return api
