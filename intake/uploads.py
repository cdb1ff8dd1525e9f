"""Upload tickets: ``上传`` in chat gives a clerk or head a single-use, expiring link to the upload page.

A ticket remembers whose it is and where the receipt goes back to (the WeCom bot's ``response_url`` and
group, when it was asked for there). ``use_ticket`` spends it in the transaction that logs the upload, so
a link logs one notice at most, however often the form is sent. Repository functions take the connection
and never commit.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.store.models import ACCOUNTS, UPLOAD_TICKETS

__all__ = ["Ticket", "add_upload_ticket", "get_open_ticket", "get_ticket_owner", "set_ticket_task", "use_ticket"]


@dataclass(frozen=True)
class Ticket:
    id: int
    nonce: str
    account_id: int
    reply_to: str | None
    chat: str | None
    expires_at: dt.datetime


async def add_upload_ticket(conn: AsyncConnection, *, account_id: int, reply_to: str | None, chat: str | None,
                            now: dt.datetime, minutes: int) -> Ticket:
    nonce = secrets.token_hex(16)
    expires_at = now + dt.timedelta(minutes=minutes)
    values = {"nonce": nonce, "account_id": account_id, "reply_to": reply_to or None, "chat": chat,
              "created_at": now, "expires_at": expires_at}
    ticket_id = (await conn.execute(sa.insert(UPLOAD_TICKETS).values(values).returning(UPLOAD_TICKETS.c.id))).scalar_one()
    return Ticket(id=int(ticket_id), nonce=nonce, account_id=account_id, reply_to=reply_to or None, chat=chat,
                  expires_at=expires_at)


async def get_open_ticket(conn: AsyncConnection, *, nonce: str, now: dt.datetime) -> Ticket | None:
    """The ticket behind a link, unless it was used or has expired."""
    t = UPLOAD_TICKETS.c
    row = (await conn.execute(sa.select(t.id, t.nonce, t.account_id, t.reply_to, t.chat, t.expires_at).where(
        t.nonce == nonce, t.used_at.is_(None), t.expires_at > now))).first()
    if row is None:
        return None
    return Ticket(id=row.id, nonce=row.nonce, account_id=row.account_id, reply_to=row.reply_to, chat=row.chat,
                  expires_at=row.expires_at)


async def use_ticket(conn: AsyncConnection, *, ticket_id: int, now: dt.datetime) -> bool:
    """Spend the ticket; False when another submission spent it first or it has expired."""
    t = UPLOAD_TICKETS.c
    result = await conn.execute(sa.update(UPLOAD_TICKETS).where(
        t.id == ticket_id, t.used_at.is_(None), t.expires_at > now).values(used_at=now))
    return result.rowcount == 1


async def set_ticket_task(conn: AsyncConnection, *, ticket_id: int, task_code: str | None) -> None:
    await conn.execute(sa.update(UPLOAD_TICKETS).where(UPLOAD_TICKETS.c.id == ticket_id).values(task_code=task_code))


async def get_ticket_owner(conn: AsyncConnection, *, account_id: int) -> tuple[str, str]:
    """The (channel, external id) of the account a ticket was issued to."""
    row = (await conn.execute(sa.select(ACCOUNTS.c.channel, ACCOUNTS.c.external_id).where(
        ACCOUNTS.c.id == account_id))).one()
    return str(row.channel), str(row.external_id)
