"""Where a notice's time goes on PostgreSQL: `make bench`'s two-process write path under pg_stat_statements.

    .venv/bin/python bench/profile_pg.py [--connections 64] [--duration 10] [--py-spy DIR]

Starts a throwaway cluster with ``pg_stat_statements`` loaded, two ``jianfu serve`` processes and one
wrk per process (bench/run_all.py's load: bound clerks, fresh MsgIds, signed afresh), then prints per
notice: the statements and round trips the database saw (by statement, calls and time per notice,
transactions), and each process's CPU. With ``--py-spy DIR`` it also records a py-spy profile of the
first process (speedscope JSON and a flame-graph SVG) while the load runs. Nothing is kept but the
figures it prints (and the profiles).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run_all import (  # noqa: E402
    Load,
    bench_env,
    bench_settings,
    bind_clerks,
    combine,
    db_upgrade,
    run_side_by_side,
    thread_cpu,
    wrk,
)
from tests.pgcluster import PgCluster  # noqa: E402
from tests.serverproc import ServerProcess, query_rows  # noqa: E402

STATEMENTS = """
SELECT calls, total_exec_time AS ms, rows, query FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'jianfu') AND query NOT LIKE '%pg_stat%'
ORDER BY calls DESC, ms DESC
"""


def _py_spy(pid: int, out: Path, seconds: int) -> list[subprocess.Popen[bytes]]:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    out.mkdir(parents=True, exist_ok=True)
    return [subprocess.Popen([spy, "record", "-p", str(pid), "-d", str(seconds), "-r", "200", "-f", fmt,
                              "-o", str(out / f"jianfu-pg.{ext}")], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL) for fmt, ext in (("speedscope", "json"), ("flamegraph", "svg"))]


def profile(connections: int, duration: float, spy_dir: Path | None) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="jianfu-profile-"))
    options = "-c max_connections=200 -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
    with PgCluster.throwaway(options=options) as cluster:
        db_url = cluster.create_database("jianfu")
        settings = bench_settings(db_url)
        db_upgrade(db_url)
        servers = [ServerProcess(env=bench_env(db_url), log_path=work / f"pg-{i}.log").start(timeout=180)
                   for i in range(2)]
        try:
            users = asyncio.run(bind_clerks(servers[0], settings))
            loads = [Load(settings, work / f"pg{i}", users[i::2]) for i in range(2)]
            for i, load in enumerate(loads):
                load.work.mkdir()
                load.runs = 1000 * (i + 1)
            data = [str(load.plain_data()) for load in loads]
            for i, server in enumerate(servers):
                wrk(server.url, 8, 2, ["plain", data[i], loads[i].next_base()], core=None)
            asyncio.run(_execute(settings, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
            asyncio.run(query_rows(settings, "SELECT pg_stat_statements_reset() IS NULL AS reset"))
            xacts, sessions = _xacts(settings), _sessions(settings)
            before = [thread_cpu(s.pid) for s in servers]
            pg_before = _cluster_cpu(cluster)
            spies = _py_spy(servers[0].pid, spy_dir, int(duration)) if spy_dir else []
            parts = run_side_by_side([(s.url, connections // 2, ["plain", data[i], loads[i].next_base()])
                                      for i, s in enumerate(servers)], duration)
            for spy in spies:
                spy.wait()
            spent = [sum(thread_cpu(s.pid)) - sum(b) for s, b in zip(servers, before, strict=True)]
            pg_spent = _cluster_cpu(cluster) - pg_before
            figures = combine(parts)
            notices = max(1, figures["requests"])
            rows = asyncio.run(query_rows(settings, STATEMENTS))
            logged = [line for i in range(2) for line in (work / f"pg-{i}.log").read_text(errors="replace").splitlines()
                      if " ERROR " in line or " CRITICAL " in line]
            return {
                "server_log_errors": logged[:10], "server_log_error_count": len(logged),
                "wrk": figures, "transactions_per_notice": round((_xacts(settings) - xacts) / notices, 3),
                "sessions_opened": _sessions(settings) - sessions,
                "jianfu_cpu_ms_per_notice": round(sum(spent) * 1000 / notices, 3),
                "postgres_cpu_ms_per_notice": round(pg_spent * 1000 / notices, 3),
                "statements_per_notice": round(sum(r.calls for r in rows) / notices, 2),
                "db_ms_per_notice": round(sum(r.ms for r in rows) / notices, 3),
                "statements": [{"calls_per_notice": round(r.calls / notices, 3), "ms_per_notice": round(r.ms / notices, 4),
                                "query": " ".join(r.query.split())[:160]} for r in rows[:25]],
            }
        finally:
            for server in servers:
                server.stop()
            shutil.rmtree(work, ignore_errors=True)


def _cluster_cpu(cluster: PgCluster) -> float:
    """CPU seconds so far of the cluster's postmaster and every process it started (backends, writers)."""
    postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):  # ended meanwhile
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(proc.name) == postmaster or int(fields[1]) == postmaster:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


async def _execute(settings: Any, sql: str) -> None:
    from intake.store.db import create_engine

    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text(sql))
    finally:
        await engine.dispose()


def _xacts(settings: Any) -> int:
    rows = asyncio.run(query_rows(settings, "SELECT xact_commit + xact_rollback AS n FROM pg_stat_database "
                                            "WHERE datname = 'jianfu'"))
    return int(rows[0].n)


def _sessions(settings: Any) -> int:
    """Connections opened to the database so far (each costs a fork on the server and a handshake)."""
    rows = asyncio.run(query_rows(settings, "SELECT sessions AS n FROM pg_stat_database WHERE datname = 'jianfu'"))
    return int(rows[0].n)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--py-spy", type=Path, default=None, dest="spy", help="directory for py-spy profiles")
    args = parser.parse_args()
    print(json.dumps(profile(args.connections, args.duration, args.spy), ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
