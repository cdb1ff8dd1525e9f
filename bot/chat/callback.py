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
from collections.abc import Awaitable, Callable
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
from bot.chat.hints import SenderHint
from bot.chat.media import is_media_message, needs_download, read_message
from bot.keys import CRYPTO_WECHAT, CRYPTO_WECOM, HINTS, METRICS, PENDING, SERVICES, SETTINGS
from bot.wire.crypto import MessageCrypto, check_signature
from bot.wire.errors import BodyTooLargeError, SignatureError, WireError
from bot.wire.messages import Event, Message, TextMessage, parse_message
from bot.wire.replies import SUCCESS, build_text_reply
from classifiers import classify
from intake.accounts import AccountView, get_account
from intake.context import Services
from intake.dedupe import get_processed_reply, record_processed
from intake.errors import StorageUnavailable
from intake.media import MediaError
from intake.outbox import add_outbox_message, channel_for_account
from intake.sources import NoticeSource
from intake.store.writer import Unit

__all__ = ["setup_callback_routes"]

log = logging.getLogger(__name__)

LATE_ATTEMPTS = 5  # a message answered `success` is tried this often (1 s, 2 s, 4 s ... apart)


@dataclass(frozen=True)
class Channel:
    name: str  # "wechat" | "wecom"
    always_encrypted: bool


WECHAT = Channel("wechat", always_encrypted=False)
WECOM = Channel("wecom", always_encrypted=True)


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
    if isinstance(exc, SignatureError):
        status = 403
    elif isinstance(exc, BodyTooLargeError):
        status = 413
    else:
        status = 400
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
            now=time.time(), window_s=request.app[SETTINGS].server.timestamp_window_s,
        )
    except WireError as exc:
        return _error_response(exc)
    return web.Response(text=q.get("echostr", ""), content_type="text/plain")


async def handle_wecom_verify(request: web.Request) -> web.Response:
    q = request.query
    try:
        plain = request.app[CRYPTO_WECOM].decrypt_echo(
            q.get("msg_signature"), q.get("timestamp"), q.get("nonce"), _echo_param(request),
            now=time.time(), window_s=request.app[SETTINGS].server.timestamp_window_s,
        )
    except WireError as exc:
        return _error_response(exc)
    return web.Response(text=plain, content_type="text/plain")


def _open_body(request: web.Request, channel: Channel, body: bytes, crypto: MessageCrypto) -> tuple[bytes, bool]:
    """Check the signature and return (inner XML, whether the reply must be encrypted)."""
    settings = request.app[SETTINGS]
    q = request.query
    now, window = time.time(), settings.server.timestamp_window_s
    encrypted = channel.always_encrypted or q.get("encrypt_type", "raw").lower() == "aes"
    if encrypted:
        inner = crypto.decrypt_message(
            body, msg_signature=q.get("msg_signature"), timestamp=q.get("timestamp"), nonce=q.get("nonce"),
            now=now, window_s=window,
        )
        return inner, True
    check_signature(q.get("signature"), settings.wechat.token, q.get("timestamp", ""), q.get("nonce", ""),
                    now=now, window_s=window)
    return body, False


async def _late_push(services: Services, channel: Channel, message: Message, future: asyncio.Future[str],
                     resubmit: Callable[[], Awaitable[str]]) -> None:
    """The handler missed the reply budget and WeChat got `success` (it will not retry): finish the work
    here, retrying while the database is unavailable, and send the answer through the outbound channel."""
    delay = 1.0
    for attempt in range(LATE_ATTEMPTS):
        try:
            reply = await (future if attempt == 0 else resubmit())
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


async def _hint(request: web.Request, channel: Channel, external_id: str) -> SenderHint:
    """A cached guess of who the sender is (refreshed after each message they send)."""
    hints = request.app[HINTS]
    key = (channel.name, external_id)
    hint = hints.get(key)
    if hint is None:
        async with request.app[SERVICES].engine.connect() as conn:
            account = await get_account(conn, channel=channel.name, external_id=external_id)
        hint = hints.put(key, account)
    return hint


async def _ahead(request: web.Request, ctx: DialogueContext, channel: Channel, message: TextMessage,
                 received_at: dt.datetime) -> Ahead | None:
    """Classify a clerk's notice outside the writer, using a cached guess of who the sender is."""
    hint = await _hint(request, channel, message.from_user)
    if not hint.reads_notices or is_command(message.content):
        return None
    classification = classify(message.content, now=received_at, sender_department=hint.department, rules=ctx.rules)
    return Ahead(classification=classification, department=hint.department)


@dataclass
class _Outcome:
    """What the writer unit learnt: whether it replayed a stored reply, and who the sender is."""

    replayed: bool = False
    sender: AccountView | None = None


def _build_unit(ctx: DialogueContext, channel: Channel, message: Message, key: str, outcome: _Outcome, *,
                incoming: Incoming | None, ahead: Ahead | None = None, fixed: str | None = None) -> Unit[str]:
    """Dedupe, dispatch and record the reply, in one writer unit: ``incoming`` goes through the dialogue,
    an event gets its answer, anything else the ``fixed`` reply."""

    async def unit(conn: AsyncConnection) -> str:
        stored = await get_processed_reply(conn, key=key)
        if stored is not None:
            outcome.replayed = True
            return stored
        if incoming is not None:
            reply, outcome.sender = await handle_text(ctx, conn, incoming, ahead)
        elif isinstance(message, Event):
            event = message.raw.get("Event", "").lower()
            reply = await handle_event(ctx, conn, channel=channel.name, external_id=message.from_user,
                                       event=event, now=_received_at(message, ctx))
        else:
            reply = fixed if fixed is not None else texts.NOT_TEXT
        await record_processed(conn, key=key, channel=channel.name, reply=reply, now=dt.datetime.now(dt.UTC))
        return reply

    return unit


def _received_at(message: Message, ctx: DialogueContext) -> dt.datetime:
    return dt.datetime.fromtimestamp(message.create_time, tz=ctx.settings.tz)


def _context(request: web.Request) -> DialogueContext:
    services = request.app[SERVICES]
    return DialogueContext(settings=request.app[SETTINGS], rules=services.rules.current, memory=services.memory)


async def _process(request: web.Request, channel: Channel, message: Message, started: float) -> str:
    """Dedupe, dispatch and store in one writer unit; returns the reply text ('' for none)."""
    if is_media_message(message):
        return await _process_media(request, channel, message, started)
    services = request.app[SERVICES]
    ctx = _context(request)
    key = f"{channel.name}:{message.dedupe_key}"
    incoming = None
    ahead = None
    if isinstance(message, TextMessage):
        incoming = Incoming(channel=channel.name, external_id=message.from_user, text=message.content,
                            msg_id=key, received_at=_received_at(message, ctx))
        ahead = await _ahead(request, ctx, channel, message, incoming.received_at)
    outcome = _Outcome()
    unit = _build_unit(ctx, channel, message, key, outcome, incoming=incoming, ahead=ahead)
    future = services.writer.enqueue(unit)
    return await _await_reply(request, channel, message, started, future, lambda: services.writer.submit(unit),
                              outcome, incoming)


async def _read_incoming(request: web.Request, ctx: DialogueContext, channel: Channel, message: Message,
                         key: str) -> tuple[Incoming | None, str | None]:
    """A voice, picture or link message as the Incoming it stands for, or the answer why it cannot be."""
    received_at = _received_at(message, ctx)

    def incoming(text: str, source: NoticeSource | None) -> Incoming:
        return Incoming(channel=channel.name, external_id=message.from_user, text=text, msg_id=key,
                        received_at=received_at, source=source)

    if needs_download(message) and not (await _hint(request, channel, message.from_user)).reads_notices:
        return incoming(texts.HELP_WORD, None), None  # unbound or a head: what this account can do
    try:
        reading = await read_message(request.app, channel.name, message, now=dt.datetime.now(dt.UTC))
    except MediaError as exc:
        log.info("%s from %s not read: %s", message.msg_type, key, exc.reason)
        return None, exc.user_message
    return incoming(reading.text, reading.source), None


async def _process_media(request: web.Request, channel: Channel, message: Message, started: float) -> str:
    """Read the message first (a download and the worker for pictures), then the same unit as a typed
    notice; past the reply budget the reading goes on and the receipt is pushed later."""
    services = request.app[SERVICES]
    ctx = _context(request)
    key = f"{channel.name}:{message.dedupe_key}"
    async with services.engine.connect() as conn:
        stored = await get_processed_reply(conn, key=key)  # a retry answered already: no second download
    if stored is not None:
        request.app[METRICS].retries.labels(channel.name).inc()
        return stored
    outcome = _Outcome()
    units: list[Unit[str]] = []
    read: list[Incoming | None] = [None]

    async def run() -> str:
        read[0], fixed = await _read_incoming(request, ctx, channel, message, key)
        units.append(_build_unit(ctx, channel, message, key, outcome, incoming=read[0], fixed=fixed))
        return await services.writer.submit(units[-1])

    job = asyncio.ensure_future(run())
    reply = await _await_reply(request, channel, message, started, job, lambda: services.writer.submit(units[-1]),
                               outcome, None)
    if outcome.sender is not None and read[0] is not None:
        request.app[HINTS].put((channel.name, message.from_user), outcome.sender)
    return reply


async def _await_reply(request: web.Request, channel: Channel, message: Message, started: float,
                       future: asyncio.Future[str], resubmit: Callable[[], Awaitable[str]], outcome: _Outcome,
                       incoming: Incoming | None) -> str:
    """The reply within the budget, or '' (WeChat gets `success`) and the reply pushed later."""
    services = request.app[SERVICES]
    key = f"{channel.name}:{message.dedupe_key}"
    remaining = request.app[SETTINGS].server.reply_budget_s - (time.monotonic() - started)
    try:
        done, _ = await asyncio.wait((future,), timeout=max(remaining, 0.0))
        if not done:
            raise TimeoutError
        reply = future.result()
    except sa.exc.IntegrityError:
        # another process stored the same delivery first (WeChat's retry raced it): answer its reply
        async with services.engine.connect() as conn:
            stored = await get_processed_reply(conn, key=key)
        if stored is None:
            raise
        request.app[METRICS].retries.labels(channel.name).inc()
        return stored
    except TimeoutError:
        request.app[METRICS].late.labels(channel.name).inc()
        log.warning("reply budget exceeded for %s; answering success and pushing later", key)
        task = asyncio.create_task(_late_push(services, channel, message, future, resubmit))
        request.app[PENDING].add(task)
        task.add_done_callback(request.app[PENDING].discard)
        return ""
    if outcome.replayed:
        request.app[METRICS].retries.labels(channel.name).inc()
    hint_key = (channel.name, message.from_user)
    if incoming is not None and outcome.sender is not None and not normalize(incoming.text).startswith("绑定"):
        request.app[HINTS].put(hint_key, outcome.sender)
    else:
        request.app[HINTS].forget(hint_key)  # binding or (un)subscribing changes who the sender is
    return reply


async def _handle_post(request: web.Request, channel: Channel) -> web.Response:
    started = time.monotonic()
    metrics = request.app[METRICS]
    crypto = request.app[CRYPTO_WECOM] if channel is WECOM else request.app[CRYPTO_WECHAT]
    try:
        body = await _read_body(request, request.app[SETTINGS].server.body_limit_bytes)
        inner, encrypted = _open_body(request, channel, body, crypto)
        message = parse_message(inner)
    except WireError as exc:
        metrics.refused.labels(channel.name, type(exc).__name__).inc()
        return _error_response(exc)
    try:
        reply = await _process(request, channel, message, started)
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
    if encrypted:
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

