"""One message through the writer, shared by typed and read (voice, picture, file, link) messages: the
unit (dedupe → dispatch → record the reply), the reply budget, and the late push past it.

The unit answers a retry of a stored message with its first reply, returns None when the signed URL
already carried another message (a replay), and otherwise runs the dialogue (``incoming``), an event,
or records a ``fixed`` answer (why a file could not be read, a video...)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.chat import texts
from bot.chat.dialogue import Ahead, DialogueContext, Incoming, handle_event, handle_text, normalize
from bot.chat.hints import SenderHint
from bot.keys import HINTS, METRICS, PENDING, SERVICES, SETTINGS
from bot.wire.errors import ReplayError
from bot.wire.messages import Event, Message
from intake.accounts import AccountView, get_account
from intake.context import Services
from intake.dedupe import get_processed, record_processed
from intake.errors import StorageUnavailable
from intake.outbox import add_outbox_message, channel_for_account
from intake.store.writer import Unit

__all__ = ["Outcome", "build_unit", "await_reply", "get_sender_hint", "LATE_ATTEMPTS"]

log = logging.getLogger(__name__)

LATE_ATTEMPTS = 5  # a message answered `success` is tried this often (1 s, 2 s, 4 s ... apart)


@dataclass
class Outcome:
    """What the writer unit learnt: whether it replayed a stored reply, and who the sender is."""

    replayed: bool = False
    sender: AccountView | None = None


def build_unit(ctx: DialogueContext, channel: str, message: Message, *, key: str, nonce: str,
               received_at: dt.datetime, outcome: Outcome, incoming: Incoming | None, ahead: Ahead | None = None,
               fixed: str | None = None) -> Unit[str | None]:
    async def unit(conn: AsyncConnection) -> str | None:
        seen = await get_processed(conn, key=key, nonce=nonce)
        if seen.reply is not None:
            outcome.replayed = True
            return seen.reply
        if seen.replayed_nonce:
            return None
        if incoming is not None:
            reply, outcome.sender = await handle_text(ctx, conn, incoming, ahead)
        elif isinstance(message, Event):
            event = message.raw.get("Event", "").lower()
            reply = await handle_event(ctx, conn, channel=channel, external_id=message.from_user, event=event,
                                       now=received_at)
        else:
            reply = fixed if fixed is not None else texts.NOT_TEXT
        await record_processed(conn, key=key, channel=channel, reply=reply, now=dt.datetime.now(dt.UTC),
                               nonce=nonce)
        return reply

    return unit


async def _late_push(services: Services, channel: str, message: Message, future: asyncio.Future[str | None],
                     resubmit: Callable[[], Awaitable[str | None]], *, push: bool = True) -> None:
    """The handler missed the reply budget and WeChat got `success` (it will not retry): finish the work
    here, retrying while the database is unavailable, and send the answer through the outbound channel
    (unless ``push`` is off: the WeCom bot fetches the stored answer itself, by refreshing its stream)."""
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
    if not reply or not push:
        return
    now = dt.datetime.now(dt.UTC)

    async def add_push(conn: AsyncConnection) -> int | None:
        return await add_outbox_message(
            # back through the chat the message came from (WeCom app message or Official Account service message)
            conn, idempotency_key=f"late:{channel}:{message.dedupe_key}",
            channel=channel_for_account("auto", channel), recipient=message.from_user, kind="late_reply",
            body=reply, now=now,
        )

    await services.writer.submit(add_push)


async def _answer_race(request: web.Request, channel: str, key: str, nonce: str) -> str:
    """Another process stored the same delivery (WeChat's retry raced it), or the same signed URL with
    another message, first: the first one's reply, or ReplayError."""
    async with request.app[SERVICES].engine.connect() as conn:
        seen = await get_processed(conn, key=key, nonce=nonce)
    if seen.reply is None:
        if seen.replayed_nonce:
            raise ReplayError(f"the signed URL (nonce {nonce[:80]!r}) already carried another message")
        raise LookupError(key)
    request.app[METRICS].retries.labels(channel).inc()
    return seen.reply


async def await_reply(request: web.Request, channel: str, message: Message, *, started: float, nonce: str,
                      future: asyncio.Future[str | None], resubmit: Callable[[], Awaitable[str | None]],
                      outcome: Outcome, text: str | None, push_late: bool = True) -> str:
    """The reply within the budget, or '' (WeChat gets `success`) and the reply pushed later.
    ``text`` is what the sender wrote or said (None for events and unread messages): it decides
    whether the cached guess of the sender is kept. Raises ReplayError for a replayed URL."""
    key = f"{channel}:{message.dedupe_key}"
    remaining = request.app[SETTINGS].server.reply_budget_s - (time.monotonic() - started)
    try:
        done, _ = await asyncio.wait((future,), timeout=max(remaining, 0.0))
        if not done:
            raise TimeoutError
        result = future.result()
    except sa.exc.IntegrityError:
        return await _answer_race(request, channel, key, nonce)  # LookupError (a 503) if neither is found
    except TimeoutError:
        request.app[METRICS].late.labels(channel).inc()
        log.warning("reply budget exceeded for %s; answering success and pushing later", key)
        request.app[HINTS].forget((channel, message.from_user))  # a late binding must not leave a stale guess
        task = asyncio.create_task(_late_push(request.app[SERVICES], channel, message, future, resubmit,
                                              push=push_late))
        request.app[PENDING].add(task)
        task.add_done_callback(request.app[PENDING].discard)
        return ""
    if result is None:
        raise ReplayError(f"the signed URL (nonce {nonce[:80]!r}) already carried another message")
    if outcome.replayed:
        request.app[METRICS].retries.labels(channel).inc()
    hint_key = (channel, message.from_user)
    if text is not None and outcome.sender is not None and not normalize(text).startswith("绑定"):
        request.app[HINTS].put(hint_key, outcome.sender)
    else:
        request.app[HINTS].forget(hint_key)  # binding or (un)subscribing changes who the sender is
    return result


async def get_sender_hint(request: web.Request, channel: str, external_id: str) -> SenderHint:
    """A cached guess of who the sender is (refreshed after each message they send)."""
    hints = request.app[HINTS]
    key = (channel, external_id)
    hint = hints.get(key)
    if hint is None:
        async with request.app[SERVICES].engine.connect() as conn:
            account = await get_account(conn, channel=channel, external_id=external_id)
        hint = hints.put(key, account)
    return hint
