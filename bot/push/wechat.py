"""公众号: customer-service messages inside the 48-hour window, template messages outside it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import aiohttp

from bot.push._api import RATE_ERRORS, TOKEN_ERRORS, ApiReply, TokenCache, call_json
from bot.settings import WeChatSettings
from intake.senders import OutgoingMessage, SendResult, truncate_utf8

__all__ = ["WeChatSender", "SERVICE_WINDOW", "WINDOW_ERRORS"]

SERVICE_WINDOW = dt.timedelta(hours=48)
# 45015: response out of time limit (the 48 h passed); 45047: out of response count limit
WINDOW_ERRORS = frozenset({45015, 45047})
PERMANENT_ERRORS = frozenset({40003, 43004, 40037})  # bad openid, user not following, bad template id
CUSTOM_TEXT_LIMIT = 2000
TEMPLATE_VALUE_LIMIT = 200
RATE_DEFER = dt.timedelta(seconds=60)


class WeChatSender:
    """Messages to an Official Account follower (recipient = OpenID)."""

    def __init__(self, settings: WeChatSettings, http: aiohttp.ClientSession, *, public_url: str = "") -> None:
        self._settings = settings
        self._http = http
        self._public_url = public_url.rstrip("/")
        self.tokens = TokenCache(self._fetch_token)

    async def _fetch_token(self, secret: str) -> tuple[str, int] | ApiReply:
        reply = await call_json(
            self._http, "GET", f"{self._settings.api_base}/cgi-bin/token",
            params={"grant_type": "client_credential", "appid": self._settings.app_id, "secret": secret},
        )
        if not reply.ok or not reply.data.get("access_token"):
            return reply
        return str(reply.data["access_token"]), int(reply.data.get("expires_in", 7200))

    async def _call(self, path: str, body: dict[str, Any], *, now: dt.datetime) -> ApiReply:
        secret = self._settings.app_secret
        reply = ApiReply(-1, "not sent", {})
        for _ in range(2):
            token = await self.tokens.get(secret, now=now)
            if isinstance(token, ApiReply):
                return ApiReply(token.errcode if token.errcode else -1, f"token: {token.errmsg}", token.data)
            reply = await call_json(
                self._http, "POST", f"{self._settings.api_base}{path}", params={"access_token": token}, body=body
            )
            if reply.errcode in TOKEN_ERRORS:
                self.tokens.invalidate(secret, token)
                continue
            break
        return reply

    def in_window(self, message: OutgoingMessage) -> bool:
        seen = message.last_seen_at
        return seen is not None and message.now - seen < SERVICE_WINDOW

    def template_data(self, message: OutgoingMessage) -> dict[str, dict[str, str]]:
        """Template fields from ``wechat.template_fields``: template field → message attribute or payload field."""
        values: dict[str, str] = {
            "subject": message.subject,
            "body": message.body,
            "kind": message.kind,
            "recipient": message.recipient,
            "time": message.now.isoformat(timespec="minutes"),
        }
        extra = message.payload.get("fields") or {}
        if isinstance(extra, dict):
            values.update({str(k): str(v) for k, v in extra.items()})
        mapping = self._settings.template_fields or {"first": "subject", "keyword1": "kind", "remark": "body"}
        return {
            field: {"value": truncate_utf8(values.get(source, source if source.startswith("=") else ""), TEMPLATE_VALUE_LIMIT).lstrip("=")}
            for field, source in mapping.items()
        }

    async def _send_template(self, message: OutgoingMessage, *, why: str) -> SendResult:
        if not self._settings.template_id:
            return SendResult.failed(f"{why}; wechat.template_id is not configured", permanent=True)
        body: dict[str, Any] = {
            "touser": message.recipient,
            "template_id": self._settings.template_id,
            "data": self.template_data(message),
        }
        link = message.payload.get("link")
        if link:
            body["url"] = str(link)
        reply = await self._call("/cgi-bin/message/template/send", body, now=message.now)
        return self._result(reply, message, note=f"template ({why})")

    def _result(self, reply: ApiReply, message: OutgoingMessage, *, note: str | None = None) -> SendResult:
        if reply.ok:
            return SendResult.sent(note=note, response=reply.data)
        if reply.errcode in RATE_ERRORS:
            return SendResult.deferred(message.now + RATE_DEFER, f"rate limited: {reply.errcode} {reply.errmsg}")
        return SendResult.failed(f"{reply.errcode} {reply.errmsg}", permanent=reply.errcode in PERMANENT_ERRORS)

    async def send(self, message: OutgoingMessage) -> SendResult:
        if not self._settings.app_secret:
            return SendResult.failed("wechat.app_secret is not configured", permanent=True)
        if not self.in_window(message):
            return await self._send_template(message, why="outside the 48-hour window")
        body = {"touser": message.recipient, "msgtype": "text",
                "text": {"content": truncate_utf8(message.body, CUSTOM_TEXT_LIMIT)}}
        reply = await self._call("/cgi-bin/message/custom/send", body, now=message.now)
        if reply.errcode in WINDOW_ERRORS:
            return await self._send_template(message, why=f"custom/send {reply.errcode}")
        return self._result(reply, message)
