"""The text of a web article (a WeChat Official Account article, ``mp.weixin.qq.com``), with the
standard library's HTML parser: the body of ``#js_content`` when there is one, else the page's
``<body>``; scripts, styles and hidden templates are skipped; block elements end a line."""

from __future__ import annotations

from html.parser import HTMLParser

from intake.media.result import normalise_text

__all__ = ["read_article"]

_SKIP = frozenset({"script", "style", "noscript", "template", "head", "svg"})
_BLOCK = frozenset({"p", "div", "section", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
                    "table", "ul", "ol"})
_VOID = frozenset({"br", "img", "hr", "meta", "link", "input", "source", "wbr", "area", "col", "embed"})
CONTENT_ID = "js_content"


class _ArticleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page: list[str] = []
        self.content: list[str] = []
        self._skip = 0
        self._content_depth = 0  # > 0 while inside #js_content (counts open elements)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            if tag == "br":
                self._emit("\n")
            return
        if tag in _SKIP:
            self._skip += 1
        if self._content_depth:
            self._content_depth += 1
        elif dict(attrs).get("id") == CONTENT_ID:
            self._content_depth = 1
        if tag in _BLOCK:
            self._emit("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        if tag in _SKIP and self._skip:
            self._skip -= 1
        if tag in _BLOCK:
            self._emit("\n")
        if self._content_depth:
            self._content_depth -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._emit(data)

    def _emit(self, text: str) -> None:
        self.page.append(text)
        if self._content_depth:
            self.content.append(text)


def read_article(html: str, *, max_chars: int = 20_000) -> str:
    """The article's text, one line per paragraph, at most ``max_chars`` characters."""
    parser = _ArticleText()
    parser.feed(html)
    parser.close()
    text = normalise_text("".join(parser.content)) or normalise_text("".join(parser.page))
    return text[:max_chars]
