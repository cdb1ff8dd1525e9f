"""The app factory: one place that builds and tears down everything the server uses."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping

import aiohttp
import sqlalchemy as sa
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.chat.aibot import setup_bot_routes
from bot.chat.callback import setup_callback_routes
from bot.chat.fetch import MediaApi
from bot.chat.hints import SenderHints
from bot.chat.upload import setup_upload_routes
from bot.console import create_console_app
from bot.console.public_digest import setup_public_digest_routes
from bot.edge import NETWORKS, Networks, add_security_headers, forwarded_middleware, is_allowed
from bot.keys import (
    CLOCK,
    CRYPTO_WECHAT,
    CRYPTO_WECOM,
    CRYPTO_WECOM_BOT,
    HINTS,
    HTTP,
    MEDIA_APIS,
    MEDIA_WORKER,
    METRICS,
    PENDING,
    SERVICES,
    SETTINGS,
    Metrics,
)
from bot.push import WeChatSender, WeComAppSender, build_senders
from bot.settings import Settings
from bot.wire.crypto import MessageCrypto
from intake.context import Services
from intake.links import derive_link_secret
from intake.media import MediaWorker, rapid_ocr_factory
from intake.org import sync_org_from_config
from intake.reports.runner import ReportRunner
from intake.rules_store import RulesProvider
from intake.senders import Sender
from intake.store.db import create_engine, create_thread_engine, ping
from intake.store.recent import IntakeMemory
from intake.store.writer import Writer

__all__ = ["create_app", "SchemaMissing"]

log = logging.getLogger(__name__)


METRICS_REFUSED = ("/metrics is served only to the addresses in [server] metrics_allow "
                   "(default: this machine); add the Prometheus server's address there\n")


class SchemaMissing(RuntimeError):
    """The database has no tables yet."""


async def _check_schema(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        has = await conn.run_sync(lambda sync: sa.inspect(sync).has_table("alembic_version"))
    if not has:
        raise SchemaMissing("the database has no tables yet: run `jianfu db upgrade` (make run does it for you)")


async def _services_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    engine = create_engine(settings)
    await _check_schema(engine)
    rules = RulesProvider(settings)
    async with engine.begin() as conn:
        await rules.refresh(conn)
        await sync_org_from_config(conn, districts=settings.districts, departments=rules.current.departments,
                                   now=dt.datetime.now(dt.UTC))
    memory = IntakeMemory()
    writer = Writer(
        engine,
        batch_max=settings.database.batch_max,
        batch_wait_ms=settings.database.batch_wait_ms,
        thread_engine=create_thread_engine(settings),
        states=(memory,),
    )
    await writer.start()
    reports = ReportRunner(settings) if ReportRunner.is_possible(settings) else None
    if reports is not None:
        await reports.start()
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
    app[HTTP] = http
    senders = build_senders(settings, http)
    app[MEDIA_APIS] = _media_apis(settings, senders)
    app[SERVICES] = Services(settings=settings, engine=engine, writer=writer, rules=rules, memory=memory,
                             senders=senders, public_url=settings.server.public_url,
                             link_secret=derive_link_secret(settings.server.session_secret), reports=reports)
    try:
        yield
    finally:
        in_flight: set[asyncio.Task[None]] = app[PENDING]
        pending = list(in_flight)
        if pending:
            await asyncio.wait(pending, timeout=5)
        await writer.stop()
        await http.close()
        if reports is not None:
            await reports.close()
        await engine.dispose()


def _media_apis(settings: Settings, senders: Mapping[str, Sender]) -> dict[str, MediaApi]:
    """media/get per channel, on the token cache of that channel's sender (one access_token per app)."""
    wechat, wecom = senders["wechat"], senders["wecom_app"]
    assert isinstance(wechat, WeChatSender) and isinstance(wecom, WeComAppSender)
    return {
        "wechat": MediaApi(base=settings.wechat.api_base, tokens=wechat.tokens, secret=settings.wechat.app_secret),
        "wecom": MediaApi(base=settings.wecom.api_base, tokens=wecom.tokens, secret=settings.wecom.secret),
    }


def _log_warm_start(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("media worker did not start; files and pictures get an error until it does",
                  exc_info=task.exception())


async def _media_ctx(app: web.Application) -> AsyncIterator[None]:
    """The worker process that reads files and pictures; with ``warm_start`` its OCR model loads now,
    in the background (start-up does not wait for it)."""
    media = app[SETTINGS].media
    worker = MediaWorker(limits=media.limits(), ocr_factory=rapid_ocr_factory if media.ocr else None)
    app[MEDIA_WORKER] = worker
    warming = asyncio.ensure_future(worker.start()) if media.warm_start else None
    if warming is not None:
        warming.add_done_callback(_log_warm_start)
    try:
        yield
    finally:
        if warming is not None and not warming.done():
            warming.cancel()
        await worker.close()


async def _background_ctx(app: web.Application) -> AsyncIterator[None]:
    from intake.scheduler import run_background

    async with run_background(app[SERVICES]):
        yield


async def _rules_refresh_ctx(app: web.Application) -> AsyncIterator[None]:
    """Pick up list edits made by the console of any process (every few seconds, off the hot path)."""
    services = app[SERVICES]

    async def loop() -> None:
        while True:
            await asyncio.sleep(10)
            try:
                async with services.engine.connect() as conn:
                    await services.rules.refresh(conn)
            except Exception:  # loop boundary: log and keep polling
                log.exception("rules refresh failed")

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def handle_health(request: web.Request) -> web.Response:
    ok = await ping(request.app[SERVICES].engine)
    if ok:
        return web.json_response({"status": "ok", "database": "ok"})
    return web.json_response({"status": "unavailable", "database": "not answering"}, status=503)


async def handle_root(request: web.Request) -> web.Response:
    """A person opening the server's address (or ``/admin``, printed at start-up) lands on the console."""
    raise web.HTTPFound("/admin/")


async def handle_metrics(request: web.Request) -> web.Response:
    """Prometheus text, only for the addresses of ``[server] metrics_allow`` (after trusted proxies)."""
    if not is_allowed(request.remote, request.app[NETWORKS].metrics_allow):
        return web.Response(status=403, text=METRICS_REFUSED, content_type="text/plain")
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def create_app(settings: Settings, *, background: bool = True, clock: Callable[[], float] = time.time,
               ) -> web.Application:
    """Build the application; resources open on startup and close on cleanup (``cleanup_ctx``).

    ``clock`` is what the callbacks take for now (timestamp windows, CreateTime checks)."""
    app = web.Application(client_max_size=settings.server.body_limit_bytes + 1024,
                          middlewares=[forwarded_middleware])
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[NETWORKS] = Networks.parse(settings.server.trusted_proxies, settings.server.metrics_allow)
    app.on_response_prepare.append(add_security_headers)
    app[CRYPTO_WECHAT] = MessageCrypto(settings.wechat.token, settings.wechat.encoding_aes_key, settings.wechat.app_id)
    app[CRYPTO_WECOM] = MessageCrypto(settings.wecom.token, settings.wecom.encoding_aes_key, settings.wecom.corp_id)
    if settings.wecom_bot.enabled:  # the intelligent bot: its own token and key, receive id empty
        app[CRYPTO_WECOM_BOT] = MessageCrypto(settings.wecom_bot.token, settings.wecom_bot.encoding_aes_key, "",
                                              empty_receive_id=True)
    app[METRICS] = Metrics.create()
    app[PENDING] = set()
    app[HINTS] = SenderHints()
    app.cleanup_ctx.append(_media_ctx)
    app.cleanup_ctx.append(_services_ctx)
    app.cleanup_ctx.append(_rules_refresh_ctx)
    if background:
        app.cleanup_ctx.append(_background_ctx)
    app.router.add_get("/", handle_root)
    app.router.add_get("/healthz", handle_health)
    app.router.add_get("/metrics", handle_metrics)
    app.router.add_get("/admin", handle_root)  # before the console's prefix, which would answer 404 once logged in
    setup_callback_routes(app)
    setup_bot_routes(app)
    setup_upload_routes(app)
    setup_public_digest_routes(app)
    server = app[SETTINGS].server
    app.add_subapp("/admin", create_console_app(dashboard_max_age_s=server.dashboard_max_age_s,
                                                digest_wait_s=server.digest_wait_s))
    return app
