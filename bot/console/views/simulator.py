"""The chat simulator: type as a clerk or head; real signed (and, for WeCom, encrypted) callbacks go to this server.

The callbacks are built by :mod:`bot.wire.simulate`, the same codec the server reads with.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import aiohttp
import sqlalchemy as sa
from aiohttp import web
from yarl import URL

from bot.console import forms, queries, texts
from bot.console.core import render, settings_of
from bot.console.scoping import read_conn
from bot.console.shared import create_invite, directory_names
from bot.keys import CRYPTO_WECHAT, CRYPTO_WECOM, HTTP
from bot.wire.simulate import ChatCodec, WechatPlainCodec, WechatSafeCodec, WecomCodec, reply_content
from intake.errors import IntakeError
from intake.store.models import ACCOUNTS, TASKS

__all__ = ["handle_simulator", "handle_simulator_post"]


CHANNELS = ("wechat", "wecom")


def _codec(request: web.Request, channel: str) -> ChatCodec:
    settings = settings_of(request)
    if channel == "wecom":
        return WecomCodec(request.config_dict[CRYPTO_WECOM], corp_id=settings.wecom.corp_id,
                          agent_id=str(settings.wecom.agent_id), window_s=settings.server.timestamp_window_s)
    if settings.wechat_requires_encryption:  # the server takes safe mode only: speak it
        return WechatSafeCodec(request.config_dict[CRYPTO_WECHAT], token=settings.wechat.token,
                               app_id=settings.wechat.app_id, window_s=settings.server.timestamp_window_s)
    return WechatPlainCodec(token=settings.wechat.token, app_id=settings.wechat.app_id)


async def _context(request: web.Request) -> dict[str, Any]:
    async with read_conn(request) as conn:
        accounts = [a for a in await queries.list_accounts(conn, limit=300) if a["channel"] in CHANNELS]
    departments, communities = await directory_names(request, qualified=True)
    return {"accounts": accounts, "departments": departments, "communities": communities, "exchange": None,
            "openid": "", "channel": "wechat", "message": "", "error": "", "recent": [],
            "wecom_ready": True}


async def handle_simulator(request: web.Request) -> web.StreamResponse:
    context = await _context(request)
    context["openid"] = request.query.get("openid", "")
    channel = request.query.get("channel", "")
    context["channel"] = channel if channel in CHANNELS else "wechat"
    return render(request, "simulator.html", context)


def _own_origin(request: web.Request) -> URL:
    """This server itself: the address of the socket the request came in on, never the request's Host
    header (a forged Host would receive a validly signed callback). Without a TCP socket: public_url."""
    sockname = request.transport.get_extra_info("sockname") if request.transport is not None else None
    if isinstance(sockname, tuple) and len(sockname) >= 2:
        host = str(sockname[0])
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1" if host == "0.0.0.0" else "::1"
        return URL.build(scheme="http", host=host, port=int(sockname[1]))
    return URL(settings_of(request).server.public_url).origin()


async def _post(request: web.Request, codec: ChatCodec, user_id: str, message: str) -> dict[str, Any]:
    params, body = codec.build_post(user_id=user_id, text=message, now=int(time.time()))
    target = str(_own_origin(request).with_path(codec.path))
    async with request.config_dict[HTTP].post(target, params=params, data=body,
                                  headers={"Content-Type": "text/xml; charset=utf-8"}) as response:
        status = response.status
        raw = await response.text()
    reply = raw
    if status == 200 and raw == "success":
        reply = "(服务器回复 success:没有被动回复,消息可能稍后推送)"
    elif status == 200 and raw.startswith("<xml"):
        try:
            reply = reply_content(codec, raw, now=time.time())
        except ValueError as exc:  # a reply that does not verify
            reply = texts.SIM_BAD_REPLY.format(error=exc)
    return {"openid": user_id, "channel": codec.channel, "sent": message, "status": status, "reply": reply,
            "raw": raw[:4000]}


def _pick_account(form: Any) -> tuple[str, str]:
    """(channel, user id) from the account list ("wecom:zhangsan") or the free-text id and channel."""
    chosen = forms.text(form, "account", limit=80)
    if ":" in chosen:
        channel, _, user_id = chosen.partition(":")
        if channel in CHANNELS and user_id:
            return channel, user_id
    channel = forms.text(form, "channel", limit=16)
    return (channel if channel in CHANNELS else "wechat"), forms.text(form, "openid", limit=64) or chosen


async def handle_simulator_post(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    context = await _context(request)
    channel, user_id = _pick_account(form)
    message = forms.text(form, "message", limit=2000)
    role = forms.text(form, "bind_role", limit=16)
    context.update(channel=channel, openid=user_id)
    codec = _codec(request, channel)
    try:
        if role:
            code = await create_invite(request, role, forms.text(form, "bind_target", limit=64))
            user_id = user_id or f"sim-{secrets.token_hex(4)}"
            message = f"绑定 {code}"
    except IntakeError as exc:
        context["error"] = str(exc)
        return render(request, "simulator.html", context, status=400)
    context.update(openid=user_id, message="")
    if not user_id or not message:
        context["error"] = texts.SIM_NEEDS
        return render(request, "simulator.html", context, status=400)
    try:
        context["exchange"] = await _post(request, codec, user_id, message)
    except (aiohttp.ClientError, TimeoutError) as exc:
        context["error"] = texts.SIM_FAILED.format(error=type(exc).__name__, path=codec.path)
        return render(request, "simulator.html", context, status=502)
    async with read_conn(request) as conn:
        context["accounts"] = [a for a in await queries.list_accounts(conn, limit=300) if a["channel"] in CHANNELS]
        account = (await conn.execute(sa.select(ACCOUNTS.c.id).where(
            ACCOUNTS.c.channel == channel, ACCOUNTS.c.external_id == user_id))).scalar()
        if account is not None:
            context["recent"] = [dict(r._mapping) for r in await conn.execute(
                sa.select(TASKS.c.code, TASKS.c.kind, TASKS.c.listing, TASKS.c.status, TASKS.c.received_at)
                .where(TASKS.c.sender_id == account).order_by(TASKS.c.id.desc()).limit(5))]
    return render(request, "simulator.html", context)
