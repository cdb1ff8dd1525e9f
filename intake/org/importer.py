"""The organisation sheet (``jianfu org import FILE.xlsx``): one row per community, columns 区, 街道, 社区,
工作人员数 (more may follow, in any order). Every row is checked before anything is written: a sheet with
unreadable rows imports nothing and lists them all."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl import load_workbook

from intake.errors import InvalidRequest
from intake.org import texts
from intake.org.tree import CommunityRow

__all__ = ["OrgSheetError", "read_org_sheet", "parse_org_rows"]

# header words per field (the first one is how it is named in messages)
HEADERS: dict[str, tuple[str, ...]] = {
    "district": ("区", "区县", "所属区", "区(县)"),
    "street": ("街道", "街道(镇)", "所属街道", "街镇"),
    "community": ("社区", "社区名称", "社区(居委会)"),
    "staff": ("工作人员数", "工作人员", "人数", "社区工作者人数"),
    "city": ("市", "城市", "所属市"),
}
REQUIRED = ("district", "street", "community", "staff")
MAX_NAME = 64


class OrgSheetError(InvalidRequest):
    """The sheet cannot be imported; `problems` lists every row that could not be read."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


@dataclass(frozen=True)
class _Columns:
    index: dict[str, int]
    header_row: int


def _find_header(rows: list[tuple[Any, ...]]) -> _Columns:
    for number, row in enumerate(rows[:10], start=1):
        cells = [str(v).strip() if v is not None else "" for v in row]
        index = {field: cells.index(word) for field, words in HEADERS.items() for word in words if word in cells}
        if all(field in index for field in REQUIRED):
            return _Columns(index=index, header_row=number)
    raise OrgSheetError(texts.SHEET_NO_HEADER)


def _cell(row: tuple[Any, ...], at: int | None) -> str:
    if at is None or at >= len(row) or row[at] is None:
        return ""
    value = row[at]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _read_row(number: int, row: tuple[Any, ...], columns: _Columns) -> tuple[CommunityRow | None, list[str]]:
    values = {field: _cell(row, columns.index.get(field)) for field in HEADERS}
    problems = [texts.ROW_MISSING.format(row=number, column=HEADERS[f][0]) for f in REQUIRED if not values[f]]
    problems += [texts.ROW_TOO_LONG.format(row=number, column=HEADERS[f][0], value=values[f][:20] + "…")
                 for f in ("district", "street", "community", "city") if len(values[f]) > MAX_NAME]
    staff = None
    if values["staff"]:
        try:
            staff = int(values["staff"])
        except ValueError:
            staff = None
        if staff is None or staff < 1:
            problems.append(texts.ROW_STAFF.format(row=number, value=values["staff"]))
    if problems:
        return None, problems
    return CommunityRow(district=values["district"], street=values["street"], community=values["community"],
                        staff=staff, city=values["city"] or None), []


def parse_org_rows(rows: Iterable[tuple[Any, ...]]) -> list[CommunityRow]:
    """The sheet's rows (header first, blank rows skipped) as community rows; OrgSheetError lists every bad row."""
    table = list(rows)
    columns = _find_header(table)
    out: list[CommunityRow] = []
    problems: list[str] = []
    first_seen: dict[str, tuple[int, CommunityRow]] = {}
    for number, row in enumerate(table[columns.header_row:], start=columns.header_row + 1):
        if all(v is None or str(v).strip() == "" for v in row):
            continue
        parsed, bad = _read_row(number, row, columns)
        problems += bad
        if parsed is None:
            continue
        seen = first_seen.get(parsed.community)
        if seen is not None:
            if (seen[1].district, seen[1].street) != (parsed.district, parsed.street):
                problems.append(texts.ROW_DUPLICATE.format(row=number, community=parsed.community, first=seen[0]))
            continue
        first_seen[parsed.community] = (number, parsed)
        out.append(parsed)
    if problems:
        raise OrgSheetError(texts.ROWS_REFUSED.format(count=len(problems)), problems)
    return out


def read_org_sheet(data: bytes, *, name: str) -> list[CommunityRow]:
    """The first sheet of an .xlsx file as community rows (see :func:`parse_org_rows`)."""
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        raise OrgSheetError(texts.SHEET_UNREADABLE.format(name=name, reason=type(exc).__name__)) from exc
    try:
        sheet = workbook.worksheets[0]
        return parse_org_rows(sheet.iter_rows(values_only=True))
    finally:
        workbook.close()
