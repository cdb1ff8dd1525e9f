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
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from classifiers.classify import classify
from classifiers.rules import Rules

__all__ = ["EVAL_FIELDS", "HALVES", "evaluate", "half_of", "is_wrongly_admitted", "is_wrongly_refused"]

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
        "confusion": {f: [{"expected": e, "got": g, "count": c} for (e, g), c in sorted(m.items())] for f, m in confusion.items()},
        "harm": harm,
        "misses": misses,
        "errors": errors,
        "rules_version": rules.version,
    }
