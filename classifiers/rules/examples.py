"""The second opinion's labelled notices and settings, read from rule data (`[similar]`, examples.jsonl)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from classifiers.model import Kind
from classifiers.rules.items import ItemRule
from classifiers.rules.reader import Reader, fail, non_negative, positive
from classifiers.similar import Example, SimilarIndex, SimilarSettings, build_index

__all__ = ["read_similar"]


def read_similar(reader: Reader, shipped_rows: Sequence[Mapping[str, Any]], items: Mapping[str, ItemRule]) -> SimilarIndex:
    """The second opinion's settings and labelled notices: the shipped ones, then `[similar] examples`."""
    table = reader.table("similar", required=False)
    defaults = SimilarSettings()
    settings = SimilarSettings(
        k=int(positive(reader, "similar.k", defaults.k)),
        item_share=positive(reader, "similar.item_share", defaults.item_share),
        kind_share=positive(reader, "similar.kind_share", defaults.kind_share),
        weak_kind_score=non_negative(reader, "similar.weak_kind_score", defaults.weak_kind_score),
        min_similarity=positive(reader, "similar.min_similarity", defaults.min_similarity),
        same_notice=positive(reader, "similar.same_notice", defaults.same_notice),
        max_df_share=positive(reader, "similar.max_df_share", defaults.max_df_share),
    )
    extra = table.get("examples", []) or []
    if not isinstance(extra, list):
        raise fail(reader.source("similar"), "similar.examples", "应为 { text, kind, item } 的列表")
    examples = [_example(items, row, "examples.jsonl", f"第 {n} 行") for n, row in enumerate(shipped_rows, 1)]
    examples += [_example(items, row, reader.source("similar"), f"similar.examples[{n}]") for n, row in enumerate(extra)]
    return build_index(tuple(examples), settings)


def _example(items: Mapping[str, ItemRule], row: Any, source: str, where: str) -> Example:
    """One labelled notice, checked: text, a known kind, and an item code of the lists (or null, C)."""
    if not isinstance(row, Mapping) or not isinstance(row.get("text"), str) or not row["text"].strip():
        raise fail(source, where, "应为 { text = \"通知全文\", kind = \"类型\", item = \"事项代码或省略\" }")
    kind, item = row.get("kind"), row.get("item")
    if kind not in {k.value for k in Kind}:
        raise fail(source, where, f"未知的类型 {kind!r}")
    if item is not None and item != "C" and item not in items:
        raise fail(source, where, f"事项 {item!r} 不在清单中")
    return Example(id=str(row.get("id", where)), text=row["text"], kind=str(kind), item=None if item is None else str(item))
