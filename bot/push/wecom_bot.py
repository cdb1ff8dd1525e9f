"""Answers through a WeCom intelligent bot message's ``response_url`` (valid an hour, usable once): the
receipt of an upload asked for in a bot chat goes back to that chat, group or one-to-one."""

from __future__ import annotations

import json

import aiohttp

from bot.push._api import call_json
from bot.wire.aibot import build_markdown_message
from intake.senders import OutgoingMessage, SendResult, truncate_utf8

__all__ = ["WeComBotReplySender", "MARKDOWN_LIMIT"]

MARKDOWN_LIMIT = 20480  # bytes of markdown the bot accepts in one message


class WeComBotReplySender:
    """``payload["response_url"]`` gets the body as markdown; a used or expired URL is a permanent failure."""

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self._http = http

    async def send(self, message: OutgoingMessage) -> SendResult:
        url = str(message.payload.get("response_url") or "")
        if not url.startswith(("https://", "http://")):
            return SendResult.failed("no response_url to answer through", permanent=True)
        body = json.loads(build_markdown_message(truncate_utf8(message.body, MARKDOWN_LIMIT)))
        reply = await call_json(self._http, "POST", url, body=body)
        if reply.errcode == -1:
            return SendResult.failed(f"response_url: {reply.errmsg}")  # transport: try again
        if not reply.ok:  # used already, or past its hour: trying again cannot help
            return SendResult.failed(f"response_url refused: {reply.errcode} {reply.errmsg}", permanent=True)
        return SendResult.sent(response=reply.data)
