"""Rules as data: the shipped TOML files under this package, merged with a city's overrides.

`load_rules()` reads `classifiers/rules/*.toml` (package data), merges each override file and the
`overrides` mapping on top (tables merge key by key, lists and values are replaced), validates the
result, and builds everything `classify` needs once: the jieba tokenizer with every rule term in its
dictionary, the term table, the compiled patterns. `Rules` objects are cached by `version`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import time
from importlib import resources
from pathlib import Path
from typing import Any

import jieba

from classifiers.model import CertificateDecision, Kind, Listing, Nature

__all__ = ["CertificateItem", "ItemRule", "KindRule", "Rules", "RulesError", "Tag", "load_rules"]

SHIPPED_FILES = ("departments.toml", "kinds.toml", "items.toml", "certificates.toml", "lexicon.toml")
RULE_WORD_FREQ = 20000
MAX_TOKEN_MEMO = 50000
MAX_SUBSTRING_TOKEN = 16


class RulesError(ValueError):
    """Rule data that cannot be used; the message names the file or key and what to fix."""


@dataclass(frozen=True, slots=True)
class KindRule:
    kind: Kind
    name_zh: str
    nature: Nature
    words: Mapping[str, float]
    patterns: tuple[tuple[re.Pattern[str], float], ...]


@dataclass(frozen=True, slots=True)
class ItemRule:
    code: str
    listing: Listing
    text: str
    words: Mapping[str, float]
    require: tuple[frozenset[str], ...]
    departments: frozenset[str]


@dataclass(frozen=True, slots=True)
class CertificateItem:
    name: str
    decision: CertificateDecision
    words: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Tag:
    """What one rule term means: ("kind", "survey", 3.0) or ("item", "A1", 3.0) or ("req", "N8", 0.0)."""

    category: str
    key: str
    weight: float
    term: str


def _fail(source: str, key: str, problem: str) -> RulesError:
    return RulesError(f"规则数据有误({source} 中的 {key}):{problem}")


def _merge(base: dict[str, Any], top: Mapping[str, Any], sources: dict[str, str], source: str, prefix: str = "") -> None:
    for key, value in top.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value, sources, source, path)
        else:
            base[key] = _plain(value)
        sources[path] = source


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise RulesError(f"规则文件不存在:{path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"规则文件 {path} 不是合法的 TOML:{exc}") from exc
    except OSError as exc:
        raise RulesError(f"规则文件 {path} 无法读取:{exc}") from exc


def _shipped() -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    package = resources.files("classifiers.rules")
    for name in SHIPPED_FILES:
        text = package.joinpath(name).read_text(encoding="utf-8")
        try:
            out.append((name, tomllib.loads(text)))
        except tomllib.TOMLDecodeError as exc:  # pragma: no cover - shipped files are tested
            raise RulesError(f"内置规则文件 {name} 不是合法的 TOML:{exc}") from exc
    return out


class _Reader:
    """Typed access to the merged rule data; every error names the file and key."""

    def __init__(self, data: Mapping[str, Any], sources: Mapping[str, str]) -> None:
        self.data = data
        self.sources = sources

    def source(self, path: str) -> str:
        probe = path
        while probe:
            if probe in self.sources:
                return self.sources[probe]
            probe = probe.rpartition(".")[0]
        return "规则文件"

    def get(self, path: str, default: Any = None) -> Any:
        node: Any = self.data
        for part in path.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return default
            node = node[part]
        return node

    def table(self, path: str, *, required: bool = True) -> Mapping[str, Any]:
        value = self.get(path)
        if value is None and not required:
            return {}
        if not isinstance(value, Mapping):
            raise _fail(self.source(path), path, "应为表(table)")
        return value

    def words(self, path: str, value: Any = None, *, required: bool = True) -> tuple[str, ...]:
        value = self.get(path) if value is None else value
        if value is None and not required:
            return ()
        if not isinstance(value, list) or not all(isinstance(w, str) and w.strip() for w in value):
            raise _fail(self.source(path), path, "应为非空字符串的列表")
        return tuple(w.strip() for w in value)

    def weights(self, path: str, value: Any) -> dict[str, float]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise _fail(self.source(path), path, "应为 词 = 权重 的表")
        out: dict[str, float] = {}
        for word, weight in value.items():
            if not isinstance(weight, int | float) or isinstance(weight, bool) or weight < 0:
                raise _fail(self.source(path), f"{path}.{word}", "权重应为非负数")
            if not str(word).strip():
                raise _fail(self.source(path), path, "词不能为空")
            out[str(word).strip()] = float(weight)
        return out

    def string(self, path: str, value: Any = None) -> str:
        value = self.get(path) if value is None else value
        if not isinstance(value, str) or not value.strip():
            raise _fail(self.source(path), path, "应为非空字符串")
        return value.strip()


class Rules:
    """Merged, validated rule data plus everything compiled from it (tokenizer, term table, patterns).

    Read-only after construction. `version` is a short stable hash of the merged content.
    """

    def __init__(self, data: dict[str, Any], sources: Mapping[str, str], communities: Sequence[str]) -> None:
        reader = _Reader(data, sources)
        self.data = data
        self.communities: tuple[str, ...] = tuple(dict.fromkeys(c.strip() for c in communities if c.strip()))
        canonical = json.dumps([data, list(self.communities)], ensure_ascii=False, sort_keys=True)
        self.version: str = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]

        # departments
        self.departments: dict[str, tuple[str, ...]] = {}
        self.alias_to_department: dict[str, str] = {}
        for name, aliases in reader.table("departments").items():
            words = reader.words(f"departments.{name}", aliases)
            self.departments[name] = words
            for alias in (name, *words):
                self.alias_to_department[alias] = name
        if not self.departments:
            raise _fail(reader.source("departments"), "departments", "至少需要一个部门")
        self.background_markers = reader.words("reading.background_markers", required=False)
        self.upper_prefixes = reader.words("reading.upper_prefixes", required=False)
        self.forward_markers = reader.words("reading.forward_markers", required=False)

        # kinds
        order = reader.words("order.kinds")
        try:
            self.kind_order: tuple[Kind, ...] = tuple(Kind(k) for k in order)
        except ValueError as exc:
            raise _fail(reader.source("order.kinds"), "order.kinds", f"未知的类型 {exc}") from exc
        self.kinds: dict[Kind, KindRule] = {}
        for key, body in reader.table("kinds").items():
            path = f"kinds.{key}"
            try:
                kind = Kind(key)
            except ValueError as exc:
                raise _fail(reader.source(path), path, f"未知的任务类型,应为 {', '.join(k.value for k in Kind)}") from exc
            if not isinstance(body, Mapping):
                raise _fail(reader.source(path), path, "应为表(table)")
            try:
                nature = Nature(reader.string(f"{path}.nature"))
            except ValueError as exc:
                raise _fail(reader.source(path), f"{path}.nature", "应为 administrative 或 service") from exc
            patterns: list[tuple[re.Pattern[str], float]] = []
            for i, entry in enumerate(body.get("patterns", []) or []):
                if not isinstance(entry, Mapping) or not isinstance(entry.get("re"), str):
                    raise _fail(reader.source(path), f"{path}.patterns[{i}]", "应为 {{ re = \"…\", weight = 数字 }}")
                try:
                    patterns.append((re.compile(entry["re"]), float(entry.get("weight", 1))))
                except re.error as exc:
                    raise _fail(reader.source(path), f"{path}.patterns[{i}]", f"正则表达式有误:{exc}") from exc
            self.kinds[kind] = KindRule(
                kind=kind,
                name_zh=reader.string(f"{path}.name"),
                nature=nature,
                words=reader.weights(f"{path}.words", body.get("words")),
                patterns=tuple(patterns),
            )
        missing = [k.value for k in Kind if k not in self.kinds]
        if missing:
            raise _fail(reader.source("kinds"), "kinds", f"缺少类型 {', '.join(missing)}")

        # items
        self.items: dict[str, ItemRule] = {}
        for code, body in reader.table("items").items():
            path = f"items.{code}"
            if not isinstance(body, Mapping):
                raise _fail(reader.source(path), path, "应为表(table)")
            try:
                listing = Listing(reader.string(f"{path}.listing"))
            except ValueError as exc:
                raise _fail(reader.source(path), f"{path}.listing", "应为 duty、assist 或 negative") from exc
            if listing is Listing.UNLISTED:
                raise _fail(reader.source(path), f"{path}.listing", "清单事项不能是 unlisted")
            require = body.get("require", []) or []
            if not isinstance(require, list):
                raise _fail(reader.source(path), f"{path}.require", "应为词组的列表")
            self.items[code] = ItemRule(
                code=code,
                listing=listing,
                text=reader.string(f"{path}.text"),
                words=reader.weights(f"{path}.words", body.get("words")),
                require=tuple(frozenset(reader.words(f"{path}.require", group)) for group in require),
                departments=frozenset(reader.words(f"{path}.departments", body.get("departments", []), required=False)),
            )
        emergency = reader.table("emergency.words", required=False)
        self.emergency_words: dict[str, str] = {}
        for word, code in emergency.items():
            if code not in self.items:
                raise _fail(reader.source("emergency.words"), f"emergency.words.{word}", f"事项 {code} 不存在")
            self.emergency_words[str(word)] = str(code)

        # certificates
        self.certificate_verbs = reader.words("reading.issue_verbs")
        self.certificate_items: list[CertificateItem] = []
        for name, body in reader.table("certificates").items():
            path = f"certificates.{name}"
            if not isinstance(body, Mapping):
                raise _fail(reader.source(path), path, "应为表(table)")
            try:
                decision = CertificateDecision(reader.string(f"{path}.decision"))
            except ValueError as exc:
                raise _fail(reader.source(path), f"{path}.decision", "应为 issue、conditional 或 refuse") from exc
            self.certificate_items.append(
                CertificateItem(name=name, decision=decision, words=reader.words(f"{path}.words", body.get("words")))
            )

        # lexicon
        off_work = reader.string("deadline.off_work_time")
        try:
            self.off_work_time = time.fromisoformat(off_work)
        except ValueError as exc:
            raise _fail(reader.source("deadline"), "deadline.off_work_time", "应为 HH:MM") from exc
        self.background_after = reader.words("deadline.background_after", required=False)
        self.start_after = reader.words("deadline.start_after", required=False)
        recent = reader.get("deadline.recent_past_days", 62)
        if not isinstance(recent, int) or recent < 0:
            raise _fail(reader.source("deadline"), "deadline.recent_past_days", "应为非负整数")
        self.recent_past_days: int = recent
        units = reader.table("quantity.units")
        self.units: dict[str, str] = {str(k): reader.string(f"quantity.units.{k}", v) for k, v in units.items()}
        self.unit_not_after: dict[str, tuple[str, ...]] = {
            str(k): reader.words(f"quantity.not_after.{k}", v) for k, v in reader.table("quantity.not_after", required=False).items()
        }
        self.total_markers = reader.words("quantity.total_markers", required=False)
        self.one_units = frozenset(reader.words("quantity.one_units", required=False))
        self.funding_words = reader.words("funding.words")
        self.resident_money = reader.words("funding.resident_money", required=False)
        self.funding_negations = reader.words("funding.negations", required=False)
        self.funding_patterns: list[re.Pattern[str]] = []
        for i, pattern in enumerate(reader.words("funding.patterns", required=False)):
            try:
                self.funding_patterns.append(re.compile(pattern))
            except re.error as exc:
                raise _fail(reader.source("funding"), f"funding.patterns[{i}]", f"正则表达式有误:{exc}") from exc
        self.all_community_words = reader.words("communities.all_words", required=False)
        self.stopwords = frozenset(reader.words("keywords.stopwords", required=False))
        self.dictionary_words = tuple(reader.words("keywords.dictionary", required=False))
        max_kw = reader.get("keywords.max_keywords", 20)
        self.max_keywords: int = max_kw if isinstance(max_kw, int) and max_kw > 0 else 20

        self._compile()

    # ------------------------------------------------------------------ compiled structures
    def _compile(self) -> None:
        terms: dict[str, list[Tag]] = {}

        def add(term: str, tag: Tag) -> None:
            terms.setdefault(term, []).append(tag)

        for kind, rule in self.kinds.items():
            for word, weight in rule.words.items():
                add(word, Tag("kind", kind.value, weight, word))
        for code, item in self.items.items():
            for word, weight in item.words.items():
                add(word, Tag("item", code, weight, word))
            for index, group in enumerate(item.require):
                for word in group:
                    add(word, Tag("req", code, float(index), word))
        for word, code in self.emergency_words.items():
            add(word, Tag("emergency", code, 1.0, word))
        self.terms: dict[str, tuple[Tag, ...]] = {t: tuple(tags) for t, tags in terms.items()}
        # ranks used to break ties, looked up on every message
        self.kind_rank: dict[Kind, int] = {k: i for i, k in enumerate(self.kind_order)}
        self.item_rank: dict[str, int] = {code: i for i, code in enumerate(self.items)}
        self._max_term = max((len(t) for t in self.terms), default=1)
        self._memo: dict[str, tuple[Tag, ...]] = {}
        # classifiers.tokens.WordInfo per distinct word (filled and bounded by classifiers.tokens)
        self.word_memo: dict[str, Any] = {}
        self.max_word_memo = MAX_TOKEN_MEMO
        # the words of one Han/alnum block (a clause between punctuation), by block (classifiers.tokens)
        self.block_memo: dict[str, tuple[str, ...]] = {}

        # one scan tells whether any funding, resident-money or negation word occurs at all
        money_words = sorted({re.escape(w) for w in (*self.funding_words, *self.resident_money, *self.funding_negations)})
        self.funding_any_re = re.compile("|".join(money_words)) if money_words else None
        escaped = sorted({re.escape(w) for w in self.all_community_words}, key=len, reverse=True)
        self.all_communities_re = re.compile("|".join(escaped)) if escaped else None
        names = sorted((re.escape(c) for c in self.communities), key=len, reverse=True)
        self.community_re = re.compile("|".join(names)) if names else None

        self.tokenizer = _build_tokenizer(self)

    def tags_for(self, token: str) -> tuple[Tag, ...]:
        """Every rule term contained in `token` (memoised; substrings looked up in a dict)."""
        cached = self._memo.get(token)
        if cached is not None:
            return cached
        found: list[Tag] = []
        terms = self.terms
        n = len(token)
        if n <= MAX_SUBSTRING_TOKEN:
            longest = min(self._max_term, n)
            for i in range(n):
                for j in range(i + 2, min(n, i + longest) + 1):
                    tags = terms.get(token[i:j])
                    if tags:
                        found.extend(tags)
        else:
            for term, tags in terms.items():
                if term in token:
                    found.extend(tags)
        result = tuple(found)
        if len(self._memo) >= MAX_TOKEN_MEMO:
            self._memo.clear()
        self._memo[token] = result
        return result

    def all_terms(self) -> set[str]:
        words: set[str] = set(self.terms)
        words.update(self.alias_to_department)
        for item in self.certificate_items:
            words.update(item.words)
        words.update(self.funding_words)
        words.update(self.resident_money)
        words.update(self.all_community_words)
        words.update(self.communities)
        words.update(self.dictionary_words)
        return {w for w in words if len(w) >= 2}

    # ------------------------------------------------------------------ display helpers
    def item_text(self, code: str | None) -> str | None:
        if code is None:
            return None
        if code == "C":
            return "社区出具证明事项"
        item = self.items.get(code)
        return item.text if item else None

    def describe_lists(self) -> dict[str, Any]:
        """The lists for display (admin console): departments, kinds, items, certificates."""
        return {
            "version": self.version,
            "departments": {k: list(v) for k, v in self.departments.items()},
            "kinds": {k.value: {"name": r.name_zh, "nature": r.nature.value} for k, r in self.kinds.items()},
            "items": {c: {"text": i.text, "listing": i.listing.value} for c, i in self.items.items()},
            "certificates": {c.name: c.decision.value for c in self.certificate_items},
        }

    def __repr__(self) -> str:
        return f"Rules(version={self.version!r}, departments={len(self.departments)}, items={len(self.items)})"


def _build_tokenizer(rules: Rules) -> jieba.Tokenizer:
    logging.getLogger("jieba").setLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    for word in sorted(rules.all_terms()):
        tokenizer.add_word(word, freq=RULE_WORD_FREQ)
    return tokenizer


_CACHE: dict[str, Rules] = {}


def load_rules(
    *,
    override_paths: Sequence[Path | str] = (),
    overrides: Mapping[str, Any] | None = None,
    communities: Sequence[str] = (),
) -> Rules:
    """Shipped rules, then each override file, then `overrides`, merged; cached by content version."""
    data: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, content in _shipped():
        _merge(data, content, sources, name)
    for path in override_paths:
        path = Path(path)
        _merge(data, _read_toml(path), sources, str(path))
    if overrides:
        if not isinstance(overrides, Mapping):
            raise RulesError("规则覆盖(overrides)应为与规则文件同结构的字典")
        _merge(data, overrides, sources, "overrides")
    community_list = tuple(c for c in communities if isinstance(c, str))
    canonical = json.dumps([data, [c.strip() for c in community_list if c.strip()]], ensure_ascii=False, sort_keys=True)
    key = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    rules = Rules(data, sources, community_list)
    _CACHE[rules.version] = rules
    return rules
