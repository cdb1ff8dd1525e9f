"""Scoring the reader on a labelled file: per-field accuracy, confusions, misses and harmful decisions.

A labelled corpus is split once, by a stable hash of each case's id, into a **tune** half (rules may be
changed by looking at its misses) and a **check** half (looked at only to measure). `half_of` is that
split; it depends on nothing but the id, so every run and every machine agrees on it.

Harm is counted apart from accuracy (docs/policy.md §3): a task **wrongly refused** was read as negative
and not held for review although its label admits it (or sends it to review); a task **wrongly admitted**
was read as duty or assist, not held for review, although its label refuses it or holds it for admission
review (unlisted: admitting it skips the admin). A task held for review (`needs_review`, or `unlisted`)
counts as neither: an admin decides it.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from classifiers.classify import classify
from classifiers.rules import Rules

__all__ = ["EVAL_FIELDS", "HALVES", "build_examples", "cross_validate", "evaluate", "half_of", "is_wrongly_admitted", "is_wrongly_refused"]

EVAL_FIELDS = (
    "department",
    "kind",
    "listing",
    "item",
    "certificate",
    "deadline",
    "deadline_time",
    "recurrence",
    "quantity",
    "funded",
    "amount_yuan",
)
HALVES = ("tune", "check")
_EVIDENCE_FOR = {"item": "listing", "deadline_time": "deadline", "funded": "funding", "amount_yuan": "funding"}
_ADMITTED = ("duty", "assist")


def half_of(case_id: str) -> str:
    """`tune` or `check`: the parity of the last byte of sha256(id). Fixed forever for a given id."""
    return HALVES[hashlib.sha256(case_id.encode("utf-8")).digest()[-1] & 1]


def is_wrongly_refused(expected_listing: str, got: dict[str, Any]) -> bool:
    """Refused outright (negative, not held for review) although the label does not refuse it."""
    return got["listing"] == "negative" and not got["needs_review"] and expected_listing != "negative"


def is_wrongly_admitted(expected_listing: str, got: dict[str, Any]) -> bool:
    """Admitted outright (duty/assist, not held for review) although the label refuses it or holds it for review."""
    return got["listing"] in _ADMITTED and not got["needs_review"] and expected_listing in ("negative", "unlisted")


def _read_case(line: str) -> tuple[dict[str, Any], dict[str, Any], datetime, str]:
    case = json.loads(line)
    return case, case["expect"], datetime.fromisoformat(case["now"]), case["text"]


def evaluate(lines: Iterable[str], rules: Rules, *, half: str | None = None) -> dict[str, Any]:
    """Per-field accuracy, confusions for kind and listing, harm counts and every miss with its evidence.

    `half` ("tune" or "check") keeps only the cases of that half of the split; None keeps every case.
    """
    correct: Counter[str] = Counter()
    total: Counter[str] = Counter()
    confusion: dict[str, Counter[tuple[str, str]]] = {"kind": Counter(), "listing": Counter()}
    misses: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    harm: dict[str, list[str]] = {"wrongly_refused": [], "wrongly_admitted": [], "held_for_review": []}
    cases = 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            case, expect, now, text = _read_case(line)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            errors.append({"line": number, "error": f"无法读取这一行:{exc}"})
            continue
        ident = str(case.get("id"))
        if half is not None and half_of(ident) != half:
            continue
        cases += 1
        got = classify(text, now=now, sender_department=case.get("sender_department"), rules=rules).to_json(ident)
        for field in EVAL_FIELDS:
            if field not in expect:
                continue
            total[field] += 1
            if got[field] == expect[field]:
                correct[field] += 1
            else:
                ev = got["evidence"].get(_EVIDENCE_FOR.get(field, field), {})
                misses.append({"id": ident, "field": field, "expected": expect[field], "got": got[field], "evidence": ev, "text": text})
        for field in ("kind", "listing"):
            if field in expect:
                confusion[field][(str(expect[field]), str(got[field]))] += 1
        expected_listing = str(expect.get("listing"))
        if is_wrongly_refused(expected_listing, got):
            harm["wrongly_refused"].append(ident)
        elif is_wrongly_admitted(expected_listing, got):
            harm["wrongly_admitted"].append(ident)
        elif got["needs_review"] or got["listing"] == "unlisted":
            harm["held_for_review"].append(ident)
    return {
        "cases": cases,
        "half": half,
        "accuracy": {f: (correct[f] / total[f] if total[f] else None) for f in EVAL_FIELDS},
        "counts": {f: [correct[f], total[f]] for f in EVAL_FIELDS},
        "confusion": {f: [{"expected": e, "got": g, "count": c} for (e, g), c in sorted(m.items())] for f, m in confusion.items()},
        "harm": harm,
        "misses": misses,
        "errors": errors,
        "rules_version": rules.version,
    }


def build_examples(whole: Iterable[Iterable[str]], split: Iterable[Iterable[str]]) -> list[dict[str, Any]]:
    """The second opinion's labelled examples (`classifiers/rules/examples.jsonl`), one dict per case.

    Every case of the `whole` files is kept; of the `split` files only the tune half. The check half
    of a split corpus is never an example: it stays a measure of notices nobody here has read.
    """
    rows: list[dict[str, Any]] = []
    for lines, keep_check in [*((w, True) for w in whole), *((s, False) for s in split)]:
        for line in lines:
            if not line.strip():
                continue
            case, expect, _now, text = _read_case(line)
            ident = str(case.get("id"))
            if keep_check or half_of(ident) == "tune":
                rows.append({"id": ident, "kind": expect["kind"], "item": expect.get("item"), "text": text})
    return rows


def cross_validate(lines: Sequence[str], rules: Rules, *, folds: int, half: str | None = None) -> dict[str, Any]:
    """`evaluate` fold by fold, each fold's own cases left out of the second opinion's examples.

    The rules' words are what they are; this measures the second opinion as it does on notices it
    has never seen. Accuracy is summed over the folds; harm and misses are concatenated.
    """
    kept = [line for line in lines if line.strip() and (half is None or half_of(_case_id(line)) == half)]
    parts = [kept[f::folds] for f in range(folds)]
    reports = [
        evaluate(part, rules.with_similar(rules.similar.without(_case_id(line) for line in part)))
        for part in parts if part
    ]
    return _combine(reports, half)


def _case_id(line: str) -> str:
    try:
        return str(json.loads(line).get("id"))
    except (json.JSONDecodeError, AttributeError):
        return ""


def _combine(reports: list[dict[str, Any]], half: str | None) -> dict[str, Any]:
    cases = sum(r["cases"] for r in reports)
    counts = {f: [sum(r["counts"][f][0] for r in reports), sum(r["counts"][f][1] for r in reports)] for f in EVAL_FIELDS}
    accuracy = {f: (c / t if t else None) for f, (c, t) in counts.items()}
    confusion: dict[str, Counter[tuple[str, str]]] = {"kind": Counter(), "listing": Counter()}
    for report in reports:
        for field, rows in report["confusion"].items():
            for row in rows:
                confusion[field][(row["expected"], row["got"])] += row["count"]
    return {
        "cases": cases,
        "half": half,
        "accuracy": accuracy,
        "counts": counts,
        "confusion": {f: [{"expected": e, "got": g, "count": c} for (e, g), c in sorted(m.items())] for f, m in confusion.items()},
        "harm": {k: [i for r in reports for i in r["harm"][k]] for k in reports[0]["harm"]} if reports else {},
        "misses": [m for r in reports for m in r["misses"]],
        "errors": [e for r in reports for e in r["errors"]],
        "rules_version": reports[0]["rules_version"] if reports else "",
    }
