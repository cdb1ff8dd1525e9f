"""What every file Jianfu writes must respect, whatever names and texts it holds.

* A name that becomes part of a path (a community's chart, a digest file) is reduced by
  :func:`slug` to letters, digits, ``-`` and ``_``: no separators, no ``..``, no leading dot.
* Every string cell of every workbook (and CSV) is neutralised against formulas by
  :func:`safe_cell` / :func:`neutralise_workbook`: a value that a spreadsheet would read as a
  formula (``=``, ``+``, ``-``, ``@``, tab, CR, LF first) is written as text with a leading ``'``.
  Department and community names, titles and notice texts all come from outside.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

__all__ = ["FORMULA_STARTS", "safe_cell", "neutralise_workbook", "slug"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
_UNSAFE = re.compile(r"[^\w\-]+", re.UNICODE)
SLUG_MAX = 48


def safe_cell(value: Any) -> Any:
    """``value``, or for a string a spreadsheet would take for a formula, the same text quoted."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralise_workbook(workbook: Any) -> None:
    """Quote every formula-like string cell of every sheet (Jianfu writes no formulas of its own)."""
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                value = cell.value
                if isinstance(value, str) and value.startswith(FORMULA_STARTS):
                    cell.value = "'" + value


def slug(name: str) -> str:
    """A file-name-safe form of ``name``: word characters (CJK included), digits, ``-`` and ``_``.

    When anything had to be changed, a short hash of the original is appended, so that two names
    that differ only in unsafe characters never share a file.
    """
    cleaned = _UNSAFE.sub("_", name).strip("_.-")[:SLUG_MAX] or "x"
    if cleaned == name:
        return cleaned
    return f"{cleaned}-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:8]}"
