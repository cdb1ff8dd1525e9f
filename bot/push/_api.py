"""Shared plumbing of the WeCom and WeChat JSON APIs: calls that never raise, and a token cache."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

__all__ = ["ApiReply", "TOKEN_ERRORS", "RATE_ERRORS", "call_json", "TokenCache"]

# access_token invalid (40001), invalid (40014), expired (42001): refetch and try once more
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
# API frequency limits: WeCom/WeChat 45009 (api freq out of limit), 45033 (user message count limit)
RATE_ERRORS = frozenset({45009, 45033})
TIMEOUT = aiohttp.ClientTimeout(total=10)


@dataclass(frozen=True)
class ApiReply:
    errcode: int  # -1 for transport failures
    errmsg: str
    data: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.errcode == 0


async def call_json(
    http: aiohttp.ClientSession, method: str, url: str, *, params: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
) -> ApiReply:
    """One API call; transport and decoding failures come back as errcode -1 instead of raising."""
    try:
        data_bytes = json.dumps(body, ensure_ascii=False).encode("utf-8") if body is not None else None
        headers = {"Content-Type": "application/json; charset=utf-8"} if body is not None else None
        async with http.request(method, url, params=params, data=data_bytes, headers=headers, timeout=TIMEOUT) as resp:
            text = await resp.text()
            if resp.status >= 400:
                return ApiReply(-1, f"HTTP {resp.status}", {})
        data = json.loads(text)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return ApiReply(-1, f"{type(exc).__name__}: {exc}", {})
    if not isinstance(data, dict):
        return ApiReply(-1, "response is not a JSON object", {})
    return ApiReply(int(data.get("errcode", 0) or 0), str(data.get("errmsg", "")), data)


@dataclass
class _Token:
    value: str
    expires_at: dt.datetime


class TokenCache:
    """access_tokens cached per key (the secret), refreshed early, invalidated on a token error."""

    def __init__(self, fetch: Callable[[str], Awaitable[tuple[str, int] | ApiReply]]) -> None:
        self._fetch = fetch
        self._tokens: dict[str, _Token] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.fetches = 0

    async def get(self, key: str, *, now: dt.datetime) -> str | ApiReply:
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            token = self._tokens.get(key)
            if token is not None and token.expires_at > now:
                return token.value
            got = await self._fetch(key)
            self.fetches += 1
            if isinstance(got, ApiReply):
                return got
            value, expires_in = got
            # refresh five minutes early; never cache for less than a minute
            life = max(60, expires_in - 300)
            self._tokens[key] = _Token(value, now + dt.timedelta(seconds=life))
            return value

    def invalidate(self, key: str, value: str) -> None:
        token = self._tokens.get(key)
        if token is not None and token.value == value:
            del self._tokens[key]
