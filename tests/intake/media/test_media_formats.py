"""Each format read end to end from a real file made in the test: the notice's words come back in order."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from intake.media import Extracted, MediaLimits, RapidOcrEngine, SourceType, extract
from tests.intake.media.samples import (
    FORM_HEADERS,
    NOTICE_LINES,
    TITLE,
    make_docx,
    make_ofd,
    make_scanned_pdf,
    make_text_pdf,
    make_xls,
    make_xlsx,
    png_bytes,
    render_notice,
)

KEY_WORDS = ("低保", "入户核查", "2025年6月30日", "民政局")


def assert_in_order(text: str, parts: tuple[str, ...]) -> None:
    position = 0
    for part in parts:
        found = text.find(part, position)
        assert found >= 0, f"{part!r} missing (or out of order) in {text!r}"
        position = found + len(part)


def assert_ocr_read_the_notice(result: Extracted) -> None:
    flat = result.text.replace(" ", "")
    for word in KEY_WORDS:
        assert word in flat, f"OCR lost {word!r}: {result.text!r}"
    assert result.ocr


def test_docx_notice_reads_paragraphs_then_table_rows_and_keeps_the_header_row_as_fields(limits: MediaLimits) -> None:
    data = make_docx()
    result = extract(data, filename="通知.docx", limits=limits, ocr=None)
    assert result.source_type is SourceType.DOCX
    assert_in_order(result.text, (*NOTICE_LINES, " | ".join(FORM_HEADERS), "张三", "以上表格请于月底前报送。"))
    assert result.fields == FORM_HEADERS
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert not result.ocr and result.pages >= 1


def test_pdf_with_a_text_layer_is_read_without_ocr(cjk_font: Path, limits: MediaLimits) -> None:
    result = extract(make_text_pdf(cjk_font), filename="notice.pdf", limits=limits, ocr=None)
    assert result.source_type is SourceType.PDF
    assert result.pages == 2 and not result.ocr
    assert_in_order(result.text.replace(" ", ""), (TITLE, "2025年6月30日前", "社会救助科", "附件"))


def test_scanned_pdf_page_is_rendered_and_read_by_ocr(cjk_font: Path, ocr_engine: RapidOcrEngine,
                                                       limits: MediaLimits) -> None:
    data = make_scanned_pdf(render_notice(cjk_font))
    result = extract(data, filename="扫描件.pdf", limits=limits, ocr=ocr_engine)
    assert result.source_type is SourceType.PDF_SCANNED
    assert result.pages == 1
    assert_ocr_read_the_notice(result)


def test_picture_of_a_notice_is_read_back_by_ocr_in_line_order(cjk_font: Path, ocr_engine: RapidOcrEngine,
                                                               limits: MediaLimits) -> None:
    result = extract(png_bytes(render_notice(cjk_font)), filename="IMG_0001.png", limits=limits, ocr=ocr_engine)
    assert result.source_type is SourceType.IMAGE
    assert_ocr_read_the_notice(result)
    lines = result.text.split("\n")
    assert "低保" in lines[0] and "民政局" in lines[3], lines


def test_jpeg_photo_is_read_like_a_png(cjk_font: Path, ocr_engine: RapidOcrEngine, limits: MediaLimits) -> None:
    buffer = io.BytesIO()
    render_notice(cjk_font).save(buffer, "JPEG", quality=85)
    result = extract(buffer.getvalue(), filename="photo.jpg", limits=limits, ocr=ocr_engine)
    assert_ocr_read_the_notice(result)


def test_xlsx_form_fields_are_sheet_names_and_the_header_row_under_a_merged_title(limits: MediaLimits) -> None:
    result = extract(make_xlsx(), filename="核查表.xlsx", limits=limits, ocr=None)
    assert result.source_type is SourceType.XLSX
    assert result.pages == 2
    assert result.fields == ("低保核查表", *FORM_HEADERS, "汇总", "社区", "户数")
    assert_in_order(result.text, ("幸福社区低保家庭入户核查表", " | ".join(FORM_HEADERS), "1 | 居民1", "汇总"))


def test_xls_form_from_excel_97_is_read_with_its_fields(limits: MediaLimits) -> None:
    result = extract(make_xls(), filename="核查表.xls", limits=limits, ocr=None)
    assert result.source_type is SourceType.XLS
    assert result.fields == ("入户核查", *FORM_HEADERS)
    assert "1 | 李四 | 110101199001010002 | 2 | 2025-06-02" in result.text


def test_ofd_reads_the_template_header_and_every_page_in_order(limits: MediaLimits) -> None:
    result = extract(make_ofd(), filename="通知.ofd", limits=limits, ocr=None)
    assert result.source_type is SourceType.OFD
    assert result.pages == 2
    assert_in_order(result.text, ("某某区民政局文件", *NOTICE_LINES[1:], "某某区民政局文件", "附件:核查表"))
    assert result.text.split("\n")[1] == NOTICE_LINES[1]


def test_txt_in_utf8_and_in_gb18030_reads_the_same(limits: MediaLimits) -> None:
    text = "\n".join(NOTICE_LINES)
    utf8 = extract(text.encode("utf-8"), filename="a.txt", limits=limits, ocr=None)
    gbk = extract(text.encode("gb18030"), filename="a.txt", limits=limits, ocr=None)
    assert utf8.text == gbk.text == text
    assert utf8.source_type is gbk.source_type is SourceType.TXT
    assert utf8.sha256 != gbk.sha256


def test_whitespace_is_normalised_to_one_line_per_paragraph(limits: MediaLimits) -> None:
    raw = "\ufeff 通知\u3000\u3000标题 \r\n\r\n\t各社区:  请\u200b按时报送。 \n\n"
    result = extract(raw.encode("utf-8"), filename="a.txt", limits=limits, ocr=None)
    assert result.text == "通知 标题\n各社区: 请按时报送。"


def test_the_bytes_decide_the_type_when_the_name_disagrees(cjk_font: Path, limits: MediaLimits) -> None:
    as_docx = extract(make_text_pdf(cjk_font), filename="通知.docx", limits=limits, ocr=None)
    as_txt = extract(make_docx(), filename="notice.txt", limits=limits, ocr=None)
    as_pdf = extract(make_xlsx(), filename="form.pdf", limits=limits, ocr=None)
    assert (as_docx.source_type, as_txt.source_type, as_pdf.source_type) == (
        SourceType.PDF, SourceType.DOCX, SourceType.XLSX)


def test_docx_that_is_only_a_pasted_scan_is_read_by_ocr(cjk_font: Path, ocr_engine: RapidOcrEngine,
                                                        limits: MediaLimits) -> None:
    import docx

    document = docx.Document()
    document.add_picture(io.BytesIO(png_bytes(render_notice(cjk_font))))
    buffer = io.BytesIO()
    document.save(buffer)
    result = extract(buffer.getvalue(), filename="scan.docx", limits=limits, ocr=ocr_engine)
    assert result.source_type is SourceType.DOCX
    assert_ocr_read_the_notice(result)


def test_ocr_models_are_the_ones_inside_the_installed_wheel() -> None:
    """Nothing is fetched at run time: the three ONNX models ship in rapidocr_onnxruntime's package."""
    import importlib.resources

    import yaml

    package = importlib.resources.files("rapidocr_onnxruntime")
    config = yaml.safe_load(package.joinpath("config.yaml").read_text(encoding="utf-8"))
    models = [config[stage]["model_path"] for stage in ("Det", "Cls", "Rec")]
    assert all(package.joinpath(model).is_file() for model in models), models
    assert all(not str(model).startswith(("http:", "https:")) for model in models)
