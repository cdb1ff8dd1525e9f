"""Reading rule data: TOML files merged key by key, and typed access that names the file and key on error."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from classifiers.model import Kind

__all__ = [
    "EXAMPLES_FILE", "SHIPPED_FILES", "Reader", "RulesError", "fail", "item_kind", "merge", "non_negative", "patterns", "positive",
    "read_toml", "shipped", "shipped_examples",
]

SHIPPED_FILES = ("departments.toml", "kinds.toml", "items.toml", "certificates.toml", "lexicon.toml", "trace.toml")
# labelled notices for the second opinion (classifiers/similar.py), written by `jianfu examples`
EXAMPLES_FILE = "examples.jsonl"


class RulesError(ValueError):
    """Rule data that cannot be used; the message names the file or key and what to fix."""


def fail(source: str, key: str, problem: str) -> RulesError:
    return RulesError(f"规则数据有误({source} 中的 {key}):{problem}")


def merge(base: dict[str, Any], top: Mapping[str, Any], sources: dict[str, str], source: str, prefix: str = "") -> None:
    for key, value in top.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            merge(base[key], value, sources, source, path)
        else:
            base[key] = _plain(value)
        sources[path] = source


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise RulesError(f"规则文件不存在:{path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"规则文件 {path} 不是合法的 TOML:{exc}") from exc
    except OSError as exc:
        raise RulesError(f"规则文件 {path} 无法读取:{exc}") from exc


def shipped() -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    package = resources.files("classifiers.rules")
    for name in SHIPPED_FILES:
        text = package.joinpath(name).read_text(encoding="utf-8")
        try:
            out.append((name, tomllib.loads(text)))
        except tomllib.TOMLDecodeError as exc:  # pragma: no cover - shipped files are tested
            raise RulesError(f"内置规则文件 {name} 不是合法的 TOML:{exc}") from exc
    return out


def shipped_examples() -> tuple[str, list[dict[str, Any]]]:
    """The shipped labelled examples (one JSON object a line) and a short digest of the file."""
    raw = resources.files("classifiers.rules").joinpath(EXAMPLES_FILE).read_bytes()
    rows = [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]
    return hashlib.sha256(raw).hexdigest()[:12], rows


class Reader:
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
            raise fail(self.source(path), path, "应为表(table)")
        return value

    def words(self, path: str, value: Any = None, *, required: bool = True) -> tuple[str, ...]:
        value = self.get(path) if value is None else value
        if value is None and not required:
            return ()
        if not isinstance(value, list) or not all(isinstance(w, str) and w.strip() for w in value):
            raise fail(self.source(path), path, "应为非空字符串的列表")
        return tuple(w.strip() for w in value)

    def weights(self, path: str, value: Any) -> dict[str, float]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise fail(self.source(path), path, "应为 词 = 权重 的表")
        out: dict[str, float] = {}
        for word, weight in value.items():
            if not isinstance(weight, int | float) or isinstance(weight, bool) or weight < 0:
                raise fail(self.source(path), f"{path}.{word}", "权重应为非负数")
            if not str(word).strip():
                raise fail(self.source(path), path, "词不能为空")
            out[str(word).strip()] = float(weight)
        return out

    def string(self, path: str, value: Any = None) -> str:
        value = self.get(path) if value is None else value
        if not isinstance(value, str) or not value.strip():
            raise fail(self.source(path), path, "应为非空字符串")
        return value.strip()


def positive(reader: Reader, path: str, default: float) -> float:
    value = reader.get(path, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        raise fail(reader.source(path), path, "应为正数")
    return float(value)


def item_kind(reader: Reader, path: str, body: Mapping[str, Any]) -> Kind | None:
    if body.get("kind") is None:
        return None
    try:
        return Kind(reader.string(f"{path}.kind", body["kind"]))
    except ValueError as exc:
        raise fail(reader.source(path), f"{path}.kind", f"未知的任务类型,应为 {', '.join(k.value for k in Kind)}") from exc


def non_negative(reader: Reader, path: str, default: float) -> float:
    value = reader.get(path, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise fail(reader.source(path), path, "应为非负数")
    return float(value)


def patterns(
    reader: Reader, path: str, body: Mapping[str, Any], key: str = "patterns"
) -> tuple[tuple[re.Pattern[str], float], ...]:
    """`patterns = [{ re = "…", weight = 2 }, …]` (or another `key`) of one table, compiled; errors name the entry."""
    patterns: list[tuple[re.Pattern[str], float]] = []
    for i, entry in enumerate(body.get(key, []) or []):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("re"), str):
            raise fail(reader.source(path), f"{path}.{key}[{i}]", "应为 {{ re = \"…\", weight = 数字 }}")
        try:
            patterns.append((re.compile(entry["re"]), float(entry.get("weight", 1))))
        except re.error as exc:
            raise fail(reader.source(path), f"{path}.{key}[{i}]", f"正则表达式有误:{exc}") from exc
    return tuple(patterns)


_META = frozenset(".^$*+?{}[]\\|()")


def leading_literals(source: str) -> tuple[str, ...]:
    """Words one of which every match of the regex `source` starts with, or () when that cannot be told.

    `(?:请|上门|代为)…` gives ("请", "上门", "代为"); `每(?:个)?社区…` gives ("每",); a pattern that starts
    with anything else gives (). A text holding none of the words cannot match, so the search is skipped.
    """
    if source.startswith("(?:"):
        depth, end = 0, -1
        for i, ch in enumerate(source):
            if ch == "(" and (i == 0 or source[i - 1] != "\\"):
                depth += 1
            elif ch == ")" and source[i - 1] != "\\":
                depth -= 1
                if depth == 0:
                    end = i
                    break
        if end < 0 or source[end + 1 : end + 2] in ("?", "*", "{"):
            return ()
        options = source[3:end].split("|")
        return tuple(options) if all(o and not _META.intersection(o) for o in options) else ()
    prefix = ""
    for ch in source:
        if ch in _META:
            if ch in "?*{" and prefix:  # the last character is optional: it is not required
                prefix = prefix[:-1]
            break
        prefix += ch
    return (prefix,) if prefix else ()
