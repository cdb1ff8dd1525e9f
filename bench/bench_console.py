"""Console pages and the chat edge at scale: a real `jianfu serve` over a seeded log, SQLite or PostgreSQL.

    .venv/bin/python bench/bench_console.py --db /tmp/b1m.db        # seeded by bench_digest.py when missing
    .venv/bin/python bench/bench_console.py --pg --tasks 10000000   # a throwaway PostgreSQL cluster (long)

1. Each console page is timed (first answer, then the best of ``--repeat``) while logged in: the
   dashboard (this month and any month), the log with filters, search and a deep page, review,
   lists, directory, accounts, digests, one digest and the ledger.
2. ``/healthz`` and a bound clerk's ``/wechat`` notice are sent every ``--probe-ms`` while the server
   is idle (the baseline), while it builds a dashboard of months without rollups, and while it builds a
   month's district digest (the monthly run's one pass over every community). Their p50/p99/max show
   whether the chat edge waits on reporting.

Prints a table and writes ``bench/results_console.json`` (``--json``). Load average is recorded with it.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bench.bench_digest import _settings, seed  # noqa: E402
from intake.reports.rollups import KEEP_MONTHS, count_open_month, refresh_rollups  # noqa: E402
from intake.scheduler import make_scheduler_lock  # noqa: E402
from tests.console_support import PASSWORD, add_user, csrf_of  # noqa: E402
from tests.fake_wechat_api import running_services  # noqa: E402
from tests.peer import WeChatPeer, text_xml  # noqa: E402
from tests.serverproc import ServerProcess  # noqa: E402

RESULTS = ROOT / "bench" / "results_console.json"
TARGET_MS = 300.0  # issue 14: every console page at 1,000,000 tasks on SQLite
PG_TARGET_MS = 1000.0  # and at 10,000,000 on PostgreSQL
PAGES = [
    ("dashboard, this month", "/admin/"),
    ("dashboard, 2026-06", "/admin/?month=2026-06"),
    ("dashboard, one community", "/admin/?month=2026-06&community=社区001"),
    ("log", "/admin/tasks"),
    ("log, filters", "/admin/tasks?kind=survey&department=部门3&month=2026-06"),
    ("log, 200 pages in (cursor)", "/admin/tasks?after={deep}&n=201"),
    ("log, search: a common word", "/admin/tasks?q=花名册"),
    ("log, search: a rare word", "/admin/tasks?q=古树"),
    ("log, search + filters", "/admin/tasks?q=消防&status=accepted&month=2026-06"),
    ("log, search: a task code", "/admin/tasks?q=R-000500000"),
    ("review", "/admin/review"),
    ("lists", "/admin/lists"),
    ("directory", "/admin/directory"),
    ("accounts", "/admin/accounts"),
    ("digests", "/admin/digests"),
    ("digest page, 2026-06 district (sent)", "/admin/digests/2026-06/district"),
    ("digest page, 2026-06 one community (sent)", "/admin/digests/2026-06/社区001"),
    ("digest page, 2026-06 district, ?fresh=1 (built from the log on request)", "/admin/digests/2026-06/district?fresh=1"),
    ("ledger", "/admin/ledger?community=社区001"),
]
NOTICE = "【区民政局】请各社区于{day}日前报送辖区高龄老人花名册,共{n}人。"


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


async def _login(session: aiohttp.ClientSession) -> None:
    token = csrf_of(await (await session.get("/admin/login")).text())
    resp = await session.post("/admin/login", data={"username": "wang", "password": PASSWORD, "csrf_token": token,
                                                    "next": "/admin/"}, allow_redirects=False)
    assert resp.status == 303, await resp.text()


async def _timed(session: aiohttp.ClientSession, path: str) -> tuple[float, int]:
    t = time.perf_counter()
    async with session.get(path) as resp:
        await resp.read()
        return time.perf_counter() - t, resp.status


async def _until_ready(session: aiohttp.ClientSession, path: str, *, every_s: float = 0.2) -> float:
    """Seconds until `path` answers 200 (a digest built in the background answers 202 meanwhile)."""
    t = time.perf_counter()
    while (await _timed(session, path))[1] == 202:
        await asyncio.sleep(every_s)
    return time.perf_counter() - t


async def time_pages(session: aiohttp.ClientSession, repeat: int, *, deep: str,
                     target_ms: float = TARGET_MS) -> dict[str, dict[str, Any]]:
    """Each page's first answer and best of `repeat` more, against `target_ms` (judged on the best: the
    machine is shared, and the first answer also warms the database's page cache)."""
    result: dict[str, dict[str, Any]] = {}
    print(f"  {'page':<34} {'first':>10} {'best':>10}  target {target_ms:.0f} ms", flush=True)
    for name, path in PAGES:
        path = path.format(deep=deep)
        first, status = await _timed(session, path)
        ready = first + await _until_ready(session, path) if status == 202 else None  # built in the background
        best = min([first] + [(await _timed(session, path))[0] for _ in range(repeat)])
        met = best * 1000 < target_ms and status in (200, 202)
        result[name] = {"first_ms": round(first * 1000, 1), "best_ms": round(best * 1000, 1), "status": status,
                        "target_ms": target_ms, "met": met,
                        **({"ready_ms": round(ready * 1000, 1)} if ready is not None else {})}
        print(f"  {name:<34} {first * 1000:8.1f} ms {best * 1000:8.1f} ms  {'met' if met else 'MISSED'}"
              f"{'' if status == 200 else f' (HTTP {status}, the digest there after {ready:.1f} s)'}", flush=True)
    return result


async def _deep_cursor(engine: Any, rows: int = 6000) -> str:
    """The log's cursor after `rows` rows (200 pages of 30), as a "下一页" link would carry it."""
    from intake.reports.paging import Cursor
    from intake.store.models import TASKS

    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(TASKS.c.id, TASKS.c.received_at)
                                  .order_by(TASKS.c.received_at.desc(), TASKS.c.id.desc()).offset(rows - 1).limit(1))).one()
    return Cursor.of(row).token()


async def probe(server: ServerProcess, peer: WeChatPeer, clerk: str, work: Callable[[], Awaitable[Any]] | None,
                *, seconds: float, every_ms: float) -> dict[str, Any]:
    """/healthz and /wechat latencies sampled while `work` runs (or for `seconds` when idle)."""
    health: list[float] = []
    wechat: list[float] = []
    stop = asyncio.Event()

    async def sample(session: aiohttp.ClientSession) -> None:
        n = 0
        while not stop.is_set():
            t = time.perf_counter()
            async with session.get("/healthz") as resp:
                await resp.read()
            health.append(time.perf_counter() - t)
            if n % 5 == 0:
                t = time.perf_counter()
                reply = await peer.post_wechat(session, text_xml(from_user=clerk, content=NOTICE.format(
                    day=20 + n % 8, n=n)))
                assert reply.status == 200
                wechat.append(time.perf_counter() - t)
            n += 1
            await asyncio.sleep(every_ms / 1000)

    async with aiohttp.ClientSession(server.url) as session:
        sampler = asyncio.create_task(sample(session))
        started = time.perf_counter()
        if work is None:
            await asyncio.sleep(seconds)
        else:
            await work()
        took = time.perf_counter() - started
        stop.set()
        await sampler
    return {"work_s": round(took, 2), "healthz": _stats(health), "wechat": _stats(wechat), "load_average": _load()}


def _stats(values: list[float]) -> dict[str, float]:
    ms = sorted(v * 1000 for v in values)
    if not ms:
        return {"n": 0}
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 1), "p99_ms": round(p99, 1),
            "max_ms": round(ms[-1], 1)}


async def _bound_clerk(services: Any) -> str:
    """A clerk of 民政局, bound as `绑定 CODE` would bind it (written directly: the first reply of a cold
    server on a loaded machine may miss the 4 s budget, and a bench must not depend on that)."""
    from intake.store.models import ACCOUNTS, DEPARTMENTS

    clerk = f"o-bc{int(time.time())}"
    async with services.engine.begin() as conn:
        department = (await conn.execute(sa.select(DEPARTMENTS.c.id).where(DEPARTMENTS.c.name == "民政局"))).scalar()
        if department is None:
            department = (await conn.execute(sa.insert(DEPARTMENTS).values(name="民政局", active=True)
                                             .returning(DEPARTMENTS.c.id))).scalar_one()
        await conn.execute(sa.insert(ACCOUNTS).values(channel="wechat", external_id=clerk, role="clerk",
                                                      department_id=department, active=True,
                                                      bound_at=dt.datetime.now(dt.UTC)))
    return clerk


async def _fill_search_terms_pg(settings: Any) -> int:
    """The same on PostgreSQL, where the seed's notices repeat a few thousand texts: each text is cut once, and
    the tasks are updated with the index dropped and then built again (as a bulk load would)."""
    from classifiers import load_rules
    from classifiers.search import document_terms, join_terms
    from intake.store.db import create_engine
    from intake.store.search import create_statements, drop_statements

    rules = load_rules()
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            texts = [str(t) for t in (await conn.execute(sa.text("SELECT DISTINCT raw_text FROM tasks"))).scalars()]
            await conn.exec_driver_sql("CREATE TEMP TABLE seed_terms (raw_text text PRIMARY KEY, terms text) "
                                       "ON COMMIT DROP")
            await conn.execute(sa.text("INSERT INTO seed_terms VALUES (:raw, :terms)"),
                               [{"raw": t, "terms": join_terms(document_terms(t, rules))} for t in texts])
            for statement in drop_statements("postgresql"):
                await conn.exec_driver_sql(statement)
            filled = (await conn.exec_driver_sql(
                "UPDATE tasks SET search_terms = s.terms FROM seed_terms s "
                "WHERE tasks.raw_text = s.raw_text AND tasks.search_terms = ''")).rowcount
            for statement in create_statements("postgresql"):
                await conn.exec_driver_sql(statement)
            await conn.exec_driver_sql("ANALYZE tasks")
        return int(filled)
    finally:
        await engine.dispose()


def _fill_search_terms(path: Path) -> int:
    """The seed writes notices with SQL; their search terms are cut as the writer cuts them."""
    from classifiers import load_rules
    from intake.store.search import fill_search_terms

    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            return fill_search_terms(conn, load_rules())
    finally:
        engine.dispose()


async def _monthly_run(services: Any, *, month: str) -> int:
    """What the scheduler does on the 1st, but queueing no messages: every digest built at once and archived
    (the digest pages of a sent month serve the archive)."""
    from intake.reports.digest import build_monthly_digests
    from intake.reports.monthly import archive_digest

    now = dt.datetime.now(dt.UTC)
    async with services.engine.connect() as conn:
        built = await build_monthly_digests(conn, month=month, settings=services.settings, now=now, streets=True)
    async with services.engine.begin() as conn:
        for digest in built:
            await archive_digest(conn, digest=digest, now=now)
    return len(built)


async def _seed_pg(args: argparse.Namespace, settings: Any) -> None:
    """Seed an empty PostgreSQL database (`--pg`) as bench_digest does, then its search terms."""
    from bench.bench_province import after_seed

    print(f"seeding {args.tasks:,} tasks into PostgreSQL …", flush=True)
    seconds = await seed(settings, tasks=args.tasks, communities=100)
    print(f"seeded in {seconds:.0f} s", flush=True)
    await after_seed(args.url)
    t = time.perf_counter()
    filled = await _fill_search_terms_pg(settings)
    print(f"search terms of {filled:,} notices stored and indexed in {time.perf_counter() - t:.1f} s", flush=True)
    # a deployment's autovacuum has long visited its tables (PostgreSQL vacuums after inserts too); a bulk load
    # has not, and its index-only scans would read every row's heap page to learn it is visible
    t = time.perf_counter()
    await _vacuum(settings)
    print(f"vacuumed and analysed in {time.perf_counter() - t:.1f} s", flush=True)


async def _vacuum(settings: Any) -> None:
    from intake.store.db import create_engine

    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")  # VACUUM runs outside a transaction
            await conn.exec_driver_sql("VACUUM (ANALYZE) tasks, task_targets")
    finally:
        await engine.dispose()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = _settings(args.url)
    from intake.store.db import create_engine, upgrade_database

    if args.pg:
        await _seed_pg(args, settings)
    elif not args.db.exists():
        print(f"seeding {args.tasks:,} tasks into {args.db} …", flush=True)
        await seed(settings, tasks=args.tasks, communities=100)
        t = time.perf_counter()
        filled = await asyncio.to_thread(_fill_search_terms, args.db)
        print(f"search terms of {filled:,} notices stored and indexed in {time.perf_counter() - t:.1f} s", flush=True)
    else:  # a log seeded by an older revision: its new columns are filled as a deployment's would be
        t = time.perf_counter()
        await asyncio.to_thread(upgrade_database, settings)
        print(f"migrated to the newest revision in {time.perf_counter() - t:.1f} s", flush=True)

    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            kept = ("month_rollups", "rollup_months") if args.keep_rollups else ()
            for table in ("console_sessions", "admin_users", "month_rollups", "rollup_months", "digests", "outbox",
                          "reminders"):
                if table in kept:
                    continue
                await conn.exec_driver_sql(f"DELETE FROM {table}")
        await add_user(engine)
    finally:
        await engine.dispose()
    async with running_services(settings) as services:
        lock = make_scheduler_lock(settings, services.engine)
        assert await lock.acquire()  # the server runs no sweep: its reminders would chew on the seeded log
        try:
            return await _measure(args, settings, services)
        finally:
            await lock.release()


async def _measure(args: argparse.Namespace, settings: Any, services: Any) -> dict[str, Any]:
    # every view builds its dashboard (none kept a minute): the pages' times are what a view costs
    env = {"JIANFU_DATABASE_URL": args.url, "JIANFU_SERVER_LOG_LEVEL": "WARNING", "JIANFU_SERVER_DASHBOARD_MAX_AGE_S": "0"}
    log = Path(args.db).with_suffix(".log") if args.db else Path(f"/tmp/bench_console_pg_{os.getpid()}.log")
    server = ServerProcess(env=env, log_path=log).start(timeout=180)
    try:
        peer = WeChatPeer(settings)
        async with aiohttp.ClientSession(server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            clerk = await _bound_clerk(services)
            await _login(session)
            idle = await probe(server, peer, clerk, None, seconds=5, every_ms=args.probe_ms)
            t = time.perf_counter()
            rolled = await refresh_rollups(services, now=dt.datetime.now(dt.UTC), limit=KEEP_MONTHS)
            rollups_s = time.perf_counter() - t
            print(f"{rolled} closed months rolled up in {rollups_s:.1f} s", flush=True)
            # this month's dashboard before the open month is counted: twelve rollup rows and the open month
            # aggregated over the log on the report thread (what the scheduler's count then spares the pages)
            dashboard = await probe(server, peer, clerk, lambda: _timed(session, "/admin/"),
                                    seconds=0, every_ms=args.probe_ms)
            t = time.perf_counter()
            counted = await count_open_month(services, now=dt.datetime.now(dt.UTC))
            open_month_s = time.perf_counter() - t
            print(f"the open month counted for {counted} scopes in {open_month_s:.1f} s (the scheduler's job, every "
                  f"[schedule] open_month_minutes)", flush=True)
            t = time.perf_counter()
            sent = await _monthly_run(services, month="2026-06")
            print(f"the monthly run of 2026-06: {sent} digests built and archived in {time.perf_counter() - t:.1f} s",
                  flush=True)
            print("pages:", flush=True)
            pages = await time_pages(session, args.repeat, deep=await _deep_cursor(services.engine),
                                     target_ms=PG_TARGET_MS if args.pg else TARGET_MS)
            monthly = await probe(server, peer, clerk, lambda: _until_ready(session, "/admin/digests/2026-03/district"),
                                  seconds=0, every_ms=args.probe_ms)
    finally:
        server.stop()
    async with services.engine.connect() as conn:
        tasks = int((await conn.execute(sa.text("SELECT count(*) FROM tasks"))).scalar_one())
    return {"db": "postgresql" if args.pg else str(args.db), "tasks": tasks, "load_average": _load(), "rollups_s": round(rollups_s, 1),
            "open_month_s": round(open_month_s, 1), "pages": pages,
            "chat_edge": {"idle": idle, "during a dashboard build (this month)": dashboard,
                          "during district digest (monthly pass)": monthly}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="the SQLite log (seeded when missing)")
    parser.add_argument("--pg", action="store_true", help="seed a throwaway PostgreSQL cluster instead")
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep-rollups", action="store_true",
                        help="keep the rollups of an earlier run (they take minutes to build at 1M)")
    parser.add_argument("--probe-ms", type=float, default=20.0)
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.pg == (args.db is not None):
        parser.error("give either --db FILE (SQLite) or --pg (a throwaway PostgreSQL cluster)")
    if args.pg:
        from bench.bench_province import province_cluster

        with province_cluster() as url:
            args.url = url
            result = asyncio.run(run(args))
    else:
        args.url = f"sqlite:///{args.db}"
        result = asyncio.run(run(args))
    target = PG_TARGET_MS if args.pg else TARGET_MS
    met = [name for name, page in result["pages"].items() if page["met"]]
    print(f"pages under {target:.0f} ms at {result['tasks']:,} tasks: {len(met)} of {len(result['pages'])}"
          f" (load average {result['load_average']})")
    for name, figures in result["chat_edge"].items():
        print(f"  {name:<40} healthz {figures['healthz']}  wechat {figures['wechat']}  work {figures['work_s']} s")
    args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
