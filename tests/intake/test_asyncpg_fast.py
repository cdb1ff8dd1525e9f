"""The PostgreSQL write path: statements on asyncpg directly and the writer's kept connection.

What is stored must be what SQLAlchemy stores, asyncpg's errors must come out as the SQLAlchemy errors
the writer and the chat edge rely on, and nothing may run outside the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from intake.store import asyncpg_fast
from intake.store.db import create_engine
from intake.store.models import PROCESSED_MESSAGES
from intake.store.sqlite_fast import Prepared
from intake.store.writer import Writer
from tests.conftest import make_settings
from tests.intake.test_side_counter import NOTICES, _store_notices
from tests.pgcluster import PgCluster

pytestmark = [pytest.mark.postgres, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

AT = dt.datetime(2026, 12, 7, 9, 30, tzinfo=dt.UTC)
_INSERT = Prepared(sa.insert(PROCESSED_MESSAGES))
_COUNT = Prepared(sa.select(sa.func.count()).select_from(PROCESSED_MESSAGES))


async def _terminate(other: Any, pid: int) -> None:
    """The server ends backend ``pid`` (as a restart would); returns once it is gone."""
    await other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    gone = sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
    while (await other.execute(gone, {"pid": pid})).scalar():
        await other.rollback()


def _row(key: str) -> dict[str, Any]:
    return {"key": key, "channel": "wechat", "reply": "好", "nonce": None, "created_at": AT}


async def test_notices_stored_on_asyncpg_directly_equal_those_stored_through_sqlalchemy(
    aiohttp_client: Any, pg_cluster: PgCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = await _store_notices(aiohttp_client, pg_cluster.create_database("fast_on", template="jianfu_template"))
    monkeypatch.setattr(asyncpg_fast, "ENABLED", False)
    generic = await _store_notices(aiohttp_client, pg_cluster.create_database("fast_off", template="jianfu_template"))
    assert len(fast["tasks"]) == len(NOTICES) and fast["reminders"] and fast["targets"] and fast["audit"]
    assert fast == generic


async def test_statements_run_on_asyncpg_only_inside_the_callers_transaction(pg_url: str) -> None:
    engine = create_engine(make_settings(pg_url))
    try:
        async with engine.connect() as conn:
            await conn.begin()
            assert await asyncpg_fast.driver_of(conn) is None  # no BEGIN sent yet: SQLAlchemy sends it
            await _INSERT.rows(conn, _row("k1"))
            assert await asyncpg_fast.driver_of(conn) is not None  # from now on, asyncpg directly
            await _INSERT.many(conn, [_row("k2"), _row("k3")])
            assert (await _COUNT.rows(conn))[0][0] == 3
            await conn.rollback()
        async with engine.connect() as conn:
            assert (await conn.execute(sa.select(sa.func.count()).select_from(PROCESSED_MESSAGES))).scalar() == 0
    finally:
        await engine.dispose()


async def test_asyncpg_errors_come_out_as_the_sqlalchemy_errors_callers_catch(pg_url: str) -> None:
    engine = create_engine(make_settings(pg_url))
    try:
        async with engine.connect() as conn:
            await conn.begin()
            await _INSERT.rows(conn, _row("dup"))
            with pytest.raises(sa.exc.IntegrityError):  # another process stored the same delivery
                async with conn.begin_nested():
                    await _INSERT.many(conn, [_row("dup")])
            with pytest.raises(sa.exc.DataError):  # a value the column refuses: the unit's own failure
                async with conn.begin_nested():
                    await _INSERT.rows(conn, _row("x" * 500))
            assert (await _COUNT.rows(conn))[0][0] == 1  # both rolled back to their savepoints, alone
        async with engine.connect() as conn:  # the connection is lost: OperationalError, invalidated
            await conn.begin()
            await _INSERT.rows(conn, _row("first"))
            pid = (await conn.execute(sa.text("SELECT pg_backend_pid()"))).scalar()
            async with engine.connect() as other:
                await _terminate(other, pid)
            with pytest.raises(sa.exc.OperationalError) as lost:
                await _COUNT.rows(conn)
            assert lost.value.connection_invalidated and conn.invalidated
    finally:
        await engine.dispose()


async def test_the_writer_keeps_its_connection_and_reconnects_once_when_it_was_closed(pg_url: str) -> None:
    engine = create_engine(make_settings(pg_url))
    writer = Writer(engine)
    await writer.start()

    async def backend(conn: Any) -> int:
        return int((await conn.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one())

    try:
        first = await writer.submit(backend)
        assert await writer.submit(backend) == first  # no checkout (and pre-ping) per batch
        async with engine.connect() as other:  # the server closes it (a restart, a proxy's idle timeout)
            await _terminate(other, first)
        again = await writer.submit(backend)  # answered on a fresh connection, not a 503
        assert again != first
        assert await writer.submit(backend) == again
    finally:
        await writer.stop()
        await engine.dispose()


async def test_one_statement_used_on_sqlite_and_postgresql_in_one_process_keeps_a_form_for_each(
    pg_url: str, sqlite_url: str
) -> None:
    """A statement compiled for SQLite (``?`` placeholders) must not be sent to PostgreSQL (``$1``), and back."""
    statement = Prepared(sa.insert(PROCESSED_MESSAGES))
    for url in (sqlite_url, pg_url, sqlite_url):
        engine = create_engine(make_settings(url))
        try:
            async with engine.begin() as conn:
                await _COUNT.rows(conn)  # the transaction is open on the server (PostgreSQL: asyncpg directly)
                await statement.rows(conn, _row(f"k-{url[:6]}-{id(engine)}"))
                assert (await _COUNT.rows(conn))[0][0] >= 1
        finally:
            await engine.dispose()
