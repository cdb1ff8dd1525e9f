"""``extract``: one file's bytes in, its text out (or a ``MediaError`` saying why not).

The format comes from the bytes (``sniff``); limits are checked before each costly step; nothing is
written anywhere. Pure CPU work: call it from a worker (``MediaWorker``) or a thread, never on the
event loop."""

from __future__ import annotations

import hashlib

from intake.media.errors import Corrupt, NoText, Unsupported
from intake.media.limits import MediaLimits, check_limit
from intake.media.ocr import OcrEngine, ocr_text
from intake.media.ofd import read_ofd
from intake.media.office import check_unpacked, read_docx, read_workbook
from intake.media.pdf import read_pdf
from intake.media.result import Extracted, SourceType, has_chinese, normalise_text
from intake.media.sniff import Kind, open_zip, sniff

__all__ = ["extract", "decode_text", "sha256_hex"]

_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_text(data: bytes) -> str:
    """A text file's characters: a BOM's encoding, else UTF-8, else GB18030 (what Chinese Windows writes)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(encoding)
            except UnicodeDecodeError as exc:
                raise Corrupt("txt", "文字编码有误") from exc
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise Unsupported("text")


def _result(text: str, source: SourceType, *, data: bytes, limits: MediaLimits, fields: tuple[str, ...] = (),
            pages: int = 1, ocr: bool = False) -> Extracted:
    check_limit("chars", len(text), limits.max_chars)
    if not text.strip():
        raise NoText("image" if source is SourceType.IMAGE else "document")
    if ocr and not has_chinese(text):
        raise NoText("image")
    return Extracted(text=text, source_type=source, fields=fields, pages=pages, ocr=ocr, sha256=sha256_hex(data))


def _extract_zip(data: bytes, kind: Kind, ocr: OcrEngine | None, limits: MediaLimits) -> Extracted:
    with open_zip(data, kind.value) as archive:
        check_unpacked(archive, limits)
        if kind is Kind.DOCX:
            doc = read_docx(data, archive, ocr, limits)
            return _result(doc.text, SourceType.DOCX, data=data, limits=limits, fields=doc.fields,
                           pages=doc.pages, ocr=doc.ocr)
        if kind is Kind.OFD:
            ofd = read_ofd(archive, limits)
            return _result(ofd.text, SourceType.OFD, data=data, limits=limits, pages=ofd.pages)
    sheet = read_workbook(data, kind.value, limits)
    return _result(sheet.text, SourceType.XLSX, data=data, limits=limits, fields=sheet.fields, pages=sheet.sheets)


def extract(data: bytes, *, filename: str, limits: MediaLimits, ocr: OcrEngine | None) -> Extracted:
    """The text of a document or picture.

    Raises ``TooLarge``, ``Encrypted``, ``Corrupt``, ``Unsupported`` (also when a picture or scan needs
    OCR and ``ocr`` is None) or ``NoText`` (a picture without readable Chinese, a document without text).
    ``filename`` is only a hint: the bytes decide the format.
    """
    check_limit("bytes", len(data), limits.max_bytes)
    kind = sniff(data, filename)
    if kind in (Kind.DOCX, Kind.XLSX, Kind.OFD):
        return _extract_zip(data, kind, ocr, limits)
    if kind is Kind.XLS:
        sheet = read_workbook(data, kind.value, limits)
        return _result(sheet.text, SourceType.XLS, data=data, limits=limits, fields=sheet.fields, pages=sheet.sheets)
    if kind is Kind.PDF:
        pdf = read_pdf(data, ocr, limits)
        source = SourceType.PDF_SCANNED if pdf.ocr_pages and not pdf.layer_pages else SourceType.PDF
        return _result(pdf.text, source, data=data, limits=limits, pages=pdf.pages, ocr=pdf.ocr_pages > 0)
    if kind is Kind.IMAGE:
        return _result(normalise_text(ocr_text(data, ocr, limits)), SourceType.IMAGE, data=data, limits=limits,
                       ocr=True)
    return _result(normalise_text(decode_text(data)), SourceType.TXT, data=data, limits=limits)
