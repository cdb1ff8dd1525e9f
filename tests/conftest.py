"""Shared fixtures: settings on a migrated SQLite file, a real PostgreSQL cluster, the real app, a WeChat peer."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.settings import Settings, load_settings
from intake.store.db import create_engine, upgrade_database
from tests.peer import WeChatPeer
from tests.pgcluster import PgCluster, have_postgres

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config.toml"
IN_CI = os.environ.get("CI", "").lower() == "true"


def make_settings(db_url: str, **overrides: str) -> Settings:
    """The shipped config.toml with a test database and any JIANFU_* overrides."""
    environ = {"JIANFU_DATABASE_URL": db_url, "JIANFU_SERVER_ENVIRONMENT": "test", "JIANFU_MEDIA_WARM_START": "false",
               # a digest page waits for its build (on a loaded machine a build can take seconds; the test of a
               # long build sets its own wait)
               "JIANFU_SERVER_DIGEST_WAIT_S": "60"}
    if db_url.startswith("sqlite:///") and ":memory:" not in db_url:
        # originals of media tests next to the test's database, never under the repository's data/
        environ["JIANFU_MEDIA_DIR"] = str(Path(db_url.removeprefix("sqlite:///")).parent / "media")
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

@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A throwaway PostgreSQL cluster from the machine's binaries (as the postgres user, trust auth, loopback)."""
    if not have_postgres():
        if IN_CI:
            pytest.fail("PostgreSQL binaries (initdb, pg_ctl) not found; .ci/run must install postgresql")
        pytest.skip("PostgreSQL binaries not installed (they run under CI=true)")
    with PgCluster.throwaway() as cluster:
        upgrade_database(make_settings(cluster.create_database("jianfu_template")))
        yield cluster


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> str:
    return pg_cluster.create_database("t_" + uuid.uuid4().hex[:12], template="jianfu_template")


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
