"""Bad files of every kind get the right error, with a Chinese message that names the reason, and
nothing past a limit is decoded or sent to OCR."""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from intake.errors import IntakeError
from intake.media import (
    Corrupt,
    Encrypted,
    MediaError,
    MediaLimits,
    NoText,
    Piece,
    RapidOcrEngine,
    TooLarge,
    Unsupported,
    extract,
    texts,
)
from intake.media.result import has_chinese
from intake.media.sniff import OLE2
from tests.intake.media.samples import (
    make_docx,
    make_scanned_pdf,
    make_text_pdf,
    make_xlsx,
    png_bytes,
    render_notice,
)


class CountingOcr:
    """An OCR engine that reads nothing and counts how often it was asked."""

    def __init__(self) -> None:
        self.calls = 0

    def read(self, image: Image.Image) -> Sequence[Piece]:
        self.calls += 1
        return ()


def raises(kind: type[MediaError], reason: str, data: bytes, filename: str, limits: MediaLimits,
           ocr: object = None) -> MediaError:
    with pytest.raises(kind) as caught:
        extract(data, filename=filename, limits=limits, ocr=ocr)  # type: ignore[arg-type]
    error = caught.value
    assert error.reason == reason
    assert has_chinese(error.user_message) and isinstance(error, IntakeError)
    return error


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def ole2_with(stream: str) -> bytes:
    """Enough of an OLE2 compound file for the sniffer: the signature and one directory entry name."""
    return OLE2 + bytes(504) + stream.encode("utf-16-le") + b"\x00\x00" + bytes(1024)


BAD_FILES: list[tuple[str, Callable[[], bytes], str, type[MediaError], str]] = [
    ("empty", lambda: b"", "notice.docx", Corrupt, "corrupt.empty"),
    ("truncated docx", lambda: make_docx()[:4000], "notice.docx", Corrupt, "corrupt.zip"),
    ("zip without its central directory", lambda: make_xlsx()[:-200], "form.xlsx", Corrupt, "corrupt.zip"),
    ("random bytes named pdf", lambda: os.urandom(3000), "notice.pdf", Corrupt, "corrupt.pdf"),
    ("random bytes named png", lambda: os.urandom(3000), "photo.png", Corrupt, "corrupt.image"),
    ("png header then garbage", lambda: b"\x89PNG\r\n\x1a\n" + os.urandom(500), "photo.png", Corrupt, "corrupt.image"),
    ("random bytes, unknown name", lambda: os.urandom(3000), "file.bin", Unsupported, "unsupported.binary"),
    ("mp3", lambda: b"ID3\x04\x00" + os.urandom(1000), "voice.mp3", Unsupported, "unsupported.binary"),
    ("amr voice", lambda: b"#!AMR\n" + os.urandom(1000), "voice.amr", Unsupported, "unsupported.binary"),
    ("plain zip", lambda: zip_of({"a.txt": b"x"}), "files.zip", Unsupported, "unsupported.zip"),
    ("pptx", lambda: zip_of({"ppt/presentation.xml": b"<p/>"}), "slides.pptx", Unsupported, "unsupported.ppt"),
    ("old word doc", lambda: ole2_with("WordDocument"), "notice.doc", Unsupported, "unsupported.doc"),
    ("encrypted office wrapper", lambda: ole2_with("EncryptedPackage"), "form.xlsx", Encrypted, "encrypted.office"),
    ("ofd without its root", lambda: zip_of({"OFD.xml": b"<ofd:OFD xmlns:ofd='x'/>"}), "a.ofd", Corrupt, "corrupt.ofd"),
    ("ofd with a missing page", lambda: zip_of({
        "OFD.xml": b"<OFD><DocBody><DocRoot>Doc_0/Document.xml</DocRoot></DocBody></OFD>",
        "Doc_0/Document.xml": b"<Document><Pages><Page ID='1' BaseLoc='Pages/Page_0/Content.xml'/></Pages></Document>",
    }), "a.ofd", Corrupt, "corrupt.ofd"),
    ("ofd with broken xml", lambda: zip_of({"OFD.xml": b"<OFD><DocBody>"}), "a.ofd", Corrupt, "corrupt.ofd"),
    ("xml entity bomb in ofd", lambda: zip_of({"OFD.xml": (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]><OFD>&b;</OFD>')}),
        "a.ofd", Corrupt, "corrupt.ofd"),
    ("docx with no text", lambda: make_docx(with_table=False, paragraphs=()), "blank.docx", NoText, "no_text.document"),
    ("whitespace only text", lambda: " \n\t\u3000\n".encode(), "a.txt", NoText, "no_text.document"),
]


@pytest.mark.parametrize(("data", "filename", "kind", "reason"),
                         [pytest.param(b, n, k, r, id=i) for i, b, n, k, r in BAD_FILES])
def test_bad_file_gets_its_documented_error(data: Callable[[], bytes], filename: str, kind: type[MediaError],
                                            reason: str, limits: MediaLimits) -> None:
    raises(kind, reason, data(), filename, limits)


def test_pdf_that_needs_a_password_is_encrypted_but_one_with_only_restrictions_is_read(
        cjk_font: Path, limits: MediaLimits) -> None:
    from fpdf import FPDF
    from fpdf.enums import EncryptionMethod

    def pdf(user_password: str) -> bytes:
        document = FPDF()
        document.add_font("noto", fname=str(cjk_font), collection_font_number=2)
        document.set_font("noto", size=14)
        document.add_page()
        document.cell(0, 10, "关于开展低保家庭入户核查工作的通知")
        document.set_encryption(owner_password="owner", user_password=user_password,
                                encryption_method=EncryptionMethod.AES_256)
        return bytes(document.output())

    error = raises(Encrypted, "encrypted.pdf", pdf("secret"), "notice.pdf", limits)
    assert error.user_message == texts.ENCRYPTED
    assert "低保" in extract(pdf(""), filename="notice.pdf", limits=limits, ocr=None).text


def test_password_protected_xlsx_is_encrypted(limits: MediaLimits) -> None:
    from msoffcrypto.format.ooxml import OOXMLFile

    encrypted = io.BytesIO()
    OOXMLFile(io.BytesIO(make_xlsx())).encrypt("secret", encrypted)
    raises(Encrypted, "encrypted.office", encrypted.getvalue(), "form.xlsx", limits)


def test_truncated_pdf_is_corrupt(cjk_font: Path, limits: MediaLimits) -> None:
    data = make_text_pdf(cjk_font)
    raises(Corrupt, "corrupt.pdf", data[: len(data) // 3], "notice.pdf", limits)


def test_file_over_max_bytes_is_refused_before_it_is_parsed(limits: MediaLimits) -> None:
    data = make_docx()
    error = raises(TooLarge, "too_large.bytes", data, "notice.docx", replace(limits, max_bytes=len(data) - 1))
    assert "文件大小" in error.user_message and "上限" in error.user_message


def test_pdf_past_max_pages_is_too_large(cjk_font: Path, limits: MediaLimits) -> None:
    raises(TooLarge, "too_large.pages", make_text_pdf(cjk_font), "notice.pdf", replace(limits, max_pages=1))


def test_spreadsheet_past_max_cells_is_too_large(limits: MediaLimits) -> None:
    raises(TooLarge, "too_large.cells", make_xlsx(rows=40), "form.xlsx", replace(limits, max_cells=100))


def test_text_past_max_chars_is_too_large(limits: MediaLimits) -> None:
    raises(TooLarge, "too_large.chars", ("通知" * 600).encode(), "a.txt", replace(limits, max_chars=1000))


def test_zip_bomb_is_refused_from_its_declared_sizes(limits: MediaLimits) -> None:
    bomb = zip_of({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<" + b" " * 5_000_000 + b">"})
    assert len(bomb) < 50_000
    raises(TooLarge, "too_large.unpacked", bomb, "notice.docx", replace(limits, max_unpacked=1_000_000))


def test_picture_past_max_pixels_never_reaches_ocr(limits: MediaLimits) -> None:
    ocr = CountingOcr()
    data = png_bytes(Image.new("RGB", (3000, 2000), "white"))
    raises(TooLarge, "too_large.pixels", data, "big.png", replace(limits, max_pixels=5_000_000), ocr)
    assert ocr.calls == 0


def test_scanned_pdf_past_max_ocr_pages_never_reaches_ocr(cjk_font: Path, limits: MediaLimits) -> None:
    ocr = CountingOcr()
    data = make_scanned_pdf(render_notice(cjk_font))
    raises(TooLarge, "too_large.ocr_pages", data, "scan.pdf", replace(limits, max_ocr_pages=0), ocr)
    assert ocr.calls == 0


def test_picture_or_scan_with_ocr_off_says_so(cjk_font: Path, limits: MediaLimits) -> None:
    picture = render_notice(cjk_font)
    raises(Unsupported, "unsupported.ocr_off", png_bytes(picture), "a.png", limits)
    raises(Unsupported, "unsupported.ocr_off", make_scanned_pdf(picture), "a.pdf", limits)


def test_blank_picture_gets_the_no_chinese_text_answer(ocr_engine: RapidOcrEngine, limits: MediaLimits) -> None:
    error = raises(NoText, "no_text.image", png_bytes(Image.new("RGB", (800, 600), "white")), "a.png", limits,
                   ocr_engine)
    assert error.user_message == "图片中没有识别到中文文字,请发送文字或更清晰的图片"


def test_tiny_picture_gets_the_no_chinese_text_answer(limits: MediaLimits) -> None:
    raises(NoText, "no_text.image", png_bytes(Image.new("RGB", (4, 4), "black")), "a.png", limits, CountingOcr())


def test_picture_with_only_latin_text_gets_the_no_chinese_text_answer(cjk_font: Path, ocr_engine: RapidOcrEngine,
                                                                      limits: MediaLimits) -> None:
    picture = render_notice(cjk_font, ("HELLO WORLD 2025", "OPEN 9:00-17:00"), size=(700, 200), text_px=40)
    raises(NoText, "no_text.image", png_bytes(picture), "sign.png", limits, ocr_engine)


@pytest.mark.parametrize("error", [
    TooLarge("bytes", 30_000_000, 20_971_520), Encrypted("pdf"), Corrupt("docx", "Word文档结构损坏"),
    Corrupt("empty"), Unsupported("doc"), Unsupported("ocr_off"), NoText("image"), NoText("document"),
], ids=lambda e: e.reason)
def test_every_error_pickles_with_its_reason_and_message(error: MediaError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert (copy.reason, copy.user_message) == (error.reason, error.user_message)
    assert has_chinese(copy.user_message) and "{" not in copy.user_message
