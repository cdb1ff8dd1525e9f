"""Typed application keys: everything the app factory opens lives under one of these."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram

from bot.chat.fetch import MediaApi
from bot.chat.hints import SenderHints
from bot.settings import Settings
from bot.wire.crypto import MessageCrypto
from intake.context import Services
from intake.media import MediaWorker

__all__ = ["SETTINGS", "SERVICES", "HTTP", "CRYPTO_WECHAT", "CRYPTO_WECOM", "CRYPTO_WECOM_BOT", "METRICS", "PENDING", "HINTS", "CLOCK", "Metrics",
           "MEDIA_WORKER", "MEDIA_APIS"]


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    messages: Counter
    refused: Counter
    retries: Counter
    late: Counter
    latency: Histogram

    @classmethod
    def create(cls) -> Metrics:
        registry = CollectorRegistry()
        return cls(
            registry=registry,
            messages=Counter("jianfu_messages", "Callbacks handled, by channel and message type",
                             ["channel", "msg_type"], registry=registry),
            refused=Counter("jianfu_refused", "Callbacks refused, by channel and reason", ["channel", "reason"],
                            registry=registry),
            retries=Counter("jianfu_retries", "WeChat retries answered from the dedupe log", ["channel"],
                            registry=registry),
            late=Counter("jianfu_late_replies", "Replies that missed the budget and were pushed later", ["channel"],
                         registry=registry),
            latency=Histogram("jianfu_reply_seconds", "Time from request to reply", ["channel"], registry=registry,
                              buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 4, 5)),
        )


SETTINGS = web.AppKey("settings", Settings)
SERVICES = web.AppKey("services", Services)
HTTP = web.AppKey("http", aiohttp.ClientSession)
CRYPTO_WECHAT = web.AppKey("crypto_wechat", MessageCrypto)
CRYPTO_WECOM = web.AppKey("crypto_wecom", MessageCrypto)
CRYPTO_WECOM_BOT = web.AppKey("crypto_wecom_bot", MessageCrypto)  # set only when [wecom_bot] enabled
METRICS = web.AppKey("metrics", Metrics)
HINTS = web.AppKey("hints", SenderHints)
PENDING: web.AppKey[set[asyncio.Task[None]]] = web.AppKey("pending")
MEDIA_WORKER = web.AppKey("media_worker", MediaWorker)  # reads files and pictures off the event loop
MEDIA_APIS: web.AppKey[dict[str, MediaApi]] = web.AppKey("media_apis")  # channel name -> its media/get
# the callbacks' clock (Unix seconds): time.time, or a fixed or moving clock in tests
CLOCK: web.AppKey[Callable[[], float]] = web.AppKey("clock")
