"""PDF: the text layer through pypdf; a page without one (a scan) is rendered with pypdfium2 and read
by OCR. A PDF that opens with the empty password (restrictions only) is read; any other is ``Encrypted``."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any

from intake.media.errors import Corrupt, Encrypted, Unsupported
from intake.media.limits import MediaLimits, check_limit
from intake.media.ocr import OCR_MAX_SIDE, OcrEngine, ocr_image
from intake.media.result import normalise_text

__all__ = ["PdfText", "read_pdf"]

MIN_LAYER_CHARS = 8   # fewer visible characters than this on a page with pictures: treat it as scanned
RENDER_SCALE = 2.0    # 144 dpi: an A4 page becomes about 1190 x 1684 pixels


@dataclass(frozen=True)
class PdfText:
    text: str
    pages: int
    ocr_pages: int       # pages whose text came from OCR
    layer_pages: int     # pages whose text came from the text layer


def _open(data: bytes) -> Any:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise Encrypted("pdf")
    except (DependencyError, NotImplementedError) as exc:
        raise Encrypted("pdf") from exc
    except (PdfReadError, ValueError, KeyError, TypeError, AssertionError, OSError, RecursionError) as exc:
        raise Corrupt("pdf", "PDF结构损坏") from exc
    return reader


def _has_pictures(page: Any) -> bool:
    resources = page.get("/Resources")
    if resources is None:
        return False
    xobjects = resources.get_object().get("/XObject")
    return xobjects is not None and len(xobjects.get_object()) > 0


def _page_layer(page: Any) -> str:
    from pypdf.errors import PdfReadError

    try:
        return normalise_text(page.extract_text() or "")
    except (PdfReadError, ValueError, KeyError, TypeError, AssertionError, RecursionError) as exc:
        raise Corrupt("pdf", "页面内容损坏") from exc


class _Renderer:
    """Opens the document in PDFium once, on the first scanned page."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._document: Any = None

    def image(self, index: int) -> Any:
        import pypdfium2

        if self._document is None:
            try:
                self._document = pypdfium2.PdfDocument(self._data, password="")
            except pypdfium2.PdfiumError as exc:
                raise Corrupt("pdf", "页面无法渲染") from exc
        page = self._document[index]
        scale = min(RENDER_SCALE, OCR_MAX_SIDE / max(page.get_width(), page.get_height(), 1.0))
        image = page.render(scale=scale).to_pil()
        page.close()
        return image

    def close(self) -> None:
        if self._document is not None:
            self._document.close()


def read_pdf(data: bytes, ocr: OcrEngine | None, limits: MediaLimits) -> PdfText:
    """Each page's text layer, or its OCR when it has pictures and (almost) no text layer."""
    with warnings.catch_warnings():
        # a damaged file makes pypdf warn as it recovers; what it could not recover raises, and is Corrupt
        warnings.simplefilter("ignore")
        reader = _open(data)
        pages = len(reader.pages)
        check_limit("pages", pages, limits.max_pages)
        texts = [_page_layer(page) for page in reader.pages]
        scanned = [i for i, text in enumerate(texts)
                   if len(text.replace(" ", "")) < MIN_LAYER_CHARS and _has_pictures(reader.pages[i])]
    if scanned and ocr is None:
        if not any(texts):
            raise Unsupported("ocr_off")
        scanned = []  # OCR is off: the text layer of the other pages is what there is
    if scanned:
        check_limit("ocr_pages", len(scanned), limits.max_ocr_pages)
        renderer = _Renderer(data)
        try:
            for index in scanned:
                texts[index] = normalise_text(ocr_image(renderer.image(index), ocr))
        finally:
            renderer.close()
    layer_pages = sum(1 for i, text in enumerate(texts) if text and i not in scanned)
    return PdfText(normalise_text("\n".join(texts)), pages, len(scanned), layer_pages)
