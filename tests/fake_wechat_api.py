"""A local fake of the WeCom and WeChat API servers (aiohttp), plus helpers the notify tests share.

It speaks their JSON: ``gettoken``/``token`` hand out access tokens; message endpoints check
them and answer 42001 once :meth:`FakeWeChatApi.expire_tokens` was called (40014 for a token it
never issued); ``script(path, errcode, ...)`` queues errors for the next calls of an endpoint
(45009/45033 rate limits, 45015/45047 outside the 48-hour window, anything else); a WeCom
``touser`` containing ``ghost`` comes back in ``invaliduser``. Every call is recorded.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiohttp import web
from sqlmodel import SQLModel

from bot.settings import Settings

ERRMSG = {
    0: "ok", 40001: "invalid credential", 40014: "invalid access_token", 42001: "access_token expired",
    45009: "api freq out of limit", 45033: "user api freq out of limit", 45015: "response out of time limit",
    45047: "out of response count limit", 43004: "require subscribe", 93000: "invalid webhook url",
    40007: "invalid media_id",
}


@dataclass
class Call:
    path: str
    params: dict[str, str]
    body: dict[str, Any] | None


@dataclass
class FakeWeChatApi:
    calls: list[Call] = field(default_factory=list)
    valid_tokens: set[str] = field(default_factory=set)
    issued: set[str] = field(default_factory=set)
    scripted: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # media_id -> (bytes, file name)
    pages: dict[str, str] = field(default_factory=dict)  # /s/<name> -> an article's HTML
    bot_files: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # /bot/file/<name> -> (encrypted, name)
    bot_replies: list[dict[str, Any]] = field(default_factory=list)  # bodies posted to a bot's response_url

    def script(self, path: str, *errcodes: int) -> None:
        self.scripted[path].extend(errcodes)

    def expire_tokens(self) -> None:
        self.valid_tokens.clear()

    def calls_to(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.path == path]

    def _reply(self, errcode: int, **extra: Any) -> web.Response:
        return web.json_response({"errcode": errcode, "errmsg": ERRMSG.get(errcode, "error"), **extra})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/cgi-bin/gettoken", self.token)
        app.router.add_get("/cgi-bin/token", self.token)
        for path in ("/cgi-bin/message/send", "/cgi-bin/message/custom/send", "/cgi-bin/message/template/send"):
            app.router.add_post(path, self.message)
        app.router.add_post("/cgi-bin/webhook/send", self.webhook)
        app.router.add_get("/cgi-bin/media/get", self.media_get)
        app.router.add_get("/s/{name}", self.page)
        app.router.add_get("/bot/file/{name}", self.bot_file)
        app.router.add_post("/bot/response/{key}", self.bot_response)
        return app

    async def bot_file(self, request: web.Request) -> web.Response:
        """The intelligent bot's media URL: the encrypted bytes (the name in Content-Disposition)."""
        self.calls.append(Call(request.path, dict(request.query), None))
        found = self.bot_files.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        data, name = found
        return web.Response(body=data, content_type="application/octet-stream",
                            headers={"Content-Disposition": f'attachment; filename="{name}"'})

    async def bot_response(self, request: web.Request) -> web.Response:
        """A message's response_url: usable once."""
        body = await request.json()
        self.calls.append(Call(request.path, dict(request.query), body))
        if any(c.path == request.path for c in self.calls[:-1]):
            return self._reply(40008)
        self.bot_replies.append(body)
        return self._reply(0)

    def _token_error(self, params: dict[str, str]) -> int | None:
        token = params.get("access_token", "")
        if token not in self.issued:
            return 40014
        if token not in self.valid_tokens:
            return 42001
        return None

    async def media_get(self, request: web.Request) -> web.StreamResponse:
        """media/get: the file's bytes with Content-Disposition, or a JSON error (as WeChat/WeCom answer)."""
        params = dict(request.query)
        self.calls.append(Call(request.path, params, None))
        error = self._token_error(params)
        if error is not None:
            return self._reply(error)
        found = self.media.get(params.get("media_id", ""))
        if found is None:
            return self._reply(40007)
        data, name = found
        return web.Response(body=data, content_type="application/octet-stream",
                            headers={"Content-Disposition": f'attachment; filename="{name}"'})

    async def page(self, request: web.Request) -> web.Response:
        self.calls.append(Call(request.path, dict(request.query), None))
        html = self.pages.get(request.match_info["name"])
        if html is None:
            raise web.HTTPNotFound()
        return web.Response(text=html, content_type="text/html")

    async def token(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        self.calls.append(Call(request.path, params, None))
        secret = params.get("corpsecret") or params.get("secret")
        if not secret or secret == "wrong":
            return self._reply(40001)
        value = f"tok-{next(self.counter)}"
        self.valid_tokens.add(value)
        self.issued.add(value)
        return web.json_response({"errcode": 0, "errmsg": "ok", "access_token": value, "expires_in": 7200})

    async def message(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        body = await request.json()
        self.calls.append(Call(request.path, params, body))
        token = params.get("access_token", "")
        if token not in self.issued:
            return self._reply(40014)
        if token not in self.valid_tokens:
            return self._reply(42001)
        queued = self.scripted[request.path]
        if queued:
            return self._reply(queued.pop(0))
        if request.path == "/cgi-bin/message/send":
            ghosts = [u for u in str(body.get("touser", "")).split("|") if "ghost" in u]
            if ghosts:
                return self._reply(0, invaliduser="|".join(ghosts))
        return self._reply(0, msgid=next(self.counter))

    async def webhook(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        body = await request.json()
        self.calls.append(Call(request.path, params, body))
        if not params.get("key") or params["key"] == "bad":
            return self._reply(93000)
        queued = self.scripted[request.path]
        if queued:
            return self._reply(queued.pop(0))
        return self._reply(0)


def notify_settings(db_url: str, base_dir: Path, *, api_base: str = "http://127.0.0.1:9", **schedule: Any) -> Settings:
    """The shipped config on a test database, files under `base_dir`, the APIs pointed at the fake server."""
    from tests.conftest import make_settings

    settings = make_settings(db_url)
    return settings.model_copy(update={
        "base_dir": base_dir,
        "wechat": settings.wechat.model_copy(update={"api_base": api_base}),
        "wecom": settings.wecom.model_copy(update={"api_base": api_base}),
        "schedule": settings.schedule.model_copy(update=schedule),
    })


def at(text: str) -> dt.datetime:
    """An aware Asia/Shanghai datetime from "YYYY-MM-DD HH:MM"."""
    from zoneinfo import ZoneInfo

    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo("Asia/Shanghai"))


@dataclass(frozen=True)
class Services:
    """Shaped like intake.context.Services (which pulls in the classifiers; these tests need none)."""

    settings: Settings
    engine: Any
    writer: Any
    rules: Any
    senders: Any
    public_url: str
    reports: Any = None
    link_secret: str = ""


@contextlib.asynccontextmanager
async def running_services(settings: Settings) -> AsyncIterator[Any]:
    """Engine, writer and HTTP session as the app factory would build them (rules are not needed here)."""
    import aiohttp

    from bot.push import build_senders
    from intake.reports.runner import ReportRunner
    from intake.store.db import create_engine
    from intake.store.writer import Writer

    engine = create_engine(settings)
    writer = Writer(engine)
    await writer.start()
    reports = ReportRunner(settings) if ReportRunner.is_possible(settings) else None
    if reports is not None:
        await reports.start()
    async with aiohttp.ClientSession() as http:
        try:
            senders = build_senders(settings, http)
            yield Services(settings=settings, engine=engine, writer=writer, rules=None, senders=senders,
                           public_url=settings.server.public_url, reports=reports)
        finally:
            await writer.stop()
            if reports is not None:
                await reports.close()
            await engine.dispose()


async def insert(engine: Any, table: str, **values: Any) -> int:
    """Insert one row with Core and return its id."""
    t = SQLModel.metadata.tables[table]
    async with engine.begin() as conn:
        result = await conn.execute(sa.insert(t).values(**values).returning(t.c.id))
        return int(result.scalar_one())


_codes = itertools.count(1)


async def add_task(engine: Any, *, received_at: dt.datetime, community_ids: list[int], due: dt.date | None = None,
                   target_status: str = "open", done_at: dt.datetime | None = None, **task: Any) -> tuple[int, list[int]]:
    """A task as intake stores it (defaults: an accepted 民政局 report), with one target per community."""
    n = next(_codes)
    values: dict[str, Any] = {
        "code": f"R-TEST-{n:05d}", "msg_id": f"msg-{n}", "channel": "wechat", "department": "民政局",
        "raw_text": "请各社区填报低保对象统计表", "kind": "report", "nature": "administrative", "listing": "assist",
        "status": "accepted", "deadline": due, "received_at": received_at, "created_at": received_at,
        "updated_at": received_at, "communities": [], "keywords": [], "evidence": {},
    }
    values.update(task)
    task_id = await insert(engine, "tasks", **values)
    targets = [
        await insert(engine, "task_targets", task_id=task_id, community_id=cid, status=target_status, due_date=due,
                     done_at=done_at, announced_at=received_at)
        for cid in community_ids
    ]
    return task_id, targets
