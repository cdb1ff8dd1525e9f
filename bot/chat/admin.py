"""Chat commands of admin accounts: ``月报 [YYYY-MM]`` reads the archived digest of the admin's own scope
(a street's admin: the street's; never another street's), and ``帮助`` names that scope."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.chat import texts_admin
from intake.accounts import AccountView
from intake.outbox import INBOX_CHANNEL, channel_for_account
from intake.reports.chat_digest import get_archived_digest, get_digest_scope
from intake.reports.monthly import digest_link
from intake.scope import describe_scope, resolve_scope

if TYPE_CHECKING:
    from bot.chat.dialogue import DialogueContext, Incoming

__all__ = ["handle_admin_digest", "get_admin_target"]


async def get_admin_target(conn: AsyncConnection, account: AccountView) -> str:
    """What an admin account is bound to, for its help text: its scope (甲街道(街道)), or its office."""
    if account.scope_level is None:
        return account.department or ""
    return describe_scope(await resolve_scope(conn, level=account.scope_level, scope_id=account.scope_id))


async def handle_admin_digest(ctx: DialogueContext, conn: AsyncConnection, account: AccountView, msg: Incoming,
                              m: re.Match[str]) -> str:
    month = m.group(1)
    if month is not None and len(month) == 6:  # 2026-1 → 2026-01
        month = month[:5] + "0" + month[5]
    scope = await get_digest_scope(conn, level=account.scope_level, scope_id=account.scope_id)
    own = f"{channel_for_account(ctx.settings.notify.admins, account.channel)}:{account.external_id}"
    shared = [f"{INBOX_CHANNEL}:scope:{scope}", f"{INBOX_CHANNEL}:admins", "log:admins"]  # the console's inboxes
    found = await get_archived_digest(conn, scope=scope, month=month, recipients=[own, *shared])
    url = ctx.settings.server.public_url.rstrip("/")
    if found is None:
        name = await get_admin_target(conn, account) or "全区"
        day = ctx.settings.schedule.digest_day
        if month is None:
            return texts_admin.NONE_YET.format(scope=name, day=day, url=url)
        return texts_admin.NOT_BUILT.format(scope=name, month=month, day=day, url=url)
    return texts_admin.build_digest_reply(found, link=digest_link(url, month=found.month, scope=found.scope))
