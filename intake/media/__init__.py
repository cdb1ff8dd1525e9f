"""Documents and pictures to text (issue 16): the library the chat and upload paths call.

    extract(data, filename=..., limits=MediaLimits(), ocr=engine) -> Extracted
    MediaWorker(limits=...).extract(data, filename=...)            (async, in a warm worker process)
    store_original(data, media_dir=..., sha256=...) -> Path         (content-addressed, atomic)

Formats: docx, pdf (text layer; scanned pages by OCR), xlsx, xls, ofd, txt, png/jpeg/bmp/gif/webp.
Errors: ``MediaError`` and its subclasses, each with a Chinese ``user_message`` (see ``errors``).
No HTTP, no WeChat: fetching media is the chat edge's job.
"""

from intake.media.errors import Corrupt, Encrypted, MediaError, NoText, TooLarge, Unsupported
from intake.media.extract import extract, sha256_hex
from intake.media.layout import Piece
from intake.media.limits import MediaLimits
from intake.media.ocr import OcrEngine, RapidOcrEngine
from intake.media.result import Extracted, SourceType
from intake.media.store import original_path, store_original
from intake.media.worker import MediaWorker, extract_in_thread, rapid_ocr_factory

__all__ = [
    "extract", "sha256_hex", "Extracted", "SourceType", "MediaLimits",
    "OcrEngine", "RapidOcrEngine", "Piece", "MediaWorker", "extract_in_thread", "rapid_ocr_factory",
    "store_original", "original_path",
    "MediaError", "TooLarge", "Encrypted", "Corrupt", "Unsupported", "NoText",
]
