"""The chat simulator: type as a clerk or head; real signed (and, for WeCom, encrypted) callbacks go to this server.

The Official Account codec lives here (plaintext mode needs only SHA-1). WeCom callbacks
are always AES-encrypted, and the crypto belongs to ``bot``; ``intake`` may not import it,
so the app factory hands the console a :class:`ChatCodec` under :data:`WECOM_SIMULATOR`
(``bot.simulator_support.WecomSimulatorSupport``). Without it the page offers WeChat only.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any, Protocol
from xml.sax.saxutils import escape

import aiohttp
import sqlalchemy as sa
from aiohttp import web
from defusedxml.ElementTree import ParseError, fromstring

from intake.console import forms, queries, texts
from intake.console.core import render, services_of
from intake.console.shared import create_invite, directory_names
from intake.errors import IntakeError
from intake.models import ACCOUNTS, TASKS

__all__ = ["ChatCodec", "WECOM_SIMULATOR", "WechatPlainCodec", "build_signed_post",
           "handle_simulator", "handle_simulator_post"]

CHANNELS = ("wechat", "wecom")


class ChatCodec(Protocol):
    """Builds one text callback as the platform's server would send it, and opens the passive reply."""

    @property
    def channel(self) -> str: ...

    @property
    def path(self) -> str: ...

    def build_post(self, *, user_id: str, text: str, now: int) -> tuple[dict[str, str], bytes]: ...

    def open_reply(self, raw: str) -> str:
        """The reply's plaintext XML; raises ValueError when it does not verify."""
        ...


WECOM_SIMULATOR = web.AppKey("wecom_simulator", ChatCodec)


def build_signed_post(*, token: str, openid: str, text: str, to_user: str, now: int) -> tuple[dict[str, str], bytes]:
    """A plaintext Official Account callback exactly as WeChat sends it: query signature + XML body."""
    nonce = secrets.token_hex(8)
    timestamp = str(now)
    signature = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode("utf-8")).hexdigest()
    msg_id = str(secrets.randbelow(10**15) + 10**15)
    xml = (
        f"<xml><ToUserName><![CDATA[{to_user}]]></ToUserName>"
        f"<FromUserName>{escape(openid)}</FromUserName>"
        f"<CreateTime>{timestamp}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{escape(text)}</Content><MsgId>{msg_id}</MsgId></xml>"
    )
    return {"signature": signature, "timestamp": timestamp, "nonce": nonce, "openid": openid}, xml.encode("utf-8")


class WechatPlainCodec:
    """Official Account in plaintext mode."""

    channel = "wechat"
    path = "/wechat"

    def __init__(self, *, token: str, app_id: str) -> None:
        self._token = token
        self._app_id = app_id

    def build_post(self, *, user_id: str, text: str, now: int) -> tuple[dict[str, str], bytes]:
        return build_signed_post(token=self._token, openid=user_id, text=text, to_user=self._app_id, now=now)

    def open_reply(self, raw: str) -> str:
        return raw


def _codec(request: web.Request, channel: str) -> ChatCodec | None:
    if channel == "wecom":
        return request.config_dict.get(WECOM_SIMULATOR)
    settings = services_of(request).settings
    return WechatPlainCodec(token=settings.wechat.token, app_id=settings.wechat.app_id)


async def _context(request: web.Request) -> dict[str, Any]:
    async with services_of(request).engine.connect() as conn:
        accounts = [a for a in await queries.list_accounts(conn, limit=300) if a["channel"] in CHANNELS]
    departments, communities = await directory_names(request)
    return {"accounts": accounts, "departments": departments, "communities": communities, "exchange": None,
            "openid": "", "channel": "wechat", "message": "", "error": "", "recent": [],
            "wecom_ready": WECOM_SIMULATOR in request.config_dict}


async def handle_simulator(request: web.Request) -> web.StreamResponse:
    context = await _context(request)
    context["openid"] = request.query.get("openid", "")
    channel = request.query.get("channel", "")
    context["channel"] = channel if channel in CHANNELS else "wechat"
    return render(request, "simulator.html", context)


async def _post(request: web.Request, codec: ChatCodec, user_id: str, message: str) -> dict[str, Any]:
    services = services_of(request)
    params, body = codec.build_post(user_id=user_id, text=message, now=int(time.time()))
    target = str(request.url.origin().with_path(codec.path))
    async with services.http.post(target, params=params, data=body,
                                  headers={"Content-Type": "text/xml; charset=utf-8"}) as response:
        status = response.status
        raw = await response.text()
    reply = raw
    if status == 200 and raw == "success":
        reply = "(服务器回复 success:没有被动回复,消息可能稍后推送)"
    elif status == 200 and raw.startswith("<xml"):
        try:
            plain = codec.open_reply(raw)
            reply = fromstring(plain.encode("utf-8")).findtext("Content") or plain
        except ValueError as exc:  # ParseError is a SyntaxError; a failed verification is a ValueError
            reply = texts.SIM_BAD_REPLY.format(error=exc)
        except ParseError:
            reply = raw
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
    if codec is None:
        context["error"] = texts.SIM_NO_WECOM
        return render(request, "simulator.html", context, status=400)
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
    async with services_of(request).engine.connect() as conn:
        context["accounts"] = [a for a in await queries.list_accounts(conn, limit=300) if a["channel"] in CHANNELS]
        account = (await conn.execute(sa.select(ACCOUNTS.c.id).where(
            ACCOUNTS.c.channel == channel, ACCOUNTS.c.external_id == user_id))).scalar()
        if account is not None:
            context["recent"] = [dict(r._mapping) for r in await conn.execute(
                sa.select(TASKS.c.code, TASKS.c.kind, TASKS.c.listing, TASKS.c.status, TASKS.c.received_at)
                .where(TASKS.c.sender_id == account).order_by(TASKS.c.id.desc()).limit(5))]
    return render(request, "simulator.html", context)
