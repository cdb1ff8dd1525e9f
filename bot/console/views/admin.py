"""Console users (admins only) and the outbox: the admin inbox and dead letters with retry."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.console import forms, texts
from bot.console.core import actor_of, now_utc, redirect, render, services_of, session_of, user_of
from bot.console.scoping import read_conn
from bot.console.shared import int_param, require_admin, submit_or_back
from intake import outbox
from intake.console_users import (
    AdminView,
    ConsoleRole,
    add_admin_user,
    end_admin_sessions,
    hash_password,
    list_admin_users,
    set_admin_active,
    set_admin_password,
)
from intake.errors import IntakeError

__all__ = ["handle_users", "handle_user_add", "handle_user_password", "handle_user_active", "handle_user_sessions_end", "handle_outbox", "handle_outbox_retry", "handle_inbox_read"]


# --- console users -------------------------------------------------------------------------------

async def handle_users(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    async with read_conn(request) as conn:
        users = await list_admin_users(conn)
    return render(request, "users.html", {"users": users, "now": now_utc(), "roles": [r.value for r in ConsoleRole]})


async def _new_hash(request: web.Request, form: Any) -> str:
    """The argon2 hash of the form's password (checked twice), computed off the event loop."""
    password = form.get("password", "")
    again = form.get("password2", "")
    password = password if isinstance(password, str) else ""
    if password != (again if isinstance(again, str) else ""):
        raise forms.FormError(texts.PASSWORDS_DIFFER)
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(None, hash_password, password)
    except IntakeError as exc:
        raise forms.FormError(str(exc)) from None


async def handle_user_add(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    form = await request.post()
    username = forms.text(form, "username", limit=64)
    role = forms.text(form, "role", limit=16) or ConsoleRole.viewer.value
    try:
        password_hash = await _new_hash(request, form)
    except forms.FormError as exc:
        redirect(request, "users", flash=str(exc), level="error")
    actor, now = actor_of(request), now_utc()

    async def unit(conn: AsyncConnection) -> int:
        return await add_admin_user(conn, username=username, role=role, password_hash=password_hash, actor=actor,
                                    now=now)

    await submit_or_back(request, unit, back="users")
    redirect(request, "users", flash=texts.USER_CREATED.format(
        username=username, role=texts.CONSOLE_ROLE_ZH.get(role, role)))


async def handle_user_password(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    user_id = int_param(request)
    form = await request.post()
    try:
        password_hash = await _new_hash(request, form)
    except forms.FormError as exc:
        redirect(request, "users", flash=str(exc), level="error")
    actor, now = actor_of(request), now_utc()
    # one's own reset ends one's other sessions, not this one
    keep = session_of(request).token if user_id == user_of(request).id else None

    async def unit(conn: AsyncConnection) -> AdminView:
        return await set_admin_password(conn, user_id=user_id, password_hash=password_hash, actor=actor, now=now,
                                        keep_token=keep)

    user = await submit_or_back(request, unit, back="users")
    redirect(request, "users", flash=texts.USER_PASSWORD_RESET.format(username=user.username))


async def handle_user_active(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    user_id = int_param(request)
    active = forms.flag(await request.post(), "active")
    me, actor, now = user_of(request).id, actor_of(request), now_utc()

    async def unit(conn: AsyncConnection) -> AdminView:
        return await set_admin_active(conn, user_id=user_id, active=active, actor_id=me, actor=actor, now=now)

    user = await submit_or_back(request, unit, back="users")
    redirect(request, "users", flash=texts.USER_ACTIVE.format(state="启用" if active else "停用",
                                                             username=user.username))


async def handle_user_sessions_end(request: web.Request) -> web.StreamResponse:
    """"End all sessions" of a user (one's own included: then one logs in again)."""
    require_admin(request)
    user_id = int_param(request)
    actor, now = actor_of(request), now_utc()

    async def unit(conn: AsyncConnection) -> tuple[AdminView, int]:
        return await end_admin_sessions(conn, user_id=user_id, actor=actor, now=now)

    user, count = await submit_or_back(request, unit, back="users")
    flash = texts.USER_SESSIONS_ENDED.format(username=user.username, count=count)
    if user.id == user_of(request).id:
        session_of(request).logout()
        redirect(request, "login", flash=flash)
    redirect(request, "users", flash=flash)


# --- outbox: inbox and dead letters --------------------------------------------------------------

async def handle_outbox(request: web.Request) -> web.StreamResponse:
    async with read_conn(request) as conn:
        counts = await outbox.count_by_status(conn)
        dead = await outbox.list_dead(conn, limit=200)
        inbox = await outbox.list_inbox(conn, limit=100)
    return render(request, "outbox.html", {
        "counts": counts, "statuses": list(texts.OUTBOX_STATUS_ZH), "dead": dead, "inbox": inbox,
        "unread": sum(1 for m in inbox if m["read_at"] is None),
    })


async def handle_outbox_retry(request: web.Request) -> web.StreamResponse:
    message_id = int_param(request)
    now = now_utc()

    async def unit(conn: AsyncConnection) -> bool:
        return await outbox.retry_dead(conn, message_id=message_id, now=now)

    if not await services_of(request).writer.submit(unit):
        redirect(request, "outbox", flash=texts.OUTBOX_NOT_DEAD.format(id=message_id), level="warn")
    redirect(request, "outbox", flash=texts.OUTBOX_RETRIED.format(id=message_id))


async def handle_inbox_read(request: web.Request) -> web.StreamResponse:
    message_id = int_param(request)
    now = now_utc()

    async def unit(conn: AsyncConnection) -> bool:
        return await outbox.mark_inbox_read(conn, message_id=message_id, now=now)

    await services_of(request).writer.submit(unit)
    redirect(request, "outbox", flash=texts.INBOX_READ.format(id=message_id))
