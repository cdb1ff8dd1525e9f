"""The sweep against a frozen clock: reminders → outbox → senders, retries, dead letters, restarts."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from bot.push import InboxSender, RecordingSender, SendResult
from intake.jobs import run_sweep
from intake.outbox import add_outbox_message, backoff_delay, claim_due, list_dead, list_inbox, retry_dead
from intake.store.db import create_engine
from tests.fake_wechat_api import add_task, at, insert, notify_settings, running_services

D = dt.date


async def sweep(services: Any, **kwargs: Any) -> Any:
    return await run_sweep(services, digests=False, **kwargs)


def _settings(tmp_path, db_url, **notify: Any):
    settings = notify_settings(db_url, tmp_path)
    return settings.model_copy(update={"notify": settings.notify.model_copy(update={"heads": "auto", **notify})})


async def _seed(services) -> tuple[int, int, int]:
    engine = services.engine
    cid = await insert(engine, "communities", name="幸福社区", staff=9)
    head = await insert(engine, "accounts", channel="wecom", external_id="zhangsan", role="head", community_id=cid,
                        active=True)
    _, (target,) = await add_task(engine, received_at=at("2026-11-20 10:00"), community_ids=[cid], due=D(2026, 12, 10),
                                  code="R-20261120-0001")
    for kind, fire in (("before_3", "2026-12-07 09:03"), ("before_1", "2026-12-09 09:05"),
                       ("due", "2026-12-10 09:02"), ("overdue", "2026-12-11 09:06")):
        await insert(engine, "reminders", target_id=target, kind=kind, fire_at=at(fire), cancelled=False)
    return cid, head, target


async def _rows(services, sql: str) -> list[Any]:
    async with services.engine.connect() as conn:
        return list((await conn.execute(sa.text(sql))).all())


async def test_add_outbox_message_is_idempotent(tmp_path, db_url) -> None:
    async with running_services(_settings(tmp_path, db_url)) as services:

        async def add(conn):
            return await add_outbox_message(conn, idempotency_key="late-reply:msg-1", channel="inbox",
                                            recipient="admins", kind="notice", body="你好", now=at("2026-12-01 10:00"))

        first = await services.writer.submit(add)
        second = await services.writer.submit(add)
        assert isinstance(first, int) and second is None
        assert len(await _rows(services, "SELECT id FROM outbox")) == 1


async def test_a_due_reminder_is_sent_once_to_the_head(tmp_path, db_url) -> None:
    async with running_services(_settings(tmp_path, db_url)) as services:
        _, head, _ = await _seed(services)
        rec = RecordingSender()
        senders = {"wecom_app": rec}
        report = await sweep(services, now=at("2026-12-07 09:00"), senders=senders)
        assert report.reminders_queued == 0 and rec.messages == []
        report = await sweep(services, now=at("2026-12-07 09:04"), senders=senders)
        assert report.reminders_queued == 1 and report.sent == 1
        (message,) = rec.messages
        assert message.recipient == "zhangsan" and message.kind == "reminder"
        assert "R-20261120-0001" in message.body and "还有3天" in message.body
        assert "完成" not in message.body  # no completion reply is asked for (no new trace duty)
        again = await sweep(services, now=at("2026-12-07 09:10"), senders=senders)
        assert again.reminders_queued == 0 and again.claimed == 0 and len(rec.messages) == 1
        rows = await _rows(services, "SELECT status, account_id, idempotency_key FROM outbox")
        assert [(r.status, r.account_id) for r in rows] == [("sent", head)]


async def test_after_downtime_overdue_reminders_are_coalesced_into_one(tmp_path, db_url) -> None:
    async with running_services(_settings(tmp_path, db_url)) as services:
        await _seed(services)
        rec = RecordingSender()
        # the process was down from 1 to 10 December: three reminders fell due meanwhile
        report = await sweep(services, now=at("2026-12-10 14:00"), senders={"wecom_app": rec})
        assert (report.reminders_queued, report.reminders_skipped) == (1, 2)
        assert len(rec.messages) == 1 and "今天" in rec.messages[0].body
        report = await sweep(services, now=at("2026-12-11 09:30"), senders={"wecom_app": rec})
        assert report.reminders_queued == 1 and "已过" in rec.messages[1].body and "逾期" not in rec.messages[1].body
        assert (await sweep(services, now=at("2026-12-12 09:30"), senders={"wecom_app": rec})).claimed == 0


async def test_reminders_of_a_done_target_are_cancelled(tmp_path, db_url) -> None:
    async with running_services(_settings(tmp_path, db_url)) as services:
        _, _, target = await _seed(services)
        async with services.engine.begin() as conn:
            await conn.execute(sa.text("UPDATE task_targets SET status='done' WHERE id=:i"), {"i": target})
        rec = RecordingSender()
        report = await sweep(services, now=at("2026-12-09 10:00"), senders={"wecom_app": rec})
        assert report.reminders_cancelled == 2 and rec.messages == []


async def test_failures_back_off_then_dead_letter(tmp_path, db_url) -> None:
    async with running_services(_settings(tmp_path, db_url, max_attempts=3, backoff_base_s=60.0)) as services:
        await _seed(services)
        rec = RecordingSender(*(SendResult.failed("boom") for _ in range(5)))
        senders = {"wecom_app": rec}
        now = at("2026-12-07 09:10")
        assert (await sweep(services, now=now, senders=senders)).failed == 1
        (row,) = await _rows(services, "SELECT status, attempts, next_attempt_at FROM outbox")
        assert (row.status, row.attempts) == ("pending", 1)
        assert (await sweep(services, now=now + dt.timedelta(seconds=59), senders=senders)).claimed == 0
        assert (await sweep(services, now=now + dt.timedelta(seconds=60), senders=senders)).failed == 1
        # second failure waits 2 minutes
        assert (await sweep(services, now=now + dt.timedelta(seconds=179), senders=senders)).claimed == 0
        assert (await sweep(services, now=now + dt.timedelta(seconds=180), senders=senders)).dead == 1
        async with services.engine.connect() as conn:
            (dead,) = await list_dead(conn)
        assert dead["attempts"] == 3 and dead["last_error"] == "boom"
        assert len(rec.messages) == 3

        async def retry(conn):
            return await retry_dead(conn, message_id=dead["id"], now=now + dt.timedelta(hours=1))

        assert await services.writer.submit(retry)
        assert (await sweep(services, now=now + dt.timedelta(hours=1), senders={"wecom_app": RecordingSender()})).sent == 1


async def test_permanent_failure_dead_letters_at_once(tmp_path, db_url) -> None:
    async with running_services(_settings(tmp_path, db_url)) as services:
        await _seed(services)
        rec = RecordingSender(SendResult.failed("no such user", permanent=True))
        assert (await sweep(services, now=at("2026-12-07 09:10"), senders={"wecom_app": rec})).dead == 1


async def test_rate_limit_deferral_queues_without_spending_attempts(tmp_path, db_url) -> None:
    async with running_services(_settings(tmp_path, db_url, max_attempts=1)) as services:
        await _seed(services)
        now = at("2026-12-07 09:10")
        rec = RecordingSender(*(SendResult.deferred(now + dt.timedelta(seconds=60), "45009") for _ in range(3)))
        for i in range(3):
            assert (await sweep(services, now=now + dt.timedelta(seconds=60 * i), senders={"wecom_app": rec})).deferred == 1
        (row,) = await _rows(services, "SELECT status, attempts FROM outbox")
        assert (row.status, row.attempts) == ("pending", 0)
        assert (await sweep(services, now=now + dt.timedelta(minutes=3), senders={"wecom_app": rec})).sent == 1


async def test_a_crash_between_claim_and_send_is_recovered_after_the_lease(tmp_path, db_url) -> None:
    settings = _settings(tmp_path, db_url)
    now = at("2026-12-07 09:10")
    async with running_services(settings) as services:
        await _seed(services)
        rec = RecordingSender(SendResult.deferred(now + dt.timedelta(seconds=1), "later"))
        await sweep(services, now=now, senders={"wecom_app": rec})  # queued (deferred once)

        async def claim(conn):
            return await claim_due(conn, now=now + dt.timedelta(seconds=5))

        assert len(await services.writer.submit(claim)) == 1  # … and the process dies here
    async with running_services(settings) as services:  # restart
        rec = RecordingSender()
        assert (await sweep(services, now=now + dt.timedelta(minutes=2), senders={"wecom_app": rec})).claimed == 0
        report = await sweep(services, now=now + dt.timedelta(minutes=6), senders={"wecom_app": rec})
        assert report.sent == 1 and report.reminders_queued == 0 and len(rec.messages) == 1


async def test_heads_without_accounts_get_the_community_inbox(tmp_path, db_url) -> None:
    async with running_services(notify_settings(db_url, tmp_path)) as services:
        cid = await insert(services.engine, "communities", name="和平社区", staff=8)
        _, (target,) = await add_task(services.engine, received_at=at("2026-11-20 10:00"), community_ids=[cid],
                                      due=D(2026, 12, 10))
        await insert(services.engine, "reminders", target_id=target, kind="due", fire_at=at("2026-12-10 09:02"),
                     cancelled=False)
        report = await sweep(services, now=at("2026-12-10 09:05"), senders={"inbox": InboxSender()})
        assert report.sent == 1
        async with services.engine.connect() as conn:
            (entry,) = await list_inbox(conn, community_id=cid)
        assert entry["recipient"] == "和平社区" and entry["status"] == "sent" and entry["kind"] == "reminder"


def test_backoff_doubles_and_caps() -> None:
    assert [backoff_delay(n, base_s=30).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff_delay(40, base_s=30) == dt.timedelta(hours=6)


# --- PostgreSQL: several processes share the outbox ----------------------------------------------------


async def _queue(engine: Any, count: int, *, now: dt.datetime) -> list[int]:
    async with engine.begin() as conn:
        return [
            int(await add_outbox_message(conn, idempotency_key=f"notice:{i}", channel="inbox", recipient="admins",
                                         kind="notice", body=f"第{i}条", now=now))
            for i in range(count)
        ]


@pytest.mark.postgres
async def test_a_claimer_skips_rows_another_claimer_holds_on_postgresql(tmp_path, pg_url) -> None:
    settings = notify_settings(pg_url, tmp_path)
    now = at("2026-12-07 09:10")
    first_process, second_process = create_engine(settings), create_engine(settings)
    try:
        ids = await _queue(first_process, 15, now=now)
        async with first_process.connect() as a, second_process.connect() as b:
            held = await claim_due(a, now=now, limit=10)  # a's transaction stays open: its rows stay locked
            async with asyncio.timeout(10):  # FOR UPDATE without SKIP LOCKED would wait here for a's commit
                taken = await claim_due(b, now=now, limit=10)
            assert len(held) == 10 and len(taken) == 5
            assert {m.id for m in held}.isdisjoint(m.id for m in taken)
            assert sorted(m.id for m in [*held, *taken]) == ids
            await a.commit()
            await b.commit()
    finally:
        await first_process.dispose()
        await second_process.dispose()


@pytest.mark.postgres
async def test_racing_claimers_on_postgresql_claim_every_row_exactly_once(tmp_path, pg_url) -> None:
    settings = notify_settings(pg_url, tmp_path)
    now = at("2026-12-07 09:10")
    engines = [create_engine(settings) for _ in range(4)]  # four processes, two workers each
    try:
        ids = await _queue(engines[0], 300, now=now)

        async def worker(engine: Any) -> list[int]:
            mine: list[int] = []
            while True:
                async with engine.begin() as conn:
                    claimed = await claim_due(conn, now=now, limit=7)
                if not claimed:
                    return mine
                mine.extend(m.id for m in claimed)

        async with asyncio.timeout(60):
            claims = await asyncio.gather(*(worker(e) for e in engines for _ in range(2)))
        every = [i for claim in claims for i in claim]
        assert len(every) == len(set(every)) == 300 and sorted(every) == ids
        assert sum(1 for claim in claims if claim) > 1  # the work really was shared
        async with engines[0].connect() as conn:
            rows = (await conn.execute(sa.text("SELECT status, attempts, count(*) AS n FROM outbox "
                                               "GROUP BY status, attempts"))).all()
        assert [(r.status, r.attempts, r.n) for r in rows] == [("sending", 1, 300)]
    finally:
        for engine in engines:
            await engine.dispose()


@pytest.mark.postgres
async def test_the_same_idempotency_key_from_two_processes_is_stored_once_on_postgresql(tmp_path, pg_url) -> None:
    settings = notify_settings(pg_url, tmp_path)
    now = at("2026-12-07 09:10")
    first_process, second_process = create_engine(settings), create_engine(settings)

    async def add(conn: Any) -> int | None:
        return await add_outbox_message(conn, idempotency_key="reminder:1:wechat:o-head", channel="wechat",
                                        recipient="o-head", kind="reminder", body="提醒", now=now)

    try:
        async with first_process.connect() as a, second_process.connect() as b:
            assert isinstance(await add(a), int)
            racing = asyncio.create_task(add(b))  # waits on a's uncommitted row (ON CONFLICT needs its outcome)
            async with asyncio.timeout(10), first_process.connect() as probe:
                while not (await probe.execute(sa.text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"))).scalar():
                    pass
            await a.commit()
            assert await racing is None
            await b.commit()
        async with first_process.connect() as conn:
            assert (await conn.execute(sa.text("SELECT count(*) FROM outbox"))).scalar() == 1
    finally:
        await first_process.dispose()
        await second_process.dispose()


@pytest.mark.postgres
async def test_two_processes_sweeping_at_once_on_postgresql_send_each_reminder_once(tmp_path, pg_url) -> None:
    # the scheduler lock normally keeps one sweeper; should two ever overlap (a lock connection lost while the old
    # leader still ticks), idempotency keys and SKIP LOCKED still deliver every message once
    settings = _settings(tmp_path, pg_url)
    async with running_services(settings) as first, running_services(settings) as second:
        cid, _, _ = await _seed(first)
        for n in range(2, 12):
            _, (target,) = await add_task(first.engine, received_at=at("2026-11-20 10:00"), community_ids=[cid],
                                          due=D(2026, 12, 10), code=f"R-20261120-{n:04d}")
            await insert(first.engine, "reminders", target_id=target, kind="before_3", fire_at=at("2026-12-07 09:03"),
                         cancelled=False)
        a, b = RecordingSender(), RecordingSender()
        now = at("2026-12-07 09:10")
        async with asyncio.timeout(60):
            await asyncio.gather(sweep(first, now=now, senders={"wecom_app": a}),
                                 sweep(second, now=now, senders={"wecom_app": b}))
            await asyncio.gather(sweep(first, now=now, senders={"wecom_app": a}),
                                 sweep(second, now=now, senders={"wecom_app": b}))
        # one morning message for the community, listing the eleven tasks, delivered once
        (message,) = [*a.messages, *b.messages]
        assert len(message.payload["tasks"]) == len(set(message.payload["tasks"])) == 11
        rows = await _rows(first, "SELECT status, count(*) AS n FROM outbox GROUP BY status")
        assert [(r.status, r.n) for r in rows] == [("sent", 1)]
