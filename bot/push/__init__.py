"""Outbound channels behind one interface.

A :class:`Sender` takes one :class:`OutgoingMessage` (an outbox row plus the time of
the attempt and what is known of the recipient) and returns a :class:`SendResult`;
it never raises for an API or network failure. The outbox decides what a failure
means (retry with backoff, dead-letter, or deferral without spending an attempt).

=================  ==========================================================
channel name       sender
=================  ==========================================================
``log``            :class:`LogSender` — writes the message to the log (embedded default)
``inbox``          :class:`InboxSender` — the row itself is the in-app inbox entry
``wecom_app``      :class:`WeComAppSender` — 企业微信 应用消息 (text/markdown)
``wecom_robot``    :class:`WeComRobotSender` — 群机器人 webhook per community
``wechat``         :class:`WeChatSender` — 公众号 客服消息 within 48 h, else 模板消息
=================  ==========================================================
"""

from __future__ import annotations

import aiohttp

from bot.push.wechat import WeChatSender
from bot.push.wecom import WeComAppSender, WeComRobotSender
from bot.push.wecom_bot import WeComBotReplySender
from bot.settings import Settings
from intake.senders import (
    InboxSender,
    LogSender,
    OutgoingMessage,
    RecordingSender,
    Sender,
    SendResult,
    truncate_utf8,
)

__all__ = [
    "CHANNELS",
    "OutgoingMessage",
    "SendResult",
    "Sender",
    "LogSender",
    "InboxSender",
    "RecordingSender",
    "WeComAppSender",
    "WeComRobotSender",
    "WeChatSender",
    "build_senders",
    "truncate_utf8",
]

CHANNELS = ("log", "inbox", "wecom_app", "wecom_robot", "wechat")


def build_senders(settings: Settings, http: aiohttp.ClientSession) -> dict[str, Sender]:
    """One sender per channel name, sharing the app's HTTP session (tokens and rate windows live in them)."""
    return {
        "log": LogSender(),
        "inbox": InboxSender(),
        "wecom_app": WeComAppSender(settings.wecom, http),
        "wecom_robot": WeComRobotSender(settings.wecom, settings.notify, http),
        "wechat": WeChatSender(settings.wechat, http, public_url=settings.server.public_url),
        "wecom_bot": WeComBotReplySender(http),
    }
