"""The HTTP edge: verify → decrypt → parse → dedupe → dispatch → render, always inside WeChat's 5 seconds.

``/wechat`` serves an Official Account (plaintext, compatible and safe mode);
``/wecom`` a WeCom self-built app (always encrypted). Bad input gets a clear
status (403 signature, 400 XML or ciphertext, 413 size) and never a 500; a
database that cannot commit gets 503 so WeChat retries, never a receipt.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from collections.abc import Awaitable
from dataclasses import dataclass

from aiohttp import web

from bot.chat import texts
from bot.chat.dialogue import (
    Ahead,
    DialogueContext,
    Incoming,
    is_command,
)
from bot.chat.flow import Outcome, await_reply, build_unit, get_sender_hint
from bot.chat.media import is_media_message, process_media
from bot.keys import CLOCK, CRYPTO_WECHAT, CRYPTO_WECOM, METRICS, SERVICES, SETTINGS
from bot.wire.crypto import MessageCrypto, check_signature
from bot.wire.errors import BodyTooLargeError, EncryptionRequiredError, ReplayError, WireError, XmlError
from bot.wire.messages import Message, TextMessage, parse_message
from bot.wire.replies import SUCCESS, build_text_reply
from classifiers import classify
from intake.context import Services
from intake.errors import StorageUnavailable
from intake.media import SourceType
from intake.sources import NoticeSource

__all__ = ["Channel", "guarded", "process_message", "read_body", "error_response", "setup_callback_routes"]

log = logging.getLogger(__name__)


MAX_NONCE_CHARS = 64


@dataclass(frozen=True)
class Channel:
    name: str  # "wechat" | "wecom"
    always_encrypted: bool
    envelope_fields: frozenset[str]  # what a safe-mode envelope may carry beside nothing in plaintext


WECHAT = Channel("wechat", always_encrypted=False, envelope_fields=frozenset({"ToUserName", "Encrypt"}))
WECOM = Channel("wecom", always_encrypted=True, envelope_fields=frozenset({"ToUserName", "Encrypt", "AgentID"}))


async def read_body(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLargeError(request.content_length, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(16384):
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def error_response(exc: WireError) -> web.Response:
    status = exc.http_status
    log.warning("callback refused (%d): %s", status, exc)
    return web.Response(status=status, text=f"{exc}\n", content_type="text/plain")


def _echo_param(request: web.Request) -> str | None:
    value = request.query.get("echostr")
    # a base64 echostr sent unescaped has its '+' read as a space by form decoding; restore it
    return value.replace(" ", "+") if value is not None else None


async def handle_wechat_verify(request: web.Request) -> web.Response:
    q = request.query
    try:
        check_signature(
            q.get("signature"), request.app[SETTINGS].wechat.token, q.get("timestamp", ""), q.get("nonce", ""),
            now=request.app[CLOCK](), window_s=request.app[SETTINGS].server.timestamp_window_s,
        )
    except WireError as exc:
        return error_response(exc)
    return web.Response(text=q.get("echostr", ""), content_type="text/plain")


async def handle_wecom_verify(request: web.Request) -> web.Response:
    q = request.query
    try:
        plain = request.app[CRYPTO_WECOM].decrypt_echo(
            q.get("msg_signature"), q.get("timestamp"), q.get("nonce"), _echo_param(request),
            now=request.app[CLOCK](), window_s=request.app[SETTINGS].server.timestamp_window_s,
        )
    except WireError as exc:
        return error_response(exc)
    return web.Response(text=plain, content_type="text/plain")


@dataclass(frozen=True)
class Opened:
    inner: bytes  # the message XML
    encrypted: bool  # the reply must be encrypted too
    nonce: str  # "channel:timestamp:nonce" of the signed URL: it may carry this message only


def _nonce_key(channel: Channel, request: web.Request) -> str:
    nonce = request.query.get("nonce", "")
    if len(nonce) > MAX_NONCE_CHARS:
        raise XmlError(f"nonce is {len(nonce)} characters long; WeChat's are short (at most {MAX_NONCE_CHARS})")
    return f"{channel.name}:{request.query.get('timestamp', '')}:{nonce}"


def _open_body(request: web.Request, channel: Channel, body: bytes, crypto: MessageCrypto) -> Opened:
    """Check the signature (and, where required, that the body is encrypted); return what it carries."""
    settings = request.app[SETTINGS]
    q = request.query
    now, window = request.app[CLOCK](), settings.server.timestamp_window_s
    strict = channel.always_encrypted or settings.wechat_requires_encryption
    encrypted = channel.always_encrypted or q.get("encrypt_type", "raw").lower() == "aes"
    if encrypted:
        inner = crypto.decrypt_message(
            body, msg_signature=q.get("msg_signature"), timestamp=q.get("timestamp"), nonce=q.get("nonce"),
            now=now, window_s=window, envelope_fields=channel.envelope_fields if strict else None,
        )
        return Opened(inner, True, _nonce_key(channel, request))
    check_signature(q.get("signature"), settings.wechat.token, q.get("timestamp", ""), q.get("nonce", ""),
                    now=now, window_s=window)
    if strict:
        raise EncryptionRequiredError(
            "plaintext callback refused: [wechat] require_encryption is on; set the account's "
            "消息加解密方式 to 安全模式 (safe mode)"
        )
    return Opened(body, False, _nonce_key(channel, request))


def _received_at(message: Message, services: Services, *, now: float, window_s: int) -> dt.datetime:
    """The message's CreateTime, or the receive time when CreateTime is further than the timestamp
    window from this server's clock: in plaintext mode CreateTime is not signed, and a task must not
    be backdated (or dated ahead) by whoever wrote the body."""
    tz = services.settings.tz
    if abs(message.create_time - now) > window_s:
        log.warning("message %s from %s: CreateTime %d is %.0f s from the server's clock, outside the %d s "
                    "window; the receive time is used instead", message.dedupe_key, message.from_user[:64],
                    message.create_time, message.create_time - now, window_s)
        return dt.datetime.fromtimestamp(now, tz=tz)
    return dt.datetime.fromtimestamp(message.create_time, tz=tz)


async def _ahead(request: web.Request, ctx: DialogueContext, channel: Channel, message: TextMessage,
                 received_at: dt.datetime) -> Ahead | None:
    """Classify a clerk's notice outside the writer, using a cached guess of who the sender is."""
    hint = await get_sender_hint(request, channel.name, message.from_user)
    if not hint.reads_notices or is_command(message.content):
        return None
    rules = ctx.for_district(hint.district_id).rules
    classification = classify(message.content, now=received_at, sender_department=hint.department, rules=rules)
    return Ahead(classification=classification, department=hint.department)


async def process_message(request: web.Request, channel: Channel, message: Message, started: float, nonce: str, *,
                          chat: str | None = None, push_late: bool = True, reply_to: str | None = None) -> str:
    """Dedupe, dispatch and store in one writer unit; returns the reply text ('' for none).

    ``chat`` is the WeCom group a bot message came from (kept on the task), ``reply_to`` its response_url
    (where an upload asked for with it is answered); without ``push_late`` a reply
    past the budget is only stored (the bot fetches it). Raises ReplayError when the signed URL already
    carried another message (a replay)."""
    services = request.app[SERVICES]
    settings = request.app[SETTINGS]
    ctx = DialogueContext(settings=settings, rules=services.rules.current, memory=services.memory,
                          district_rules=services.rules.for_district)
    key = f"{channel.name}:{message.dedupe_key}"
    received_at = _received_at(message, services, now=request.app[CLOCK](),
                               window_s=settings.server.timestamp_window_s)
    if is_media_message(message):
        return await process_media(request, ctx, channel.name, message, started=started, nonce=nonce,
                                   received_at=received_at, chat=chat, push_late=push_late)
    incoming = ahead = None
    if isinstance(message, TextMessage):
        incoming = Incoming(channel=channel.name, external_id=message.from_user, text=message.content,
                            msg_id=key, received_at=received_at,
                            source=NoticeSource(SourceType.TEXT, chat=chat) if chat else None, reply_to=reply_to)
        ahead = await _ahead(request, ctx, channel, message, received_at)
    outcome = Outcome()
    unit = build_unit(ctx, channel.name, message, key=key, nonce=nonce, received_at=received_at, outcome=outcome,
                      incoming=incoming, ahead=ahead)
    future = services.writer.enqueue(unit)
    return await await_reply(request, channel.name, message, started=started, nonce=nonce, future=future,
                             resubmit=lambda: services.writer.submit(unit), outcome=outcome,
                             text=incoming.text if incoming is not None else None, push_late=push_late)


async def guarded(request: web.Request, label: str, message: Message, work: Awaitable[str]) -> str | web.Response:
    """The reply ``work`` gives, or the refusal to send instead: 403 for a replay, 503 (the platform
    retries) when the database is down or a bug stopped the message before it was stored."""
    metrics = request.app[METRICS]
    try:
        reply = await work
    except ReplayError as exc:
        metrics.refused.labels(label, type(exc).__name__).inc()
        return error_response(exc)
    except StorageUnavailable as exc:
        metrics.refused.labels(label, "StorageUnavailable").inc()
        log.error("message %s not stored, asking WeChat to retry: %s", message.dedupe_key, exc)
        return web.Response(status=503, text=f"{texts.STORAGE_DOWN}\n", content_type="text/plain")
    except Exception:  # callback boundary: a bug must not lose the message; WeChat retries a 503
        metrics.refused.labels(label, "InternalError").inc()
        log.exception("message %s failed and was not stored; WeChat will retry", message.dedupe_key)
        return web.Response(status=503, text=f"{texts.STORAGE_DOWN}\n", content_type="text/plain")
    metrics.messages.labels(label, message.msg_type).inc()
    return reply


async def _handle_post(request: web.Request, channel: Channel) -> web.Response:
    started = time.monotonic()
    metrics = request.app[METRICS]
    crypto = request.app[CRYPTO_WECOM] if channel is WECOM else request.app[CRYPTO_WECHAT]
    try:
        body = await read_body(request, request.app[SETTINGS].server.body_limit_bytes)
        opened = _open_body(request, channel, body, crypto)
        message = parse_message(opened.inner)
    except WireError as exc:
        metrics.refused.labels(channel.name, type(exc).__name__).inc()
        return error_response(exc)
    reply = await guarded(request, channel.name, message,
                          process_message(request, channel, message, started, opened.nonce))
    if isinstance(reply, web.Response):
        return reply
    metrics.latency.labels(channel.name).observe(time.monotonic() - started)
    if not reply:
        return web.Response(text=SUCCESS, content_type="text/plain")
    xml = build_text_reply(to_user=message.from_user, from_user=message.to_user, content=reply, create_time=int(time.time()))
    if opened.encrypted:
        xml = crypto.encrypt_reply(xml, timestamp=str(int(time.time())), nonce=secrets.token_hex(5))
    return web.Response(text=xml, content_type="application/xml")


async def handle_wechat_post(request: web.Request) -> web.Response:
    return await _handle_post(request, WECHAT)


async def handle_wecom_post(request: web.Request) -> web.Response:
    return await _handle_post(request, WECOM)


def setup_callback_routes(app: web.Application) -> None:
    app.router.add_get("/wechat", handle_wechat_verify)
    app.router.add_post("/wechat", handle_wechat_post)
    app.router.add_get("/wecom", handle_wecom_verify)
    app.router.add_post("/wecom", handle_wecom_post)

