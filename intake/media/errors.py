"""The media error tree: why a file or picture gave no text. Raised by ``extract``; the chat edge
and the upload page show ``user_message`` (Chinese, names the reason, says what to do).

MediaError(IntakeError)          base; ``reason`` is a stable English code for logs and metrics
├── TooLarge                     past a ``MediaLimits`` bound (bytes, pages, OCR pages, cells, chars, pixels)
├── Encrypted                    password-protected PDF, xlsx/docx (OLE2-wrapped) or xls
├── Corrupt                      truncated, damaged, empty, or not what its name says and nothing readable
├── Unsupported                  a type Jianfu does not read (doc, ppt, zip, audio...), or OCR is off
└── NoText                       readable, but no text in it (a blank page, a picture with no Chinese)

Every error pickles (the worker process raises them across the process boundary).
"""

from __future__ import annotations

from typing import Any

from intake.errors import IntakeError
from intake.media import texts

__all__ = ["MediaError", "TooLarge", "Encrypted", "Corrupt", "Unsupported", "NoText"]


class MediaError(IntakeError):
    """Base of every error the media reader raises on purpose."""

    def __init__(self, reason: str, user_message: str) -> None:
        super().__init__(reason, user_message)
        self.reason = reason
        self.user_message = user_message

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.reason, self.user_message))

    def __str__(self) -> str:
        return f"{self.reason}: {self.user_message}"


def _rebuild(cls: type[MediaError], reason: str, user_message: str) -> MediaError:
    error = MediaError.__new__(cls)
    MediaError.__init__(error, reason, user_message)
    return error


def human_bytes(value: int) -> str:
    """A size as the answers say it: "4 KB", "20.0 MB"."""
    return _human("bytes", value)


def _human(what: str, value: int) -> str:
    if what in ("bytes", "unpacked"):
        return f"{value / (1024 * 1024):.1f} MB" if value >= 1024 * 1024 else f"{max(1, value // 1024)} KB"
    if what == "pixels":
        return f"{value / 1_000_000:.1f}百万"
    return f"{value:,}"


class TooLarge(MediaError):
    """The file is past one of its limits; ``what`` names which (a key of ``texts.LIMIT_ZH``)."""

    def __init__(self, what: str, actual: int, limit: int) -> None:
        message = texts.TOO_LARGE.format(what=texts.LIMIT_ZH[what], actual=_human(what, actual),
                                         limit=_human(what, limit))
        super().__init__(f"too_large.{what}", message)


class Encrypted(MediaError):
    """The file is protected by a password."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"encrypted.{kind}", texts.ENCRYPTED)


class Corrupt(MediaError):
    """The bytes cannot be parsed as the type they claim (or are empty)."""

    def __init__(self, kind: str, detail: str = "") -> None:
        if kind == "empty":
            super().__init__("corrupt.empty", texts.EMPTY_FILE)
        else:
            super().__init__(f"corrupt.{kind}", texts.CORRUPT.format(detail=detail or kind))


class Unsupported(MediaError):
    """A type that is not read (``kind`` is a key of ``texts.UNSUPPORTED_KIND_ZH``), or OCR is off."""

    def __init__(self, kind: str) -> None:
        if kind == "ocr_off":
            super().__init__("unsupported.ocr_off", texts.OCR_OFF)
        else:
            super().__init__(f"unsupported.{kind}", texts.UNSUPPORTED.format(kind=texts.UNSUPPORTED_KIND_ZH[kind]))


class NoText(MediaError):
    """The file was read but holds no text (``image``: a picture with no readable Chinese)."""

    def __init__(self, kind: str) -> None:
        message = texts.NO_TEXT_IMAGE if kind == "image" else texts.NO_TEXT_DOCUMENT
        super().__init__(f"no_text.{kind}", message)
