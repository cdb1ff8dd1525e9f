"""What reading a file gives: ``Extracted`` (frozen), its ``SourceType``, and the shared text helpers."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["SourceType", "Extracted", "normalise_text", "has_chinese", "unique"]


class SourceType(StrEnum):
    """Where a notice's text came from (kept with the task; the export carries it)."""

    TEXT = "text"
    VOICE = "voice"
    IMAGE = "image"
    DOCX = "docx"
    PDF = "pdf"
    PDF_SCANNED = "pdf_scanned"
    XLSX = "xlsx"
    XLS = "xls"
    OFD = "ofd"
    TXT = "txt"
    LINK = "link"


@dataclass(frozen=True)
class Extracted:
    """The text of one file in reading order, and what is known about how it was read."""

    text: str                    # body text, reading order, whitespace normalised, one line per paragraph/row
    source_type: SourceType
    fields: tuple[str, ...]      # a form's fields: sheet names and header cells (xlsx/xls), docx table header cells
    pages: int                   # pages (PDF, OFD, docx as saved), sheets (xlsx/xls), 1 for text and pictures
    ocr: bool                    # OCR produced at least part of the text
    sha256: str                  # hex digest of the original bytes


_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_SPACES = re.compile(r"[ \t\f\v\u00a0\u3000\u2000-\u200a\u202f\u205f]+")
_CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def normalise_text(text: str) -> str:
    """One line per paragraph: invisible characters dropped, runs of spaces made one, blank lines removed."""
    text = _INVISIBLE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def has_chinese(text: str) -> bool:
    return _CJK.search(text) is not None


def unique(items: Iterable[str]) -> tuple[str, ...]:
    """Non-empty items, stripped, first occurrence kept."""
    seen: dict[str, None] = {}
    for item in items:
        item = normalise_text(item).replace("\n", " ")
        if item:
            seen.setdefault(item, None)
    return tuple(seen)
