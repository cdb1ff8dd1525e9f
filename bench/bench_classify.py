"""Classifier throughput on the corpus texts vs bare jieba tokenizing, and rules-ready time.

    .venv/bin/python bench/bench_classify.py [--rounds 40] [--inner 2] [--ready-runs 3]

Targets (issue 3): classify >= 2,000 msg/s and <= 3x the cost of bare `jieba.lcut` over the same
texts, single process; tokenizer and rules ready < 1.5 s with jieba's cache warm.

How it measures (the machine may be shared and loaded):
* the corpus texts (tests/data/dev.jsonl, the labelled corpus) and, separately, our own cases;
* in each round every variant makes one timed pass over the texts, in a rotated order, so slow
  moments hit all of them alike; the best pass of each variant is kept (and the median shown);
* each pass is timed twice: wall clock (perf_counter) and this process's CPU time (process_time);
  on a loaded machine the CPU time is the steadier of the two, the wall time the one users see;
* the variants: bare `jieba.lcut` (the global tokenizer, jieba's default HMM=True: the issue's
  reference), the Rules' own tokenizer's `lcut` with HMM on and off (classify cuts with HMM off,
  through `classifiers.tokens.cut`, which gives the same words), and `classify`;
* `classify` runs after one warm-up pass (its per-word memos are then filled, as they are in a
  running server); the warm-up pass itself is reported as "first pass". Its memo of cut clauses
  is emptied before every pass, so a repeated pass gains nothing from having seen the same
  message: only clauses that different messages share are cut once;
* rules-ready is measured in fresh subprocesses (import + `load_rules`), after one run that warms
  jieba's cache; best and all runs, wall and CPU.

A benchmark, not a test: it prints the figures, writes bench/results_classify.json and never fails.
The last line of output is the JSON summary (bench/run_all.py reads it).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without relying on the editable install
    sys.path.insert(0, str(ROOT))
CORPUS = ROOT / "tests" / "data" / "dev.jsonl"
OWN_CASES = ROOT / "tests" / "data" / "classifier_cases.jsonl"
RESULTS = Path(__file__).resolve().parent / "results_classify.json"
COMMUNITIES = ("幸福社区", "和平社区", "光明社区")
TARGET_MSG_S = 2000.0
TARGET_RATIO = 3.0
TARGET_READY_S = 1.5

_READY_SNIPPET = f"""
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
sys.path.insert(0, {str(ROOT)!r})
from classifiers import load_rules
rules = load_rules(communities={COMMUNITIES!r})
print(json.dumps({{"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}}))
"""

Case = tuple[str, datetime, str | None]


def _load(path: Path) -> list[Case]:
    cases = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(c["text"], datetime.fromisoformat(c["now"]), c.get("sender_department")) for c in cases]


def _ready(runs: int) -> dict[str, Any]:
    def once() -> dict[str, float]:
        proc = subprocess.run([sys.executable, "-c", _READY_SNIPPET], capture_output=True, text=True, cwd=ROOT, check=True)
        figures: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
        return figures

    once()  # warms jieba's cache file (and the OS file cache)
    measured = [once() for _ in range(runs)]
    return {
        "wall_s": round(min(m["wall"] for m in measured), 3),
        "cpu_s": round(min(m["cpu"] for m in measured), 3),
        "runs_wall_s": [round(m["wall"], 3) for m in measured],
        "runs_cpu_s": [round(m["cpu"], 3) for m in measured],
    }


def _measure(variants: dict[str, Callable[[], None]], rounds: int) -> dict[str, dict[str, float]]:
    """Best and median pass time (wall and CPU) of each variant over interleaved, rotated rounds."""
    names = list(variants)
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            gc.collect()
            w0, c0 = time.perf_counter(), time.process_time()
            variants[name]()
            c1, w1 = time.process_time(), time.perf_counter()
            wall[name].append(w1 - w0)
            cpu[name].append(c1 - c0)
    return {
        n: {"wall_best": min(wall[n]), "wall_median": statistics.median(wall[n]), "cpu_best": min(cpu[n]), "cpu_median": statistics.median(cpu[n])}
        for n in names
    }


def _bench_texts(label: str, cases: list[Case], rules: Any, rounds: int, inner: int) -> dict[str, Any]:
    import jieba

    from classifiers import classify
    from classifiers.tokens import memo_for

    texts = [text for text, _now, _sender in cases]
    tokenizer = rules.tokenizer

    def bare_jieba() -> None:
        for _ in range(inner):
            for text in texts:
                jieba.lcut(text)

    def rules_hmm() -> None:
        for _ in range(inner):
            for text in texts:
                tokenizer.lcut(text)

    def rules_no_hmm() -> None:
        for _ in range(inner):
            for text in texts:
                tokenizer.lcut(text, HMM=False)

    def full() -> None:
        for _ in range(inner):
            memo_for(rules).blocks.clear()  # no message is seen twice: only clauses shared by different messages hit
            for text, now, sender in cases:
                classify(text, now=now, sender_department=sender, rules=rules)

    t0 = time.perf_counter()
    full_first = [classify(text, now=now, sender_department=sender, rules=rules) for text, now, sender in cases]
    first_pass = time.perf_counter() - t0
    assert len(full_first) == len(cases)
    for text in texts:  # warm the tokenizers' own code paths too
        jieba.lcut(text)
        tokenizer.lcut(text)
        tokenizer.lcut(text, HMM=False)

    timings = _measure(
        {"bare_jieba_lcut": bare_jieba, "rules_lcut_hmm": rules_hmm, "rules_lcut_no_hmm": rules_no_hmm, "classify": full}, rounds
    )
    n = len(texts) * inner
    out: dict[str, Any] = {"texts": len(texts), "avg_chars": round(sum(map(len, texts)) / len(texts), 1)}
    for name, t in timings.items():
        out[name] = {
            "msg_s_wall": round(n / t["wall_best"]),
            "msg_s_cpu": round(n / t["cpu_best"]) if t["cpu_best"] > 0 else None,
            "us_per_msg_wall": round(t["wall_best"] / n * 1e6, 1),
            "us_per_msg_cpu": round(t["cpu_best"] / n * 1e6, 1),
            "us_per_msg_wall_median": round(t["wall_median"] / n * 1e6, 1),
        }
    c = timings["classify"]
    for ref in ("bare_jieba_lcut", "rules_lcut_hmm", "rules_lcut_no_hmm"):
        out[f"ratio_vs_{ref}"] = {"wall": round(c["wall_best"] / timings[ref]["wall_best"], 2), "cpu": round(c["cpu_best"] / timings[ref]["cpu_best"], 2)}
    out["classify_first_pass_us_per_msg"] = round(first_pass / len(texts) * 1e6, 1)
    return out


def _print_set(label: str, figures: dict[str, Any]) -> None:
    print(f"\n{label}: {figures['texts']} texts, {figures['avg_chars']} chars on average; best pass (median), wall | CPU")
    for name, title in (
        ("bare_jieba_lcut", "bare jieba.lcut (HMM on)"),
        ("rules_lcut_hmm", "rules tokenizer lcut HMM on"),
        ("rules_lcut_no_hmm", "rules tokenizer lcut HMM off"),
        ("classify", "classify"),
    ):
        f = figures[name]
        print(
            f"  {title:30s} {f['msg_s_wall']:>7,} msg/s {f['us_per_msg_wall']:7.1f} us ({f['us_per_msg_wall_median']:.1f})"
            f" | {f['msg_s_cpu']:>7,} msg/s {f['us_per_msg_cpu']:7.1f} us"
        )
    for ref, title in (("bare_jieba_lcut", "bare jieba.lcut"), ("rules_lcut_hmm", "rules lcut HMM on"), ("rules_lcut_no_hmm", "rules lcut HMM off")):
        r = figures[f"ratio_vs_{ref}"]
        print(f"  classify / {title:22s} {r['wall']:.2f}x wall | {r['cpu']:.2f}x CPU")
    print(f"  classify first pass (cold per-word memos): {figures['classify_first_pass_us_per_msg']:.1f} us/msg")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=40, help="interleaved rounds (best of N is kept)")
    parser.add_argument("--inner", type=int, default=2, help="passes over the texts inside one timed round")
    parser.add_argument("--ready-runs", type=int, default=3, help="fresh processes timed for rules-ready")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/results_classify.json")
    args = parser.parse_args()

    load_before = os.getloadavg()
    ready = _ready(args.ready_runs)

    from classifiers import load_rules

    rules = load_rules(communities=COMMUNITIES)
    import jieba

    jieba.setLogLevel(30)
    jieba.initialize()

    sets = {"corpus": _bench_texts("corpus", _load(CORPUS), rules, args.rounds, args.inner)}
    if OWN_CASES.exists():
        sets["own_cases"] = _bench_texts("own_cases", _load(OWN_CASES), rules, args.rounds, args.inner)
    load_after = os.getloadavg()

    corpus = sets["corpus"]
    best_msg_s = corpus["classify"]["msg_s_wall"]
    ratio = corpus["ratio_vs_bare_jieba_lcut"]["wall"]
    summary: dict[str, Any] = {
        "bench": "classify",
        "when": datetime.now().astimezone().isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "load_avg_before": [round(x, 2) for x in load_before],
        "load_avg_after": [round(x, 2) for x in load_after],
        "rounds": args.rounds,
        "inner": args.inner,
        "ready": ready,
        "sets": sets,
        "classify_msg_s": best_msg_s,
        "classify_msg_s_cpu": corpus["classify"]["msg_s_cpu"],
        "bare_jieba_lcut_msg_s": corpus["bare_jieba_lcut"]["msg_s_wall"],
        "ratio_vs_bare_jieba_lcut": ratio,
        "ratio_vs_bare_jieba_lcut_cpu": corpus["ratio_vs_bare_jieba_lcut"]["cpu"],
        "ready_s": ready["wall_s"],
        "ready_cpu_s": ready["cpu_s"],
        "targets": {
            "msg_s >= 2000": best_msg_s >= TARGET_MSG_S,
            "ratio <= 3x bare jieba.lcut": ratio <= TARGET_RATIO,
            "ready < 1.5 s": ready["wall_s"] < TARGET_READY_S,
        },
    }

    print(f"machine: {os.cpu_count()} CPUs, affinity {summary['affinity']}, load average {load_before[0]:.2f} before / {load_after[0]:.2f} after")
    print(
        f"rules ready (fresh process: import + load_rules, jieba cache warm): best {ready['wall_s']:.3f} s wall,"
        f" {ready['cpu_s']:.3f} s CPU; runs {ready['runs_wall_s']} s wall"
    )
    _print_set("corpus (tests/data/dev.jsonl)", corpus)
    if "own_cases" in sets:
        _print_set("own cases (tests/data/classifier_cases.jsonl)", sets["own_cases"])
    print("\ntargets (corpus, wall clock): " + ", ".join(f"{k}: {'met' if v else 'MISSED'}" for k, v in summary["targets"].items()))
    if not args.no_write:
        RESULTS.write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"written {RESULTS.relative_to(ROOT)}")
    compact = {k: summary[k] for k in ("classify_msg_s", "classify_msg_s_cpu", "bare_jieba_lcut_msg_s", "ratio_vs_bare_jieba_lcut",
                                       "ratio_vs_bare_jieba_lcut_cpu", "ready_s", "ready_cpu_s", "load_avg_before", "targets")}
    print(json.dumps(compact, ensure_ascii=False))


if __name__ == "__main__":
    main()
