"""PDF through PDFium (pypdfium2, Apache-2.0/BSD): the text layer of each page, and a page without one
(a scan: pictures and almost no text) rendered and read by OCR. A PDF that opens without a password
(restrictions only) is read; one that needs a user password is ``Encrypted``.

PDFium rather than pypdf: pypdf misread the CID text that fpdf2 and other generators write (NULs
between the characters), PDFium read it right in a few milliseconds, and one library both reads and
renders. PDFium is not thread-safe, so every use holds ``_PDFIUM``."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from intake.media.errors import Corrupt, Encrypted, Unsupported
from intake.media.limits import MediaLimits, check_limit
from intake.media.ocr import OCR_MAX_SIDE, OcrEngine, ocr_image
from intake.media.result import normalise_text

__all__ = ["PdfText", "read_pdf"]

MIN_LAYER_CHARS = 8   # fewer visible characters than this on a page with pictures: treat it as scanned
RENDER_SCALE = 2.0    # 144 dpi: an A4 page becomes about 1190 x 1684 pixels
_PDFIUM = threading.Lock()


@dataclass(frozen=True)
class PdfText:
    text: str
    pages: int
    ocr_pages: int       # pages whose text came from OCR
    layer_pages: int     # pages whose text came from the text layer


def _open(data: bytes) -> Any:
    import pypdfium2
    import pypdfium2.raw as pdfium_c

    try:
        return pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:
        if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD:
            raise Encrypted("pdf") from exc
        if exc.err_code == pdfium_c.FPDF_ERR_SECURITY:
            raise Encrypted("pdf") from exc
        raise Corrupt("pdf", "PDF结构损坏") from exc


def _layer(page: Any) -> str:
    textpage = page.get_textpage()
    try:
        return normalise_text(textpage.get_text_bounded())
    finally:
        textpage.close()


def _has_pictures(page: Any) -> bool:
    import pypdfium2.raw as pdfium_c

    return next(iter(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE])), None) is not None


def _render(page: Any) -> Any:
    scale = min(RENDER_SCALE, OCR_MAX_SIDE / max(page.get_width(), page.get_height(), 1.0))
    return page.render(scale=scale).to_pil()


def _read_pages(document: Any, ocr: OcrEngine | None, limits: MediaLimits) -> PdfText:
    pages = [document[i] for i in range(len(document))]
    try:
        texts = [_layer(page) for page in pages]
        scanned = [i for i, text in enumerate(texts)
                   if len(text.replace(" ", "")) < MIN_LAYER_CHARS and _has_pictures(pages[i])]
        if scanned and ocr is None:
            if not any(texts):
                raise Unsupported("ocr_off")
            scanned = []  # OCR is off: the text layer of the other pages is what there is
        check_limit("ocr_pages", len(scanned), limits.max_ocr_pages)
        for index in scanned:
            texts[index] = normalise_text(ocr_image(_render(pages[index]), ocr))
    finally:
        for page in pages:
            page.close()
    layer_pages = sum(1 for i, text in enumerate(texts) if text and i not in scanned)
    return PdfText(normalise_text("\n".join(texts)), len(pages), len(scanned), layer_pages)


def read_pdf(data: bytes, ocr: OcrEngine | None, limits: MediaLimits) -> PdfText:
    """Each page's text layer, or its OCR when it has pictures and (almost) no text layer."""
    import pypdfium2

    with _PDFIUM:
        document = _open(data)
        try:
            check_limit("pages", len(document), limits.max_pages)
            return _read_pages(document, ocr, limits)
        except pypdfium2.PdfiumError as exc:
            raise Corrupt("pdf", "页面内容损坏") from exc
        finally:
            document.close()
