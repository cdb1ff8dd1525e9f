"""What the console's chat simulator needs from the wire layer to speak WeCom (always encrypted).

The console lives in ``intake`` and may not import ``bot``; the app factory hands it a
:class:`WecomSimulatorSupport` under ``intake.console.simulator.WECOM_SIMULATOR``::

    app[WECOM_SIMULATOR] = WecomSimulatorSupport(app[CRYPTO_WECOM], settings)

It builds a callback exactly as WeCom sends one (inner text XML → AES → envelope with
``msg_signature``) and opens the encrypted passive reply (signature checked).
"""

from __future__ import annotations

import secrets
import time

from bot.crypto import MessageCrypto
from bot.errors import WireError
from bot.messages import parse_envelope
from bot.replies import build_xml
from intake.settings import Settings

__all__ = ["WecomSimulatorSupport"]


class WecomSimulatorSupport:
    """Encrypts simulated WeCom callbacks and decrypts the replies (satisfies ``intake.console.simulator.ChatCodec``)."""

    channel = "wecom"
    path = "/wecom"

    def __init__(self, crypto: MessageCrypto, settings: Settings) -> None:
        self._crypto = crypto
        self._corp_id = settings.wecom.corp_id
        self._agent_id = str(settings.wecom.agent_id)
        self._window_s = settings.server.timestamp_window_s

    def build_post(self, *, user_id: str, text: str, now: int) -> tuple[dict[str, str], bytes]:
        """(query parameters, body) of a WeCom text callback from ``user_id``."""
        timestamp, nonce = str(now), secrets.token_hex(8)
        inner = build_xml([
            ("ToUserName", self._corp_id), ("FromUserName", user_id), ("CreateTime", now), ("MsgType", "text"),
            ("Content", text), ("MsgId", secrets.randbelow(10**15) + 10**15), ("AgentID", self._agent_id),
        ])
        # the reply envelope carries exactly what a callback needs: Encrypt and its msg_signature
        envelope = parse_envelope(self._crypto.encrypt_reply(inner, timestamp=timestamp, nonce=nonce).encode("utf-8"))
        body = build_xml([("ToUserName", self._corp_id), ("Encrypt", envelope["Encrypt"]), ("AgentID", self._agent_id)])
        params = {"msg_signature": envelope["MsgSignature"], "timestamp": timestamp, "nonce": nonce}
        return params, body.encode("utf-8")

    def open_reply(self, raw: str) -> str:
        """The plaintext XML of an encrypted passive reply; raises ValueError when it does not verify."""
        try:
            envelope = parse_envelope(raw.encode("utf-8"))
            inner = self._crypto.decrypt_message(
                raw.encode("utf-8"), msg_signature=envelope.get("MsgSignature"), timestamp=envelope.get("TimeStamp"),
                nonce=envelope.get("Nonce"), now=time.time(), window_s=self._window_s,
            )
        except WireError as exc:
            raise ValueError(f"the WeCom reply did not verify: {exc}") from exc
        return inner.decode("utf-8")
