"""Engine creation and migrations. No module-level engine: the app factory owns it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from intake.settings import IntakeSettings

__all__ = ["create_engine", "create_thread_engine", "upgrade_database", "alembic_config", "ping"]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # let SQLAlchemy emit BEGIN itself so SAVEPOINTs work (the pysqlite driver's own
    # transaction handling would otherwise commit behind our back)
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=3000")  # below the 4 s reply budget: a locked database answers 503 in time
    cursor.execute("PRAGMA cache_size=-8192")  # 8 MiB of page cache per connection (the hot indexes fit)
    cursor.execute("PRAGMA temp_store=MEMORY")
    # read pages through a memory map, not one read() system call per 4 KiB page: a year's report or a
    # console page that visits 100,000 pages spent more CPU in those calls than in SQLite itself
    cursor.execute("PRAGMA mmap_size=1073741824")
    cursor.execute("PRAGMA wal_autocheckpoint=4000")  # 16 MiB of WAL between checkpoints: fewer, in bigger steps
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


def _json(value: Any) -> str:
    """JSON columns keep Chinese as UTF-8, not \\uXXXX escapes: half the bytes written per notice."""
    return json.dumps(value, ensure_ascii=False)


def create_engine(settings: IntakeSettings, *, url: str | None = None, pool_size: int | None = None) -> AsyncEngine:
    """An async engine for the configured database (aiosqlite in WAL mode, or asyncpg); `pool_size`
    overrides ``[database] pool_size`` (PostgreSQL only). Reads on a connection that carries a scope see
    only that scope (:mod:`intake.scope`)."""
    from intake.scope import install_scope_filter

    engine = _create_engine(settings, url=url, pool_size=pool_size)
    install_scope_filter(engine)
    return engine


def _create_engine(settings: IntakeSettings, *, url: str | None, pool_size: int | None) -> AsyncEngine:
    url = url or settings.database_url
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=settings.database.echo, connect_args={"timeout": 3},
                                     json_serializer=_json)
        sa.event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    return create_async_engine(
        url,
        echo=settings.database.echo,
        pool_size=pool_size or settings.database.pool_size,
        max_overflow=pool_size or settings.database.pool_size,
        pool_pre_ping=True,
        json_serializer=_json,
    )


def create_thread_engine(settings: IntakeSettings, *, url: str | None = None) -> sa.Engine | None:
    """For SQLite, a plain (sync) engine on the same file for the writer's own thread; None otherwise."""
    url = url or settings.database_url
    if not url.startswith("sqlite") or url.endswith(":memory:"):
        return None
    engine = sa.create_engine(
        "sqlite:///" + url.split(":///", 1)[1],
        echo=settings.database.echo,
        connect_args={"timeout": 3, "check_same_thread": False},
        json_serializer=_json,
    )
    sa.event.listen(engine, "connect", _sqlite_pragmas)
    sa.event.listen(engine, "begin", _sqlite_begin)
    return engine


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_database(settings: IntakeSettings, *, url: str | None = None, revision: str = "head") -> None:
    """Apply migrations (blocking; call from the CLI or before the event loop starts serving)."""
    url = url or settings.database_url
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)


async def ping(engine: AsyncEngine, *, timeout: float = 2.0) -> bool:
    """True when the database answers a trivial query within `timeout` seconds."""
    try:
        async with asyncio.timeout(timeout), engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
    except (TimeoutError, OSError, sa.exc.SQLAlchemyError):
        return False
    return True
