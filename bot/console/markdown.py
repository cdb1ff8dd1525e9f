"""A tiny Markdown → HTML converter for the digest pages: headings, tables, lists, paragraphs, **bold**.

Only the subset ``intake.reports.render.render_markdown`` writes. Every piece of text is escaped
first, so names typed by clerks or admins can never become markup.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

__all__ = ["markdown_to_html", "link_task_codes"]

_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_BULLET = re.compile(r"^[-*]\s+(.*)$")
_NUMBERED = re.compile(r"^\d+[.)]\s+(.*)$")
_SEPARATOR = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]+)`")


def _inline(text: str) -> str:
    html = str(escape(text))
    html = _CODE.sub(r"<code>\1</code>", html)
    return _BOLD.sub(r"<strong>\1</strong>", html)


def _cells(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|"):
        line = line[:-1]
    return [c.strip() for c in line.split("|")]


def _table(rows: list[str]) -> str:
    header = _cells(rows[0])
    aligns = ["right" if c.endswith(":") and not c.startswith(":") else "center" if c.startswith(":") and
              c.endswith(":") else "" for c in _cells(rows[1])]

    def cell(tag: str, text: str, index: int) -> str:
        align = aligns[index] if index < len(aligns) else ""
        style = ' class="num"' if align == "right" else ' class="mid"' if align == "center" else ""
        return f"<{tag}{style}>{_inline(text)}</{tag}>"

    head = "".join(cell("th", c, i) for i, c in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", c, i) for i, c in enumerate(_cells(r))) + "</tr>" for r in rows[2:])
    return f'<div class="scroll"><table class="md"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def markdown_to_html(text: str, *, shift: int = 1) -> Markup:
    """HTML for `text`; headings move down `shift` levels (the page keeps its own <h1>)."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        if not line.strip():
            i += 1
            continue
        heading = _HEADING.match(line)
        if heading:
            level = min(6, len(heading.group(1)) + shift)
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
            i += 1
            continue
        if line.lstrip().startswith("|") and i + 1 < len(lines) and _SEPARATOR.match(lines[i + 1].strip()):
            rows = [line]
            i += 1
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                rows.append(lines[i])
                i += 1
            out.append(_table(rows))
            continue
        for pattern, tag in ((_BULLET, "ul"), (_NUMBERED, "ol")):
            if pattern.match(line):
                items = []
                while i < len(lines) and (m := pattern.match(lines[i].rstrip())):
                    items.append(f"<li>{_inline(m.group(1))}</li>")
                    i += 1
                out.append(f"<{tag}>{''.join(items)}</{tag}>")
                break
        else:
            para = [line.strip()]
            i += 1
            while i < len(lines) and lines[i].strip() and not any(
                    p.match(lines[i].rstrip()) for p in (_HEADING, _BULLET, _NUMBERED)) and not lines[i].lstrip(
                    ).startswith("|"):
                para.append(lines[i].strip())
                i += 1
            out.append("<p>" + "<br>".join(_inline(p) for p in para) + "</p>")
    return Markup("\n".join(out))  # every text piece went through escape() in _inline


_TASK_CODE = re.compile(r"\b(R-\d{8}-\d{4,})\b")


def link_task_codes(html: Markup, href: str) -> Markup:
    """Task codes in converted HTML linked to their task page (`href` with ``{code}``): the quoted notices."""
    return Markup(_TASK_CODE.sub(lambda m: f'<a href="{escape(href.format(code=m.group(1)))}">{m.group(1)}</a>',
                                 str(html)))
