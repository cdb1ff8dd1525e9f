"""A throwaway PostgreSQL cluster from the machine's binaries, for the tests and the benchmarks.

PostgreSQL refuses to run as root, so as root the cluster runs as the ``postgres`` system user
(``runuser``) in a temporary directory it owns, on a free loopback port, with trust auth and
fsync off. It is stopped and removed when the context ends.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["PgCluster", "pg_bin", "have_postgres"]


def pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for version in ("17", "16", "15", "14"):
        candidate = Path(f"/usr/lib/postgresql/{version}/bin/{name}")
        if candidate.exists():
            return str(candidate)
    return None


def have_postgres() -> bool:
    return all(pg_bin(name) for name in ("initdb", "pg_ctl", "psql"))


def _as_postgres() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.data = root / "data"

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str) -> None:
        psql = pg_bin("psql")
        assert psql is not None
        subprocess.run(
            [*_as_postgres(), psql, "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres",
             "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
            check=True, capture_output=True,
        )

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """Create a database (optionally copied from a template) and return its URL."""
        self.psql(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
        return self.url(name)

    @classmethod
    @contextlib.contextmanager
    def throwaway(cls, *, options: str = "-c max_connections=200") -> Iterator[PgCluster]:
        """Start a cluster; `options` are extra server settings (``-c name=value ...``)."""
        initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
        if initdb is None or pg_ctl is None or pg_bin("psql") is None:
            raise FileNotFoundError("PostgreSQL binaries (initdb, pg_ctl, psql) not found: apt-get install postgresql")
        root = Path(tempfile.mkdtemp(prefix="jianfu-pg-"))
        if os.geteuid() == 0:
            shutil.chown(root, user="postgres", group="postgres")
        cluster = cls(root, _free_port())
        subprocess.run([*_as_postgres(), initdb, "-D", str(cluster.data), "-A", "trust", "-U", "postgres",
                        "--no-sync", "-E", "UTF8", "--locale=C"], check=True, capture_output=True)
        server = f"-p {cluster.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off {options}"
        subprocess.run([*_as_postgres(), pg_ctl, "-D", str(cluster.data), "-l", str(root / "log"), "-o", server,
                        "-w", "start"], check=True, capture_output=True)
        try:
            yield cluster
        finally:
            subprocess.run([*_as_postgres(), pg_ctl, "-D", str(cluster.data), "-m", "immediate", "stop"],
                           capture_output=True)
            shutil.rmtree(root, ignore_errors=True)
