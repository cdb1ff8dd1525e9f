"""The prune job (issue 15): what is past its window goes, what a retry, a replay check, a live session
or a running back-off still needs stays. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from intake.console_sessions import (
    FAILURES_FADE,
    USER_BACKOFF,
    add_login_failure,
    add_session,
    end_session,
    get_live_session,
    get_login_wait,
)
from intake.console_users import add_admin_user
from intake.dedupe import get_processed, record_processed
from intake.prune import run_prune
from intake.scheduler import run_background
from intake.store.models import CONSOLE_SESSIONS, LOGIN_THROTTLE, PROCESSED_MESSAGES
from tests.fake_wechat_api import at, notify_settings, running_services

NOW = at("2026-12-10 09:00")
IDLE, ABSOLUTE = dt.timedelta(hours=1), dt.timedelta(hours=12)


def with_retention(settings: Any, **retention: Any) -> Any:
    return settings.model_copy(update={"retention": settings.retention.model_copy(update=retention)})


async def keys(services: Any, table: sa.Table, column: str) -> set[str]:
    async with services.engine.connect() as conn:
        return {str(v) for v in (await conn.execute(sa.select(table.c[column]))).scalars()}


async def store_reply(services: Any, key: str, *, at_: dt.datetime) -> None:
    async with services.engine.begin() as conn:
        await record_processed(conn, key=key, channel="wechat", reply=f"reply to {key}", now=at_,
                               nonce=f"wechat:{int(at_.timestamp())}:{key}")


async def test_prune_forgets_replies_past_retention_and_keeps_the_ones_a_retry_or_replay_check_needs(
    tmp_path: Any, db_url: str
) -> None:
    settings = with_retention(notify_settings(db_url, tmp_path), replies_hours=24.0)
    async with running_services(settings) as services:
        await store_reply(services, "old", at_=NOW - dt.timedelta(hours=25))
        await store_reply(services, "recent", at_=NOW - dt.timedelta(minutes=3))
        report = await run_prune(services, now=NOW)
        assert report.replies == 1
        assert await keys(services, PROCESSED_MESSAGES, "key") == {"recent"}
        async with services.engine.connect() as conn:
            retry = await get_processed(conn, key="recent", nonce=f"wechat:{int((NOW - dt.timedelta(minutes=3)).timestamp())}:recent")
            replay = await get_processed(conn, key="forged", nonce=f"wechat:{int((NOW - dt.timedelta(minutes=3)).timestamp())}:recent")
        assert retry.reply == "reply to recent" and not retry.replayed_nonce
        assert replay.reply is None and replay.replayed_nonce


async def test_prune_deletes_in_batches_of_prune_batch_rows_and_a_later_run_goes_on(tmp_path: Any,
                                                                                      db_url: str) -> None:
    settings = with_retention(notify_settings(db_url, tmp_path), prune_batch=2)
    async with running_services(settings) as services:
        for i in range(5):
            await store_reply(services, f"old-{i}", at_=NOW - dt.timedelta(days=2, minutes=i))
        first = await run_prune(services, now=NOW, max_batches=1)
        assert first.replies == 2
        # the oldest go first
        assert await keys(services, PROCESSED_MESSAGES, "key") == {"old-0", "old-1", "old-2"}
        second = await run_prune(services, now=NOW)
        assert second.replies == 3
        assert await keys(services, PROCESSED_MESSAGES, "key") == set()


async def add_sessions(services: Any) -> dict[str, str]:
    """Sessions of one user: live, logged out an hour ago, logged out long ago, idle-expired long ago."""
    async with services.engine.begin() as conn:
        user_id = await add_admin_user(conn, username="wang", password_hash="not-a-real-hash", now=NOW)
        tokens = {
            "live": await add_session(conn, user_id=user_id, client="a", now=NOW - dt.timedelta(minutes=20)),
            "ended_lately": await add_session(conn, user_id=user_id, client="b", now=NOW - dt.timedelta(hours=2)),
            "ended_long_ago": await add_session(conn, user_id=user_id, client="c", now=NOW - dt.timedelta(days=40)),
            "expired_long_ago": await add_session(conn, user_id=user_id, client="d", now=NOW - dt.timedelta(days=31)),
        }
        await end_session(conn, token=tokens["ended_lately"], reason="logout", now=NOW - dt.timedelta(hours=1))
        await end_session(conn, token=tokens["ended_long_ago"], reason="logout", now=NOW - dt.timedelta(days=40))
    return tokens


async def test_prune_forgets_ended_and_expired_sessions_past_retention_and_keeps_live_ones(tmp_path: Any,
                                                                                           db_url: str) -> None:
    settings = with_retention(notify_settings(db_url, tmp_path), sessions_days=30.0)
    async with running_services(settings) as services:
        tokens = await add_sessions(services)
        report = await run_prune(services, now=NOW)
        assert report.sessions == 2
        async with services.engine.connect() as conn:
            live = await get_live_session(conn, token=tokens["live"], now=NOW, idle=IDLE, absolute=ABSOLUTE)
            reasons = (await conn.execute(sa.select(CONSOLE_SESSIONS.c.client, CONSOLE_SESSIONS.c.ended_reason)
                                          .order_by(CONSOLE_SESSIONS.c.client))).all()
        assert live is not None
        assert [tuple(r) for r in reasons] == [("a", None), ("b", "logout")]  # a recent logout stays on record


async def test_prune_forgets_faded_login_failures_and_keeps_running_back_offs(tmp_path: Any, db_url: str) -> None:
    settings = notify_settings(db_url, tmp_path)
    async with running_services(settings) as services:
        async with services.engine.begin() as conn:
            for _ in range(6):  # past the free tries: a wait that is still running at NOW
                await add_login_failure(conn, key="user:wang", backoff=USER_BACKOFF, now=NOW - dt.timedelta(seconds=5))
            await add_login_failure(conn, key="user:li", backoff=USER_BACKOFF, now=NOW - dt.timedelta(minutes=30))
            faded = NOW - FAILURES_FADE - dt.timedelta(minutes=1)
            for _ in range(6):
                await add_login_failure(conn, key="client:10.0.0.9", backoff=USER_BACKOFF, now=faded)
            wait_before = await get_login_wait(conn, keys=["user:wang"], now=NOW)
        report = await run_prune(services, now=NOW)
        assert report.login_throttle == 1
        assert await keys(services, LOGIN_THROTTLE, "key") == {"user:wang", "user:li"}
        async with services.engine.connect() as conn:
            assert await get_login_wait(conn, keys=["user:wang"], now=NOW) == wait_before > dt.timedelta(0)


async def test_the_scheduler_holder_runs_the_prune_job(tmp_path: Any, db_url: str) -> None:
    settings = notify_settings(db_url, tmp_path)
    async with running_services(settings) as services:
        await store_reply(services, "last-year", at_=NOW - dt.timedelta(days=365))
        async with run_background(services) as leader:
            assert leader.prune is not None
            await leader.prune()
            assert leader.last_prune is not None and leader.last_prune.replies == 1
        assert await keys(services, PROCESSED_MESSAGES, "key") == set()
