"""The Sender protocol, the message and result types, and the channels that need no network."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "OutgoingMessage",
    "SendResult",
    "Sender",
    "LogSender",
    "InboxSender",
    "RecordingSender",
    "truncate_utf8",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutgoingMessage:
    """One delivery attempt of an outbox row."""

    recipient: str  # OpenID / WeCom UserID ("a|b" for several) / community name for robots / "admins"
    body: str
    now: dt.datetime  # the time of this attempt (token expiry, rate windows, the 48-hour window)
    kind: str = "notice"
    subject: str = ""
    channel: str = "log"
    payload: dict[str, Any] = field(default_factory=dict)  # format, image_path, webhook, link, fields
    last_seen_at: dt.datetime | None = None  # the recipient's last message to us (WeChat)
    outbox_id: int | None = None
    idempotency_key: str = ""


@dataclass(frozen=True)
class SendResult:
    """What happened. ``ok`` False with ``defer_until`` set means "rate-limited: try again then"."""

    ok: bool
    error: str | None = None
    permanent: bool = False  # retrying cannot help (no such user, no template configured)
    defer_until: dt.datetime | None = None
    note: str | None = None  # e.g. partially invalid recipients, or "template fallback"
    response: dict[str, Any] | None = None

    @classmethod
    def sent(cls, note: str | None = None, response: dict[str, Any] | None = None) -> SendResult:
        return cls(ok=True, note=note, response=response)

    @classmethod
    def failed(cls, error: str, *, permanent: bool = False) -> SendResult:
        return cls(ok=False, error=error, permanent=permanent)

    @classmethod
    def deferred(cls, until: dt.datetime, reason: str) -> SendResult:
        return cls(ok=False, error=reason, defer_until=until)


class Sender(Protocol):
    async def send(self, message: OutgoingMessage) -> SendResult: ...


def truncate_utf8(text: str, limit_bytes: int, *, marker: str = "…") -> str:
    """`text` cut to at most `limit_bytes` UTF-8 bytes without splitting a character (with a marker if cut)."""
    raw = text.encode("utf-8")
    if len(raw) <= limit_bytes:
        return text
    room = max(0, limit_bytes - len(marker.encode("utf-8")))
    return raw[:room].decode("utf-8", errors="ignore") + marker


class LogSender:
    """The embedded default: the message goes to the log."""

    async def send(self, message: OutgoingMessage) -> SendResult:
        log.info("outgoing %s to %s: %s %s", message.kind, message.recipient, message.subject, message.body)
        return SendResult.sent()


class InboxSender:
    """The in-app inbox: the outbox row is the inbox entry; delivering it only marks it delivered."""

    async def send(self, message: OutgoingMessage) -> SendResult:
        return SendResult.sent(note="inbox")


class RecordingSender:
    """A test double: remembers every message; answers with queued results (default: success)."""

    def __init__(self, *results: SendResult) -> None:
        self.messages: list[OutgoingMessage] = []
        self._results = list(results)

    def queue(self, *results: SendResult) -> None:
        self._results.extend(results)

    async def send(self, message: OutgoingMessage) -> SendResult:
        self.messages.append(message)
        if self._results:
            return self._results.pop(0)
        return SendResult.sent()
