"""Errors of the WeChat / WeCom wire layer.

Everything the wire layer (``bot.wire.crypto``, ``bot.wire.messages``, ``bot.wire.replies``)
raises for bad input is a :class:`WireError`; nothing else escapes it for
untrusted bytes. The HTTP edge maps the classes to status codes with
``error.http_status`` and never answers 500 for bad input::

    WireError                  base, never raised itself
    ├── SignatureError         403  missing or forged signature / msg_signature
    │   ├── StaleTimestampError 403  timestamp not an integer, or outside the freshness window
    │   └── ReplayError        403  the signed URL (timestamp + nonce) already carried another message
    ├── EncryptionRequiredError 403 plaintext or compatible-mode body where only safe mode is accepted
    ├── XmlError               400  not XML, hostile XML (DTD, entities, external refs),
    │                               invalid UTF-8, root is not <xml>, required field missing or malformed
    ├── JsonError              400  the intelligent bot's body (or its decrypted message) is not the JSON it sends
    ├── DecryptError           400  signature checked but the payload does not decrypt:
    │                               bad base64, bad length, bad PKCS#7 padding, wrong AppID / CorpID
    └── BodyTooLargeError      413  request body over the configured limit

Configuration mistakes (an EncodingAESKey that is not 43 characters, an
empty token) are ``ValueError`` raised when ``MessageCrypto`` is built, so
that start-up fails with one line naming the problem.

Every message is one line that says what was wrong and what to check.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "BodyTooLargeError",
    "DecryptError",
    "EncryptionRequiredError",
    "JsonError",
    "ReplayError",
    "SignatureError",
    "StaleTimestampError",
    "WireError",
    "XmlError",
    "check_body_size",
]


class WireError(Exception):
    """Base of every error the wire layer raises for untrusted input."""

    http_status: ClassVar[int] = 400


class SignatureError(WireError):
    """The signature (or msg_signature) is missing or does not match the token."""

    http_status: ClassVar[int] = 403


class StaleTimestampError(SignatureError):
    """The timestamp is not an integer or lies outside the freshness window (a replay)."""

    http_status: ClassVar[int] = 403


class ReplayError(SignatureError):
    """A signed URL used again for another message: its timestamp and nonce were seen with another body."""

    http_status: ClassVar[int] = 403


class EncryptionRequiredError(WireError):
    """``[wechat] require_encryption`` is on and the callback is in plaintext or compatible mode."""

    http_status: ClassVar[int] = 403


class XmlError(WireError):
    """The body is not acceptable XML or lacks a required field."""

    http_status: ClassVar[int] = 400


class JsonError(WireError):
    """The WeCom intelligent bot's JSON body or message is malformed or lacks a required field."""

    http_status: ClassVar[int] = 400


class DecryptError(WireError):
    """A correctly signed payload that does not decrypt to a valid WeChat plaintext."""

    http_status: ClassVar[int] = 400


class BodyTooLargeError(WireError):
    """The request body is larger than the configured limit."""

    http_status: ClassVar[int] = 413

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"request body of {size} bytes exceeds the limit of {limit} bytes; "
            "raise the configured body limit if such messages are legitimate"
        )
        self.size = size
        self.limit = limit


def check_body_size(body: bytes, *, limit: int) -> None:
    """Raise :class:`BodyTooLargeError` when ``body`` is longer than ``limit`` bytes."""
    if len(body) > limit:
        raise BodyTooLargeError(len(body), limit)
