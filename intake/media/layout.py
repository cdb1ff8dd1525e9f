"""Reading order for positioned text (OCR boxes, OFD text codes): top to bottom, then left to right,
pieces whose vertical centres lie within half a line height of each other forming one line."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Piece", "lines_in_reading_order"]


@dataclass(frozen=True)
class Piece:
    """A run of text with its box: ``left`` and ``top`` in page units (y grows downwards)."""

    text: str
    left: float
    top: float
    height: float


def lines_in_reading_order(pieces: Iterable[Piece], *, joiner: str = " ") -> list[str]:
    """The pieces grouped into lines, each line's pieces joined by ``joiner`` from left to right."""
    ordered = sorted((p for p in pieces if p.text.strip()), key=lambda p: (p.top + p.height / 2, p.left))
    lines: list[list[Piece]] = []
    centre = 0.0
    for piece in ordered:
        middle = piece.top + piece.height / 2
        if lines and abs(middle - centre) <= max(piece.height, 1.0) / 2:
            lines[-1].append(piece)
            continue
        lines.append([piece])
        centre = middle
    return [joiner.join(p.text.strip() for p in sorted(line, key=lambda p: p.left)) for line in lines]
