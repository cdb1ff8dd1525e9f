"""Text helpers shared by the decision modules: width normalisation and Chinese numerals."""

from __future__ import annotations

import re

CN_NUM_CHARS = "零〇一二两三四五六七八九十百千万"
# A regex fragment: arabic digits or a run of Chinese numeral characters.
NUM = r"(?:\d{1,6}|[零〇一二两三四五六七八九十百千万]{1,6})"

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}

# One character for one character, so spans in the normalised text are spans in the original.
_WIDTH = str.maketrans(
    {
        **{chr(0xFF10 + i): str(i) for i in range(10)},
        "：": ":",
        "／": "/",
        "．": ".",
        "　": " ",
        "－": "-",
        "～": "~",
        "\u00a0": " ",
        **{chr(0xFF21 + i): chr(0x41 + i) for i in range(26)},
        **{chr(0xFF41 + i): chr(0x61 + i) for i in range(26)},
    }
)


_WIDTH_CHARS = {chr(code): str(to) for code, to in _WIDTH.items()}
_WIDTH_RE = re.compile("[" + re.escape("".join(_WIDTH_CHARS)) + "]")


def _width(m: re.Match[str]) -> str:
    return _WIDTH_CHARS[m[0]]


def normalize(text: str) -> str:
    """Full-width digits, letters and the punctuation dates use -> ASCII; same length as `text`.

    (A regex substitution: notices hold only a few such characters, and `str.translate` with a
    mapping costs a dict lookup for every character.)
    """
    return _WIDTH_RE.sub(_width, text)


def parse_number(token: str) -> int | None:
    """'12' -> 12, '十二' -> 12, '三十' -> 30, '一百二十' -> 120, '两千' -> 2000, '二〇二六' -> 2026."""
    token = token.strip()
    if not token:
        return None
    if token.isascii() and token.isdigit():
        return int(token)
    if any(ch not in _DIGITS and ch not in _UNITS and ch != "万" for ch in token):
        return None
    if all(ch in _DIGITS for ch in token):
        if len(token) == 1:
            return _DIGITS[token]
        return int("".join(str(_DIGITS[ch]) for ch in token))
    total = 0
    section = 0
    number = 0
    for ch in token:
        if ch in _DIGITS:
            number = _DIGITS[ch]
        elif ch in _UNITS:
            section += (number or 1) * _UNITS[ch]
            number = 0
        else:  # 万
            section += number
            total += (section or 1) * 10000
            section = 0
            number = 0
    return total + section + number
