"""Downloading what a chat message points at: ``media/get`` of the Official Account and the WeCom app,
and (with ``[media] fetch_links``) the article behind a link.

``media/get`` uses the senders' token caches, so inbound downloads and outbound messages share one
access_token per app. A download is capped at ``[media] max_bytes`` while it streams (``TooLarge``);
an API error or a broken connection is ``DownloadFailed`` (a ``MediaError`` with a Chinese answer).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import aiohttp

from bot.chat import texts
from bot.push._api import TOKEN_ERRORS, ApiReply, TokenCache
from bot.wire.crypto import MessageCrypto
from bot.wire.errors import DecryptError
from intake.media import MediaError, TooLarge

__all__ = ["Download", "DownloadFailed", "MediaApi", "get_bot_media", "get_media", "get_link_html",
           "is_allowed_link"]

_FILENAME = re.compile(r"""filename\*?=(?:UTF-8'')?"?([^";]+)"?""", re.IGNORECASE)
_CHUNK = 64 * 1024


class DownloadFailed(MediaError):
    """The channel's media API refused the download, or the connection broke."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"download.{reason}", texts.MEDIA_DOWNLOAD_FAILED)


@dataclass(frozen=True)
class Download:
    data: bytes
    filename: str  # from Content-Disposition (a hint only: the bytes decide the format)


@dataclass(frozen=True)
class MediaApi:
    """One channel's ``media/get``: its API base, token cache and secret (shared with its sender)."""

    base: str
    tokens: TokenCache
    secret: str


async def _read_capped(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    if resp.content_length is not None and resp.content_length > limit:
        raise TooLarge("bytes", resp.content_length, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise TooLarge("bytes", size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _api_error(data: bytes) -> int | None:
    """The errcode of a JSON error body (media/get answers errors as JSON, files as bytes)."""
    try:
        body = json.loads(data)
    except ValueError:
        return None
    return int(body.get("errcode", -1) or -1) if isinstance(body, dict) else None


async def _get_once(http: aiohttp.ClientSession, api: MediaApi, token: str, media_id: str,
                    limit: int) -> Download | int:
    timeout = aiohttp.ClientTimeout(total=30)
    async with http.get(f"{api.base}/cgi-bin/media/get", params={"access_token": token, "media_id": media_id},
                        timeout=timeout) as resp:
        if resp.status >= 400:
            raise DownloadFailed(f"http_{resp.status}")
        data = await _read_capped(resp, limit)
        kind = resp.headers.get("Content-Type", "")
        disposition = resp.headers.get("Content-Disposition", "")
    if ("json" in kind or "text/plain" in kind) and (errcode := _api_error(data)) is not None:
        return errcode
    found = _FILENAME.search(disposition)
    return Download(data=data, filename=unquote(found.group(1).strip()) if found else media_id)


async def get_media(http: aiohttp.ClientSession, api: MediaApi, *, media_id: str, now: dt.datetime,
                    max_bytes: int) -> Download:
    """The bytes of one MediaId; a stale token is refetched once."""
    if not api.secret:
        raise DownloadFailed("no_secret")
    for _ in range(2):
        token = await api.tokens.get(api.secret, now=now)
        if isinstance(token, ApiReply):
            raise DownloadFailed(f"token_{token.errcode}")
        try:
            got = await _get_once(http, api, token, media_id, max_bytes)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DownloadFailed("network") from exc
        if isinstance(got, Download):
            return got
        if got not in TOKEN_ERRORS:
            raise DownloadFailed(f"errcode_{got}")
        api.tokens.invalidate(api.secret, token)
    raise DownloadFailed("token")


async def get_bot_media(http: aiohttp.ClientSession, url: str, *, crypto: MessageCrypto, max_bytes: int,
                        timeout_s: float) -> Download:
    """A picture or file of the intelligent bot: its ``url`` serves the AES-encrypted bytes (decrypted
    with the bot's EncodingAESKey); the cap applies while it streams."""
    if urlsplit(url).scheme not in ("https", "http"):
        raise DownloadFailed("bad_url")
    try:
        async with http.get(url, timeout=aiohttp.ClientTimeout(total=timeout_s), allow_redirects=False) as resp:
            if resp.status != 200:
                raise DownloadFailed(f"http_{resp.status}")
            data = await _read_capped(resp, max_bytes + 32)  # PKCS#7 adds up to 32 bytes
            disposition = resp.headers.get("Content-Disposition", "")
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise DownloadFailed("network") from exc
    try:
        plain = crypto.decrypt_media(data)
    except DecryptError as exc:
        raise DownloadFailed("decrypt") from exc
    if len(plain) > max_bytes:
        raise TooLarge("bytes", len(plain), max_bytes)
    found = _FILENAME.search(disposition)
    name = unquote(found.group(1).strip()) if found else urlsplit(url).path.rsplit("/", 1)[-1] or "file"
    return Download(data=plain, filename=name)


def is_allowed_link(url: str, hosts: tuple[str, ...]) -> bool:
    """Only http(s) links to one of ``hosts`` (a host name on the default port, or ``host:port``),
    without user info, are fetched."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.username is not None:
        return False
    return f"{parts.hostname}:{port}" in hosts if port is not None else parts.hostname in hosts


async def get_link_html(http: aiohttp.ClientSession, url: str, *, timeout_s: float, max_bytes: int) -> str | None:
    """The page behind a link, or None when it cannot be had in time, is too large or is not HTML.
    Redirects are not followed (a redirect could leave the allowed hosts)."""
    try:
        async with http.get(url, timeout=aiohttp.ClientTimeout(total=timeout_s), allow_redirects=False) as resp:
            if resp.status != 200 or "html" not in resp.headers.get("Content-Type", ""):
                return None
            data = await _read_capped(resp, max_bytes)
            charset = resp.charset or "utf-8"
    except (aiohttp.ClientError, TimeoutError, TooLarge):
        return None
    try:
        return data.decode(charset, errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")
