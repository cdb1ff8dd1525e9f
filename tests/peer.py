"""A stand-in for the WeChat / WeCom servers: builds callbacks exactly as they send them.

Encryption uses wechatpy (test-only), an implementation independent of ``bot.wire.crypto``,
so a round trip through the app checks our wire format against someone else's.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
import time
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from defusedxml.ElementTree import fromstring
from wechatpy.crypto import WeChatCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WeComCrypto

from bot.settings import Settings

_ids = itertools.count(10_000_000_000)


def sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def text_xml(*, from_user: str, content: str, to_user: str = "gh_jianfu", msg_id: int | None = None,
             create_time: int | None = None, agent_id: str | None = None) -> str:
    create_time = int(time.time()) if create_time is None else create_time
    msg_id = next(_ids) if msg_id is None else msg_id
    agent = f"<AgentID>{agent_id}</AgentID>" if agent_id else ""
    return (
        f"<xml><ToUserName><![CDATA[{to_user}]]></ToUserName><FromUserName><![CDATA[{from_user}]]></FromUserName>"
        f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{escape(content)}</Content><MsgId>{msg_id}</MsgId>{agent}</xml>"
    )


def event_xml(*, from_user: str, event: str, to_user: str = "gh_jianfu", create_time: int | None = None) -> str:
    create_time = int(time.time()) if create_time is None else create_time
    return (
        f"<xml><ToUserName>{to_user}</ToUserName><FromUserName>{from_user}</FromUserName>"
        f"<CreateTime>{create_time}</CreateTime><MsgType>event</MsgType><Event>{event}</Event></xml>"
    )


class MovingClock:
    """The server's clock in tests that replay a day: set ``now`` to the moment a message is sent."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Reply:
    status: int
    body: str
    fields: dict[str, str]

    @property
    def content(self) -> str:
        return self.fields.get("Content", "")


class WeChatPeer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.wechat = WeChatCrypto(settings.wechat.token, settings.wechat.encoding_aes_key, settings.wechat.app_id)
        self.wecom = WeComCrypto(settings.wecom.token, settings.wecom.encoding_aes_key, settings.wecom.corp_id)

    def signed_query(self, *, timestamp: int | None = None, nonce: str | None = None) -> dict[str, str]:
        """A query string signed as WeChat signs it: a fresh random nonce for every request."""
        ts = str(int(time.time()) if timestamp is None else timestamp)
        nonce = str(secrets.randbelow(10**10)) if nonce is None else nonce
        return {"signature": sign(self.settings.wechat.token, ts, nonce), "timestamp": ts, "nonce": nonce,
                "openid": "o"}

    async def post_wechat(self, client: Any, xml: str, *, mode: str = "plain", timestamp: int | None = None) -> Reply:
        """POST a callback in plaintext, compatible or safe (aes) mode; decrypt the reply as WeChat would."""
        query = self.signed_query(timestamp=timestamp)
        body = xml
        if mode in ("aes", "compat"):
            envelope = fromstring(self.wechat.encrypt_message(xml, query["nonce"], query["timestamp"]))
            encrypt = envelope.findtext("Encrypt")
            query["encrypt_type"] = "aes"
            query["msg_signature"] = sign(self.settings.wechat.token, query["timestamp"], query["nonce"], encrypt)
            if mode == "compat":
                body = xml.replace("</xml>", f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>")
            else:
                body = f"<xml><ToUserName><![CDATA[gh_jianfu]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        resp = await client.post("/wechat", params=query, data=body.encode("utf-8"))
        text = await resp.text()
        if resp.status == 200 and text != "success" and mode in ("aes", "compat"):
            env = fromstring(text.encode())
            text = self.wechat.decrypt_message(text, env.findtext("MsgSignature"), env.findtext("TimeStamp"),
                                               env.findtext("Nonce"))
        return Reply(resp.status, text, _fields(text) if resp.status == 200 and text.startswith("<xml") else {})

    async def post_wecom(self, client: Any, xml: str, *, timestamp: int | None = None) -> Reply:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        nonce = str(secrets.randbelow(10**10))
        envelope = fromstring(self.wecom.encrypt_message(xml, nonce, ts))
        encrypt = envelope.findtext("Encrypt")
        query = {"msg_signature": sign(self.settings.wecom.token, ts, nonce, encrypt), "timestamp": ts, "nonce": nonce}
        body = (f"<xml><ToUserName><![CDATA[{self.settings.wecom.corp_id}]]></ToUserName>"
                f"<Encrypt><![CDATA[{encrypt}]]></Encrypt><AgentID>{self.settings.wecom.agent_id}</AgentID></xml>")
        resp = await client.post("/wecom", params=query, data=body.encode("utf-8"))
        text = await resp.text()
        if resp.status == 200 and text != "success":
            env = fromstring(text.encode())
            text = self.wecom.decrypt_message(text, env.findtext("MsgSignature"), env.findtext("TimeStamp"),
                                              env.findtext("Nonce"))
        return Reply(resp.status, text, _fields(text) if resp.status == 200 and text.startswith("<xml") else {})


def _fields(xml: str) -> dict[str, str]:
    root = fromstring(xml.encode("utf-8"))
    return {child.tag: child.text or "" for child in root}
