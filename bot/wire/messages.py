"""Incoming WeChat Official Account and WeCom messages as frozen, typed models.

``parse_message(xml)`` turns a plaintext (or decrypted) callback body into one
of the models below; ``parse_envelope(xml)`` reads the encrypted envelope
``<xml><ToUserName/><Encrypt/>[<AgentID/>]</xml>``. Both use defusedxml with
DTDs, entities and external references forbidden, and raise nothing but
:class:`bot.wire.errors.XmlError` for bad bytes.

A message type or event this module does not know becomes
:class:`UnknownMessage`, never an error.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from bot.wire.errors import XmlError

__all__ = [
    "ClickEvent",
    "Event",
    "ImageMessage",
    "LinkMessage",
    "LocationMessage",
    "Message",
    "ScanEvent",
    "SubscribeEvent",
    "TextMessage",
    "UnknownMessage",
    "UnsubscribeEvent",
    "VideoMessage",
    "ViewEvent",
    "VoiceMessage",
    "parse_envelope",
    "parse_message",
]

_EMPTY: Mapping[str, str] = MappingProxyType({})
_N = TypeVar("_N", int, float)


@dataclass(frozen=True, kw_only=True)
class Message:
    """Fields every callback carries. ``raw`` holds every field as text.

    Nested elements appear in ``raw`` under dotted keys
    (``ScanCodeInfo.ScanResult``); when a tag repeats, the first one wins.
    ``agent_id`` is set for WeCom app callbacks (``AgentID``), else ``None``.
    """

    to_user: str
    from_user: str
    create_time: int
    msg_type: str
    agent_id: str | None = None
    raw: Mapping[str, str] = field(default_factory=lambda: _EMPTY, compare=False, hash=False, repr=False)

    @property
    def dedupe_key(self) -> str:
        """Key that identifies WeChat's retries of this callback.

        ``msg:<MsgId>`` for messages, ``evt:<FromUserName>:<CreateTime>:<Event>``
        for events and anything without a MsgId. Prefix it with the channel
        (Official Account / WeCom app) before storing: MsgIds of different
        accounts may collide.
        """
        msg_id = self.raw.get("MsgId") or self.raw.get("MsgID")
        if msg_id:
            return f"msg:{msg_id}"
        event = self.raw.get("Event") or self.msg_type
        return f"evt:{self.from_user}:{self.create_time}:{event}"


@dataclass(frozen=True, kw_only=True)
class TextMessage(Message):
    content: str
    msg_id: str


@dataclass(frozen=True, kw_only=True)
class ImageMessage(Message):
    pic_url: str
    media_id: str
    msg_id: str


@dataclass(frozen=True, kw_only=True)
class VoiceMessage(Message):
    media_id: str
    format: str
    recognition: str | None
    msg_id: str


@dataclass(frozen=True, kw_only=True)
class VideoMessage(Message):
    """``video`` and ``shortvideo`` (tell them apart by ``msg_type``)."""

    media_id: str
    thumb_media_id: str
    msg_id: str


@dataclass(frozen=True, kw_only=True)
class LocationMessage(Message):
    x: float
    y: float
    scale: int
    label: str
    msg_id: str


@dataclass(frozen=True, kw_only=True)
class LinkMessage(Message):
    title: str
    description: str
    url: str
    msg_id: str


@dataclass(frozen=True, kw_only=True)
class Event(Message):
    """Base of the event models; ``event`` is the Event field as sent."""

    event: str


@dataclass(frozen=True, kw_only=True)
class SubscribeEvent(Event):
    """Follow. ``event_key`` is ``qrscene_…`` (with a ``ticket``) when following from a QR code."""

    event_key: str | None
    ticket: str | None = None


@dataclass(frozen=True, kw_only=True)
class UnsubscribeEvent(Event):
    pass


@dataclass(frozen=True, kw_only=True)
class ClickEvent(Event):
    event_key: str


@dataclass(frozen=True, kw_only=True)
class ViewEvent(Event):
    """Menu link opened; ``event_key`` is the URL."""

    event_key: str


@dataclass(frozen=True, kw_only=True)
class ScanEvent(Event):
    """An already-following user scanned a parametric QR code."""

    event_key: str
    ticket: str | None


@dataclass(frozen=True, kw_only=True)
class UnknownMessage(Message):
    """Any message type or event this module does not model; read ``raw``."""

    event: str | None = None


# ---------------------------------------------------------------- parsing

_COMMON = ("ToUserName", "FromUserName", "CreateTime", "MsgType")


def _parse_root(xml: bytes, what: str) -> Element:
    """Parse ``xml`` with every dangerous XML feature forbidden; root must be ``<xml>``."""
    if not isinstance(xml, bytes | bytearray | memoryview):
        raise XmlError(f"{what}: expected bytes, got {type(xml).__name__}")
    try:
        # Decode ourselves: the body must be UTF-8 whatever a declaration claims.
        text = bytes(xml).decode("utf-8")
        root: Element = SafeET.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except UnicodeDecodeError as exc:
        raise XmlError(f"{what} is not valid UTF-8 ({exc.reason} at byte {exc.start}); send UTF-8") from exc
    except DefusedXmlException as exc:
        raise XmlError(
            f"{what} uses a forbidden XML feature ({type(exc).__name__}); DTDs and entities are refused"
        ) from exc
    except ParseError as exc:
        raise XmlError(f"{what} is not well-formed XML ({exc}); check the body sent") from exc
    except (ValueError, RecursionError, MemoryError) as exc:
        raise XmlError(f"{what} could not be parsed as XML ({type(exc).__name__}: {exc})") from exc
    if root.tag != "xml":
        raise XmlError(f"{what}: root element is <{str(root.tag)[:40]}>, expected <xml>")
    return root


def _flatten(root: Element) -> dict[str, str]:
    """Children of ``root`` as ``{tag: text}``, nested ones under dotted keys; first tag wins."""
    fields: dict[str, str] = {}
    stack: list[tuple[str, Element]] = [(str(child.tag), child) for child in reversed(root)]
    while stack:
        key, element = stack.pop()
        children = list(element)
        if children:
            stack.extend((f"{key}.{child.tag}", child) for child in reversed(children))
        else:
            fields.setdefault(key, element.text or "")
    return fields


def parse_envelope(xml: bytes) -> dict[str, str]:
    """Fields of an encrypted callback envelope; ``Encrypt`` is required.

    Raises :class:`XmlError` for anything that is not a safe ``<xml>`` document
    with an ``Encrypt`` element.
    """
    fields = _flatten(_parse_root(xml, "encrypted envelope"))
    if "Encrypt" not in fields:
        raise XmlError("encrypted envelope has no <Encrypt> element; is the account in plaintext mode?")
    return fields


def _required(fields: Mapping[str, str], name: str, msg_type: str) -> str:
    try:
        return fields[name]
    except KeyError:
        raise XmlError(f"{msg_type} message lacks the required <{name}> element") from None


_MAX_NUMBER = 10**15  # no field of a callback holds a larger number; beyond it a value overflows somewhere
MAX_CREATE_TIME = 253402300799  # 9999-12-31T23:59:59Z: any later second is not a date


def _number(fields: Mapping[str, str], name: str, msg_type: str, convert: Callable[[str], _N]) -> _N:
    text = _required(fields, name, msg_type)
    try:
        value = convert(text.strip())
    except (ValueError, OverflowError):
        raise XmlError(f"{msg_type} message: <{name}> is {text[:40]!r}, not a number") from None
    if not math.isfinite(value) or abs(value) > _MAX_NUMBER:
        raise XmlError(f"{msg_type} message: <{name}> is {text[:40]!r}, out of range")
    return value


def _create_time(fields: Mapping[str, str]) -> int:
    text = fields["CreateTime"].strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 20):
        raise XmlError(f"<CreateTime> is {text[:40]!r}, expected Unix seconds as an integer")
    value = int(text)
    if value > MAX_CREATE_TIME:
        raise XmlError(f"<CreateTime> is {text[:40]!r}, beyond any date: expected Unix seconds")
    return value


def parse_message(xml: bytes) -> Message:
    """Parse a plaintext callback body into a typed, frozen message.

    Raises only :class:`XmlError`: not UTF-8, not well-formed, DTD / entity /
    external reference, root other than ``<xml>``, a missing ``ToUserName``,
    ``FromUserName``, ``CreateTime`` or ``MsgType``, a non-integer
    ``CreateTime``, or a known message type without its required fields.
    Unknown message types and events become :class:`UnknownMessage`.
    """
    fields = _flatten(_parse_root(xml, "message"))
    missing = [name for name in _COMMON if name not in fields]
    if missing:
        raise XmlError(f"message lacks required element(s) {', '.join('<' + m + '>' for m in missing)}")
    common: dict[str, Any] = {
        "to_user": fields["ToUserName"],
        "from_user": fields["FromUserName"],
        "create_time": _create_time(fields),
        "msg_type": fields["MsgType"],
        "agent_id": fields.get("AgentID"),
        "raw": MappingProxyType(fields),
    }
    kind = fields["MsgType"].strip().lower()
    if kind == "event":
        return _parse_event(fields, common)
    builder = _MESSAGE_BUILDERS.get(kind)
    if builder is None:
        return UnknownMessage(**common)
    return builder(fields, common, kind)


def _text(f: Mapping[str, str], c: dict[str, Any], k: str) -> Message:
    return TextMessage(**c, content=_required(f, "Content", k), msg_id=_required(f, "MsgId", k))


def _image(f: Mapping[str, str], c: dict[str, Any], k: str) -> Message:
    return ImageMessage(
        **c,
        pic_url=_required(f, "PicUrl", k),
        media_id=_required(f, "MediaId", k),
        msg_id=_required(f, "MsgId", k),
    )


def _voice(f: Mapping[str, str], c: dict[str, Any], k: str) -> Message:
    return VoiceMessage(
        **c,
        media_id=_required(f, "MediaId", k),
        format=_required(f, "Format", k),
        recognition=f.get("Recognition"),
        msg_id=_required(f, "MsgId", k),
    )


def _video(f: Mapping[str, str], c: dict[str, Any], k: str) -> Message:
    return VideoMessage(
        **c,
        media_id=_required(f, "MediaId", k),
        thumb_media_id=_required(f, "ThumbMediaId", k),
        msg_id=_required(f, "MsgId", k),
    )


def _location(f: Mapping[str, str], c: dict[str, Any], k: str) -> Message:
    return LocationMessage(
        **c,
        x=_number(f, "Location_X", k, float),
        y=_number(f, "Location_Y", k, float),
        scale=_number(f, "Scale", k, int),
        label=f.get("Label", ""),
        msg_id=_required(f, "MsgId", k),
    )


def _link(f: Mapping[str, str], c: dict[str, Any], k: str) -> Message:
    return LinkMessage(
        **c,
        title=_required(f, "Title", k),
        description=f.get("Description", ""),
        url=_required(f, "Url", k),
        msg_id=_required(f, "MsgId", k),
    )


_MESSAGE_BUILDERS: dict[str, Callable[[Mapping[str, str], dict[str, Any], str], Message]] = {
    "text": _text,
    "image": _image,
    "voice": _voice,
    "video": _video,
    "shortvideo": _video,
    "location": _location,
    "link": _link,
}


def _parse_event(fields: Mapping[str, str], common: dict[str, Any]) -> Message:
    if "Event" not in fields:
        raise XmlError("event message lacks the required <Event> element")
    event = fields["Event"]
    kind = event.strip().lower()  # the Official Account sends CLICK, WeCom sends click
    what = f"{event[:40]} event"
    if kind == "subscribe":
        return SubscribeEvent(
            **common, event=event, event_key=fields.get("EventKey") or None, ticket=fields.get("Ticket")
        )
    if kind == "unsubscribe":
        return UnsubscribeEvent(**common, event=event)
    if kind == "click":
        return ClickEvent(**common, event=event, event_key=_required(fields, "EventKey", what))
    if kind == "view":
        return ViewEvent(**common, event=event, event_key=_required(fields, "EventKey", what))
    if kind == "scan":
        return ScanEvent(
            **common, event=event, event_key=_required(fields, "EventKey", what), ticket=fields.get("Ticket")
        )
    return UnknownMessage(**common, event=event)
