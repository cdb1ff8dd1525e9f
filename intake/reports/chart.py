"""Charts: one two-panel CJK figure (:func:`draw_two_panel_chart`) that the digest's chart (a 1200×700 PNG of
tasks by department and hours by kind) and the yearly report's chart are drawn with."""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from intake.reports.model import Digest
from intake.reports.render import pct

__all__ = ["CHART_SIZE", "CjkFontMissing", "find_cjk_font", "TwoPanelChart", "draw_two_panel_chart", "render_chart_png",
           "render_charts", "chart_pool"]


class CjkFontMissing(RuntimeError):
    """No CJK font is installed: charts would show boxes. Install Debian's fonts-noto-cjk."""

_CJK_NAMES = ("Noto Sans CJK SC", "Noto Sans SC", "Noto Serif CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
              "WenQuanYi Micro Hei", "Noto Sans CJK JP", "Droid Sans Fallback")


def find_cjk_font() -> str:
    """The path of an installed CJK font known to matplotlib; raises CjkFontMissing when there is none."""
    from matplotlib import font_manager

    by_name = {f.name: f.fname for f in font_manager.fontManager.ttflist}
    for name in _CJK_NAMES:
        if name in by_name:
            return by_name[name]
    for f in font_manager.fontManager.ttflist:
        if "CJK" in f.name or "Han" in f.name:
            return str(f.fname)
    # the font cache may predate the font's installation
    for path in font_manager.findSystemFonts():
        if "CJK" in path or "wqy" in path.lower():
            return str(path)
    raise CjkFontMissing(
        "no CJK font found for digest charts (they would show boxes): install Debian's fonts-noto-cjk "
        "(apt-get install -y fonts-noto-cjk)"
    )


CHART_SIZE = (1200, 700)  # pixels
_DPI = 100


@dataclass(frozen=True)
class TwoPanelChart:
    """What the digest's and the yearly report's charts draw: departments' administrative and service
    work stacked on the left, one figure per label on the right, a title above both."""

    size: tuple[int, int]  # pixels
    title: str
    left_title: str
    departments: Sequence[tuple[str, int, int]]  # (name, administrative, service), drawn bottom to top
    right_title: str
    bars: Sequence[tuple[str, float]]  # (label, value)
    slanted: bool = False  # right panel's labels at 45°


def draw_two_panel_chart(chart: TwoPanelChart, path: str | Path) -> Path:
    """The chart as a PNG at `path`, with a CJK font (:func:`find_cjk_font`)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from matplotlib.ticker import MaxNLocator

    font = FontProperties(fname=find_cjk_font())
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(chart.size[0] / _DPI, chart.size[1] / _DPI), dpi=_DPI)
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    names = [d[0] for d in chart.departments]
    admin = [d[1] for d in chart.departments]
    left.barh(names, admin, color="#c0504d", label="行政事务")
    left.barh(names, [d[2] for d in chart.departments], left=admin, color="#4f81bd", label="服务性事务")
    left.set_title(chart.left_title, fontproperties=font, fontsize=14)
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.legend(prop=font, loc="lower right")
    for label in left.get_yticklabels():
        label.set_fontproperties(font)
    right.bar([b[0] for b in chart.bars], [b[1] for b in chart.bars], color="#9bbb59")
    right.set_title(chart.right_title, fontproperties=font, fontsize=14)
    for label in right.get_xticklabels():
        label.set_fontproperties(font)
        if chart.slanted:
            label.set_rotation(45)
            label.set_ha("right")
    fig.suptitle(chart.title, fontproperties=font, fontsize=16)
    fig.tight_layout(rect=(0, 0, 1, 0.94 if chart.slanted else 0.92))
    fig.savefig(path, format="png", dpi=_DPI)
    return path


def render_chart_png(digest: Digest, path: str | Path) -> Path:
    """A 1200×700 PNG: tasks by department (stacked administrative/service) and estimated hours by kind."""
    return draw_two_panel_chart(TwoPanelChart(
        size=CHART_SIZE,
        title=f"{digest.title}  任务{digest.tasks}件 · 行政事务{pct(digest.administrative_share)} · "
              f"工时占人力{pct(digest.load_ratio)}",
        left_title="各部门派发任务(件)",
        departments=[(r.department, r.administrative, r.tasks - r.administrative)
                     for r in list(digest.by_department[:10])[::-1]],
        right_title="估算工时(小时)", bars=[(r.label, r.hours) for r in digest.by_kind], slanted=True,
    ), path)


def render_charts(jobs: Sequence[tuple[Digest, Path]]) -> list[Path]:
    """Several charts in one call: what the monthly run hands to its worker process (see :func:`chart_pool`)."""
    return [render_chart_png(digest, path) for digest, path in jobs]


def chart_pool() -> ProcessPoolExecutor:
    """One worker process for drawing: matplotlib holds the GIL for most of a chart, and a hundred charts in a
    thread of the serving process would stall its event loop for seconds. ``spawn``: no fork of a running loop."""
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
