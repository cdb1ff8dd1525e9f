"""``/wecom/bot``: the WeCom intelligent bot (智能机器人, API mode) in work groups and one-to-one chats.

verify (``msg_signature`` over the JSON ``encrypt``) → decrypt (the bot's EncodingAESKey, receive id
empty) → parse (:mod:`bot.wire.aibot`) → the same flow as a WeCom app message (``process_message``: the
same reader, receipt and task) → an encrypted stream reply. A notice is what the message carries, or,
when someone @-mentions the bot while quoting a notice in a group, what the quoted message carries.

Bot users are WeCom members: their accounts are the WeCom app's (channel ``wecom``), so a clerk bound in
the app is bound here too. Past the reply budget the answer is a stream that is not finished; WeCom
then calls back (``msgtype`` stream) and gets the receipt once it is stored. The group's chatid is kept
on the task (``tasks.source_chat``).
"""

from __future__ import annotations

import logging
import secrets
import time
from types import MappingProxyType
from typing import Any

from aiohttp import web

from bot.chat import texts_media
from bot.chat.callback import Channel, error_response, guarded, process_message, read_body
from bot.chat.dialogue import is_command
from bot.keys import CLOCK, CRYPTO_WECOM_BOT, METRICS, SERVICES, SETTINGS
from bot.wire.aibot import (
    BotContent,
    BotMediaMessage,
    BotMessage,
    BotMsgType,
    build_stream_reply,
    build_text_reply_json,
    parse_bot_envelope,
    parse_bot_message,
)
from bot.wire.crypto import MessageCrypto
from bot.wire.errors import JsonError, SignatureError, WireError, XmlError
from bot.wire.messages import Message, TextMessage, VoiceMessage
from intake.dedupe import get_processed

__all__ = ["BOT_CHANNEL", "setup_bot_routes", "to_chat_message", "notice_content", "bot_key"]

log = logging.getLogger(__name__)

# accounts are the WeCom app's; "bot:" in the MsgId keeps the bot's messages apart in the dedupe log
BOT_CHANNEL = Channel("wecom", always_encrypted=True, envelope_fields=frozenset())
LABEL = "wecom_bot"
MAX_NONCE_CHARS = 64


def bot_key(msg_id: str) -> str:
    """The dedupe key of a bot message (also the stream id's way back to its stored reply)."""
    return f"{BOT_CHANNEL.name}:msg:bot:{msg_id}"


def notice_content(message: BotMessage) -> BotContent:
    """What to read: the message itself, or the message it quotes when the sender only @-mentioned the
    bot under it (a command typed beside a quote is still the command)."""
    own, quote = message.content, message.quote
    if quote is None or quote.is_empty or (own.text and is_command(own.text)):
        return own
    return quote


def to_chat_message(message: BotMessage, *, now: int) -> Message:
    """The bot message in the shape of the chat flow's messages (text, voice, or files to read)."""
    if not message.msg_id or not message.user_id:
        raise JsonError("message lacks msgid or from.userid")
    content = notice_content(message)
    common: dict[str, Any] = {
        "to_user": message.aibot_id or "aibot", "from_user": message.user_id, "create_time": now,
        "msg_type": message.msg_type, "raw": MappingProxyType({"MsgId": f"bot:{message.msg_id}"}),
    }
    if content.urls:
        kind = "file" if content.file_url else "mixed" if content.text else "image"
        return BotMediaMessage(**common, urls=content.urls, kind=kind, text=content.text)
    if content.voice:
        return VoiceMessage(**common, media_id="", format="", recognition=content.text or None,
                            msg_id=message.msg_id)
    return TextMessage(**common, content=content.text or "帮助", msg_id=message.msg_id)


def _crypto(request: web.Request) -> MessageCrypto:
    crypto = request.app.get(CRYPTO_WECOM_BOT)
    if crypto is None:
        raise web.HTTPNotFound(text=texts_media.BOT_NOT_ENABLED, content_type="text/plain")
    return crypto


async def handle_bot_verify(request: web.Request) -> web.Response:
    """URL verification (GET): the decrypted ``echostr``, as the bot's settings page expects."""
    q = request.query
    echo = q.get("echostr")
    try:
        plain = _crypto(request).decrypt_echo(
            q.get("msg_signature"), q.get("timestamp"), q.get("nonce"), echo.replace(" ", "+") if echo else None,
            now=request.app[CLOCK](), window_s=request.app[SETTINGS].server.timestamp_window_s)
    except WireError as exc:
        return error_response(exc)
    return web.Response(text=plain, content_type="text/plain")


async def _open(request: web.Request, crypto: MessageCrypto) -> tuple[BotMessage, str]:
    """The verified, decrypted message and the nonce key of its signed URL."""
    settings = request.app[SETTINGS]
    q = request.query
    nonce = q.get("nonce", "")
    if len(nonce) > MAX_NONCE_CHARS:
        raise XmlError(f"nonce is {len(nonce)} characters long; WeCom's are short (at most {MAX_NONCE_CHARS})")
    body = await read_body(request, settings.server.body_limit_bytes)
    plain = crypto.decrypt_signed(parse_bot_envelope(body), msg_signature=q.get("msg_signature"),
                                  timestamp=q.get("timestamp"), nonce=nonce, now=request.app[CLOCK](),
                                  window_s=settings.server.timestamp_window_s)
    message = parse_bot_message(plain)
    expected = settings.wecom_bot.aibot_id
    if expected and message.aibot_id != expected:
        raise SignatureError(texts_media.BOT_WRONG_BOT.format(got=message.aibot_id[:64]))
    return message, f"{LABEL}:{q.get('timestamp', '')}:{nonce}"


async def _refresh(request: web.Request, message: BotMessage) -> str:
    """A stream refresh: the stored receipt once the message was handled, else "still reading"."""
    stream_id = message.stream_id or ""
    async with request.app[SERVICES].engine.connect() as conn:
        seen = await get_processed(conn, key=bot_key(stream_id), nonce=None)
    if seen.reply is not None:
        return build_stream_reply(stream_id, seen.reply, finish=True)
    return build_stream_reply(stream_id, texts_media.BOT_STILL_READING, finish=False)


async def _answer(request: web.Request, message: BotMessage, nonce_key: str, started: float) -> str | web.Response:
    kind = message.msg_type
    if kind == BotMsgType.STREAM:
        return await _refresh(request, message)
    if kind == BotMsgType.EVENT:
        return build_text_reply_json(texts_media.BOT_WELCOME) if message.event_type == "enter_chat" else ""
    if kind not in (BotMsgType.TEXT, BotMsgType.VOICE, BotMsgType.IMAGE, BotMsgType.FILE, BotMsgType.MIXED):
        return build_stream_reply(message.msg_id or secrets.token_hex(8), texts_media.BOT_UNSUPPORTED, finish=True)
    chat_message = to_chat_message(message, now=int(request.app[CLOCK]()))
    reply = await guarded(request, LABEL, chat_message, process_message(
        request, BOT_CHANNEL, chat_message, started, nonce_key, chat=message.chat_id, push_late=False,
        reply_to=message.response_url or None))
    if isinstance(reply, web.Response):
        return reply
    if not reply:  # past the budget: WeCom refreshes the stream until the receipt is stored
        return build_stream_reply(message.msg_id, texts_media.BOT_READING, finish=False)
    return build_stream_reply(message.msg_id, reply, finish=True)


async def handle_bot_post(request: web.Request) -> web.Response:
    started = time.monotonic()
    crypto = _crypto(request)
    try:
        message, nonce_key = await _open(request, crypto)
        answer = await _answer(request, message, nonce_key, started)
    except WireError as exc:
        request.app[METRICS].refused.labels(LABEL, type(exc).__name__).inc()
        return error_response(exc)
    if isinstance(answer, web.Response):
        return answer
    request.app[METRICS].latency.labels(LABEL).observe(time.monotonic() - started)
    if not answer:
        return web.Response(text="", content_type="text/plain")
    body = crypto.encrypt_json_reply(answer, timestamp=str(int(request.app[CLOCK]())), nonce=secrets.token_hex(5))
    return web.Response(text=body, content_type="application/json")


def setup_bot_routes(app: web.Application) -> None:
    app.router.add_get("/wecom/bot", handle_bot_verify)
    app.router.add_post("/wecom/bot", handle_bot_post)
