"""Shared fixtures: settings on a migrated SQLite file, a real PostgreSQL cluster, the real app, a WeChat peer."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from intake.db import create_engine, upgrade_database
from intake.settings import Settings, load_settings
from tests.peer import WeChatPeer

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config.toml"
IN_CI = os.environ.get("CI", "").lower() == "true"


def make_settings(db_url: str, **overrides: str) -> Settings:
    """The shipped config.toml with a test database and any JIANFU_* overrides."""
    environ = {"JIANFU_DATABASE_URL": db_url, "JIANFU_SERVER_ENVIRONMENT": "test"}
    environ.update({f"JIANFU_{k.upper()}": v for k, v in overrides.items()})
    return load_settings(CONFIG, environ=environ)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated with Alembic; each test gets a copy (migrations run once per session)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade_database(make_settings(f"sqlite:///{path}"))
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    target = tmp_path / "jianfu.db"
    shutil.copyfile(sqlite_template, target)
    return f"sqlite:///{target}"


# ---------------------------------------------------------------- PostgreSQL

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for version in ("17", "16", "15", "14"):
        candidate = Path(f"/usr/lib/postgresql/{version}/bin/{name}")
        if candidate.exists():
            return str(candidate)
    return None


class PgCluster:
    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.data = root / "data"

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str) -> None:
        psql = _pg_bin("psql")
        assert psql is not None
        subprocess.run(
            [*_as_postgres(), psql, "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres",
             "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
            check=True, capture_output=True,
        )


def _as_postgres() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A throwaway PostgreSQL cluster from the machine's binaries (as the postgres user, trust auth, loopback)."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        if IN_CI:
            pytest.fail("PostgreSQL binaries (initdb, pg_ctl) not found; .ci/run must install postgresql")
        pytest.skip("PostgreSQL binaries not installed (they run under CI=true)")
    root = Path(tempfile.mkdtemp(prefix="jianfu-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, user="postgres", group="postgres")
    cluster = PgCluster(root, _free_port())
    subprocess.run([*_as_postgres(), initdb, "-D", str(cluster.data), "-A", "trust", "-U", "postgres",
                    "--no-sync", "-E", "UTF8", "--locale=C"], check=True, capture_output=True)
    options = f"-p {cluster.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    subprocess.run([*_as_postgres(), pg_ctl, "-D", str(cluster.data), "-l", str(root / "log"), "-o", options,
                    "-w", "start"], check=True, capture_output=True)
    try:
        cluster.psql("CREATE DATABASE jianfu_template")
        upgrade_database(make_settings(cluster.url("jianfu_template")))
        yield cluster
    finally:
        subprocess.run([*_as_postgres(), pg_ctl, "-D", str(cluster.data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> str:
    name = "t_" + uuid.uuid4().hex[:12]
    cluster = pg_cluster
    cluster.psql(f"CREATE DATABASE {name} TEMPLATE jianfu_template")
    return cluster.url(name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Both databases: the same test runs on SQLite and on a real PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(fixture))


# ---------------------------------------------------------------- app and peers

@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    return make_settings(sqlite_url)


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(settings)
    yield eng
    await eng.dispose()


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> Any:
    from bot.app import create_app

    return await aiohttp_client(create_app(settings, background=False))


@pytest.fixture
def peer(settings: Settings) -> WeChatPeer:
    return WeChatPeer(settings)


async def scalar(engine: AsyncEngine, sql: str, **params: Any) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(sa.text(sql), params)).scalar()
