"""Logging in and out of the console: server-side sessions and back-off on failed logins.

The password is checked off the event loop (argon2 is slow on purpose); the back-off check, the
outcome and the new session are each one writer unit. An unknown user and a wrong password get
the same answer, and a login that must wait is answered without checking the password.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.console import forms, texts
from bot.console.core import USER, client_of, now_utc, redirect, render, services_of, session_of, url
from intake.console_sessions import SessionEnd, add_session, end_session, get_login_wait
from intake.console_users import (
    INACTIVE,
    WRONG_CREDENTIALS,
    check_password,
    describe_wait,
    get_admin_user,
    record_login,
    throttle_keys,
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
    client = client_of(request)

    def again(message: str, status: int) -> web.Response:
        return render(request, "login.html", {"next": target, "error": message, "username": username}, status=status)

    if not username or not password:
        return again(texts.LOGIN_NEEDS_BOTH, 400)
    now = now_utc()
    async with services.engine.connect() as conn:
        wait = await get_login_wait(conn, keys=throttle_keys(username, client), now=now)
        user = await get_admin_user(conn, username=username) if not wait else None
    if wait:
        return again(describe_wait(wait), 429)
    ok = await asyncio.get_running_loop().run_in_executor(
        None, check_password, user.password_hash if user else None, password)
    user_id = user.id if user is not None else None
    start = ok and user is not None and user.active

    async def unit(c: AsyncConnection) -> str:
        await record_login(c, username=username, client=client, user_id=user_id, ok=ok, now=now)
        return await add_session(c, user_id=user_id, client=client, now=now) if start and user_id else ""

    token = await services.writer.submit(unit)
    if user is None or not ok:
        return again(WRONG_CREDENTIALS, 401)
    if not user.active:
        return again(INACTIVE, 403)
    session_of(request).login(token)
    raise web.HTTPSeeOther(_safe_next(request, target))


async def handle_logout(request: web.Request) -> web.StreamResponse:
    """Ends the server-side session: the cookie, even if saved elsewhere, no longer logs anyone in."""
    session = session_of(request)
    token, now = session.token, now_utc()
    if token:
        await services_of(request).writer.submit(
            lambda c: end_session(c, token=token, reason=SessionEnd.logout, now=now))
    session.logout()
    redirect(request, "login", flash=texts.LOGGED_OUT)
