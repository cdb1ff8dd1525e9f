"""The yearly burden report as PDF (fpdf2, the CJK font embedded as a subset; no office suite needed)."""

from __future__ import annotations

from pathlib import Path

from intake.reports.burden_document import Chart, Heading, Paragraph, Table, build_blocks
from intake.reports.burden_model import BurdenReport
from intake.reports.chart import find_cjk_font

__all__ = ["write_pdf"]

_SIZES = {0: 18, 1: 15, 2: 12}
_BODY = 10
_TABLE = 8


def _table(pdf: object, block: Table) -> None:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    assert isinstance(pdf, FPDF)
    pdf.set_font("cjk", size=_TABLE)
    headings = FontFace(emphasis="", fill_color=(225, 230, 240))  # shaded, not bold: one CJK face embedded
    with pdf.table(first_row_as_headings=True, headings_style=headings,
                   line_height=pdf.font_size * 1.6, text_align="LEFT") as table:
        for row in (block.headers, *block.rows):
            cells = table.row()
            for text in row:
                cells.cell(text)
    pdf.ln(2)


def write_pdf(report: BurdenReport, path: str | Path, *, chart_png: Path | None) -> Path:
    """An A4 PDF with the same blocks as the Word document."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font("cjk", fname=find_cjk_font())
    pdf.set_title(report.title)
    pdf.add_page()
    for block in build_blocks(report):
        if isinstance(block, Heading):
            pdf.set_font("cjk", size=_SIZES.get(block.level, _BODY))
            pdf.multi_cell(0, pdf.font_size * 1.8, block.text, new_x="LMARGIN", new_y="NEXT",
                           align="C" if block.level == 0 else "L")
        elif isinstance(block, Paragraph):
            pdf.set_font("cjk", size=_TABLE if block.code else _BODY - 1 if block.quote else _BODY)
            pdf.set_x(pdf.l_margin + (8 if block.quote else 0))
            pdf.multi_cell(0, pdf.font_size * 1.6, block.text, new_x="LMARGIN", new_y="NEXT")
        elif isinstance(block, Table):
            _table(pdf, block)
        elif isinstance(block, Chart) and chart_png is not None:
            pdf.image(str(chart_png), w=pdf.epw)
            pdf.set_font("cjk", size=_TABLE)
            pdf.multi_cell(0, pdf.font_size * 1.6, block.caption, new_x="LMARGIN", new_y="NEXT", align="C")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path
