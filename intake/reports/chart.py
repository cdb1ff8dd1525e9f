"""The digest's chart: a 1200×700 PNG of tasks by department and hours by kind (needs a CJK font)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from intake.reports.model import Digest
from intake.reports.render import pct

__all__ = ["CHART_SIZE", "CjkFontMissing", "find_cjk_font", "render_chart_png", "render_charts", "chart_pool"]


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


def render_chart_png(digest: Digest, path: str | Path) -> Path:
    """A 1200×700 PNG: tasks by department (stacked administrative/service) and estimated hours by kind."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from matplotlib.ticker import MaxNLocator

    font = FontProperties(fname=find_cjk_font())
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(CHART_SIZE[0] / _DPI, CHART_SIZE[1] / _DPI), dpi=_DPI)
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    depts = list(digest.by_department[:10])[::-1]
    names = [r.department for r in depts]
    admin = [r.administrative for r in depts]
    service = [r.tasks - r.administrative for r in depts]
    left.barh(names, admin, color="#c0504d", label="行政事务")
    left.barh(names, service, left=admin, color="#4f81bd", label="服务性事务")
    left.set_title("各部门派发任务(件)", fontproperties=font, fontsize=14)
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.legend(prop=font, loc="lower right")
    for label in left.get_yticklabels():
        label.set_fontproperties(font)
    kinds = list(digest.by_kind)
    right.bar([r.label for r in kinds], [r.hours for r in kinds], color="#9bbb59")
    right.set_title("估算工时(小时)", fontproperties=font, fontsize=14)
    for label in right.get_xticklabels():
        label.set_fontproperties(font)
        label.set_rotation(45)
        label.set_ha("right")
    fig.suptitle(
        f"{digest.title}  任务{digest.tasks}件 · 行政事务{pct(digest.administrative_share)} · "
        f"工时占人力{pct(digest.load_ratio)}",
        fontproperties=font, fontsize=16,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    fig.savefig(path, format="png", dpi=_DPI)
    return path




def render_charts(jobs: Sequence[tuple[Digest, Path]]) -> list[Path]:
    """Several charts in one call: what the monthly run hands to its worker process (see :func:`chart_pool`)."""
    return [render_chart_png(digest, path) for digest, path in jobs]


def chart_pool() -> ProcessPoolExecutor:
    """One worker process for drawing: matplotlib holds the GIL for most of a chart, and a hundred charts in a
    thread of the serving process would stall its event loop for seconds. ``spawn``: no fork of a running loop."""
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
