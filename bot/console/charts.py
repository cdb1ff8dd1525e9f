"""Small inline SVG charts built as text: every label is escaped, no script, no external assets."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

__all__ = ["bar_chart", "stacked_months"]

RED = "#b22222"
BLUE = "#3a6ea5"
GREY = "#999999"


def _svg(width: int, height: int, title: str, body: list[str]) -> Markup:
    head = (f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
            f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>')
    return Markup(head + "".join(body) + "</svg>")


def bar_chart(items: Sequence[tuple[str, int]], *, title: str, width: int = 560) -> Markup:
    """Horizontal bars, one row per label."""
    if not items:
        return Markup('<p class="muted">暂无数据</p>')
    row, label_w = 26, 130
    height = row * len(items) + 10
    top = max(v for _, v in items) or 1
    body = []
    for i, (label, value) in enumerate(items):
        y = 5 + i * row
        bar = int((width - label_w - 50) * value / top)
        body.append(f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end" font-size="13">{escape(label)}</text>')
        body.append(f'<rect x="{label_w}" y="{y + 4}" width="{max(bar, 1)}" height="17" fill="{RED}" rx="2"/>')
        body.append(f'<text x="{label_w + bar + 6}" y="{y + 17}" font-size="12">{value}</text>')
    return _svg(width, height, title, body)


def stacked_months(months: Sequence[tuple[str, int, int]], *, labels: tuple[str, str], title: str,
                   width: int = 640, height: int = 240) -> Markup:
    """One column per month, two stacked parts (administrative below, service on top)."""
    if not months:
        return Markup('<p class="muted">暂无数据</p>')
    left, bottom, top_pad = 34, 40, 26
    plot_h = height - bottom - top_pad
    col = (width - left - 10) / len(months)
    top = max((a + b) for _, a, b in months) or 1
    body = [f'<line x1="{left}" y1="{height - bottom}" x2="{width - 5}" y2="{height - bottom}" stroke="{GREY}"/>',
            f'<text x="{left - 4}" y="{top_pad + 4}" text-anchor="end" font-size="11">{top}</text>']
    for i, (label, a, b) in enumerate(months):
        x = left + i * col + col * 0.18
        w = col * 0.64
        ha = plot_h * a / top
        hb = plot_h * b / top
        base = height - bottom
        body.append(f'<rect x="{x:.1f}" y="{base - ha:.1f}" width="{w:.1f}" height="{ha:.1f}" fill="{RED}"/>')
        body.append(f'<rect x="{x:.1f}" y="{base - ha - hb:.1f}" width="{w:.1f}" height="{hb:.1f}" fill="{BLUE}"/>')
        if a + b:
            body.append(f'<text x="{x + w / 2:.1f}" y="{base - ha - hb - 4:.1f}" text-anchor="middle" '
                        f'font-size="10">{a + b}</text>')
        body.append(f'<text x="{x + w / 2:.1f}" y="{base + 15}" text-anchor="middle" font-size="10">'
                    f'{escape(label)}</text>')
    legend_y = height - 8
    body.append(f'<rect x="{left}" y="{legend_y - 9}" width="10" height="10" fill="{RED}"/>'
                f'<text x="{left + 14}" y="{legend_y}" font-size="11">{escape(labels[0])}</text>'
                f'<rect x="{left + 90}" y="{legend_y - 9}" width="10" height="10" fill="{BLUE}"/>'
                f'<text x="{left + 104}" y="{legend_y}" font-size="11">{escape(labels[1])}</text>')
    return _svg(width, height, title, body)
