"""Upload tickets (issue 16): the single-use links a clerk or head asks for with ``上传``. Imported by
``intake.store.models``, which re-exports them.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from intake.store.columns import _table, _ts

__all__ = ["UploadTicket", "UPLOAD_TICKETS"]


class UploadTicket(SQLModel, table=True):
    """One upload link: whose it is, where the receipt goes back to, and whether it was used."""

    __tablename__ = "upload_tickets"
    id: int | None = Field(default=None, primary_key=True)
    nonce: str = Field(max_length=32, unique=True)  # the link's path part (signed with the expiry)
    account_id: int = Field(foreign_key="accounts.id", index=True)
    reply_to: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))  # a bot's response_url
    chat: str | None = Field(default=None, max_length=128)  # the WeCom group the link was asked for in
    created_at: dt.datetime = _ts()
    expires_at: dt.datetime = _ts()
    used_at: dt.datetime | None = _ts(nullable=True)
    task_code: str | None = Field(default=None, max_length=32)  # what the upload was logged as


UPLOAD_TICKETS = _table(UploadTicket)
