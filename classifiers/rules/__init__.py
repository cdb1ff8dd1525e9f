"""Rules as data: the shipped TOML files under this package, merged with a city's overrides.

`load_rules()` reads `classifiers/rules/*.toml` (package data), merges each override file and the
`overrides` mapping on top (tables merge key by key, lists and values are replaced), validates the
result, and builds everything `classify` needs once: the jieba tokenizer with every rule term in its
dictionary, the term table, the compiled patterns. `Rules` objects are cached by `version`.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import time
from pathlib import Path
from typing import Any

import jieba

from classifiers.model import CertificateDecision, Kind, Listing, Nature
from classifiers.rules.examples import read_similar
from classifiers.rules.items import CertificateItem, ItemRule, KindRule, Tag
from classifiers.rules.reader import (
    Reader,
    RulesError,
    fail,
    item_kind,
    leading_literals,
    merge,
    patterns,
    positive,
    read_toml,
    shipped,
    shipped_examples,
)
from classifiers.similar import Example, SimilarIndex, build_index

__all__ = ["CertificateItem", "ItemRule", "KindRule", "Rules", "RulesError", "Tag", "load_rules"]

RULE_WORD_FREQ = 20000
_DECISION_RANK = {CertificateDecision.REFUSE: 2, CertificateDecision.CONDITIONAL: 1, CertificateDecision.ISSUE: 0}
MAX_SUBSTRING_TOKEN = 16


class Rules:
    """Merged, validated rule data plus everything compiled from it (tokenizer, term table, patterns).

    Read-only after construction. `version` is a short stable hash of the merged content.
    """

    def __init__(self, data: dict[str, Any], sources: Mapping[str, str], communities: Sequence[str]) -> None:
        reader = Reader(data, sources)
        self.data = data
        self.communities: tuple[str, ...] = tuple(dict.fromkeys(c.strip() for c in communities if c.strip()))
        digest, shipped_rows = _shipped_examples()
        canonical = json.dumps([data, list(self.communities), digest], ensure_ascii=False, sort_keys=True)
        self.version: str = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]
        self._read_departments(reader)
        self._read_kinds(reader)
        self._read_items(reader)
        self._read_similar(reader, shipped_rows)
        self._read_certificates(reader)
        self._read_lexicon(reader)
        self._read_trace(reader)
        self._compile()

    def _read_departments(self, reader: Reader) -> None:
        self.departments: dict[str, tuple[str, ...]] = {}
        self.alias_to_department: dict[str, str] = {}
        for name, aliases in reader.table("departments").items():
            words = reader.words(f"departments.{name}", aliases)
            self.departments[name] = words
            for alias in (name, *words):
                self.alias_to_department[alias] = name
        if not self.departments:
            raise fail(reader.source("departments"), "departments", "至少需要一个部门")
        self.background_markers = reader.words("reading.background_markers", required=False)
        self.upper_prefixes = reader.words("reading.upper_prefixes", required=False)
        self.forward_markers = reader.words("reading.forward_markers", required=False)
        self.forward_own_markers = reader.words("reading.forward_own_markers", required=False)
        self.forward_added_work = reader.words("reading.forward_added_work", required=False)

    def _read_kinds(self, reader: Reader) -> None:
        order = reader.words("order.kinds")
        try:
            self.kind_order: tuple[Kind, ...] = tuple(Kind(k) for k in order)
        except ValueError as exc:
            raise fail(reader.source("order.kinds"), "order.kinds", f"未知的类型 {exc}") from exc
        self.kinds: dict[Kind, KindRule] = {}
        for key, body in reader.table("kinds").items():
            path = f"kinds.{key}"
            try:
                kind = Kind(key)
            except ValueError as exc:
                raise fail(reader.source(path), path, f"未知的任务类型,应为 {', '.join(k.value for k in Kind)}") from exc
            if not isinstance(body, Mapping):
                raise fail(reader.source(path), path, "应为表(table)")
            try:
                nature = Nature(reader.string(f"{path}.nature"))
            except ValueError as exc:
                raise fail(reader.source(path), f"{path}.nature", "应为 administrative 或 service") from exc
            self.kinds[kind] = KindRule(
                kind=kind,
                name_zh=reader.string(f"{path}.name"),
                nature=nature,
                words=reader.weights(f"{path}.words", body.get("words")),
                patterns=patterns(reader, path, body),
            )
        self.recording_kinds: dict[Kind, frozenset[Kind]] = {}
        for key, work in reader.table("order.recording", required=False).items():
            try:
                self.recording_kinds[Kind(key)] = frozenset(Kind(k) for k in reader.words(f"order.recording.{key}", work))
            except ValueError as exc:
                raise fail(reader.source("order.recording"), f"order.recording.{key}", f"未知的类型 {exc}") from exc
        self.recording_factor = float(reader.get("order.recording_factor", 1.0))
        self.recording_work_floor = float(reader.get("order.recording_work_floor", 0.0))
        missing = [k.value for k in Kind if k not in self.kinds]
        if missing:
            raise fail(reader.source("kinds"), "kinds", f"缺少类型 {', '.join(missing)}")

    def _read_items(self, reader: Reader) -> None:
        self.items: dict[str, ItemRule] = {}
        for code, body in reader.table("items").items():
            path = f"items.{code}"
            if not isinstance(body, Mapping):
                raise fail(reader.source(path), path, "应为表(table)")
            try:
                listing = Listing(reader.string(f"{path}.listing"))
            except ValueError as exc:
                raise fail(reader.source(path), f"{path}.listing", "应为 duty、assist 或 negative") from exc
            if listing is Listing.UNLISTED:
                raise fail(reader.source(path), f"{path}.listing", "清单事项不能是 unlisted")
            require = body.get("require", []) or []
            if not isinstance(require, list):
                raise fail(reader.source(path), f"{path}.require", "应为词组的列表")
            self.items[code] = ItemRule(
                code=code,
                listing=listing,
                text=reader.string(f"{path}.text"),
                words=reader.weights(f"{path}.words", body.get("words")),
                require=tuple(frozenset(reader.words(f"{path}.require", group)) for group in require),
                departments=frozenset(reader.words(f"{path}.departments", body.get("departments", []), required=False)),
                patterns=patterns(reader, path, body),
                demand=patterns(reader, path, body, key="demand"),
                kind=item_kind(reader, path, body),
            )
            if self.items[code].demand and listing is not Listing.NEGATIVE:
                raise fail(reader.source(path), f"{path}.demand", "demand 只用于负面清单事项(listing = \"negative\"),请改写到 patterns")
        emergency = reader.table("emergency.words", required=False)
        self.emergency_words: dict[str, str] = {}
        for word, code in emergency.items():
            if code not in self.items:
                raise fail(reader.source("emergency.words"), f"emergency.words.{word}", f"事项 {code} 不存在")
            self.emergency_words[str(word)] = str(code)
        self.emergency_calm = reader.words("emergency.calm", required=False)
        self.strong_negative = positive(reader, "listing.strong_negative", 3)
        self.strong_admission = positive(reader, "listing.strong_admission", 3)
        self.admit_floor = positive(reader, "listing.admit_floor", 2)
        self.review_kinds = frozenset(reader.words("listing.review_kinds", required=False))

    def _read_similar(self, reader: Reader, shipped_rows: Sequence[Mapping[str, Any]]) -> None:
        self.similar = read_similar(reader, shipped_rows, self.items)

    def with_similar(self, index: SimilarIndex) -> Rules:
        """These rules with another second-opinion index (cross-validation leaves a fold's examples out)."""
        twin = copy.copy(self)
        twin.similar = index
        return twin

    def with_examples(self, extra: Sequence[Example]) -> Rules:
        """These rules, their second opinion also asking `extra` labelled notices (a deployment's corrections).

        An example whose item these rules do not know (a list item since removed) keeps only its kind.
        """
        known = [e if not e.item_labelled or e.item in (None, "C") or e.item in self.items
                 else replace(e, item=None, item_labelled=False) for e in extra]
        return self.with_similar(build_index((*self.similar.examples, *known), self.similar.settings))

    def _read_certificates(self, reader: Reader) -> None:
        self.certificate_verbs = reader.words("reading.issue_verbs")
        self.certificate_negations = reader.words("reading.issue_negations", required=False)
        self.other_issuers = reader.words("reading.other_issuers", required=False)
        self.certificate_items: list[CertificateItem] = []
        for name, body in reader.table("certificates").items():
            path = f"certificates.{name}"
            if not isinstance(body, Mapping):
                raise fail(reader.source(path), path, "应为表(table)")
            try:
                decision = CertificateDecision(reader.string(f"{path}.decision"))
            except ValueError as exc:
                raise fail(reader.source(path), f"{path}.decision", "应为 issue、conditional 或 refuse") from exc
            self.certificate_items.append(
                CertificateItem(name=name, decision=decision, words=reader.words(f"{path}.words", body.get("words")))
            )

    def _read_lexicon(self, reader: Reader) -> None:
        self.off_work_time: time | None = None
        if reader.get("deadline.off_work_time") is not None:
            off_work = reader.string("deadline.off_work_time")
            try:
                self.off_work_time = time.fromisoformat(off_work)
            except ValueError as exc:
                raise fail(reader.source("deadline"), "deadline.off_work_time", "应为 HH:MM") from exc
        self.background_after = reader.words("deadline.background_after", required=False)
        self.start_after = reader.words("deadline.start_after", required=False)
        recent = reader.get("deadline.recent_past_days", 62)
        if not isinstance(recent, int) or recent < 0:
            raise fail(reader.source("deadline"), "deadline.recent_past_days", "应为非负整数")
        self.recent_past_days: int = recent
        units = reader.table("quantity.units")
        self.units: dict[str, str] = {str(k): reader.string(f"quantity.units.{k}", v) for k, v in units.items()}
        self.unit_not_after: dict[str, tuple[str, ...]] = {
            str(k): reader.words(f"quantity.not_after.{k}", v) for k, v in reader.table("quantity.not_after", required=False).items()
        }
        self.total_markers = reader.words("quantity.total_markers", required=False)
        self.one_units = frozenset(reader.words("quantity.one_units", required=False))
        self.marked_units = frozenset(reader.words("quantity.marked_units", required=False))
        self.not_community_before = reader.words("quantity.not_community_before", required=False)
        self.community_share_before = reader.words("quantity.community_share_before", required=False)
        self.quantity_ask_words = reader.words("quantity.ask_words", required=False)
        self.funding_words = reader.words("funding.words")
        self.resident_money = reader.words("funding.resident_money", required=False)
        self.funding_negations = reader.words("funding.negations", required=False)
        self.transfer_words = frozenset(reader.words("funding.transfer_words", required=False))
        self.funding_patterns: list[re.Pattern[str]] = []
        for i, pattern in enumerate(reader.words("funding.patterns", required=False)):
            try:
                self.funding_patterns.append(re.compile(pattern))
            except re.error as exc:
                raise fail(reader.source("funding"), f"funding.patterns[{i}]", f"正则表达式有误:{exc}") from exc
        self.all_community_words = reader.words("communities.all_words", required=False)
        self.stopwords = frozenset(reader.words("keywords.stopwords", required=False))
        self.dictionary_words = tuple(reader.words("keywords.dictionary", required=False))
        max_kw = reader.get("keywords.max_keywords", 20)
        self.max_keywords: int = max_kw if isinstance(max_kw, int) and max_kw > 0 else 20

    def _read_trace(self, reader: Reader) -> None:
        self.trace_words: dict[str, float] = reader.weights("trace.words", reader.get("trace.words"))
        self.trace_patterns = patterns(reader, "trace", reader.table("trace", required=False))
        self.trace_threshold = positive(reader, "trace.threshold", 2)
        self.whole_task_words = reader.words("trace.whole_task", required=False)

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
        # every certificate word with its item: longest first, then refuse > conditional > issue
        pairs = [(word, item) for item in self.certificate_items for word in item.words]
        self.certificate_ranked: tuple[tuple[str, CertificateItem], ...] = tuple(
            sorted(pairs, key=lambda p: (-len(p[0]), -_DECISION_RANK[p[1].decision]))
        )
        # ranks used to break ties, looked up on every message
        self.kind_rank: dict[Kind, int] = {k: i for i, k in enumerate(self.kind_order)}
        self.item_rank: dict[str, int] = {code: i for i, code in enumerate(self.items)}
        # each with the words one of which a match starts with (a text with none of them is not searched),
        # and whether it names a negative item's demand itself (`demand`)
        self.item_patterns: tuple[tuple[str, re.Pattern[str], float, tuple[str, ...], bool], ...] = tuple(
            (code, pattern, weight, leading_literals(pattern.pattern), demand)
            for code, item in self.items.items()
            for demand, table in ((False, item.patterns), (True, item.demand))
            for pattern, weight in table
        )
        self._max_term = max((len(t) for t in self.terms), default=1)

        # one scan tells whether any funding, resident-money or negation word occurs at all
        money_words = sorted({re.escape(w) for w in (*self.funding_words, *self.resident_money, *self.funding_negations)})
        self.funding_any_re = re.compile("|".join(money_words)) if money_words else None
        escaped = sorted({re.escape(w) for w in self.all_community_words}, key=len, reverse=True)
        self.all_communities_re = re.compile("|".join(escaped)) if escaped else None
        names = sorted((re.escape(c) for c in self.communities), key=len, reverse=True)
        self.community_re = re.compile("|".join(names)) if names else None

        self.tokenizer = _build_tokenizer(self)

    def tags_for(self, token: str) -> tuple[Tag, ...]:
        """Every rule term contained in `token` (substrings looked up in a dict; callers memoise per word)."""
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
        return tuple(found)

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


@functools.cache
def _shipped_examples() -> tuple[str, tuple[Mapping[str, Any], ...]]:
    digest, rows = shipped_examples()
    return digest, tuple(rows)


def load_rules(
    *,
    override_paths: Sequence[Path | str] = (),
    overrides: Mapping[str, Any] | None = None,
    communities: Sequence[str] = (),
) -> Rules:
    """Shipped rules, then each override file, then `overrides`, merged; cached by content version."""
    data: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, content in shipped():
        merge(data, content, sources, name)
    for path in override_paths:
        path = Path(path)
        merge(data, read_toml(path), sources, str(path))
    if overrides:
        if not isinstance(overrides, Mapping):
            raise RulesError("规则覆盖(overrides)应为与规则文件同结构的字典")
        merge(data, overrides, sources, "overrides")
    community_list = tuple(c for c in communities if isinstance(c, str))
    names = [c.strip() for c in community_list if c.strip()]
    canonical = json.dumps([data, list(dict.fromkeys(names)), _shipped_examples()[0]], ensure_ascii=False, sort_keys=True)
    key = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    rules = Rules(data, sources, community_list)
    _CACHE[rules.version] = rules
    return rules
