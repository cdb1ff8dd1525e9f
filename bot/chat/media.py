"""Messages that are not typed text, read into the text of a notice: voice (WeChat's own speech
recognition), pictures (``media/get``, then OCR in the media worker), links (title, description and,
with ``[media] fetch_links``, the article of an allowed host).

``read_message`` returns a ``Reading`` (the text and its ``NoticeSource``) or raises ``MediaError``
whose ``user_message`` is the answer. A picture's original is kept under ``[media] dir`` only after
its text was read, so a file that cannot be read leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass

from aiohttp import web

from bot.chat import texts
from bot.chat.dialogue import DialogueContext, Incoming
from bot.chat.fetch import get_bot_media, get_link_html, get_media, is_allowed_link
from bot.chat.flow import Outcome, await_reply, build_unit, get_sender_hint
from bot.keys import CRYPTO_WECOM_BOT, HINTS, HTTP, MEDIA_APIS, MEDIA_WORKER, METRICS, SERVICES, SETTINGS
from bot.wire.aibot import BotMediaMessage
from bot.wire.messages import ImageMessage, LinkMessage, Message, VoiceMessage
from intake.dedupe import get_processed
from intake.media import MediaError, NoText, SourceType, store_original
from intake.media.html import read_article
from intake.media.result import normalise_text
from intake.sources import NoticeSource
from intake.store.writer import Unit

__all__ = ["Reading", "NoSpeechText", "is_media_message", "needs_download", "read_message", "read_file",
           "process_media"]

log = logging.getLogger(__name__)


class NoSpeechText(MediaError):
    """A voice message that WeChat did not transcribe (speech recognition off, or a WeCom voice)."""

    def __init__(self) -> None:
        super().__init__("no_text.voice", texts.VOICE_NOT_RECOGNISED)


@dataclass(frozen=True)
class Reading:
    text: str
    source: NoticeSource


def is_media_message(message: Message) -> bool:
    return isinstance(message, VoiceMessage | ImageMessage | LinkMessage | BotMediaMessage)


def needs_download(message: Message) -> bool:
    """Whether reading the message costs a download and the worker (only worth it for a notice)."""
    return isinstance(message, ImageMessage | BotMediaMessage)


def _read_voice(message: VoiceMessage) -> Reading:
    text = normalise_text(message.recognition or "")
    if not text:
        raise NoSpeechText()
    return Reading(text=text, source=NoticeSource(SourceType.VOICE))


async def _read_link(app: web.Application, message: LinkMessage) -> Reading:
    media = app[SETTINGS].media
    parts = [message.title, message.description]
    if media.fetch_links and is_allowed_link(message.url, media.link_hosts):
        html = await get_link_html(app[HTTP], message.url, timeout_s=media.link_timeout_s,
                                   max_bytes=media.link_max_bytes)
        if html is not None:
            parts.append(read_article(html))
    text = normalise_text("\n".join(parts))
    return Reading(text=text, source=NoticeSource(SourceType.LINK, name=message.url))


async def read_file(app: web.Application, data: bytes, *, filename: str) -> Reading:
    """A document or picture's text, read in the media worker; the original is kept once it was read."""
    extracted = await app[MEDIA_WORKER].extract(data, filename=filename)
    await asyncio.to_thread(store_original, data, media_dir=app[SETTINGS].media_dir, sha256=extracted.sha256)
    source = NoticeSource(extracted.source_type, sha256=extracted.sha256, name=filename, ocr=extracted.ocr,
                          fields=extracted.fields)
    return Reading(text=extracted.text, source=source)


async def _read_bot_media(app: web.Application, message: BotMediaMessage) -> Reading:
    """The intelligent bot's picture, file or mixed message: each encrypted url downloaded, decrypted and
    read; a mixed message's typed words come first, and its pictures without text are passed over."""
    settings = app[SETTINGS]
    parts, sources = [message.text] if message.text else [], []
    for url in message.urls:
        download = await get_bot_media(app[HTTP], url, crypto=app[CRYPTO_WECOM_BOT], max_bytes=settings.media.max_bytes,
                                       timeout_s=settings.wecom_bot.media_timeout_s)
        try:
            reading = await read_file(app, download.data, filename=download.filename)
        except NoText:
            if message.kind != "mixed":
                raise
            continue
        parts.append(reading.text)
        sources.append(reading.source)
    if not sources:
        if not parts:
            raise NoText("image")
        return Reading(text=normalise_text("\n".join(parts)), source=NoticeSource(SourceType.TEXT))
    return Reading(text=normalise_text("\n".join(parts)), source=sources[0])


async def read_message(app: web.Application, channel: str, message: Message, *, now: dt.datetime) -> Reading:
    """The text of a voice, picture or link message (raises ``MediaError`` with the answer)."""
    if isinstance(message, VoiceMessage):
        return _read_voice(message)
    if isinstance(message, LinkMessage):
        return await _read_link(app, message)
    if isinstance(message, BotMediaMessage):
        return await _read_bot_media(app, message)
    assert isinstance(message, ImageMessage)
    download = await get_media(app[HTTP], app[MEDIA_APIS][channel], media_id=message.media_id, now=now,
                               max_bytes=app[SETTINGS].media.max_bytes)
    return await read_file(app, download.data, filename=download.filename)


async def _read_incoming(request: web.Request, channel: str, message: Message, *, key: str,
                         received_at: dt.datetime, chat: str | None) -> tuple[Incoming | None, str | None]:
    """The Incoming a voice, picture or link message stands for, or the answer why it cannot be read."""
    def incoming(text: str, source: NoticeSource | None) -> Incoming:
        return Incoming(channel=channel, external_id=message.from_user, text=text, msg_id=key,
                        received_at=received_at, source=source)

    if needs_download(message) and not (await get_sender_hint(request, channel, message.from_user)).reads_notices:
        return incoming(texts.HELP_WORD, None), None  # unbound, or a head: what this account can do
    try:
        reading = await read_message(request.app, channel, message, now=dt.datetime.now(dt.UTC))
    except MediaError as exc:
        log.info("%s %s not read: %s", message.msg_type, key, exc.reason)
        return None, exc.user_message
    source = dataclasses.replace(reading.source, chat=chat) if chat else reading.source
    return incoming(reading.text, source), None


async def process_media(request: web.Request, ctx: DialogueContext, channel: str, message: Message, *,
                        started: float, nonce: str, received_at: dt.datetime, chat: str | None = None,
                        push_late: bool = True) -> str:
    """Read the message (a download and the worker for pictures), then the same unit as a typed notice.
    Past the reply budget the reading goes on and the receipt is pushed later (``await_reply``).
    ``chat`` is the WeCom group the message came from (kept on the task)."""
    services = request.app[SERVICES]
    key = f"{channel}:{message.dedupe_key}"
    async with services.engine.connect() as conn:
        seen = await get_processed(conn, key=key, nonce=None)  # a retry answered already: no second download
    if seen.reply is not None:
        request.app[METRICS].retries.labels(channel).inc()
        return seen.reply
    outcome = Outcome()
    units: list[Unit[str | None]] = []
    read: list[Incoming | None] = [None]

    async def run() -> str | None:
        read[0], fixed = await _read_incoming(request, channel, message, key=key, received_at=received_at, chat=chat)
        units.append(build_unit(ctx, channel, message, key=key, nonce=nonce, received_at=received_at,
                                outcome=outcome, incoming=read[0], fixed=fixed))
        return await services.writer.submit(units[-1])

    job = asyncio.ensure_future(run())
    reply = await await_reply(request, channel, message, started=started, nonce=nonce, future=job,
                              resubmit=lambda: services.writer.submit(units[-1]), outcome=outcome, text=None,
                              push_late=push_late)
    if outcome.sender is not None and read[0] is not None and read[0].source is not None:
        request.app[HINTS].put((channel, message.from_user), outcome.sender)
    return reply
