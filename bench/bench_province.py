"""Province-scale simulation (issue 14, part 6): 10,000 communities in 500 streets in 50 districts, 1,000
departments (20 a district, each sending to its own district's communities), 10,000,000 tasks on PostgreSQL.

    .venv/bin/python bench/bench_province.py                          # 10,000,000 tasks (long: see the README)
    .venv/bin/python bench/bench_province.py --tasks 1000000 2000000  # two sizes: measured scaling, extrapolated
    .venv/bin/python bench/bench_province.py --pg-url postgresql+asyncpg://user@host/db   # an existing server
    JIANFU_BENCH_PROVINCE=1000000,2000000 make bench                   # the same, opt-in from `make bench`

For each size, a throwaway cluster (or the database given) is migrated and seeded in the server with
``bench_digest.py``'s generator (``INSERT … SELECT`` over ``generate_series``: the rows are made where
they are stored, no client round trip per row), tasks spread over 2026, 1–3 communities each. Then:

* the database's size on disk (tables and indexes), per million tasks;
* all monthly digests of one month — the whole deployment's, every one of the 10,000 communities' and
  every one of the 500 streets' (``build_monthly_digests(streets=True)``, as the scheduler runs it on the
  1st: one reading of the month, grouped by community and by street) — cold, then warm;
* one ``jianfu serve`` process on the same database answering bound clerks' notices (``wrk``,
  16 connections): idle, then while the monthly digests are built beside it; p50 / p99 / max
  and errors of both, and the server's resident memory.

With two or more sizes, every figure is also extrapolated linearly to ``--target`` tasks from
the two largest (the slope per million tasks is printed). Figures go to
``bench/results_province.json`` and, last, as one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import sqlalchemy as sa  # noqa: E402

from bench.bench_digest import NOW, _settings, seed  # noqa: E402
from intake.reports.digest import build_monthly_digests  # noqa: E402
from intake.scheduler import make_scheduler_lock  # noqa: E402
from intake.store.db import create_engine  # noqa: E402
from tests.pgcluster import PgCluster  # noqa: E402
from tests.serverproc import ServerProcess  # noqa: E402

RESULTS = ROOT / "bench" / "results_province.json"
TARGET_S = 60.0
SERIAL_TABLES = ("districts", "streets", "departments", "communities", "tasks", "task_targets")
SIZE_SQL = ("SELECT pg_database_size(current_database()) AS database, pg_total_relation_size('tasks') AS tasks, "
            "pg_total_relation_size('task_targets') AS task_targets, "
            "(SELECT count(*) FROM task_targets) AS assignments")


@contextlib.contextmanager
def province_cluster() -> Iterator[str]:
    """A throwaway cluster sized like a small province server (durable commits; fsync off as in every bench)."""
    options = ("-c max_connections=200 -c shared_buffers=1GB -c work_mem=64MB -c maintenance_work_mem=512MB "
               "-c max_wal_size=8GB -c effective_cache_size=8GB")
    with PgCluster.throwaway(options=options) as cluster:
        yield cluster.create_database("province")


async def after_seed(url: str) -> dict[str, int]:
    """Sequences past the seeded ids (the server adds rows too), and the sizes on disk."""
    settings = _settings(url)
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            for table in SERIAL_TABLES:
                await conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            row = (await conn.execute(sa.text(SIZE_SQL))).one()
    finally:
        await engine.dispose()
    return {"database_bytes": int(row.database), "tasks_bytes": int(row.tasks),
            "task_targets_bytes": int(row.task_targets), "assignments": int(row.assignments)}


async def monthly_digests(url: str, *, month: str) -> tuple[float, int, float]:
    """Seconds to build the district's, every community's and every street's digest of `month` (as the
    scheduler's monthly run builds them), how many were built, and this process's CPU seconds (the Python side:
    on a shared machine the wall time also holds the other processes' turns)."""
    settings = _settings(url)
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            began, cpu = time.perf_counter(), time.process_time()
            digests = await build_monthly_digests(conn, month=month, settings=settings, now=NOW, streets=True)
            return time.perf_counter() - began, len(digests), time.process_time() - cpu
    finally:
        await engine.dispose()


class Intake:
    """One `jianfu serve` on the seeded database and the wrk load of `make bench` (bench/run_all.py)."""

    def __init__(self, url: str, work: Path) -> None:
        import run_all

        self.run_all = run_all
        self.url = url
        self.settings = run_all.bench_settings(url)
        self.server = ServerProcess(env=run_all.bench_env(url), log_path=work / "jianfu-province.log")
        self.work = work
        self.data = ""
        self.load: Any = None

    def start(self) -> None:
        self.server.start(timeout=180)
        users = asyncio.run(self.bound_clerks())
        self.load = self.run_all.Load(self.settings, self.work, users)
        # notices that name their communities: "请各社区…" would address all 10,000 (a province-wide department's
        # notice goes to its own district's communities once the org tree of issue 17 scopes "各社区")
        self.load.notices = [n for n in self.load.notices if "各社区" not in n]
        self.data = str(self.load.plain_data())
        self.run(2)  # warm-up: jieba, caches, pools

    async def bound_clerks(self) -> list[str]:
        """Clerks of the bench's departments, bound as `绑定 CODE` binds them (written directly: on a loaded
        machine a cold server's first replies may miss the 4 s budget, and the bench must not depend on that)."""
        from intake.store.models import ACCOUNTS, DEPARTMENTS

        engine = create_engine(self.settings)
        users = [f"o-prov-{i:03d}" for i in range(self.run_all.CLERKS)]
        try:
            async with engine.begin() as conn:
                ids = {str(r.name): int(r.id) for r in await conn.execute(sa.select(DEPARTMENTS.c.id, DEPARTMENTS.c.name))}
                names = self.run_all.DEPARTMENTS
                await conn.execute(sa.insert(ACCOUNTS), [
                    {"channel": "wechat", "external_id": user, "role": "clerk", "active": True,
                     "department_id": ids[names[i % len(names)]], "bound_at": NOW} for i, user in enumerate(users)])
        finally:
            await engine.dispose()
        return users

    def run(self, seconds: float) -> dict[str, Any]:
        figures: dict[str, Any] = self.run_all.wrk(self.server.url, 16, seconds,
                                                   ["plain", self.data, self.load.next_base()], core=None)
        return figures

    def stop(self) -> None:
        self.server.stop()


async def intake_during_digests(url: str, work: Path, *, month: str, seconds: float) -> dict[str, Any]:
    """The chat edge's latency idle, then while every monthly digest is built (here, beside the server)."""
    intake = Intake(url, work)
    lock_engine = create_engine(intake.settings)
    lock = make_scheduler_lock(intake.settings, lock_engine)
    holds = await lock.acquire()  # the server runs no sweep over the seeded log
    try:
        await asyncio.to_thread(intake.start)
        idle = await asyncio.to_thread(intake.run, seconds)
        load = asyncio.ensure_future(asyncio.to_thread(intake.run, seconds))
        built, _, _ = await monthly_digests(url, month=month)
        during = await load
        rss = round(intake.server.rss_kib() / 1024, 1)
    finally:
        intake.stop()
        if holds:
            await lock.release()
        await lock_engine.dispose()
    return {"idle": idle, "during_digests": during, "digests_beside_load_s": round(built, 2),
            "server_rss_mib": rss}


def run_size(tasks: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    with contextlib.ExitStack() as stack:
        url = args.pg_url or stack.enter_context(province_cluster())
        settings = _settings(url)
        print(f"[province] seeding {tasks:,} tasks, {args.communities:,} communities, {args.departments:,} "
              f"departments …", flush=True)
        seeded = asyncio.run(seed(settings, tasks=tasks, communities=args.communities, departments=args.departments,
                                  districts=args.districts, streets=args.streets))
        sizes = asyncio.run(after_seed(url))
        print(f"[province] seeded in {seeded:.0f} s; database {sizes['database_bytes'] / 2**30:.2f} GiB", flush=True)
        load = [round(x, 2) for x in os.getloadavg()]
        cold, count, cold_cpu = asyncio.run(monthly_digests(url, month=args.month))
        warm, _, warm_cpu = asyncio.run(monthly_digests(url, month=args.month))
        print(f"[province] {count} digests of {args.month}: cold {cold:.1f} s, warm {warm:.1f} s (Python CPU "
              f"{cold_cpu:.1f} / {warm_cpu:.1f} s; load average {load})", flush=True)
        chat = asyncio.run(intake_during_digests(url, work / f"n{tasks}", month=args.month,
                                                 seconds=max(5.0, min(warm, 60.0))))
        print(f"[province] intake p99 idle {chat['idle']['p99_ms']} ms, during digests "
              f"{chat['during_digests']['p99_ms']} ms", flush=True)
    return {"tasks": tasks, "seed_s": round(seeded, 1), **sizes, "digests": count,
            "digests_cold_s": round(cold, 2), "digests_warm_s": round(warm, 2),
            "digests_python_cpu_s": [round(cold_cpu, 2), round(warm_cpu, 2)], "load_average_before_digests": load,
            "intake": chat,
            "gib_per_million_tasks": round(sizes["database_bytes"] / 2**30 / (tasks / 1e6), 3)}


def extrapolate(results: list[dict[str, Any]], target: int) -> dict[str, Any] | None:
    """Linear in the task count through the two largest measured sizes (slope per million tasks)."""
    if len(results) < 2:
        return None
    small, large = sorted(results, key=lambda r: r["tasks"])[-2:]
    span = (large["tasks"] - small["tasks"]) / 1e6
    out: dict[str, Any] = {"target_tasks": target, "from_sizes": [small["tasks"], large["tasks"]]}
    for key in ("digests_cold_s", "digests_warm_s", "database_bytes", "seed_s"):
        slope = (large[key] - small[key]) / span
        out[key] = round(large[key] + slope * (target - large["tasks"]) / 1e6, 1)
        out[f"{key}_per_million"] = round(slope, 3)
    return out


def verdicts(results: list[dict[str, Any]], projection: dict[str, Any] | None, target: int) -> list[str]:
    lines = []
    for r in results:
        chat = r["intake"]
        lines.append(f"{'MET   ' if r['digests_warm_s'] < TARGET_S else 'MISSED'} all {r['digests']} monthly "
                     f"digests at {r['tasks']:,} tasks < {TARGET_S:.0f} s: cold {r['digests_cold_s']} s, "
                     f"warm {r['digests_warm_s']} s (measured)")
        errors = sum(chat["during_digests"][k] for k in ("errors", "non2xx"))
        lines.append(f"       intake p99 {chat['idle']['p99_ms']} ms idle, {chat['during_digests']['p99_ms']} ms while "
                     f"they were built ({chat['during_digests']['rps']:.0f} msg/s, {errors} errors)")
    if projection is not None and not any(r["tasks"] >= target for r in results):
        cold = projection["digests_cold_s"]
        lines.append(f"{'MET   ' if cold < TARGET_S else 'MISSED'} at {target:,} tasks, extrapolated: cold "
                     f"{cold} s, warm {projection['digests_warm_s']} s; database "
                     f"{projection['database_bytes'] / 2**30:.1f} GiB (not measured at that size)")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, nargs="+", default=[10_000_000], help="sizes to seed and measure")
    parser.add_argument("--target", type=int, default=10_000_000, help="the size extrapolated to")
    parser.add_argument("--communities", type=int, default=10_000)
    parser.add_argument("--departments", type=int, default=1_000)
    parser.add_argument("--districts", type=int, default=50, help="the tree: districts → streets → communities")
    parser.add_argument("--streets", type=int, default=500)
    parser.add_argument("--month", default="2026-06")
    parser.add_argument("--pg-url", help="an existing, empty database (one size only)")
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a stopped bench still stops its cluster and server
    if args.pg_url and len(args.tasks) > 1:
        parser.error("--pg-url takes one size: the database is seeded once")
    began = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="jianfu-province-"))
    results = []
    out: dict[str, Any] = {}
    for tasks in sorted(args.tasks):
        (work / f"n{tasks}").mkdir()
        results.append(run_size(tasks, args, work))
        projection = extrapolate(results, args.target)
        out = {"benchmark": "province", "communities": args.communities, "departments": args.departments,
               "districts": args.districts, "streets": args.streets,
               "month": args.month, "load_average": [round(x, 2) for x in os.getloadavg()], "results": results,
               "extrapolated": projection, "total_s": round(time.monotonic() - began, 1),
               "verdicts": verdicts(results, projection, args.target)}
        # after every size: a long run stopped part way keeps what it measured
        args.json.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print("\n".join(out["verdicts"]))
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
