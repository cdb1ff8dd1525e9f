"""企业微信: application messages (``message/send``) and group-robot webhooks."""

from __future__ import annotations

import base64
import collections
import datetime as dt
import hashlib
import logging
from pathlib import Path
from typing import Any

import aiohttp

from bot.push._api import RATE_ERRORS, TOKEN_ERRORS, ApiReply, TokenCache, call_json
from bot.settings import WeComSettings
from intake.senders import OutgoingMessage, SendResult, truncate_utf8
from intake.settings import NotifySettings

__all__ = ["WeComAppSender", "WeComRobotSender", "APP_TEXT_LIMIT", "ROBOT_MARKDOWN_LIMIT"]

log = logging.getLogger("bot.push.wecom")

APP_TEXT_LIMIT = 2048  # bytes, text and markdown of application messages
ROBOT_MARKDOWN_LIMIT = 4096  # bytes, robot markdown content
ROBOT_IMAGE_LIMIT = 2 * 1024 * 1024  # bytes before base64
RATE_DEFER = dt.timedelta(seconds=60)


class WeComAppSender:
    """Application messages to WeCom users (``touser`` = UserID, several joined by ``|``)."""

    def __init__(self, settings: WeComSettings, http: aiohttp.ClientSession) -> None:
        self._settings = settings
        self._http = http
        self.tokens = TokenCache(self._fetch_token)

    async def _fetch_token(self, secret: str) -> tuple[str, int] | ApiReply:
        reply = await call_json(
            self._http, "GET", f"{self._settings.api_base}/cgi-bin/gettoken",
            params={"corpid": self._settings.corp_id, "corpsecret": secret},
        )
        if not reply.ok or not reply.data.get("access_token"):
            return reply
        return str(reply.data["access_token"]), int(reply.data.get("expires_in", 7200))

    def _body(self, message: OutgoingMessage) -> dict[str, Any]:
        agent = int(self._settings.agent_id) if self._settings.agent_id.isdigit() else self._settings.agent_id
        content = truncate_utf8(message.body, APP_TEXT_LIMIT)
        if message.payload.get("format") == "markdown":
            return {"touser": message.recipient, "msgtype": "markdown", "agentid": agent, "markdown": {"content": content}}
        return {"touser": message.recipient, "msgtype": "text", "agentid": agent, "text": {"content": content},
                "safe": 0}

    async def send(self, message: OutgoingMessage) -> SendResult:
        secret = self._settings.secret
        if not secret:
            return SendResult.failed("wecom.secret is not configured", permanent=True)
        reply = ApiReply(-1, "not sent", {})
        for _ in range(2):
            token = await self.tokens.get(secret, now=message.now)
            if isinstance(token, ApiReply):
                return SendResult.failed(f"gettoken failed: {token.errcode} {token.errmsg}")
            reply = await call_json(
                self._http, "POST", f"{self._settings.api_base}/cgi-bin/message/send",
                params={"access_token": token}, body=self._body(message),
            )
            if reply.errcode in TOKEN_ERRORS:
                self.tokens.invalidate(secret, token)
                continue
            break
        if reply.errcode in RATE_ERRORS:
            return SendResult.deferred(message.now + RATE_DEFER, f"rate limited: {reply.errcode} {reply.errmsg}")
        if not reply.ok:
            return SendResult.failed(f"message/send: {reply.errcode} {reply.errmsg}")
        invalid = [u for u in str(reply.data.get("invaliduser", "") or "").split("|") if u]
        if invalid:
            wanted = [u for u in message.recipient.split("|") if u]
            log.warning("WeCom message %s: invalid users %s", message.idempotency_key, "|".join(invalid))
            if wanted and set(wanted) <= set(invalid):
                return SendResult.failed(f"all recipients invalid: {'|'.join(invalid)}", permanent=True)
            return SendResult.sent(note=f"invaliduser={'|'.join(invalid)}", response=reply.data)
        return SendResult.sent(response=reply.data)


class WeComRobotSender:
    """Group robots: one webhook per community (``notify.robot_webhooks`` or the row's payload).

    A webhook value may be a whole URL or just its ``key``. At most ``notify.robot_per_minute``
    messages a minute go to one robot; beyond that the message is deferred (queued), not dropped.
    """

    def __init__(self, wecom: WeComSettings, notify: NotifySettings, http: aiohttp.ClientSession) -> None:
        self._wecom = wecom
        self._notify = notify
        self._http = http
        self._sent: dict[str, collections.deque[dt.datetime]] = {}

    def webhook_url(self, message: OutgoingMessage) -> str | None:
        value = str(message.payload.get("webhook") or self._notify.robot_webhooks.get(message.recipient) or "")
        if not value:
            return None
        if value.startswith(("http://", "https://")):
            return value
        return f"{self._wecom.api_base}/cgi-bin/webhook/send?key={value}"

    def _window_free_at(self, url: str, now: dt.datetime) -> dt.datetime | None:
        window = self._sent.setdefault(url, collections.deque())
        while window and window[0] <= now - dt.timedelta(minutes=1):
            window.popleft()
        if len(window) >= self._notify.robot_per_minute:
            return window[0] + dt.timedelta(minutes=1)
        return None

    @staticmethod
    def _body(message: OutgoingMessage) -> dict[str, Any] | str:
        image_path = message.payload.get("image_path")
        if image_path:
            try:
                raw = Path(str(image_path)).read_bytes()
            except OSError as exc:
                return f"image {image_path} unreadable: {exc}"
            if len(raw) > ROBOT_IMAGE_LIMIT:
                return f"image {image_path} is {len(raw)} bytes, over the robot's 2 MB"
            return {"msgtype": "image",
                    "image": {"base64": base64.b64encode(raw).decode("ascii"), "md5": hashlib.md5(raw).hexdigest()}}
        return {"msgtype": "markdown", "markdown": {"content": truncate_utf8(message.body, ROBOT_MARKDOWN_LIMIT)}}

    async def send(self, message: OutgoingMessage) -> SendResult:
        url = self.webhook_url(message)
        if url is None:
            return SendResult.failed(f"no robot webhook configured for {message.recipient}", permanent=True)
        free_at = self._window_free_at(url, message.now)
        if free_at is not None:
            return SendResult.deferred(free_at, f"robot limit {self._notify.robot_per_minute}/min reached")
        body = self._body(message)
        if isinstance(body, str):
            return SendResult.failed(body, permanent=True)
        self._sent[url].append(message.now)
        reply = await call_json(self._http, "POST", url, body=body)
        if reply.errcode in RATE_ERRORS:
            return SendResult.deferred(message.now + RATE_DEFER, f"robot rate limited: {reply.errcode} {reply.errmsg}")
        if reply.errcode == 93000:  # invalid webhook url
            return SendResult.failed(f"robot webhook invalid: {reply.errmsg}", permanent=True)
        if not reply.ok:
            return SendResult.failed(f"robot webhook: {reply.errcode} {reply.errmsg}")
        return SendResult.sent(response=reply.data)
