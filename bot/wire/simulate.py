"""The other end of the wire: callbacks built exactly as the WeChat and WeCom servers send them.

The console's chat simulator (and nothing on the hot path) uses these to speak to this
server with the one codec of :mod:`bot.wire`: :func:`~bot.wire.crypto.build_signature`
for signatures, :func:`~bot.wire.replies.build_xml` for XML and
:class:`~bot.wire.crypto.MessageCrypto` for WeCom's AES envelope.
"""

from __future__ import annotations

import secrets
from typing import Protocol

from defusedxml.ElementTree import ParseError, fromstring

from bot.wire.crypto import MessageCrypto, build_signature
from bot.wire.errors import WireError
from bot.wire.messages import parse_envelope
from bot.wire.replies import build_xml

__all__ = ["ChatCodec", "WechatPlainCodec", "WechatSafeCodec", "WecomCodec", "reply_content"]


class ChatCodec(Protocol):
    """Builds one text callback as the platform's server would send it, and opens the passive reply."""

    @property
    def channel(self) -> str: ...

    @property
    def path(self) -> str: ...

    def build_post(self, *, user_id: str, text: str, now: int) -> tuple[dict[str, str], bytes]: ...

    def open_reply(self, raw: str, *, now: float) -> str:
        """The reply's plaintext XML; raises ValueError when it does not verify."""
        ...


def _msg_id() -> int:
    return secrets.randbelow(10**15) + 10**15


class WechatPlainCodec:
    """Official Account in plaintext mode: a signed query string and an XML body."""

    channel = "wechat"
    path = "/wechat"

    def __init__(self, *, token: str, app_id: str) -> None:
        self._token = token
        self._app_id = app_id

    def build_post(self, *, user_id: str, text: str, now: int) -> tuple[dict[str, str], bytes]:
        timestamp, nonce = str(now), secrets.token_hex(8)
        body = build_xml([
            ("ToUserName", self._app_id), ("FromUserName", user_id), ("CreateTime", now), ("MsgType", "text"),
            ("Content", text), ("MsgId", _msg_id()),
        ])
        params = {"signature": build_signature(self._token, timestamp, nonce), "timestamp": timestamp,
                  "nonce": nonce, "openid": user_id}
        return params, body.encode("utf-8")

    def open_reply(self, raw: str, *, now: float) -> str:
        return raw


class WecomCodec:
    """A WeCom self-built app: inner text XML → AES → envelope signed with ``msg_signature``."""

    channel = "wecom"
    path = "/wecom"

    def __init__(self, crypto: MessageCrypto, *, corp_id: str, agent_id: str, window_s: int) -> None:
        self._crypto = crypto
        self._corp_id = corp_id
        self._agent_id = agent_id
        self._window_s = window_s

    def _seal(self, user_id: str, text: str, now: int, *extra: tuple[str, str]) -> tuple[str, str, str, str]:
        """(timestamp, nonce, Encrypt, msg_signature) of one text message from ``user_id``."""
        timestamp, nonce = str(now), secrets.token_hex(8)
        inner = build_xml([
            ("ToUserName", self._corp_id), ("FromUserName", user_id), ("CreateTime", now), ("MsgType", "text"),
            ("Content", text), ("MsgId", _msg_id()), *extra,
        ])
        # the reply envelope carries exactly what a callback needs: Encrypt and its msg_signature
        envelope = parse_envelope(self._crypto.encrypt_reply(inner, timestamp=timestamp, nonce=nonce).encode("utf-8"))
        return timestamp, nonce, envelope["Encrypt"], envelope["MsgSignature"]

    def build_post(self, *, user_id: str, text: str, now: int) -> tuple[dict[str, str], bytes]:
        timestamp, nonce, encrypted, signature = self._seal(user_id, text, now, ("AgentID", self._agent_id))
        body = build_xml([("ToUserName", self._corp_id), ("Encrypt", encrypted), ("AgentID", self._agent_id)])
        return {"msg_signature": signature, "timestamp": timestamp, "nonce": nonce}, body.encode("utf-8")

    def open_reply(self, raw: str, *, now: float) -> str:
        try:
            envelope = parse_envelope(raw.encode("utf-8"))
            inner = self._crypto.decrypt_message(
                raw.encode("utf-8"), msg_signature=envelope.get("MsgSignature"), timestamp=envelope.get("TimeStamp"),
                nonce=envelope.get("Nonce"), now=now, window_s=self._window_s,
            )
        except WireError as exc:
            raise ValueError(f"the WeCom reply did not verify: {exc}") from exc
        return inner.decode("utf-8")


class WechatSafeCodec(WecomCodec):
    """Official Account in safe mode (安全模式): what a server with ``require_encryption`` accepts.

    The envelope holds only ``ToUserName`` and ``Encrypt``; the query carries ``encrypt_type=aes``,
    the URL ``signature`` and the ``msg_signature`` over the ciphertext.
    """

    channel = "wechat"
    path = "/wechat"

    def __init__(self, crypto: MessageCrypto, *, token: str, app_id: str, window_s: int) -> None:
        super().__init__(crypto, corp_id=app_id, agent_id="", window_s=window_s)
        self._token = token

    def build_post(self, *, user_id: str, text: str, now: int) -> tuple[dict[str, str], bytes]:
        timestamp, nonce, encrypted, signature = self._seal(user_id, text, now)
        body = build_xml([("ToUserName", self._corp_id), ("Encrypt", encrypted)])
        params = {"signature": build_signature(self._token, timestamp, nonce), "timestamp": timestamp,
                  "nonce": nonce, "openid": user_id, "encrypt_type": "aes", "msg_signature": signature}
        return params, body.encode("utf-8")


def reply_content(codec: ChatCodec, raw: str, *, now: float) -> str:
    """The ``Content`` of a passive reply (the raw text when it is not XML); ValueError when it does not verify."""
    plain = codec.open_reply(raw, now=now)
    try:
        return fromstring(plain.encode("utf-8")).findtext("Content") or plain
    except ParseError:
        return raw
