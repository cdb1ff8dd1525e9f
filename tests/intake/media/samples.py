"""Builders of real files for the media tests: a notice as docx, PDF (text layer and scanned), xlsx, xls,
OFD and PNG, made with the libraries (python-docx, fpdf2, openpyxl, xlwt, Pillow, zipfile)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

SC_INDEX = 2  # Simplified Chinese face in Noto's CJK collections

TITLE = "关于开展低保家庭入户核查工作的通知"
NOTICE_LINES = (
    TITLE,
    "各社区居委会:",
    "请于2025年6月30日前完成辖区低保家庭入户核查,",
    "填写核查表后报区民政局社会救助科。",
    "联系人:王科长",
)
FORM_HEADERS = ("序号", "户主姓名", "身份证号", "家庭人口", "核查日期")


def render_notice(font_path: Path, lines: tuple[str, ...] = NOTICE_LINES, *, size: tuple[int, int] = (1000, 420),
                  text_px: int = 30) -> Image.Image:
    """A picture of a notice: black text on white, one line every 1.8 text heights."""
    font = ImageFont.truetype(str(font_path), text_px, index=SC_INDEX)
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines):
        draw.text((40, 30 + row * int(text_px * 1.8)), line, fill="black", font=font)
    return image


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def make_docx(*, with_table: bool = True, paragraphs: tuple[str, ...] = NOTICE_LINES) -> bytes:
    import docx

    document = docx.Document()
    for line in paragraphs:
        document.add_paragraph(line)
    if with_table:
        table = document.add_table(rows=2, cols=len(FORM_HEADERS))
        for column, header in enumerate(FORM_HEADERS):
            table.rows[0].cells[column].text = header
        for column, value in enumerate(("1", "张三", "110101190001011234", "3", "2025-06-01")):
            table.rows[1].cells[column].text = value
        document.add_paragraph("以上表格请于月底前报送。")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def make_text_pdf(font_path: Path, pages: tuple[tuple[str, ...], ...] = (NOTICE_LINES, ("附件:核查表",))) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_font("noto", fname=str(font_path), collection_font_number=SC_INDEX)
    pdf.set_font("noto", size=14)
    for lines in pages:
        pdf.add_page()
        for line in lines:
            pdf.cell(0, 10, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def make_scanned_pdf(picture: Image.Image) -> bytes:
    """One A4 page holding only a picture: no text layer at all."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.image(picture, x=10, y=10, w=190)
    return bytes(pdf.output())


def make_xlsx(*, rows: int = 3, sheets: tuple[str, ...] = ("低保核查表", "汇总")) -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    first = workbook.active
    assert first is not None
    first.title = sheets[0]
    first.append(["幸福社区低保家庭入户核查表"])
    first.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(FORM_HEADERS))
    first.append(list(FORM_HEADERS))
    for n in range(1, rows + 1):
        first.append([n, f"居民{n}", f"11010119900101{n:04d}", 3, "2025-06-01"])
    for name in sheets[1:]:
        sheet = workbook.create_sheet(name)
        sheet.append(["社区", "户数"])
        sheet.append(["幸福社区", rows])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def make_xls() -> bytes:
    import xlwt

    workbook = xlwt.Workbook(encoding="utf-8")
    sheet = workbook.add_sheet("入户核查")
    for column, header in enumerate(FORM_HEADERS):
        sheet.write(0, column, header)
    for column, value in enumerate((1, "李四", "110101199001010002", 2, "2025-06-02")):
        sheet.write(1, column, value)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


OFD_NS = "http://www.ofdspec.org/2016"


def _ofd_content(lines: tuple[str, ...], *, first_id: int) -> str:
    objects = "".join(
        f'<ofd:TextObject ID="{first_id + n}" Boundary="20 {30 + n * 10} 170 8" Font="1" Size="5">'
        f'<ofd:TextCode X="0" Y="5" DeltaX="g {len(line) - 1} 5">{line}</ofd:TextCode></ofd:TextObject>'
        for n, line in enumerate(lines))
    return (f'<?xml version="1.0" encoding="UTF-8"?><ofd:Page xmlns:ofd="{OFD_NS}">'
            f'<ofd:Template TemplateID="100" ZOrder="Background"/>'
            f'<ofd:Content><ofd:Layer ID="{first_id - 1}">{objects}</ofd:Layer></ofd:Content></ofd:Page>')


def make_ofd(pages: tuple[tuple[str, ...], ...] = (NOTICE_LINES[1:], ("附件:核查表",)),
             header: str = "某某区民政局文件") -> bytes:
    """An OFD package as GB/T 33190 lays it out: OFD.xml, Document.xml, a template page (the red
    header) and one Content.xml per page, text in TextObject/TextCode."""
    page_refs = "".join(f'<ofd:Page ID="{n + 1}" BaseLoc="Pages/Page_{n}/Content.xml"/>' for n in range(len(pages)))
    files = {
        "OFD.xml": (f'<?xml version="1.0" encoding="UTF-8"?><ofd:OFD xmlns:ofd="{OFD_NS}" Version="1.0" DocType="OFD">'
                    f'<ofd:DocBody><ofd:DocInfo><ofd:DocID>test</ofd:DocID></ofd:DocInfo>'
                    f'<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>'),
        "Doc_0/Document.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:Document xmlns:ofd="{OFD_NS}">'
            f'<ofd:CommonData><ofd:MaxUnitID>999</ofd:MaxUnitID>'
            f'<ofd:PageArea><ofd:PhysicalBox>0 0 210 297</ofd:PhysicalBox></ofd:PageArea>'
            f'<ofd:PublicRes>PublicRes.xml</ofd:PublicRes>'
            f'<ofd:TemplatePage ID="100" BaseLoc="Tpls/Tpl_0/Content.xml"/></ofd:CommonData>'
            f'<ofd:Pages>{page_refs}</ofd:Pages></ofd:Document>'),
        "Doc_0/PublicRes.xml": (f'<?xml version="1.0" encoding="UTF-8"?><ofd:Res xmlns:ofd="{OFD_NS}" BaseLoc="Res">'
                                f'<ofd:Fonts><ofd:Font ID="1" FontName="宋体"/></ofd:Fonts></ofd:Res>'),
        "Doc_0/Tpls/Tpl_0/Content.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:Page xmlns:ofd="{OFD_NS}"><ofd:Content><ofd:Layer ID="101">'
            f'<ofd:TextObject ID="102" Boundary="40 10 130 12" Font="1" Size="10">'
            f'<ofd:TextCode X="0" Y="10">{header}</ofd:TextCode></ofd:TextObject></ofd:Layer></ofd:Content></ofd:Page>'),
    }
    for n, lines in enumerate(pages):
        files[f"Doc_0/Pages/Page_{n}/Content.xml"] = _ofd_content(lines, first_id=200 + n * 50)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text.encode("utf-8"))
    return buffer.getvalue()


class CrashingOcr:
    """An OCR engine whose process dies when asked to read (a native crash, an OOM kill)."""

    def read(self, image: Image.Image) -> tuple[()]:
        import os

        os._exit(70)


def crashing_ocr_factory() -> CrashingOcr:
    return CrashingOcr()
