"""OFD (GB/T 33190, the Chinese fixed-layout format of red-header documents): a zip of XML.

No OFD library on PyPI is both maintained and free of AGPL code (easyofd pulls in PyMuPDF; ofdparser
is unmaintained since 2023), so the text is read here: ``OFD.xml`` names each document's root
(``DocBody/DocRoot``), whose ``Document.xml`` lists the pages; every ``TextObject`` on a page and on its
templates contributes its ``TextCode`` runs, placed by the object's ``Boundary`` and the code's X/Y.
XML is parsed with defusedxml (no entities, no external references)."""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from defusedxml import ElementTree

from intake.media.errors import Corrupt
from intake.media.layout import Piece, lines_in_reading_order
from intake.media.limits import MediaLimits, check_limit
from intake.media.result import normalise_text

__all__ = ["OfdText", "read_ofd"]


@dataclass(frozen=True)
class OfdText:
    text: str
    pages: int


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element: Any, name: str) -> Iterator[Any]:
    return (e for e in element.iter() if _local(e.tag) == name)


def _first_text(element: Any, name: str) -> str:
    found = next(_children(element, name), None)
    return (found.text or "").strip() if found is not None else ""


class _Package:
    """The zip, with paths resolved the way OFD writes them (absolute from the root, or relative)."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        self.names = {name.lower(): name for name in archive.namelist()}

    def resolve(self, base_dir: str, location: str) -> str:
        location = location.strip().replace("\\", "/")
        path = location.lstrip("/") if location.startswith("/") else posixpath.join(base_dir, location)
        return posixpath.normpath(path)

    def xml(self, path: str) -> Any:
        name = self.names.get(path.lower())
        if name is None:
            raise Corrupt("ofd", f"缺少{path}")
        try:
            return ElementTree.fromstring(self.archive.read(name))
        except (ElementTree.ParseError, ValueError) as exc:
            raise Corrupt("ofd", f"{path}无法解析") from exc


def _numbers(value: str | None, count: int) -> list[float]:
    try:
        parts = [float(p) for p in (value or "").split()]
    except ValueError:
        parts = []
    return (parts + [0.0] * count)[:count]


def _pieces(content: Any) -> Iterator[Piece]:
    for text_object in _children(content, "TextObject"):
        left, top, _w, _h = _numbers(text_object.get("Boundary"), 4)
        size = _numbers(text_object.get("Size"), 1)[0] or 3.5
        for code in _children(text_object, "TextCode"):
            x, y = _numbers(code.get("X"), 1)[0], _numbers(code.get("Y"), 1)[0]
            # Y is the baseline; the run's box starts one font size above it
            yield Piece(text=code.text or "", left=left + x, top=top + y - size, height=size)


def _templates(package: _Package, doc_dir: str, document: Any) -> dict[str, str]:
    templates: dict[str, str] = {}
    for template in _children(document, "TemplatePage"):
        if template.get("ID") and template.get("BaseLoc"):
            templates[template.get("ID")] = package.resolve(doc_dir, template.get("BaseLoc"))
    return templates


def _page_text(package: _Package, page_path: str, templates: dict[str, str]) -> str:
    content = package.xml(page_path)
    pieces = list(_pieces(content))
    for use in _children(content, "Template"):
        template = templates.get(use.get("TemplateID") or "")
        if template:
            pieces.extend(_pieces(package.xml(template)))
    return "\n".join(lines_in_reading_order(pieces, joiner=""))


def read_ofd(archive: zipfile.ZipFile, limits: MediaLimits) -> OfdText:
    """The text of every page of every document in the package, in page order."""
    package = _Package(archive)
    root = package.xml("OFD.xml")
    texts: list[str] = []
    pages = 0
    for body in _children(root, "DocBody"):
        doc_root = package.resolve("", _first_text(body, "DocRoot"))
        document = package.xml(doc_root)
        doc_dir = posixpath.dirname(doc_root)
        page_paths = [package.resolve(doc_dir, p.get("BaseLoc") or "") for p in _children(document, "Page")
                      if p.get("BaseLoc")]
        pages += len(page_paths)
        check_limit("pages", pages, limits.max_pages)
        templates = _templates(package, doc_dir, document)
        texts.extend(_page_text(package, path, templates) for path in page_paths)
    if pages == 0:
        raise Corrupt("ofd", "没有页面")
    return OfdText(normalise_text("\n".join(texts)), pages)
