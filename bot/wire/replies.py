"""Passive reply XML, built with ElementTree (never string formatting into CDATA).

Text is escaped (``&``, ``<``, ``>``; ``\\r`` as ``&#13;``), which WeChat
accepts as well as CDATA, so any text - ``]]>``, ``<script>``, Chinese,
emoji - parses back exactly. Characters XML 1.0 cannot carry at all (most
C0 controls, lone surrogates, U+FFFE/U+FFFF) are replaced by U+FFFD.

The caller swaps From/To: a reply goes ``to_user=message.from_user``,
``from_user=message.to_user``; :func:`reply_to` does that for you.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeAlias

from bot.wire.messages import Message

__all__ = [
    "SUCCESS",
    "Article",
    "build_news_reply",
    "build_text_reply",
    "XmlValue",
    "build_xml",
    "reply_to",
]

SUCCESS = "success"
"""The passive reply that tells WeChat "received, no reply" (also in safe mode, unencrypted)."""

_NOT_XML_CHAR = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

XmlValue: TypeAlias = "str | int | Iterable[tuple[str, XmlValue]]"
"""A text, a number, or nested ``(tag, value)`` pairs."""


@dataclass(frozen=True, kw_only=True)
class Article:
    """One article of a news reply; ``pic_url`` may be empty."""

    title: str
    description: str
    url: str
    pic_url: str = ""


def _clean(text: str) -> str:
    return _NOT_XML_CHAR.sub("\ufffd", text)


def _fill(parent: ET.Element, fields: Iterable[tuple[str, XmlValue]]) -> None:
    for tag, value in fields:
        child = ET.SubElement(parent, tag)
        if isinstance(value, str):
            child.text = _clean(value)
        elif isinstance(value, int):
            child.text = str(value)
        else:
            _fill(child, value)


def build_xml(fields: Iterable[tuple[str, XmlValue]]) -> str:
    """``<xml>`` with one child per ``(tag, value)``; a value may be nested pairs.

    Tags are trusted (written in code); values are escaped.
    """
    root = ET.Element("xml")
    _fill(root, fields)
    # ElementTree leaves a literal CR in text, which any XML parser would turn into LF.
    # Tags hold no CR and there are no attributes, so every CR here is text.
    return ET.tostring(root, encoding="unicode").replace("\r", "&#13;")


def build_text_reply(*, to_user: str, from_user: str, content: str, create_time: int) -> str:
    """A passive text reply. ``to_user`` is the incoming message's ``from_user``."""
    return build_xml(
        [
            ("ToUserName", to_user),
            ("FromUserName", from_user),
            ("CreateTime", create_time),
            ("MsgType", "text"),
            ("Content", content),
        ]
    )


def build_news_reply(*, to_user: str, from_user: str, create_time: int, article: Article) -> str:
    """A passive news reply with exactly one article (WeChat shows at most one for a user message)."""
    return build_xml(
        [
            ("ToUserName", to_user),
            ("FromUserName", from_user),
            ("CreateTime", create_time),
            ("MsgType", "news"),
            ("ArticleCount", 1),
            (
                "Articles",
                [
                    (
                        "item",
                        [
                            ("Title", article.title),
                            ("Description", article.description),
                            ("PicUrl", article.pic_url),
                            ("Url", article.url),
                        ],
                    )
                ],
            ),
        ]
    )


def reply_to(message: Message, content: str, *, now: int) -> str:
    """A text reply to ``message``, From/To swapped, ``CreateTime`` = ``now``."""
    return build_text_reply(
        to_user=message.from_user, from_user=message.to_user, content=content, create_time=now
    )
