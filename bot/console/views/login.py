"""Signing in and out of the console (a login limiter per address, lock-out per user)."""

from __future__ import annotations

import asyncio

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.console import forms, texts
from bot.console.core import LIMITER, USER, codec_of, now_utc, redirect, render, services_of, session_of, url
from intake.console_users import (
    INACTIVE,
    WRONG_CREDENTIALS,
    AdminView,
    check_password,
    describe_lock,
    get_admin_user,
    record_login,
)

__all__ = ["handle_login_form", "handle_login", "handle_logout"]


async def handle_login_form(request: web.Request) -> web.StreamResponse:
    if request.get(USER) is not None:
        raise web.HTTPSeeOther(url(request, "dashboard"))
    return render(request, "login.html", {"next": request.query.get("next", ""), "error": "", "username": ""})


def _safe_next(request: web.Request, target: str) -> str:
    base = url(request, "dashboard")
    if target.startswith(base) and not target.startswith("//") and "\\" not in target:
        return target
    return base


async def handle_login(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    form = await request.post()
    username = forms.text(form, "username", limit=64)
    password = form.get("password", "")
    password = password if isinstance(password, str) else ""
    target = forms.text(form, "next", limit=500)
    client = request.remote or "?"
    limiter = request.app[LIMITER]

    def again(message: str, status: int) -> web.Response:
        return render(request, "login.html", {"next": target, "error": message, "username": username}, status=status)

    if limiter.blocked(client):
        return again(texts.TOO_MANY_ATTEMPTS, 429)
    if not username or not password:
        return again("请输入用户名和密码。", 400)
    now = now_utc()
    async with services.engine.connect() as conn:
        user = await get_admin_user(conn, username=username)
    if user is not None and user.is_locked(now):
        assert user.locked_until is not None
        return again(describe_lock(user.locked_until, now), 429)
    ok = await asyncio.get_running_loop().run_in_executor(
        None, check_password, user.password_hash if user else None, password)
    if user is None:
        limiter.failed(client)
        return again(WRONG_CREDENTIALS, 401)
    user_id = user.id

    async def unit(c: AsyncConnection) -> AdminView:
        return await record_login(c, user_id=user_id, ok=ok, now=now)

    recorded = await services.writer.submit(unit)
    if not ok:
        limiter.failed(client)
        if recorded.locked_until is not None and recorded.is_locked(now):
            return again(describe_lock(recorded.locked_until, now), 429)
        return again(WRONG_CREDENTIALS, 401)
    if not recorded.active:
        return again(INACTIVE, 403)
    limiter.succeeded(client)
    session_of(request).login(recorded.id, codec_of(request).credential_of(recorded.password_hash))
    raise web.HTTPSeeOther(_safe_next(request, target))


async def handle_logout(request: web.Request) -> web.StreamResponse:
    session_of(request).logout()
    redirect(request, "login", flash=texts.LOGGED_OUT)
