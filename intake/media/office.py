"""Word and Excel: ``.docx`` through python-docx (paragraphs and tables in document order), ``.xlsx``
and ``.xls`` through python-calamine (every sheet; the header row and sheet names are the form's fields)."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from defusedxml import ElementTree

from intake.media.errors import Corrupt, Encrypted
from intake.media.limits import MediaLimits, check_limit
from intake.media.ocr import OcrEngine, load_image, ocr_image
from intake.media.result import normalise_text, unique

__all__ = ["DocxText", "read_docx", "SheetText", "read_workbook", "check_unpacked"]

CELL_SEPARATOR = " | "
_DOCX_IMAGES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def check_unpacked(archive: zipfile.ZipFile, limits: MediaLimits) -> None:
    """The members' declared sizes, summed, against ``max_unpacked`` (a zip bomb stops here)."""
    check_limit("unpacked", sum(info.file_size for info in archive.infolist()), limits.max_unpacked)
    if any(info.flag_bits & 0x1 for info in archive.infolist()):
        raise Encrypted("zip")


# ---------------------------------------------------------------- docx

@dataclass(frozen=True)
class DocxText:
    """What a Word document holds: body lines, table header cells, pages as last saved, and whether
    the text came from OCR of its pictures (a scan pasted into Word)."""

    text: str
    fields: tuple[str, ...]
    pages: int
    ocr: bool


def _row_cells(row: Any) -> list[str]:
    """A table row's cell texts, a horizontally merged cell once."""
    cells: list[str] = []
    previous: Any = None
    for cell in row.cells:
        if previous is not None and cell._tc is previous:
            continue
        previous = cell._tc
        cells.append(" ".join(normalise_text(cell.text).split("\n")))
    return cells


def _docx_blocks(document: Any, headers: list[str]) -> Iterator[str]:
    from docx.table import Table

    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for index, row in enumerate(block.rows):
                cells = _row_cells(row)
                if index == 0:
                    headers.extend(cells)
                yield CELL_SEPARATOR.join(c for c in cells if c)
        else:
            yield block.text


def _docx_pages(archive: zipfile.ZipFile) -> int:
    """Pages as Word last counted them (docProps/app.xml), 1 when not recorded."""
    try:
        root = ElementTree.fromstring(archive.read("docProps/app.xml"))
    except (KeyError, ElementTree.ParseError):
        return 1
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == "Pages" and (element.text or "").strip().isdigit():
            return max(1, int((element.text or "1").strip()))
    return 1


def _docx_pictures(archive: zipfile.ZipFile, names: list[str], ocr: OcrEngine | None, limits: MediaLimits) -> str:
    check_limit("ocr_pages", len(names), limits.max_ocr_pages)
    return "\n".join(ocr_image(load_image(archive.read(name), limits), ocr) for name in names)


def read_docx(data: bytes, archive: zipfile.ZipFile, ocr: OcrEngine | None, limits: MediaLimits) -> DocxText:
    """Body paragraphs and table rows in document order; a document with no text but pictures is OCR'd."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
        headers: list[str] = []
        text = normalise_text("\n".join(_docx_blocks(document, headers)))
    except (PackageNotFoundError, KeyError, ValueError, zipfile.BadZipFile, SyntaxError) as exc:
        raise Corrupt("docx", "Word文档结构损坏") from exc
    pages = _docx_pages(archive)
    if text:
        return DocxText(text, unique(headers), pages, ocr=False)
    pictures = sorted(n for n in archive.namelist()
                      if n.startswith("word/media/") and n.lower().endswith(_DOCX_IMAGES))
    if not pictures:
        return DocxText("", (), pages, ocr=False)
    return DocxText(normalise_text(_docx_pictures(archive, pictures, ocr, limits)), (), pages, ocr=True)


# ---------------------------------------------------------------- xlsx / xls

@dataclass(frozen=True)
class SheetText:
    """A workbook's rows as text (cells joined by `` | ``), its fields, and its sheet count."""

    text: str
    fields: tuple[str, ...]
    sheets: int


def _cell(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        return value.date().isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return normalise_text(str(value)).replace("\n", " ")


def header_row(rows: Sequence[Sequence[str]]) -> list[str]:
    """The first row with two or more filled cells (a merged title row above it is not the header)."""
    for row in rows[:10]:
        filled = [c for c in row if c]
        if len(filled) >= 2:
            return filled
    return []


def _open_workbook(data: bytes, kind: str) -> Any:
    import python_calamine

    try:
        return python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except python_calamine.PasswordError as exc:
        raise Encrypted(kind) from exc
    except (python_calamine.CalamineError, ValueError, OSError) as exc:
        if "password" in str(exc).lower() or "encrypt" in str(exc).lower():
            raise Encrypted(kind) from exc
        raise Corrupt(kind, "表格结构损坏") from exc


def _sheet_rows(workbook: Any, name: str, kind: str, budget: int) -> tuple[list[list[str]], int]:
    import python_calamine

    try:
        sheet = workbook.get_sheet_by_name(name)
        cells = sheet.height * sheet.width
        if cells > budget:
            return [], cells
        rows = [[_cell(v) for v in row] for row in sheet.to_python(skip_empty_area=True)]
    except python_calamine.CalamineError as exc:
        raise Corrupt(kind, "工作表无法读取") from exc
    return rows, cells


def read_workbook(data: bytes, kind: str, limits: MediaLimits) -> SheetText:
    """Every sheet in order: its name on a line, then its non-empty rows."""
    workbook = _open_workbook(data, kind)
    with workbook:
        names = list(workbook.sheet_names)
        check_limit("pages", len(names), limits.max_pages)
        lines: list[str] = []
        fields: list[str] = []
        used = 0
        for name in names:
            rows, cells = _sheet_rows(workbook, name, kind, limits.max_cells - used)
            used += cells
            check_limit("cells", used, limits.max_cells)
            fields.append(name)
            fields.extend(header_row(rows))
            body = [CELL_SEPARATOR.join(c for c in row if c) for row in rows if any(row)]
            if body:
                lines.append(name)
                lines.extend(body)
    return SheetText(normalise_text("\n".join(lines)), unique(fields), len(names))
