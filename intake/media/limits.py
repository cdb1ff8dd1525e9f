"""How much one file may cost to read. The ``[media]`` settings map onto these; the defaults hold
without configuration. Every bound is checked before the expensive step it guards."""

from __future__ import annotations

from dataclasses import dataclass

from intake.media.errors import TooLarge

__all__ = ["MediaLimits", "check_limit"]

MB = 1024 * 1024


@dataclass(frozen=True)
class MediaLimits:
    max_bytes: int = 20 * MB          # the original as received
    max_pages: int = 100              # PDF / OFD pages, spreadsheet sheets
    max_ocr_pages: int = 5            # scanned pages rendered and read by OCR (5-8 s of CPU each, see bench)
    max_cells: int = 200_000          # spreadsheet cells, all sheets together (counted before they are read)
    max_chars: int = 300_000          # text read from the file
    max_pixels: int = 40_000_000      # one picture (width x height), checked before it is decoded
    max_unpacked: int = 200 * MB      # sum of a zip container's members (docx, xlsx, ofd) before they are read


def check_limit(what: str, actual: int, limit: int) -> None:
    """Raise ``TooLarge`` when ``actual`` is past ``limit``."""
    if actual > limit:
        raise TooLarge(what, actual, limit)
