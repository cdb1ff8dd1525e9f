"""Forms and platforms named in a notice, and form field names made comparable. Pure; rules as data.

* :func:`find_form_names` — 《高龄老人走访慰问登记表》: bracketed names ending in a form suffix
  (表, 台账, 清单, …), documents (《…通知》) left out.
* :func:`find_platforms` — …系统, …平台, …APP, …小程序, with the verbs before the name cut off.
* :func:`normalise_field` — a header cell as a comparable key: NFKC (full-width to half-width),
  whitespace and bracketed notes dropped, synonyms (身份证号码 → 身份证号) from the rule table.

The rules are ``classifiers/rules/forms.toml``; a city's override files may replace any section.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["FormRules", "load_form_rules", "find_form_names", "find_field_list", "find_platforms", "normalise_field",
           "normalise_fields", "normalise_name"]

SHIPPED = Path(__file__).resolve().parent / "rules" / "forms.toml"
_SPACE = re.compile(r"\s+")
_NOTE = re.compile(r"[((\[【][^))\]】]*[))\]】]")
_PUNCT = re.compile(r"[*※:：、,，。;；·'\"“”‘’]+")
_NAME_CHARS = r"[\u4e00-\u9fffA-Za-z0-9·\-]"


@dataclass(frozen=True, slots=True)
class FormRules:
    brackets: tuple[tuple[str, str], ...]
    suffixes: tuple[str, ...]
    not_forms: tuple[str, ...]
    field_openers: tuple[str, ...]
    field_separators: tuple[str, ...]
    form_chars: tuple[int, int]
    repeat_share: float
    repeat_min_fields: int
    synonyms: Mapping[str, str]  # variant -> canonical
    ignored_fields: frozenset[str]
    platform_suffixes: tuple[str, ...]
    platform_starts_after: tuple[str, ...]
    platform_keep_words: tuple[str, ...]
    platform_generic: frozenset[str]
    platform_chars: tuple[int, int]
    platform_pattern: re.Pattern[str]


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def load_form_rules(override_paths: Sequence[Path] = ()) -> FormRules:
    """The shipped forms.toml with the sections of each override file merged over it."""
    data: dict[str, Any] = tomllib.loads(SHIPPED.read_text(encoding="utf-8"))
    for path in override_paths:
        extra = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        _merge(data, {k: v for k, v in extra.items() if k in ("forms", "repeat", "fields", "platforms")})
    return build_form_rules(data)


def build_form_rules(data: Mapping[str, Any]) -> FormRules:
    forms, platforms, fields = data["forms"], data["platforms"], data.get("fields", {})
    synonyms: dict[str, str] = {}
    for canonical, variants in fields.get("synonyms", {}).items():
        for variant in (canonical, *variants):
            synonyms[_plain(variant)] = canonical
    suffixes = sorted(platforms["suffixes"], key=len, reverse=True)
    pattern = re.compile(f"({_NAME_CHARS}+?(?:{'|'.join(map(re.escape, suffixes))}))(?![A-Za-z])")
    return FormRules(
        brackets=tuple((str(a), str(b)) for a, b in forms["brackets"]),
        suffixes=tuple(forms["suffixes"]),
        not_forms=tuple(forms.get("not_forms", ())),
        field_openers=tuple(sorted(forms.get("field_openers", ()), key=len, reverse=True)),
        field_separators=tuple(forms.get("field_separators", ("、",))),
        form_chars=(int(forms.get("min_chars", 3)), int(forms.get("max_chars", 40))),
        repeat_share=float(data["repeat"]["share"]),
        repeat_min_fields=int(data["repeat"]["min_fields"]),
        synonyms=synonyms,
        ignored_fields=frozenset(_plain(f) for f in fields.get("ignore", ())),
        platform_suffixes=tuple(suffixes),
        platform_starts_after=tuple(sorted(platforms["starts_after"], key=len, reverse=True)),
        platform_keep_words=tuple(platforms.get("keep_words", ())),
        platform_generic=frozenset(platforms["generic"]),
        platform_chars=(int(platforms.get("min_chars", 2)), int(platforms.get("max_chars", 24))),
        platform_pattern=pattern,
    )


def _plain(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = _NOTE.sub("", text)
    return _PUNCT.sub("", _SPACE.sub("", text)).strip()


def normalise_name(name: str) -> str:
    """A form's or platform's name as a key: NFKC, no whitespace or brackets' quotes."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", name)).strip("《》〈〉“”\"'")


def normalise_field(name: str, rules: FormRules) -> str | None:
    """A header cell as a comparable key, or None for an empty or ignored one (序号, 备注, …)."""
    plain = _plain(name)
    if not plain:
        return None
    key = rules.synonyms.get(plain, plain)
    return None if key in rules.ignored_fields or plain in rules.ignored_fields else key


def normalise_fields(names: Iterable[str], rules: FormRules) -> tuple[str, ...]:
    """Distinct comparable keys, in order of first appearance."""
    seen: dict[str, None] = {}
    for name in names:
        key = normalise_field(name, rules)
        if key is not None:
            seen.setdefault(key, None)
    return tuple(seen)


def find_form_names(text: str, rules: FormRules) -> tuple[str, ...]:
    """Names of forms the notice names in brackets, in order, each once."""
    found: dict[str, None] = {}
    low, high = rules.form_chars
    for left, right in rules.brackets:
        for match in re.finditer(f"{re.escape(left)}([^{re.escape(left + right)}\n]+){re.escape(right)}", text):
            name = normalise_name(match.group(1))
            if not low <= len(name) <= high or name.endswith(rules.not_forms):
                continue
            if name.endswith(rules.suffixes):
                found.setdefault(name, None)
    return tuple(found)


def _protected(name: str, rules: FormRules) -> set[int]:
    """Positions inside the keep words (在线, …): no cut there."""
    inside: set[int] = set()
    for word in rules.platform_keep_words:
        for match in re.finditer(re.escape(word), name):
            inside.update(range(match.start(), match.end()))
    return inside


def find_field_list(text: str, rules: FormRules) -> tuple[str, ...]:
    """The columns a notice lists for its form ("栏目包括姓名、身份证号、联系电话等"), as written."""
    for opener in rules.field_openers:
        at = text.find(opener)
        if at < 0:
            continue
        rest = re.split(r"[。\n]|等(?:项|栏|信息|内容)?", text[at + len(opener):].lstrip(":："), maxsplit=1)[0]
        first, *others = rules.field_separators
        if first in rest:  # 姓名、身份证号、电话,同时……: the list ends at the first other separator
            rest = re.split("|".join(map(re.escape, others)), rest, maxsplit=1)[0] if others else rest
            parts = rest.split(first)
        else:
            parts = re.split("|".join(map(re.escape, rules.field_separators)), rest)
        return tuple(p.strip() for p in parts if p.strip() and len(p.strip()) <= 20)
    return ()


def _cut_start(name: str, rules: FormRules) -> str:
    """The name after the last verb or preposition before it (登录全国养老服务信息系统 → 全国养老服务信息系统)."""
    protected = _protected(name, rules)
    best = -1
    for word in rules.platform_starts_after:
        for match in re.finditer(re.escape(word), name):
            if match.start() not in protected and match.end() > best:
                best = match.end()
    return name[best:] if best >= 0 else name


def find_platforms(text: str, rules: FormRules) -> tuple[str, ...]:
    """Names of systems, platforms, apps and mini programs the notice names, each once."""
    found: dict[str, None] = {}
    low, high = rules.platform_chars
    flat = unicodedata.normalize("NFKC", text)
    for left, right in rules.brackets:  # “浙里办”APP: the quoted name with its suffix
        flat = flat.replace(left, "").replace(right, "")
    for match in rules.platform_pattern.finditer(flat):
        name = _cut_start(match.group(1), rules)
        name = re.sub(r"^(?:请|各社区|各)+", "", name)
        if name in rules.platform_generic or not low <= len(name) <= high:
            continue
        stem = name
        for suffix in rules.platform_suffixes:
            if stem.endswith(suffix):
                stem = stem[: -len(suffix)]
                break
        if len(stem) >= low - 1 and stem:
            found.setdefault(name, None)
    return tuple(found)
