"""The WeCom intelligent bot (企业微信智能机器人, API mode): its JSON callbacks and replies.

The bot's callback body is ``{"encrypt": "..."}`` (see :meth:`MessageCrypto.decrypt_signed`, receive id
empty); the decrypted message is JSON::

    {"msgid", "aibotid", "chatid" (group chats only), "chattype": "single" | "group",
     "from": {"userid"}, "response_url", "msgtype": "text" | "image" | "mixed" | "voice" | "file"
     | "stream" | "event", "text": {"content"}, "image": {"url"}, "file": {"url"},
     "voice": {"content"}, "mixed": {"msg_item": [{"msgtype", "text" | "image"}]},
     "quote": {same shapes}, "stream": {"id"}, "event": {"eventtype"}}

``image`` and ``file`` urls point at encrypted bytes (:meth:`MessageCrypto.decrypt_media`), valid
for minutes. ``parse_bot_message`` turns the plaintext into a frozen :class:`BotMessage` and raises
only :class:`JsonError`. Replies are JSON built here and encrypted with
:meth:`MessageCrypto.encrypt_json_reply`; a late answer may go to ``response_url`` as markdown.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.wire.errors import JsonError
from bot.wire.messages import Message

__all__ = ["BotContent", "BotMediaMessage", "BotMessage", "BotMsgType", "build_markdown_message",
           "build_stream_reply", "build_text_reply_json", "parse_bot_envelope", "parse_bot_message"]

_LEADING_MENTIONS = re.compile(r"^(?:\s*@\S+)+\s*")
MAX_IMAGES = 4  # a mixed message's pictures read, at most


class BotMsgType(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    MIXED = "mixed"
    VOICE = "voice"
    FILE = "file"
    STREAM = "stream"
    EVENT = "event"


@dataclass(frozen=True)
class BotContent:
    """What one message (or the message it quotes) carries."""

    text: str = ""  # typed words (leading @-mentions removed), or the voice's transcription
    image_urls: tuple[str, ...] = ()
    file_url: str | None = None
    voice: bool = False

    @property
    def urls(self) -> tuple[str, ...]:
        return (self.file_url,) if self.file_url else self.image_urls

    @property
    def is_empty(self) -> bool:
        return not self.text and not self.urls


@dataclass(frozen=True)
class BotMessage:
    msg_id: str
    msg_type: str
    user_id: str
    aibot_id: str = ""
    chat_id: str | None = None  # the group (工作群) of a group message
    chat_type: str = "single"
    response_url: str = ""
    content: BotContent = field(default_factory=BotContent)
    quote: BotContent | None = None
    stream_id: str | None = None
    event_type: str | None = None


@dataclass(frozen=True, kw_only=True)
class BotMediaMessage(Message):
    """A bot message whose notice is in encrypted files (a picture, a file, a mixed message's pictures),
    in the shape of the chat flow's messages. ``text`` is what was typed beside them."""

    urls: tuple[str, ...]
    kind: str  # "image" | "file" | "mixed"
    text: str = ""


def _load(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(bytes(data).decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise JsonError(f"{what} is not valid UTF-8 ({exc.reason} at byte {exc.start})") from exc
    except (ValueError, RecursionError) as exc:
        raise JsonError(f"{what} is not valid JSON ({type(exc).__name__}); check the body sent") from exc
    if not isinstance(value, dict):
        raise JsonError(f"{what} is JSON but not an object")
    return value


def _str(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key, "")
    if not isinstance(value, str):
        raise JsonError(f"field {key!r} is {type(value).__name__}, expected a string")
    return value


def _part(obj: dict[str, Any], key: str) -> dict[str, Any]:
    value = obj.get(key) or {}
    if not isinstance(value, dict):
        raise JsonError(f"field {key!r} is {type(value).__name__}, expected an object")
    return value


def parse_bot_envelope(body: bytes) -> str:
    """The ``encrypt`` of a callback body; raises :class:`JsonError`."""
    encrypted = _str(_load(body, "callback body"), "encrypt")
    if not encrypted:
        raise JsonError("callback body has no \"encrypt\" field; is this the intelligent bot's URL?")
    return encrypted


def _content(obj: dict[str, Any]) -> BotContent:
    kind = _str(obj, "msgtype")
    if kind == BotMsgType.TEXT:
        return BotContent(text=_LEADING_MENTIONS.sub("", _str(_part(obj, "text"), "content")).strip())
    if kind == BotMsgType.VOICE:
        return BotContent(text=_str(_part(obj, "voice"), "content").strip(), voice=True)
    if kind == BotMsgType.IMAGE:
        url = _str(_part(obj, "image"), "url")
        return BotContent(image_urls=(url,) if url else ())
    if kind == BotMsgType.FILE:
        return BotContent(file_url=_str(_part(obj, "file"), "url") or None)
    if kind == BotMsgType.MIXED:
        items = _part(obj, "mixed").get("msg_item") or []
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise JsonError("mixed.msg_item is not a list of objects")
        parts = [_content(item) for item in items]
        return BotContent(text="\n".join(p.text for p in parts if p.text),
                          image_urls=tuple(u for p in parts for u in p.image_urls)[:MAX_IMAGES])
    return BotContent()


def parse_bot_message(data: bytes) -> BotMessage:
    """The decrypted message as a :class:`BotMessage`; raises only :class:`JsonError`."""
    obj = _load(data, "decrypted message")
    kind = _str(obj, "msgtype")
    if not kind:
        raise JsonError("message has no \"msgtype\"")
    quote = obj.get("quote")
    return BotMessage(
        msg_id=_str(obj, "msgid"), msg_type=kind, user_id=_str(_part(obj, "from"), "userid"),
        aibot_id=_str(obj, "aibotid"), chat_id=_str(obj, "chatid") or None, chat_type=_str(obj, "chattype") or "single",
        response_url=_str(obj, "response_url"), content=_content(obj),
        quote=_content(quote) if isinstance(quote, dict) else None,
        stream_id=_str(_part(obj, "stream"), "id") or None,
        event_type=_str(_part(obj, "event"), "eventtype") or None,
    )


def _dumps(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def build_stream_reply(stream_id: str, content: str, *, finish: bool) -> str:
    """A stream reply: WeCom shows ``content`` and, until ``finish``, calls back to refresh it."""
    return _dumps({"msgtype": "stream", "stream": {"id": stream_id, "finish": finish, "content": content}})


def build_text_reply_json(content: str) -> str:
    """A text reply (the answer to an event such as entering the chat)."""
    return _dumps({"msgtype": "text", "text": {"content": content}})


def build_markdown_message(content: str) -> str:
    """The body posted to a message's ``response_url`` (plain JSON, not encrypted)."""
    return _dumps({"msgtype": "markdown", "markdown": {"content": content}})
