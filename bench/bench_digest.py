"""Digest benchmark: 100 communities over 1,000,000 tasks, on SQLite and on PostgreSQL.

    .venv/bin/python bench/bench_digest.py                      # both databases, defaults below
    .venv/bin/python bench/bench_digest.py --only sqlite --tasks 200000
    .venv/bin/python bench/bench_digest.py --pg-url postgresql+asyncpg://user@host/db   # an existing server

Each database is seeded in a temporary place (SQLite: a temp file; PostgreSQL: a throwaway
cluster started from ``initdb``/``pg_ctl`` like the tests do, unless ``--pg-url`` is given)
with the same SQL: tasks spread evenly over 2026 in arrival order (ids follow ``received_at``
as they do in production), 1–3 communities each, 30 departments, 12 kinds. Then, in the
same run and on the same connection, it times (best of ``--repeat`` runs, after one cold
monthly run that is reported too):

* ``SELECT count(*) FROM tasks`` — the yardstick;
* the district digest of one month;
* one community's digest;
* the monthly run: the district and every community's digest (``build_monthly_digests``,
  a few GROUP BY queries grouped by community) — what the scheduler does on the 1st;
* ``--one-by-one N`` community digests built separately (``build_digest`` each, default 10), to
  compare with the batched run.

Prints a table, writes the figures to ``bench/results_digest.json`` (``--json`` to move it) and
prints them as one JSON line last.
Defaults: 1,000,000 tasks on SQLite, 1,000,000 on PostgreSQL (``--pg-tasks`` to change).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bot.settings import Settings, load_settings  # noqa: E402
from intake.reports.digest import build_digest, build_monthly_digests  # noqa: E402
from intake.store.db import create_engine, upgrade_database  # noqa: E402
from tests.pgcluster import PgCluster  # noqa: E402

KINDS = ["report", "ledger", "certificate", "inspection", "meeting", "survey", "data_entry", "campaign", "signboard",
         "levy", "service", "adhoc"]
LISTINGS = ["duty", "assist", "assist", "assist", "negative", "unlisted"]
UNITS = [None, "户", "份", "人", "场"]
# what a seeded notice asks for: the intake log's search finds these words (one subject in 40 is rare)
SUBJECTS = ["高龄老人花名册", "低保对象统计表", "消防安全检查", "垃圾分类宣传", "疫苗接种情况", "退役军人信息采集",
            "文明城市创建台账", "防汛值班安排", "人口普查入户登记", "反诈宣传进社区", "志愿服务时长统计", "残疾人补贴核查",
            "食品安全排查", "燃气管道巡查", "独居老人走访", "出租房屋登记", "禁毒知识答题", "养老保险缴费提醒",
            "社区议事会议", "电动车充电隐患排查"] * 2
SUBJECTS[-1] = "古树名木保护调查"
DEPARTMENTS = 30
YEAR_START = int(dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp())
YEAR_SECONDS = 365 * 24 * 3600
RESULTS = ROOT / "bench" / "results_digest.json"
NOW = dt.datetime(2027, 1, 10, tzinfo=dt.UTC)  # after the seeded year: every month is closed


# --- seeding: one INSERT … SELECT per table, deterministic "random" columns from hashes of the id ---------


def _h(salt: int) -> str:
    """A deterministic pseudo-random non-negative integer of the row number ``n`` (same on both databases)."""
    return f"((n * {2654435761 + 2 * salt} + {40503 * (salt + 1)}) % 1000003)"


def _pick(salt: int, values: list[Any]) -> str:
    cases = " ".join(f"WHEN {i} THEN {_lit(v)}" for i, v in enumerate(values))
    return f"(CASE {_h(salt)} % {len(values)} {cases} END)"


def _lit(value: Any) -> str:
    return "NULL" if value is None else "'" + str(value).replace("'", "''") + "'"


def _numbers(dialect: str, count: int) -> str:
    if dialect == "postgresql":
        return f"generate_series(1, {count}) AS seq(n)"
    return f"(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {count}) SELECT n FROM s) AS seq"


def _timestamp(dialect: str, epoch: str) -> str:
    if dialect == "postgresql":
        return f"to_timestamp({epoch})"
    # SQLAlchemy's SQLite DateTime text format, so comparisons with bound parameters are exact
    return f"(strftime('%Y-%m-%d %H:%M:%S', {epoch}, 'unixepoch') || '.000000')"


def _date(dialect: str, epoch: str) -> str:
    if dialect == "postgresql":
        return f"(DATE '1970-01-01' + (({epoch}) / 86400)::int)"
    return f"date({epoch}, 'unixepoch')"


def seed_statements(dialect: str, *, tasks: int, communities: int, departments: int = DEPARTMENTS,
                    districts: int = 0, streets: int = 0) -> list[str]:
    """The INSERTs that fill departments, communities, tasks and task_targets (社区001…, 社区00001… past 999);
    with `districts` and `streets`, the organisation tree too (:func:`_tree_statements`)."""
    step = YEAR_SECONDS // tasks
    received = f"({YEAR_START} + (n - 1) * {step} + {_h(1)} % {step})"
    due = f"({received} + (1 + {_h(2)} % 20) * 86400)"
    listing = f"({_h(3)} % {len(LISTINGS)})"
    status = (f"(CASE WHEN {listing} = 4 THEN 'refused' WHEN {listing} = 5 THEN 'pending_review' "
              f"ELSE 'accepted' END)")
    kind = _pick(4, KINDS)
    unit_index = f"({_h(5)} % {len(UNITS)})"
    department = f"(1 + {_h(6)} % {departments})"
    width = max(3, len(str(communities)))
    ts = _timestamp(dialect, received)
    padded = "substr(CAST(1000000000 + n AS TEXT), 2)"  # zero-padded: the unique indexes fill in order
    created = _timestamp(dialect, str(YEAR_START))
    tree = _tree_statements(dialect, communities=communities, districts=districts, streets=streets, created=created)
    street_of = f"1 + (n - 1) / {communities // streets}" if districts else "NULL"
    district_of = f"1 + (n - 1) % {districts}" if districts else "NULL"
    statements = [
        *tree,
        f"INSERT INTO departments (id, name, level, district_id, active, created_at) "
        f"SELECT n, '部门' || CAST(n AS TEXT), 'district', {district_of}, TRUE, {created} "
        f"FROM {_numbers(dialect, departments)}",
        f"INSERT INTO communities (id, name, street_id, staff, active, created_at) "
        f"SELECT n, '社区' || substr(CAST({10 ** width} + n AS TEXT), 2), {street_of}, 5 + {_h(0)} % 8, TRUE, "
        f"{created} FROM {_numbers(dialect, communities)}",
        "INSERT INTO tasks (id, code, msg_id, channel, department_id, department, raw_text, kind, nature, listing, "
        "deadline, quantity_value, quantity_unit, funded, emergency, communities, keywords, evidence, confidence, "
        "needs_review, rules_version, status, duplicate_of, repeat_collection, short_notice, corrected, received_at, "
        "created_at, updated_at) "
        f"SELECT n, 'R-' || {padded}, 'm' || {padded}, 'wechat', {department}, "
        f"'部门' || CAST({department} AS TEXT), '【部门' || CAST({department} AS TEXT) || '】请各社区报送' || "
        f"{_pick(15, SUBJECTS)} || ',逾期将通报。', {kind}, "
        f"CASE WHEN {kind} = 'service' THEN 'service' ELSE 'administrative' END, "
        f"{_pick(3, LISTINGS)}, {_date(dialect, due)}, "
        f"CASE WHEN {unit_index} = 0 THEN NULL ELSE 1 + {_h(7)} % 400 END, {_pick(5, UNITS)}, "
        f"({_h(8)} % 10 < 3), FALSE, '[]', '[]', '{{}}', 0.9, FALSE, '', {status}, NULL, ({_h(9)} % 20 = 0), "
        f"({_h(10)} % 5 = 0), FALSE, {ts}, {ts}, {ts} "
        f"FROM {_numbers(dialect, tasks)}",
    ]
    # 1–3 distinct communities per task: offsets j·(C div 3) for j = 1..3 are distinct modulo C (C >= 3);
    # with a tree, C is the department's district's communities, numbered from its first
    share = communities // districts if districts else communities
    spread = max(1, share // 3)
    first = f"(({department} - 1) % {districts}) * {share}" if districts else "0"
    done = f"({_h(11)} % 10 < 6 AND {status} = 'accepted')"
    statements.append(
        "INSERT INTO task_targets (task_id, community_id, status, due_date, done_at) "
        f"SELECT n, 1 + {first} + ({_h(12)} + j * {spread}) % {share}, "
        f"CASE WHEN {status} = 'refused' THEN 'refused' WHEN {done} THEN 'done' ELSE 'open' END, "
        f"{_date(dialect, due)}, "
        f"CASE WHEN {done} THEN {_timestamp(dialect, f'({received} + ({_h(13)} % 26) * 86400 + j * 3600)')} END "
        f"FROM {_numbers(dialect, tasks)} "
        "JOIN (SELECT 1 AS j UNION ALL SELECT 2 UNION ALL SELECT 3) AS k "
        f"ON k.j <= 1 + {_h(14)} % 3"
    )
    return statements


def _tree_statements(dialect: str, *, communities: int, districts: int, streets: int, created: str) -> list[str]:
    """区001… → 街道0001… → the communities in order (each count dividing the next); department d belongs to
    district d mod `districts` and sends its tasks to that district's communities (seed_statements)."""
    if not districts:
        return []
    if streets % districts or communities % streets or communities // districts < 3:
        raise ValueError("districts must divide streets, streets divide communities, 3+ communities a district")
    return [
        "DELETE FROM streets", "DELETE FROM districts",  # a migrated empty database has none; a reseed starts over
        f"INSERT INTO districts (id, name, created_at) SELECT n, '区' || substr(CAST(1000 + n AS TEXT), 2), {created} "
        f"FROM {_numbers(dialect, districts)}",
        f"INSERT INTO streets (id, district_id, name, created_at) SELECT n, 1 + (n - 1) / {streets // districts}, "
        f"'街道' || substr(CAST(10000 + n AS TEXT), 2), {created} FROM {_numbers(dialect, streets)}",
    ]


def _seed_sqlite(path: str, statements: list[str]) -> None:
    # the stdlib driver, so foreign-key checks can be switched off for the bulk load (outside any transaction)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in ("foreign_keys = OFF", "journal_mode = WAL", "synchronous = OFF", "cache_size = -1000000"):
            db.execute(f"PRAGMA {pragma}")
        db.execute("BEGIN")
        for statement in statements:
            db.execute(statement)
        db.execute("COMMIT")
        db.execute("ANALYZE")
    finally:
        db.close()


async def seed(settings: Settings, *, tasks: int, communities: int, departments: int = DEPARTMENTS,
               districts: int = 0, streets: int = 0) -> float:
    """Migrate and fill the database; returns the seconds it took."""
    started = time.perf_counter()
    await asyncio.to_thread(upgrade_database, settings)
    url = settings.database_url
    if url.startswith("sqlite"):
        statements = seed_statements("sqlite", tasks=tasks, communities=communities, departments=departments,
                                     districts=districts, streets=streets)
        await asyncio.to_thread(_seed_sqlite, url.split(":///", 1)[1], statements)
        return time.perf_counter() - started
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            try:  # a superuser may skip the per-row foreign-key triggers of the bulk load
                await conn.exec_driver_sql("SET session_replication_role = replica")
                await conn.commit()
            except sa.exc.DBAPIError:
                await conn.rollback()
            for statement in seed_statements("postgresql", tasks=tasks, communities=communities,
                                             departments=departments, districts=districts, streets=streets):
                await conn.exec_driver_sql(statement)
            await conn.commit()
            await conn.exec_driver_sql("RESET session_replication_role")
            await conn.commit()
        async with engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.exec_driver_sql("VACUUM ANALYZE")
    finally:
        await engine.dispose()
    return time.perf_counter() - started


# --- timing ----------------------------------------------------------------------------------------------


async def measure(settings: Settings, *, month: str, one_by_one: int, repeat: int) -> dict[str, Any]:
    """Best of `repeat` wall-clock runs of each step (the machine may be shared), after one cold monthly run."""
    engine = create_engine(settings)
    timings: dict[str, float] = {}
    try:
        async with engine.connect() as conn:

            async def best(label: str, step: Callable[[], Awaitable[Any]]) -> Any:
                result, fastest = None, float("inf")
                for _ in range(repeat):
                    t = time.perf_counter()
                    result = await step()
                    fastest = min(fastest, time.perf_counter() - t)
                timings[label] = fastest
                return result

            t = time.perf_counter()
            monthly = await build_monthly_digests(conn, month=month, settings=settings, now=NOW)
            timings[f"monthly run, cold (first, district + {len(monthly) - 1} communities)"] = time.perf_counter() - t
            timings = {"count(*)": 0.0, **timings}
            total = int(await best("count(*)", lambda: _count(conn)))
            district = await best("district digest", lambda: build_digest(conn, month=month, community=None,
                                                                          settings=settings, now=NOW))
            await best("one community digest", lambda: build_digest(conn, month=month, community="社区001",
                                                                    settings=settings, now=NOW))
            await best(f"monthly run: district + {len(monthly) - 1} communities",
                       lambda: build_monthly_digests(conn, month=month, settings=settings, now=NOW))
            if one_by_one:

                async def separately() -> None:
                    for i in range(1, one_by_one + 1):
                        await build_digest(conn, month=month, community=f"社区{i:03d}", settings=settings, now=NOW)

                await best(f"{one_by_one} community digests one by one", separately)
    finally:
        await engine.dispose()
    return {
        "tasks": total, "month": month, "month_tasks": district.tasks, "month_assignments": district.assignments,
        "repeat": repeat, "load_average": _load(), "timings_s": {k: round(v, 4) for k, v in timings.items()},
    }


async def _count(conn: Any) -> int:
    return int((await conn.execute(sa.text("SELECT count(*) FROM tasks"))).scalar_one())


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# --- databases -------------------------------------------------------------------------------------------


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A throwaway PostgreSQL cluster tuned for bulk seeding (tests/pgcluster.py), with one database."""
    options = ("-c synchronous_commit=off -c shared_buffers=512MB -c work_mem=64MB "
               "-c maintenance_work_mem=256MB -c max_wal_size=4GB")
    with PgCluster.throwaway(options=options) as cluster:
        yield cluster.create_database("jianfu_bench")


def _settings(url: str) -> Settings:
    return load_settings(ROOT / "config.toml", environ={"JIANFU_DATABASE_URL": url,
                                                       "JIANFU_SERVER_ENVIRONMENT": "test"})


def run_one(name: str, url: str, args: argparse.Namespace, tasks: int, *, fresh: bool) -> dict[str, Any]:
    settings = _settings(url)
    seeded = None
    if fresh:
        print(f"[{name}] seeding {tasks:,} tasks, {args.communities} communities …", flush=True)
        seeded = asyncio.run(seed(settings, tasks=tasks, communities=args.communities))
        print(f"[{name}] seeded in {seeded:.1f} s", flush=True)
    result = asyncio.run(measure(settings, month=args.month, one_by_one=min(args.one_by_one, args.communities),
                                 repeat=args.repeat))
    result = {"database": name, "seed_s": None if seeded is None else round(seeded, 1), **result}
    print_table(result)
    return result


def print_table(result: dict[str, Any]) -> None:
    timings = result["timings_s"]
    base = timings["count(*)"] or 1e-9
    print(f"\n{result['database']}: {result['tasks']:,} tasks; {result['month']}: {result['month_tasks']:,} tasks, "
          f"{result['month_assignments']:,} assignments")
    width = max(len(k) for k in timings)
    print(f"  {'':<{width}}  {'seconds':>9}  {'× count(*)':>10}")
    for name, seconds in timings.items():
        print(f"  {name:<{width}}  {seconds:9.3f}  {seconds / base:10.1f}")
    print(flush=True)


def _machine() -> dict[str, Any]:
    model = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"cpus": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "sqlite": __import__("sqlite3").sqlite_version}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1_000_000, help="tasks on SQLite (default 1,000,000)")
    parser.add_argument("--pg-tasks", type=int, default=None, help="tasks on PostgreSQL (default: --tasks)")
    parser.add_argument("--communities", type=int, default=100)
    parser.add_argument("--month", default="2026-06")
    parser.add_argument("--only", choices=("sqlite", "postgresql"), default=None)
    parser.add_argument("--db", type=Path, default=None, help="SQLite file to reuse (seeded when missing, kept)")
    parser.add_argument("--pg-url", default=None, help="an existing, migrated-or-empty PostgreSQL database to seed")
    parser.add_argument("--one-by-one", type=int, default=10, metavar="N",
                        help="also time N community digests built separately, the old way (default 10; 0: skip)")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs per step (default 3)")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"where to write the figures (default {RESULTS})")
    args = parser.parse_args(argv)
    if args.communities < 3:
        parser.error("--communities must be at least 3")
    started = time.perf_counter()
    results: list[dict[str, Any]] = []
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory(prefix="jianfu-bench-") as tmp:
            path = args.db or Path(tmp) / "bench.db"
            results.append(run_one("sqlite", f"sqlite:///{path}", args, args.tasks, fresh=not path.exists()))
    if args.only in (None, "postgresql"):
        pg_tasks = args.pg_tasks or args.tasks
        if args.pg_url:
            results.append(run_one("postgresql", args.pg_url, args, pg_tasks, fresh=True))
        else:
            with throwaway_postgres() as url:
                results.append(run_one("postgresql", url, args, pg_tasks, fresh=True))
    sqlite_run = next((r for r in results if r["database"] == "sqlite"), None)
    monthly = None if sqlite_run is None else next(
        v for k, v in sqlite_run["timings_s"].items() if k.startswith("monthly run:"))
    report = {
        "benchmark": "digest", "communities": args.communities, "machine": _machine(),
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "total_s": round(time.perf_counter() - started, 1), "results": results,
        "target": "monthly run (district + all communities) under 3 s on SQLite",
        "target_met": None if monthly is None else monthly < 3.0,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"figures written to {args.json} (total {report['total_s']} s)")
    if monthly is not None:
        print(f"target (monthly run < 3 s on SQLite, {args.tasks:,} tasks):", "met" if monthly < 3.0 else "MISSED")
    print(json.dumps(report, ensure_ascii=False))  # last line: the figures, for bench/run_all.py
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
