"""Digest benchmark: 100 communities, 1,000,000 tasks on SQLite, against a plain SELECT count(*).

    .venv/bin/python bench/bench_digest.py [--tasks 1000000] [--communities 100] [--db PATH] [--keep]

Seeds a migrated SQLite file (tasks spread over 12 months, 1–3 communities each), then
times in the same run: ``SELECT count(*) FROM tasks``, the district digest of one month,
one community's digest, and all communities' digests of that month.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from intake.db import create_engine, upgrade_database  # noqa: E402
from intake.digest import build_digest  # noqa: E402
from intake.settings import load_settings  # noqa: E402

KINDS = ["report", "ledger", "certificate", "inspection", "meeting", "survey", "data_entry", "campaign", "signboard",
         "levy", "service", "adhoc"]
LISTINGS = ["duty", "assist", "assist", "assist", "negative", "unlisted"]
UNITS = [None, "户", "份", "人", "场"]


def seed(path: Path, *, tasks: int, communities: int, seed_value: int = 7) -> None:
    rnd = random.Random(seed_value)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    now = "2026-01-01 00:00:00.000000"
    db.executemany("INSERT INTO communities (id, name, staff, active, created_at) VALUES (?, ?, ?, 1, ?)",
                   [(i, f"社区{i:03d}", rnd.randint(5, 12), now) for i in range(1, communities + 1)])
    departments = [f"部门{i:02d}" for i in range(1, 31)]
    db.executemany("INSERT INTO departments (id, name, active, created_at) VALUES (?, ?, 1, ?)",
                   [(i + 1, name, now) for i, name in enumerate(departments)])
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    span = 365 * 24 * 3600
    batch_t, batch_g = [], []
    target_id = 0
    for task_id in range(1, tasks + 1):
        received = start + dt.timedelta(seconds=rnd.randrange(span))
        kind = rnd.choice(KINDS)
        listing = rnd.choice(LISTINGS)
        status = "refused" if listing == "negative" else ("pending_review" if listing == "unlisted" else "accepted")
        due = (received + dt.timedelta(days=rnd.randint(1, 20))).date()
        unit = rnd.choice(UNITS)
        dep = rnd.randrange(len(departments))
        ts = received.strftime("%Y-%m-%d %H:%M:%S.%f")
        batch_t.append((task_id, f"R-{task_id:09d}", f"m{task_id}", "wechat", dep + 1, departments[dep], "…", kind,
                        "service" if kind == "service" else "administrative", listing, due.isoformat(),
                        rnd.randint(1, 400) if unit else None, unit, int(rnd.random() < 0.3), "[]", "[]", "{}",
                        status, None, int(rnd.random() < 0.05), int(rnd.random() < 0.2), ts, ts, ts))
        for cid in rnd.sample(range(1, communities + 1), rnd.randint(1, 3)):
            target_id += 1
            done = rnd.random() < 0.6 and status == "accepted"
            done_at = (received + dt.timedelta(days=rnd.randint(0, 25))).strftime("%Y-%m-%d %H:%M:%S.%f") if done else None
            t_status = "refused" if status == "refused" else ("done" if done else "open")
            batch_g.append((target_id, task_id, cid, t_status, due.isoformat(), done_at))
        if len(batch_t) >= 50_000 or task_id == tasks:
            db.executemany(
                "INSERT INTO tasks (id, code, msg_id, channel, department_id, department, raw_text, kind, nature, "
                "listing, deadline, quantity_value, quantity_unit, funded, communities, keywords, evidence, status, "
                "duplicate_of, repeat_collection, short_notice, received_at, created_at, updated_at, emergency, "
                "confidence, needs_review, rules_version, corrected) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,0,0.9,0,'',0)", batch_t)
            db.executemany("INSERT INTO task_targets (id, task_id, community_id, status, due_date, done_at) "
                           "VALUES (?,?,?,?,?,?)", batch_g)
            db.commit()
            batch_t.clear()
            batch_g.clear()
    db.execute("ANALYZE")
    db.commit()
    db.close()


async def measure(settings, month: str, communities: int) -> dict[str, float]:
    import sqlalchemy as sa

    engine = create_engine(settings)
    results: dict[str, float] = {}
    try:
        async with engine.connect() as conn:
            t = time.perf_counter()
            total = (await conn.execute(sa.text("SELECT count(*) FROM tasks"))).scalar_one()
            results["count(*)"] = time.perf_counter() - t
            t = time.perf_counter()
            district = await build_digest(conn, month=month, community=None, settings=settings)
            results["district digest"] = time.perf_counter() - t
            t = time.perf_counter()
            await build_digest(conn, month=month, community="社区001", settings=settings)
            results["one community digest"] = time.perf_counter() - t
            t = time.perf_counter()
            for i in range(1, communities + 1):
                await build_digest(conn, month=month, community=f"社区{i:03d}", settings=settings)
            results[f"all {communities} community digests"] = time.perf_counter() - t
        print(f"tasks: {total:,}; {month}: {district.tasks:,} tasks, {district.assignments:,} assignments, "
              f"{len(district.league)} departments")
    finally:
        await engine.dispose()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--communities", type=int, default=100)
    parser.add_argument("--month", default="2026-06")
    parser.add_argument("--db", type=Path, default=None, help="reuse/keep this SQLite file")
    args = parser.parse_args()
    path = args.db or Path(tempfile.mkdtemp(prefix="jianfu-bench-")) / "bench.db"
    settings = load_settings(ROOT / "config.toml", environ={"JIANFU_DATABASE_URL": f"sqlite:///{path}"})
    if not path.exists():
        upgrade_database(settings)
        t = time.perf_counter()
        seed(path, tasks=args.tasks, communities=args.communities)
        print(f"seeded {args.tasks:,} tasks in {time.perf_counter() - t:.1f} s → {path}")
    results = asyncio.run(measure(settings, args.month, args.communities))
    width = max(len(k) for k in results)
    for name, seconds in results.items():
        print(f"{name:<{width}}  {seconds:7.3f} s  ({seconds / results['count(*)']:.1f}× count(*))")
    ok = results["district digest"] < 3.0
    print("target (district digest < 3 s):", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
