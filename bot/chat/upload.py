"""The upload page: ``上传`` in chat gives a single-use, expiring link (:mod:`intake.uploads`,
:mod:`intake.links`) to a small page where a clerk or head uploads a notice file from a phone or PC.

``GET /upload/{nonce}`` shows the file form; ``POST …/read`` reads the file in the media worker (the same
reader as a file sent in chat) and shows the text to check and correct, keeping the file aside
(:mod:`intake.media.staging`); ``POST …/submit`` spends the ticket and logs the corrected text in one
transaction, through the same dialogue as a typed notice, and queues the receipt for the chat the link
was asked for in (the outbox; a WeCom bot's ``response_url`` when it was asked for there). Only then does
the file become the task's original. A bad, too large or unreadable file gets a clear answer on the page
and leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

import jinja2
from aiohttp import BodyPartReader, web
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.chat import texts_media
from bot.chat.callback import read_body
from bot.chat.dialogue import DialogueContext, Incoming, handle_text
from bot.keys import CLOCK, MEDIA_WORKER, SERVICES, SETTINGS
from bot.wire.errors import BodyTooLargeError
from intake.errors import StorageUnavailable
from intake.labels import SOURCE_TYPE_ZH
from intake.links import is_valid_upload_link
from intake.media import MediaError, SourceType, TooLarge, store_original
from intake.media.errors import human_bytes
from intake.media.result import normalise_text
from intake.media.staging import Staged, drop_staged, load_staged, stage_file, sweep_staged
from intake.outbox import add_outbox_message, channel_for_account
from intake.sources import NoticeSource
from intake.store.models import TASKS
from intake.uploads import Ticket, get_open_ticket, get_ticket_owner, set_ticket_task, use_ticket

__all__ = ["setup_upload_routes", "UPLOAD_TEXT_MAX_CHARS"]

log = logging.getLogger(__name__)

UPLOAD_TEXT_MAX_CHARS = 20000
_FIELD_BYTES = 256 * 1024  # a form field other than the file
_CHUNK = 64 * 1024
_ENV = jinja2.Environment(loader=jinja2.PackageLoader("bot.chat", "templates"), autoescape=True)
_STATIC = Path(__file__).parent / "static"


class BadForm(Exception):
    """The request is not the page's multipart form."""


def _now(request: web.Request) -> dt.datetime:
    return dt.datetime.fromtimestamp(request.app[CLOCK](), tz=dt.UTC)  # the callbacks' clock (tests move it)


def _page(request: web.Request, state: str, *, status: int = 200, **values: Any) -> web.Response:
    nonce = request.match_info.get("nonce", "")
    query = request.query_string
    body = _ENV.get_template("upload.html").render(
        title=texts_media.UPLOAD_TITLE, state=state, read_action=f"/upload/{nonce}/read?{query}",
        submit_action=f"/upload/{nonce}/submit?{query}", limit=human_bytes(request.app[SETTINGS].media.max_bytes),
        **values)
    return web.Response(text=body, status=status, content_type="text/html",
                        headers={"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"})


async def _ticket(request: web.Request, now: dt.datetime) -> Ticket | web.Response:
    """The open ticket behind the link, or the page that says the link cannot be used."""
    services = request.app[SERVICES]
    nonce = request.match_info["nonce"]
    q = request.query
    if not is_valid_upload_link(services.link_secret, nonce=nonce, expires=q.get("e", ""), signature=q.get("s", ""),
                                now=now):
        return _page(request, "expired", status=403, error=texts_media.UPLOAD_EXPIRED)
    async with services.engine.connect() as conn:
        ticket = await get_open_ticket(conn, nonce=nonce, now=now)
    return ticket or _page(request, "expired", status=410, error=texts_media.UPLOAD_EXPIRED)


async def _read_part(part: BodyPartReader, limit: int) -> bytes:
    chunks, size = [], 0
    while chunk := await part.read_chunk(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise TooLarge("bytes", size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_form(request: web.Request, file_limit: int) -> tuple[dict[str, str], tuple[str, bytes] | None]:
    """The form's text fields and its file (name, bytes), each read with a cap as it streams; a form
    without a file may come URL-encoded."""
    if request.content_type == "application/x-www-form-urlencoded":
        try:
            body = await read_body(request, 4 * _FIELD_BYTES)
        except BodyTooLargeError as exc:
            raise BadForm(str(exc)) from exc
        return {k: v[0] for k, v in parse_qs(body.decode("utf-8", errors="replace")).items()}, None
    try:
        reader = await request.multipart()
        fields: dict[str, str] = {}
        upload = None
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or not part.name:
                raise BadForm("nested or unnamed part")
            if part.name == "file":
                data = await _read_part(part, file_limit)
                # browsers send the name as UTF-8; some clients percent-encode it
                upload = (unquote(part.filename or "upload"), data) if data else None
            else:
                fields[part.name] = (await _read_part(part, _FIELD_BYTES)).decode("utf-8", errors="replace")
    except (ValueError, AssertionError, KeyError, UnicodeError) as exc:
        raise BadForm(str(exc)) from exc
    return fields, upload


async def handle_upload_page(request: web.Request) -> web.Response:
    ticket = await _ticket(request, _now(request))
    return ticket if isinstance(ticket, web.Response) else _page(request, "choose")


async def handle_upload_read(request: web.Request) -> web.Response:
    now = _now(request)
    ticket = await _ticket(request, now)
    if isinstance(ticket, web.Response):
        return ticket
    settings = request.app[SETTINGS]
    try:
        _, upload = await _read_form(request, settings.media.max_bytes)
        if upload is None:
            return _page(request, "choose", status=400, error=texts_media.UPLOAD_NO_FILE)
        filename, data = upload
        extracted = await request.app[MEDIA_WORKER].extract(data, filename=filename)
    except BadForm:
        return _page(request, "choose", status=400, error=texts_media.UPLOAD_BAD_FORM)
    except MediaError as exc:
        log.info("upload %s not read: %s", ticket.nonce[:8], exc.reason)
        return _page(request, "choose", status=413 if isinstance(exc, TooLarge) else 400, error=exc.user_message)
    staged = Staged(filename=filename[:255], source_type=extracted.source_type.value, sha256=extracted.sha256,
                    ocr=extracted.ocr, fields=extracted.fields)
    expired_before = now - dt.timedelta(minutes=settings.links.upload_minutes + 5)
    await asyncio.to_thread(sweep_staged, settings.media_dir, older_than=expired_before)
    await asyncio.to_thread(stage_file, settings.media_dir, ticket.nonce, data, staged)
    return _page(request, "read", note=texts_media.UPLOAD_READ_OK, text=extracted.text, filename=filename,
                 kind=SOURCE_TYPE_ZH.get(staged.source_type, "文件"))


def _checked_text(fields: dict[str, str]) -> tuple[str, str | None]:
    text = normalise_text(fields.get("text", ""))
    if not text:
        return text, texts_media.UPLOAD_EMPTY_TEXT
    if len(text) > UPLOAD_TEXT_MAX_CHARS:
        return text, texts_media.UPLOAD_TOO_LONG.format(limit=UPLOAD_TEXT_MAX_CHARS)
    return text, None


def _log_unit(request: web.Request, ticket: Ticket, text: str, staged: Staged, now: dt.datetime) -> Any:
    """The writer unit: spend the ticket, log the text as the owner's message, queue the receipt."""
    services = request.app[SERVICES]
    ctx = DialogueContext(settings=request.app[SETTINGS], rules=services.rules.current, memory=services.memory,
                          district_rules=services.rules.for_district)
    msg_id = f"upload:{ticket.nonce}"
    source = NoticeSource(SourceType(staged.source_type), sha256=staged.sha256, name=staged.filename, ocr=staged.ocr,
                          fields=staged.fields, chat=ticket.chat)

    async def unit(conn: AsyncConnection) -> str | None:
        if not await use_ticket(conn, ticket_id=ticket.id, now=now):
            return None
        channel, external_id = await get_ticket_owner(conn, account_id=ticket.account_id)
        incoming = Incoming(channel=channel, external_id=external_id, text=text, msg_id=msg_id, received_at=now,
                            source=source)
        reply, _ = await handle_text(ctx, conn, incoming, None)
        code = (await conn.execute(TASKS.select().with_only_columns(TASKS.c.code).where(
            TASKS.c.msg_id == msg_id))).scalar_one_or_none()
        await set_ticket_task(conn, ticket_id=ticket.id, task_code=code)
        to_bot = ticket.reply_to is not None
        await add_outbox_message(
            conn, idempotency_key=msg_id, channel="wecom_bot" if to_bot else channel_for_account("auto", channel),
            recipient=external_id, account_id=ticket.account_id, kind="upload_receipt", body=reply, now=now,
            payload={"response_url": ticket.reply_to} if to_bot else None)
        return reply

    return unit


async def handle_upload_submit(request: web.Request) -> web.Response:
    now = _now(request)
    ticket = await _ticket(request, now)
    if isinstance(ticket, web.Response):
        return ticket
    media_dir = request.app[SETTINGS].media_dir
    staged = await asyncio.to_thread(load_staged, media_dir, ticket.nonce)
    try:
        fields, _ = await _read_form(request, 0)
    except (BadForm, TooLarge):
        fields = {}
    if staged is None or "text" not in fields:
        return _page(request, "choose", status=400, error=texts_media.UPLOAD_BAD_FORM)
    text, problem = _checked_text(fields)
    data, meta = staged
    if problem is not None:
        kind = SOURCE_TYPE_ZH.get(meta.source_type, "文件")
        return _page(request, "read", status=400, error=problem, text=text, filename=meta.filename, kind=kind)
    try:
        reply = await request.app[SERVICES].writer.submit(_log_unit(request, ticket, text, meta, now))
    except StorageUnavailable:
        return _page(request, "read", status=503, error=texts_media.UPLOAD_STORAGE_DOWN, text=text,
                     filename=meta.filename, kind=SOURCE_TYPE_ZH.get(meta.source_type, "文件"))
    if reply is not None:  # logged: the file becomes the task's original
        await asyncio.to_thread(store_original, data, media_dir=media_dir, sha256=meta.sha256)
    await asyncio.to_thread(drop_staged, media_dir, ticket.nonce)
    if reply is None:
        return _page(request, "expired", status=410, error=texts_media.UPLOAD_EXPIRED)
    return _page(request, "done", note=texts_media.UPLOAD_SUBMITTED, receipt=reply)


async def handle_upload_css(request: web.Request) -> web.FileResponse:
    return web.FileResponse(_STATIC / "upload.css", headers={"Content-Type": "text/css"})


def setup_upload_routes(app: web.Application) -> None:
    nonce = r"{nonce:[0-9a-f]{32}}"
    app.router.add_get(f"/upload/{nonce}", handle_upload_page)
    app.router.add_post(f"/upload/{nonce}/read", handle_upload_read)
    app.router.add_post(f"/upload/{nonce}/submit", handle_upload_submit)
    app.router.add_get("/upload-static/upload.css", handle_upload_css)
