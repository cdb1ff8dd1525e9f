"""Where a notice's text came from: a typed message, speech, a picture, a document or a link.

The chat edge reads the message (``intake.media`` for files) and hands the text on with a
``NoticeSource``; ``create_task`` stores it on the task, and the same original sent again is found
by its SHA-256 (``get_task_code_by_original``)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.media.result import SourceType
from intake.store.models import TASKS

__all__ = ["NoticeSource", "TYPED", "get_task_code_by_original", "source_values"]


@dataclass(frozen=True)
class NoticeSource:
    type: SourceType
    sha256: str | None = None  # the original file's digest (kept under [media] dir)
    name: str | None = None  # the sender's file name, or the link's URL
    ocr: bool = False  # the text (or part of it) was read by OCR
    fields: tuple[str, ...] = ()  # a spreadsheet's sheet names and header cells: the form it carries
    chat: str | None = None  # the WeCom group (chatid) the notice was logged from, through the intelligent bot

    @property
    def is_file(self) -> bool:
        return self.sha256 is not None


TYPED = NoticeSource(SourceType.TEXT)


def source_values(source: NoticeSource | None) -> dict[str, str | None]:
    """The task columns of a source (a typed notice when None)."""
    source = source or TYPED
    name = source.name[:255] if source.name else None
    return {"source_type": source.type.value, "source_sha256": source.sha256, "source_name": name,
            "source_chat": source.chat[:128] if source.chat else None}


async def get_task_code_by_original(conn: AsyncConnection, *, sha256: str) -> str | None:
    """The code of the first task logged from this original file, if any."""
    stmt = sa.select(TASKS.c.code).where(TASKS.c.source_sha256 == sha256).order_by(TASKS.c.id).limit(1)
    return (await conn.execute(stmt)).scalar_one_or_none()
