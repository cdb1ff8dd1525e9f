"""Text from pictures: the ``OcrEngine`` seam, the RapidOCR engine behind it (ONNX models from inside
the ``rapidocr_onnxruntime`` wheel; nothing is downloaded), and picture decoding under the limits."""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from typing import Any, Protocol

from PIL import Image, ImageOps, UnidentifiedImageError

from intake.media.errors import Corrupt, NoText, TooLarge, Unsupported
from intake.media.layout import Piece, lines_in_reading_order
from intake.media.limits import MediaLimits
from intake.media.result import has_chinese

__all__ = ["OcrEngine", "RapidOcrEngine", "load_image", "ocr_image", "ocr_text"]

OCR_MAX_SIDE = 2000  # the long side a picture is scaled down to before OCR (RapidOCR's own default bound)


class OcrEngine(Protocol):
    """Reads the text of one RGB picture: pieces with their boxes, in any order."""

    def read(self, image: Image.Image) -> Sequence[Piece]: ...


class RapidOcrEngine:
    """PP-OCRv4 detection + recognition through onnxruntime. Loading takes about a second and
    ~150 MB; keep one per process (the worker does). ``threads`` bounds onnxruntime's intra-op pool."""

    def __init__(self, *, threads: int = 1, min_score: float = 0.5) -> None:
        from rapidocr_onnxruntime import RapidOCR

        self._ocr = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1, text_score=min_score)

    def read(self, image: Image.Image) -> Sequence[Piece]:
        import numpy as np

        result: Any
        result, _elapse = self._ocr(np.asarray(image.convert("RGB"))[:, :, ::-1])  # RapidOCR takes BGR arrays
        pieces: list[Piece] = []
        for box, text, _score in result or ():
            ys = [point[1] for point in box]
            xs = [point[0] for point in box]
            pieces.append(Piece(text=str(text), left=float(min(xs)), top=float(min(ys)),
                                height=float(max(ys) - min(ys))))
        return pieces


def load_image(data: bytes, limits: MediaLimits) -> Image.Image:
    """The picture decoded, upright (EXIF), RGB, at most ``OCR_MAX_SIDE`` on its long side.
    Pixels are counted from the header before anything is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own bound is checked below
            opened = Image.open(io.BytesIO(data))
            width, height = opened.size
            if width * height > limits.max_pixels:
                raise TooLarge("pixels", width * height, limits.max_pixels)
            opened.load()
            image: Image.Image = ImageOps.exif_transpose(opened) or opened
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise Corrupt("image", "图片无法解码") from exc
    if width < 8 or height < 8:
        raise NoText("image")
    if image.mode in ("RGBA", "LA", "P"):
        background = Image.new("RGB", image.size, "white")
        background.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        image = background
    image = image.convert("RGB")
    if max(image.size) > OCR_MAX_SIDE:
        image.thumbnail((OCR_MAX_SIDE, OCR_MAX_SIDE), Image.Resampling.LANCZOS)
    return image


def ocr_image(image: Image.Image, ocr: OcrEngine | None) -> str:
    """The picture's text in reading order, one line per text line ("" when nothing was read)."""
    if ocr is None:
        raise Unsupported("ocr_off")
    return "\n".join(lines_in_reading_order(ocr.read(image)))


def ocr_text(data: bytes, ocr: OcrEngine | None, limits: MediaLimits) -> str:
    """A picture file's text; ``NoText("image")`` when it holds no readable Chinese."""
    text = ocr_image(load_image(data, limits), ocr)  # decoded first: a broken picture is Corrupt either way
    if not has_chinese(text):
        raise NoText("image")
    return text

