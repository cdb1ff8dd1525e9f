"""The city's rule overrides as the console edits them.

An override document has the shape of the rule files (``classifiers/rules/*.toml``):
``departments`` {canonical: [aliases]}, ``items`` {code: {listing, text, words, …}},
``certificates`` {name: {decision, words}}, ``kinds`` {kind: {words: {word: weight}}}.
``classifiers.load_rules`` merges it over the shipped files table by table (lists
and values replace), so a word is switched off by giving it weight 0, and an
entry cannot be deleted (its words can). The effective rules are
``RulesProvider.current.data``; this module turns sections into editable text and
back, and adds the two entries the console creates on its own: a keyword learnt
from a correction, and an assist item admitted after review.
"""

from __future__ import annotations

import copy
import re
from typing import Any

__all__ = [
    "OverrideError",
    "SECTIONS",
    "section_entries",
    "section_text",
    "apply_section_text",
    "add_keyword",
    "next_assist_code",
    "add_assist_item",
    "split_keywords",
]

SECTIONS = ("departments", "duty", "assist", "negative", "certificates")
ITEM_LISTINGS = {"duty": "D", "assist": "A", "negative": "N"}
LEARNT_WEIGHT = 3
_SPLIT = re.compile(r"[、,,;;\s]+")


class OverrideError(ValueError):
    """A line of an edited list that cannot be read; the message gives the line and the expected form."""


def _words_of(entry: dict[str, Any]) -> dict[str, float]:
    """The live words of an entry (weight above 0)."""
    words = entry.get("words") or {}
    if isinstance(words, list):
        return {str(w): 2 for w in words}
    return {str(k): v for k, v in words.items() if v}


def _weight(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _code_key(code: str) -> tuple[str, int, str]:
    m = re.match(r"([A-Z]+)(\d+)(.*)", code)
    return (m.group(1), int(m.group(2)), m.group(3)) if m else (code, 0, "")


def section_entries(rules: dict[str, Any], section: str) -> list[dict[str, Any]]:
    """The entries of one section, for display: code/name, text, words."""
    if section == "departments":
        return [{"key": name, "text": "", "words": list(aliases)} for name, aliases in rules.get("departments", {}).items()]
    if section == "certificates":
        return [{"key": name, "text": entry.get("decision", ""), "words": list(_words_of(entry))}
                for name, entry in rules.get("certificates", {}).items()]
    entries = [
        {"key": code, "text": entry.get("text", ""), "words": [f"{w}" for w in _words_of(entry)],
         "weights": _words_of(entry), "extra": {k: v for k, v in entry.items() if k not in ("listing", "text", "words")}}
        for code, entry in rules.get("items", {}).items() if entry.get("listing") == section
    ]
    return sorted(entries, key=lambda e: _code_key(e["key"]))


def section_text(rules: dict[str, Any], section: str) -> str:
    """A section as editable lines."""
    lines = []
    for entry in section_entries(rules, section):
        if section == "departments":
            lines.append(f"{entry['key']}: {'、'.join(entry['words'])}")
        elif section == "certificates":
            lines.append(f"{entry['key']} | {entry['text']} | {'、'.join(entry['words'])}")
        else:
            words = ", ".join(f"{w} {_weight(n)}" for w, n in entry["weights"].items())
            lines.append(f"{entry['key']} | {entry['text']} | {words}")
    return "\n".join(lines) + "\n"


SECTION_HINTS = {
    "departments": "每行写“规范名称: 别名1、别名2”。",
    "certificates": "每行写“证明名称 | issue 或 conditional 或 refuse | 关键词1、关键词2”(关键词不能为空)。",
    "items": "每行写“编号 | 事项内容 | 关键词 权重, 关键词 权重”,如“A16 | 老年助餐 | 助餐 3, 老年食堂 2”。",
}


def apply_section_text(
    rules: dict[str, Any], overrides: dict[str, Any], section: str, text: str
) -> dict[str, Any]:
    """A new override document with `section` replaced by what the admin typed (whole entries)."""
    if section not in SECTIONS:
        raise OverrideError(f"没有名为“{section}”的清单。")
    result = copy.deepcopy(overrides)
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if section == "departments":
        departments: dict[str, list[str]] = dict(result.get("departments", {}))
        for n, line in lines:
            name, sep, rest = line.replace("\uff1a", ":").partition(":")
            if not sep or not name.strip():
                raise OverrideError(f"第 {n} 行无法识别:“{line}”。{SECTION_HINTS['departments']}")
            departments[name.strip()] = [w for w in _SPLIT.split(rest) if w]
        result["departments"] = departments
        return result
    if section == "certificates":
        certificates: dict[str, Any] = dict(result.get("certificates", {}))
        for n, line in lines:
            parts = [p.strip() for p in line.split("|")]
            words = [w for w in _SPLIT.split(parts[2]) if w] if len(parts) == 3 else []
            if len(parts) != 3 or parts[1] not in ("issue", "conditional", "refuse") or not parts[0] or not words:
                raise OverrideError(f"第 {n} 行无法识别:“{line}”。{SECTION_HINTS['certificates']}")
            certificates[parts[0]] = {"decision": parts[1], "words": words}
        result["certificates"] = certificates
        return result
    prefix = ITEM_LISTINGS[section]
    items: dict[str, Any] = copy.deepcopy(result.get("items", {}))
    seen: set[str] = set()
    for n, line in lines:
        parts = [p.strip() for p in line.split("|")]
        code = parts[0].upper() if parts else ""
        if len(parts) != 3 or not re.fullmatch(rf"{prefix}\d+[A-Z]?", code) or not parts[1]:
            raise OverrideError(f"第 {n} 行无法识别:“{line}”。{SECTION_HINTS['items']}(编号以 {prefix} 开头)")
        if code in seen:
            raise OverrideError(f"第 {n} 行的编号 {code} 重复了,每个编号只能出现一次。")
        seen.add(code)
        weights: dict[str, float] = {}
        for chunk in re.split(r"[,,;;、]+", parts[2]):
            chunk = chunk.strip()
            if not chunk:
                continue
            m = re.fullmatch(r"(.+?)\s+(\d+(?:\.\d+)?)", chunk)
            word, weight = (m.group(1).strip(), float(m.group(2))) if m else (chunk, 2.0)
            if not 0 <= weight <= 9:
                raise OverrideError(f"第 {n} 行关键词“{word}”的权重 {_weight(weight)} 应在 0-9 之间。")
            weights[word] = int(weight) if weight.is_integer() else weight
        old_words = _words_of(rules.get("items", {}).get(code, {}))
        for gone in set(old_words) - set(weights):
            weights[gone] = 0  # switched off: the merge cannot delete a word
        entry = dict(items.get(code, {}))
        entry.update(listing=section, text=parts[1], words=weights)
        items[code] = entry
    for code, entry in rules.get("items", {}).items():  # entries removed from the text: words and patterns off
        if entry.get("listing") == section and code not in seen:
            items[code] = {**items.get(code, {}), "words": {w: 0 for w in _words_of(entry)},
                           **({"patterns": []} if entry.get("patterns") else {})}
    result["items"] = items
    return result


def add_keyword(
    rules: dict[str, Any], overrides: dict[str, Any], *, field: str, value: str, keyword: str
) -> dict[str, Any]:
    """A keyword learnt from a correction: a department alias, a kind word, or a list item word."""
    result = copy.deepcopy(overrides)
    keyword = keyword.strip()
    if not keyword:
        raise OverrideError("关键词不能为空。")
    if field == "department":
        aliases = list(rules.get("departments", {}).get(value, []))
        if keyword not in aliases and keyword != value:
            aliases.append(keyword)
        result.setdefault("departments", {})[value] = aliases
    elif field in ("kind", "item"):
        table = "kinds" if field == "kind" else "items"
        if value not in rules.get(table, {}):
            label = "任务类型" if field == "kind" else "清单事项"
            raise OverrideError(f"没有名为 {value} 的{label},无法添加关键词。")
        entry = result.setdefault(table, {}).setdefault(value, {})
        words = entry.setdefault("words", {})
        current = rules[table][value].get("words", {}) or {}
        words[keyword] = max(float(current.get(keyword, 0) or 0), LEARNT_WEIGHT)
        words[keyword] = int(words[keyword]) if float(words[keyword]).is_integer() else words[keyword]
    else:
        raise OverrideError(f"不能为“{field}”添加关键词:可选下达部门、任务类型或清单事项。")
    return result


def next_assist_code(rules: dict[str, Any]) -> str:
    numbers = [_code_key(code)[1] for code in rules.get("items", {}) if str(code).startswith("A")]
    return f"A{max(numbers, default=0) + 1}"


def add_assist_item(
    rules: dict[str, Any], overrides: dict[str, Any], *, code: str, name: str, keywords: list[str], basis: str,
    funding: str, duration: str, department: str | None, task_code: str,
) -> dict[str, Any]:
    result = copy.deepcopy(overrides)
    entry: dict[str, Any] = {
        "listing": "assist",
        "text": name,
        "words": {k: LEARNT_WEIGHT for k in keywords if k},
        "basis": basis,
        "funding": funding,
        "duration": duration,
        "admitted_from": task_code,
    }
    if department:
        entry["departments"] = [department]
    result.setdefault("items", {})[code] = entry
    return result


def split_keywords(value: str) -> list[str]:
    return [w for w in _SPLIT.split(value) if w]
