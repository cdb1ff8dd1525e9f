"""The yearly burden report rendered: Markdown, Word (python-docx, real tables) and its chart (matplotlib).

The chart needs a CJK font (``find_cjk_font``, as the digest's); Word and PDF embed it.
"""

from __future__ import annotations

from pathlib import Path

from intake.reports.burden_document import Block, Chart, Heading, Paragraph, Table, build_blocks
from intake.reports.burden_model import BurdenReport
from intake.reports.chart import TwoPanelChart, draw_two_panel_chart

__all__ = ["render_markdown", "write_docx", "render_chart_png", "write_report", "CHART_SIZE", "FORMATS"]

CHART_SIZE = (1200, 600)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_block(block: Block, chart: str | None) -> list[str]:
    if isinstance(block, Heading):
        return [f"{'#' * (block.level + 1)} {block.text}", ""]
    if isinstance(block, Paragraph):
        if block.code:
            return ["```sql" if not block.text.startswith("参数") else "```", block.text, "```", ""]
        return [f"> {block.text}" if block.quote else block.text, ""]
    if isinstance(block, Table):
        lines = ["| " + " | ".join(block.headers) + " |", "|" + "---|" * len(block.headers)]
        lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
        return [*lines, ""]
    return [f"![{block.caption}]({chart})", ""] if chart else []


def render_markdown(report: BurdenReport, *, chart: str | None = None) -> str:
    """Markdown; ``chart`` is the chart's address (a file beside it, or the console's URL) when there is one."""
    lines: list[str] = []
    for block in build_blocks(report):
        lines += _md_block(block, chart)
    return "\n".join(lines).rstrip() + "\n"


def render_chart_png(report: BurdenReport, path: str | Path) -> Path:
    """Items by department (administrative / service) and the seven counts per community."""
    return draw_two_panel_chart(TwoPanelChart(
        size=CHART_SIZE,
        title=f"{report.title}  事项{report.items}个 · 行政事务{report.administrative_share * 100:.1f}%",
        left_title="各部门事项(个)",
        departments=[(d.department, d.administrative_items, d.items - d.administrative_items)
                     for d in list(report.departments[:12])[::-1]],
        right_title="每个社区全年“七多”", bars=[(c.label, c.per_community) for c in report.seven],
    ), path)


def _docx_table(document: object, block: Table) -> None:
    from docx.document import Document

    assert isinstance(document, Document)
    table = document.add_table(rows=1, cols=len(block.headers))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, block.headers, strict=True):
        cell.text = text
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for row in block.rows:
        for cell, text in zip(table.add_row().cells, row, strict=True):
            cell.text = text


def write_docx(report: BurdenReport, path: str | Path, *, chart_png: Path | None) -> Path:
    """A Word document: headings, paragraphs, quotes, real tables and the chart (when given)."""
    from docx import Document
    from docx.oxml.ns import qn
    from docx.shared import Cm

    document = Document()
    normal = document.styles["Normal"]
    normal.font.name = "Noto Sans CJK SC"
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), "Noto Sans CJK SC")
    for block in build_blocks(report):
        if isinstance(block, Heading):
            document.add_heading(block.text, level=block.level)
        elif isinstance(block, Paragraph):
            document.add_paragraph(block.text, style="Quote" if block.quote else None)
        elif isinstance(block, Table):
            _docx_table(document, block)
        elif isinstance(block, Chart) and chart_png is not None:
            document.add_picture(str(chart_png), width=Cm(16))
            document.add_paragraph(block.caption, style="Caption")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(path))
    return path


FORMATS = ("md", "docx", "pdf")


def write_report(report: BurdenReport, *, fmt: str, path: str | Path) -> Path:
    """Write the report in ``fmt`` (md, docx, pdf) to ``path``; Markdown gets its chart beside it (FILE.png)."""
    import tempfile

    from intake.reports.burden_pdf import write_pdf

    path = Path(path)
    if fmt == "md":
        chart = render_chart_png(report, path.with_suffix(".png"))
        path.write_text(render_markdown(report, chart=chart.name), encoding="utf-8")
        return path
    with tempfile.TemporaryDirectory() as tmp:
        chart = render_chart_png(report, Path(tmp) / "chart.png")
        if fmt == "docx":
            return write_docx(report, path, chart_png=chart)
        if fmt == "pdf":
            return write_pdf(report, path, chart_png=chart)
    raise ValueError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
