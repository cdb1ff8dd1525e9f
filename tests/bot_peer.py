"""A stand-in for WeCom's side of the intelligent bot (智能机器人): builds its JSON callbacks as the
documentation shows them (docs path/100719, 101033), encrypts them with wechatpy's cipher (an
implementation independent of ``bot.wire.crypto``; receive id empty) and decrypts the replies."""

from __future__ import annotations

import base64
import itertools
import json
import secrets
from dataclasses import dataclass
from typing import Any

from wechatpy.crypto.base import BasePrpCrypto
from wechatpy.crypto.cryptography import WeChatCipher
from wechatpy.crypto.pkcs7 import PKCS7Encoder

from bot.settings import Settings
from tests.peer import sign

_ids = itertools.count(1)


def bot_message(msgtype: str, body: dict[str, Any] | None = None, *, user: str = "zhangsan",
                chat: str | None = None, quote: dict[str, Any] | None = None, msg_id: str | None = None,
                response_url: str = "") -> dict[str, Any]:
    """A decrypted callback as the documentation shows it (``chatid`` only in group chats)."""
    message: dict[str, Any] = {
        "msgid": msg_id or f"CAIQ16HMjQYY/NGagIOAgAMgq{next(_ids):06d}=", "aibotid": "AIBOTID",
        "chattype": "group" if chat else "single", "from": {"userid": user}, "response_url": response_url,
        "msgtype": msgtype,
    }
    if chat:
        message["chatid"] = chat
    if body is not None:
        message[msgtype] = body
    if quote is not None:
        message["quote"] = quote
    return message


@dataclass
class BotReply:
    status: int
    body: str
    message: dict[str, Any]  # the decrypted reply ({} when none or refused)

    @property
    def stream(self) -> dict[str, Any]:
        return dict(self.message.get("stream", {}))

    @property
    def content(self) -> str:
        return str(self.stream.get("content") or self.message.get("text", {}).get("content", ""))


class BotPeer:
    def __init__(self, settings: Settings) -> None:
        self.token = settings.wecom_bot.token
        key = base64.b64decode(settings.wecom_bot.encoding_aes_key + "=")
        self.prp = BasePrpCrypto(key)
        self.cipher = WeChatCipher(key)

    def encrypt_media(self, data: bytes) -> bytes:
        """A picture or file as the bot's media URL serves it."""
        return bytes(self.cipher.encrypt(PKCS7Encoder.encode(data)))

    def query(self, encrypt: str, *, timestamp: int, token: str | None = None) -> dict[str, str]:
        ts, nonce = str(timestamp), str(secrets.randbelow(10**10))
        return {"msg_signature": sign(token or self.token, ts, nonce, encrypt), "timestamp": ts, "nonce": nonce}

    async def post(self, client: Any, message: dict[str, Any], *, timestamp: int, token: str | None = None) -> BotReply:
        encrypt = self.prp._encrypt(json.dumps(message, ensure_ascii=False), "").decode()
        resp = await client.post("/wecom/bot", params=self.query(encrypt, timestamp=timestamp, token=token),
                                 data=json.dumps({"encrypt": encrypt}))
        return await self.read(resp)

    async def read(self, resp: Any) -> BotReply:
        text = await resp.text()
        if resp.status != 200 or not text:
            return BotReply(resp.status, text, {})
        envelope = json.loads(text)
        expected = sign(self.token, str(envelope["timestamp"]), envelope["nonce"], envelope["encrypt"])
        assert envelope["msgsignature"] == expected, "the reply's msgsignature does not verify"
        return BotReply(resp.status, text, json.loads(self.prp._decrypt(envelope["encrypt"], "")))
