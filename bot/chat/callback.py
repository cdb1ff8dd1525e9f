"""The HTTP edge: verify → decrypt → parse → dedupe → dispatch → render, always inside WeChat's 5 seconds.

``/wechat`` serves an Official Account (plaintext, compatible and safe mode);
``/wecom`` a WeCom self-built app (always encrypted). Bad input gets a clear
status (403 signature, 400 XML or ciphertext, 413 size) and never a 500; a
database that cannot commit gets 503 so WeChat retries, never a receipt.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.chat import texts
from bot.chat.dialogue import (
    Ahead,
    DialogueContext,
    Incoming,
    handle_event,
    handle_text,
    is_command,
    normalize,
)
from bot.keys import CLOCK, CRYPTO_WECHAT, CRYPTO_WECOM, HINTS, METRICS, PENDING, SERVICES, SETTINGS
from bot.wire.crypto import MessageCrypto, check_signature
from bot.wire.errors import BodyTooLargeError, EncryptionRequiredError, ReplayError, WireError, XmlError
from bot.wire.messages import Event, Message, TextMessage, parse_message
from bot.wire.replies import SUCCESS, build_text_reply
from classifiers import classify
from intake.accounts import AccountView, get_account
from intake.context import Services
from intake.dedupe import get_processed, record_processed
from intake.errors import StorageUnavailable
from intake.outbox import add_outbox_message, channel_for_account
from intake.store.writer import Unit

__all__ = ["setup_callback_routes"]

log = logging.getLogger(__name__)

LATE_ATTEMPTS = 5  # a message answered `success` is tried this often (1 s, 2 s, 4 s ... apart)


MAX_NONCE_CHARS = 64


@dataclass(frozen=True)
class Channel:
    name: str  # "wechat" | "wecom"
    always_encrypted: bool
    envelope_fields: frozenset[str]  # what a safe-mode envelope may carry beside nothing in plaintext


WECHAT = Channel("wechat", always_encrypted=False, envelope_fields=frozenset({"ToUserName", "Encrypt"}))
WECOM = Channel("wecom", always_encrypted=True, envelope_fields=frozenset({"ToUserName", "Encrypt", "AgentID"}))


async def _read_body(request: web.Request, limit: int) -> bytes:
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


def _error_response(exc: WireError) -> web.Response:
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
        return _error_response(exc)
    return web.Response(text=q.get("echostr", ""), content_type="text/plain")


async def handle_wecom_verify(request: web.Request) -> web.Response:
    q = request.query
    try:
        plain = request.app[CRYPTO_WECOM].decrypt_echo(
            q.get("msg_signature"), q.get("timestamp"), q.get("nonce"), _echo_param(request),
            now=request.app[CLOCK](), window_s=request.app[SETTINGS].server.timestamp_window_s,
        )
    except WireError as exc:
        return _error_response(exc)
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


async def _late_push(
    services: Services, channel: Channel, message: Message, future: asyncio.Future[str | None],
    unit: Unit[str | None],
) -> None:
    """The handler missed the reply budget and WeChat got `success` (it will not retry): finish the work
    here, retrying while the database is unavailable, and send the answer through the outbound channel."""
    delay = 1.0
    for attempt in range(LATE_ATTEMPTS):
        try:
            reply = await (future if attempt == 0 else services.writer.submit(unit))
            break
        except StorageUnavailable as exc:
            log.error("late message %s not stored yet (try %d of %d): %s", message.dedupe_key, attempt + 1,
                      LATE_ATTEMPTS, exc)
            await asyncio.sleep(delay)
            delay *= 2
        except sa.exc.IntegrityError:
            return  # another delivery of the same message was stored and answered
        except Exception:  # task boundary: log with the traceback
            log.exception("late message %s failed", message.dedupe_key)
            return
    else:
        log.critical("message %s from %s was answered `success` but could not be stored: %s",
                     message.dedupe_key, message.from_user, message.raw.get("Content", "")[:200])
        return
    if not reply:
        return
    now = dt.datetime.now(dt.UTC)

    async def push(conn: AsyncConnection) -> int | None:
        return await add_outbox_message(
            # back through the chat the message came from (WeCom app message or Official Account service message)
            conn, idempotency_key=f"late:{channel.name}:{message.dedupe_key}",
            channel=channel_for_account("auto", channel.name), recipient=message.from_user, kind="late_reply",
            body=reply, now=now,
        )

    await services.writer.submit(push)


async def _ahead(request: web.Request, ctx: DialogueContext, channel: Channel, message: TextMessage,
                 received_at: dt.datetime) -> Ahead | None:
    """Classify a clerk's notice outside the writer, using a cached guess of who the sender is."""
    services = request.app[SERVICES]
    hints = request.app[HINTS]
    key = (channel.name, message.from_user)
    hint = hints.get(key)
    if hint is None:
        async with services.engine.connect() as conn:
            account = await get_account(conn, channel=channel.name, external_id=message.from_user)
        hint = hints.put(key, account)
    if not hint.reads_notices or is_command(message.content):
        return None
    classification = classify(message.content, now=received_at, sender_department=hint.department, rules=ctx.rules)
    return Ahead(classification=classification, department=hint.department)


async def _answer_race(request: web.Request, channel: Channel, key: str, nonce: str) -> str:
    """Another process stored the same delivery (WeChat's retry raced it), or the same signed URL with
    another message, first: the first one's reply, or ReplayError."""
    async with request.app[SERVICES].engine.connect() as conn:
        seen = await get_processed(conn, key=key, nonce=nonce)
    if seen.reply is None:
        if seen.replayed_nonce:
            raise ReplayError(f"the signed URL (nonce {nonce[:80]!r}) already carried another message")
        raise LookupError(key)
    request.app[METRICS].retries.labels(channel.name).inc()
    return seen.reply


async def _process(request: web.Request, channel: Channel, message: Message, started: float, nonce: str) -> str:
    """Dedupe, dispatch and store in one writer unit; returns the reply text ('' for none).

    Raises ReplayError when the signed URL already carried another message (a replay)."""
    services = request.app[SERVICES]
    settings = request.app[SETTINGS]
    ctx = DialogueContext(settings=settings, rules=services.rules.current, memory=services.memory)
    key = f"{channel.name}:{message.dedupe_key}"
    received_at = _received_at(message, services, now=request.app[CLOCK](),
                               window_s=settings.server.timestamp_window_s)
    ahead = await _ahead(request, ctx, channel, message, received_at) if isinstance(message, TextMessage) else None
    replayed = False
    sender: AccountView | None = None

    async def unit(conn: AsyncConnection) -> str | None:
        nonlocal replayed, sender
        seen = await get_processed(conn, key=key, nonce=nonce)
        if seen.reply is not None:
            replayed = True
            return seen.reply
        if seen.replayed_nonce:
            return None
        if isinstance(message, TextMessage):
            incoming = Incoming(channel=channel.name, external_id=message.from_user, text=message.content,
                                msg_id=key, received_at=received_at)
            reply, sender = await handle_text(ctx, conn, incoming, ahead)
        elif isinstance(message, Event):
            event = message.raw.get("Event", "").lower()
            reply = await handle_event(ctx, conn, channel=channel.name, external_id=message.from_user,
                                       event=event, now=received_at)
        else:
            reply = texts.NOT_TEXT
        await record_processed(conn, key=key, channel=channel.name, reply=reply, now=dt.datetime.now(dt.UTC),
                               nonce=nonce)
        return reply

    future = services.writer.enqueue(unit)
    remaining = settings.server.reply_budget_s - (time.monotonic() - started)
    try:
        done, _ = await asyncio.wait((future,), timeout=max(remaining, 0.0))
        if not done:
            raise TimeoutError
        result = future.result()
    except sa.exc.IntegrityError:
        return await _answer_race(request, channel, key, nonce)  # LookupError (a 503) if neither is found
    except TimeoutError:
        request.app[METRICS].late.labels(channel.name).inc()
        log.warning("reply budget exceeded for %s; answering success and pushing later", key)
        task = asyncio.create_task(_late_push(services, channel, message, future, unit))
        request.app[PENDING].add(task)
        task.add_done_callback(request.app[PENDING].discard)
        return ""
    if result is None:
        raise ReplayError(f"the signed URL (nonce {nonce[:80]!r}) already carried another message")
    if replayed:
        request.app[METRICS].retries.labels(channel.name).inc()
    _remember_sender(request, channel, message, sender)
    return result


def _remember_sender(request: web.Request, channel: Channel, message: Message, sender: AccountView | None) -> None:
    hint_key = (channel.name, message.from_user)
    if isinstance(message, TextMessage) and sender is not None and not normalize(message.content).startswith("绑定"):
        request.app[HINTS].put(hint_key, sender)
    else:
        request.app[HINTS].forget(hint_key)  # binding or (un)subscribing changes who the sender is


async def _handle_post(request: web.Request, channel: Channel) -> web.Response:
    started = time.monotonic()
    metrics = request.app[METRICS]
    crypto = request.app[CRYPTO_WECOM] if channel is WECOM else request.app[CRYPTO_WECHAT]
    try:
        body = await _read_body(request, request.app[SETTINGS].server.body_limit_bytes)
        opened = _open_body(request, channel, body, crypto)
        message = parse_message(opened.inner)
    except WireError as exc:
        metrics.refused.labels(channel.name, type(exc).__name__).inc()
        return _error_response(exc)
    try:
        reply = await _process(request, channel, message, started, opened.nonce)
    except ReplayError as exc:
        metrics.refused.labels(channel.name, type(exc).__name__).inc()
        return _error_response(exc)
    except StorageUnavailable as exc:
        metrics.refused.labels(channel.name, "StorageUnavailable").inc()
        log.error("message %s not stored, asking WeChat to retry: %s", message.dedupe_key, exc)
        return web.Response(status=503, text=f"{texts.STORAGE_DOWN}\n", content_type="text/plain")
    except Exception:  # callback boundary: a bug must not lose the message; WeChat retries a 503
        metrics.refused.labels(channel.name, "InternalError").inc()
        log.exception("message %s failed and was not stored; WeChat will retry", message.dedupe_key)
        return web.Response(status=503, text=f"{texts.STORAGE_DOWN}\n", content_type="text/plain")
    metrics.messages.labels(channel.name, message.msg_type).inc()
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

