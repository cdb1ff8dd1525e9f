"""Rows that return nothing, sent once per write batch on PostgreSQL (intake/store/pending.py).

Notices that share a batch must be stored exactly as when every row is sent at once; nothing in the
batch may read around a row not sent yet; a unit whose rows fail rolls back alone.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from typing import Any

import pytest
import sqlalchemy as sa

from bot.app import create_app
from bot.keys import CLOCK, SERVICES
from intake.accounts import (
    _SET_DIALOGUE,
    add_invite,
    clear_dialogue,
    get_account,
    set_dialogue,
    touch_account,
)
from intake.audit import add_audit
from intake.dedupe import get_processed, record_processed
from intake.store import asyncpg_fast
from intake.store.db import create_engine
from intake.store.models import ACCOUNTS, AUDIT_LOG, DEPARTMENTS, TASKS, Role
from intake.store.pending import pending_of
from intake.store.sqlite_fast import Prepared
from intake.store.writer import Writer
from intake.tasks.create import _MARK_REPEAT
from tests.conftest import make_settings
from tests.intake.test_recent_memory import _task
from tests.intake.test_side_counter import NOTICES
from tests.peer import MovingClock, WeChatPeer, text_xml
from tests.pgcluster import PgCluster

pytestmark = [pytest.mark.postgres, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

NOW = dt.datetime(2026, 12, 7, 9, 30, tzinfo=dt.UTC)
# another department collecting what the first notice collects: 重复采集, a mark on the earlier task
SAME_DATA = "【区卫健委】请各社区于12月26日前对辖区低保家庭开展入户核查,统计户数,填写核查表后报送。"
_AUDIT_COUNT = Prepared(sa.select(sa.func.count()).select_from(AUDIT_LOG))
_msg_ids = itertools.count(94_000_001)


async def _one_batch(aiohttp_client: Any, db_url: str) -> tuple[dict[str, list[tuple[str, ...]]], int]:
    """The notices (one of them delivered twice, as WeChat retries) sent at once, so that the writer takes
    them in one batch; every row they left, and how many batches the writer ran for them."""
    settings = make_settings(db_url, database_batch_wait_ms="400")
    client = await aiohttp_client(create_app(settings, background=False, clock=MovingClock(NOW.timestamp())))
    services = client.server.app[SERVICES]
    client.server.app[CLOCK].now = int(NOW.timestamp())
    peer = WeChatPeer(settings)
    async with services.engine.begin() as conn:
        codes = [await add_invite(conn, role=Role.clerk, now=NOW - dt.timedelta(days=1), department=d)
                 for d in ("民政局", "卫健委")]
    for user, code in zip(("o-clerk", "o-health"), codes, strict=True):
        xml = text_xml(from_user=user, content=f"绑定 {code}", create_time=int(NOW.timestamp()), msg_id=next(_msg_ids))
        assert (await peer.post_wechat(client, xml, timestamp=int(NOW.timestamp()))).status == 200
    first = text_xml(from_user="o-clerk", content=NOTICES[0], create_time=int(NOW.timestamp()), msg_id=next(_msg_ids))
    bodies = [first, first] + [
        text_xml(from_user=user, content=text, create_time=int(NOW.timestamp()), msg_id=next(_msg_ids))
        for user, text in [("o-clerk", t) for t in NOTICES[1:]] + [("o-health", SAME_DATA)]
    ]
    batches = services.writer.batches
    posts = []
    for body in bodies:  # in this order into the writer's queue (its 400 ms wait gathers them into one batch)
        posts.append(asyncio.create_task(peer.post_wechat(client, body, timestamp=int(NOW.timestamp()))))
        await asyncio.sleep(0.03)
    replies = await asyncio.gather(*posts)
    batches = services.writer.batches - batches
    assert all(r.status == 200 for r in replies), [r.body for r in replies]
    assert replies[0].body == replies[1].body  # the retry got the first reply
    queries = {
        "tasks": "SELECT code, department, raw_text, status, duplicate_of IS NOT NULL, repeat_collection, "
                 "short_notice FROM tasks ORDER BY code",
        "reminders": "SELECT t.code, c.name, r.kind, r.fire_at, r.cancelled FROM reminders r "
                     "JOIN task_targets g ON g.id = r.target_id JOIN tasks t ON t.id = g.task_id "
                     "JOIN communities c ON c.id = g.community_id ORDER BY 1, 2, 3",
        "audit": "SELECT actor, entity, action, after FROM audit_log WHERE entity = 'task' ORDER BY id",
        # the keys carry this run's MsgIds; their order is the order sent
        "processed": "SELECT channel, reply FROM processed_messages ORDER BY key",
        "dialogue": "SELECT external_id, dialogue_state FROM accounts ORDER BY external_id",
    }
    out = {}
    async with services.engine.connect() as conn:
        for name, sql in queries.items():
            out[name] = [tuple(str(v) for v in row) for row in (await conn.execute(sa.text(sql))).all()]
    await client.close()
    return out, batches


async def test_notices_sharing_a_batch_are_stored_as_when_each_row_is_sent_at_once(
    aiohttp_client: Any, pg_cluster: PgCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    pending, batches = await _one_batch(aiohttp_client, pg_cluster.create_database("pend_on", template="jianfu_template"))
    monkeypatch.setattr(asyncpg_fast, "ENABLED", False)  # every statement through SQLAlchemy, at once
    at_once, _ = await _one_batch(aiohttp_client, pg_cluster.create_database("pend_off", template="jianfu_template"))
    assert batches == 1  # they did share one batch
    assert len(pending["tasks"]) == len(NOTICES) + 1 and pending["reminders"]
    assert any(row[5] == "True" for row in pending["tasks"])  # a 重复采集 mark
    assert any(row[4] == "True" for row in pending["tasks"])  # the resend, linked
    assert len(pending["processed"]) == len(NOTICES) + 3  # two bindings; the retry stored once
    assert pending == at_once


async def test_nothing_in_the_batch_reads_around_a_row_not_sent_yet(pg_url: str) -> None:
    engine = create_engine(make_settings(pg_url))
    writer = Writer(engine)
    await writer.start()

    async def unit(conn: Any) -> list[int]:
        seen = []
        await add_audit(conn, actor="t", entity="task", entity_id=1, action="a", now=NOW)
        assert pending_of(conn) is not None and pending_of(conn).rows_of  # kept for the batch's end
        seen.append((await _AUDIT_COUNT.rows(conn))[0][0])  # a Prepared read of the table sends it first
        await add_audit(conn, actor="t", entity="task", entity_id=2, action="b", now=NOW)
        seen.append((await conn.execute(sa.select(sa.func.count()).select_from(AUDIT_LOG))).scalar_one())
        await add_audit(conn, actor="t", entity="task", entity_id=3, action="c", now=NOW)
        seen.append((await conn.execute(sa.text("SELECT count(*) FROM audit_log"))).scalar_one())  # text: anything
        await record_processed(conn, key="wechat:1", channel="wechat", reply="收到", now=NOW, nonce="n1")
        retry = await get_processed(conn, key="wechat:1", nonce="n2")  # read from the pending row itself
        replay = await get_processed(conn, key="wechat:2", nonce="n1")
        assert retry.reply == "收到" and replay.replayed_nonce and replay.reply is None
        return seen

    try:
        assert await writer.submit(unit) == [1, 2, 3]
        async with engine.connect() as conn:
            assert (await conn.execute(sa.text("SELECT count(*) FROM processed_messages"))).scalar_one() == 1
    finally:
        await writer.stop()
        await engine.dispose()


async def test_a_unit_whose_pending_row_fails_rolls_back_alone(pg_url: str) -> None:
    engine = create_engine(make_settings(pg_url))
    async with engine.begin() as conn:  # another process stored this delivery first
        await record_processed(conn, key="wechat:taken", channel="wechat", reply="先到", now=NOW)
    writer = Writer(engine, batch_wait_ms=200)
    await writer.start()

    def recording(key: str) -> Any:
        async def unit(conn: Any) -> str:
            await add_audit(conn, actor="t", entity="message", entity_id=None, action=key, now=NOW)
            await record_processed(conn, key=key, channel="wechat", reply="好", now=NOW)
            return key
        return unit

    try:
        batches = writer.batches
        results = await asyncio.gather(*(writer.submit(recording(k)) for k in ("wechat:a", "wechat:taken", "wechat:b")),
                                       return_exceptions=True)
        assert writer.batches == batches + 1
        assert results[0] == "wechat:a" and results[2] == "wechat:b"
        assert isinstance(results[1], sa.exc.IntegrityError)  # the chat edge answers it with the first reply
        async with engine.connect() as conn:
            keys = (await conn.execute(sa.text("SELECT key FROM processed_messages ORDER BY key"))).scalars().all()
            actions = (await conn.execute(sa.text("SELECT action FROM audit_log ORDER BY id"))).scalars().all()
        assert keys == ["wechat:a", "wechat:b", "wechat:taken"] and actions == ["wechat:a", "wechat:b"]
    finally:
        await writer.stop()
        await engine.dispose()


async def test_the_account_read_in_the_batch_shows_the_dialogue_state_not_sent_yet(pg_url: str) -> None:
    engine = create_engine(make_settings(pg_url))
    writer = Writer(engine)
    await writer.start()
    later = NOW + dt.timedelta(hours=1)

    async def unit(conn: Any) -> list[Any]:
        account_id = await touch_account(conn, channel="wechat", external_id="o-x", now=NOW)
        await set_dialogue(conn, account_id=account_id, state="awaiting_deadline", task_id=None, expires_at=later)
        seen: list[Any] = [(await get_account(conn, channel="wechat", external_id="o-x"))]
        assert len(pending_of(conn).rows_of(_SET_DIALOGUE)) == 1  # read without sending it
        await clear_dialogue(conn, account_id=account_id)
        seen.append(await get_account(conn, channel="wechat", external_id="o-x"))
        await set_dialogue(conn, account_id=account_id, state="awaiting_funding", task_id=None, expires_at=later)
        read = sa.select(ACCOUNTS.c.dialogue_state).where(ACCOUNTS.c.id == account_id)  # SQLAlchemy: sent first
        seen.append((await conn.execute(read)).scalar_one())
        return seen

    try:
        first, cleared, stored = await writer.submit(unit)
        assert (first.dialogue_state, first.dialogue_expires_at) == ("awaiting_deadline", later)
        assert cleared.dialogue_state is None and cleared.dialogue_expires_at is None
        assert stored == "awaiting_funding"
        async with engine.connect() as conn:
            account = await get_account(conn, channel="wechat", external_id="o-x")
        assert account is not None and account.dialogue_state == "awaiting_funding"
    finally:
        await writer.stop()
        await engine.dispose()


async def test_two_writers_marking_the_same_tasks_in_opposite_orders_both_commit(pg_url: str) -> None:
    """Two processes' batches mark earlier tasks X and Y for 重复采集 in opposite orders. Marked at once, each
    batch would hold one row's lock until its COMMIT and wait for the other's: a deadlock, and PostgreSQL
    fails one whole batch (503 for every message in it). Sent before COMMIT in id order, neither waits long."""
    engine = create_engine(make_settings(pg_url))
    async with engine.begin() as conn:
        dept = (await conn.execute(sa.insert(DEPARTMENTS).values(name="民政局").returning(DEPARTMENTS.c.id))).scalar_one()
        x, y = [(await conn.execute(sa.insert(TASKS).values(_task(None, text=t, department_id=dept))
                                    .returning(TASKS.c.id))).scalar_one() for t in ("甲", "乙")]
    writers = [Writer(create_engine(make_settings(pg_url)), batch_wait_ms=100) for _ in range(2)]
    a_marked, b_marked = asyncio.Event(), asyncio.Event()

    def mark(task_id: int, *, after: asyncio.Event | None = None, then: asyncio.Event | None = None) -> Any:
        async def unit(conn: Any) -> None:
            await conn.execute(sa.select(sa.literal(1)))  # the transaction is open (the app's writer reads its memory)
            if after is not None:
                await asyncio.wait_for(after.wait(), 10)
            await _MARK_REPEAT.later(conn, {"task_id": task_id})
            if then is not None:
                then.set()
        return unit

    try:
        for writer in writers:
            await writer.start()
        results = await asyncio.gather(
            writers[0].submit(mark(x, then=a_marked)), writers[0].submit(mark(y, after=b_marked)),
            writers[1].submit(mark(y, after=a_marked, then=b_marked)), writers[1].submit(mark(x)),
            return_exceptions=True)
        assert not [r for r in results if isinstance(r, BaseException)], results
        async with engine.connect() as conn:
            marked = (await conn.execute(sa.select(TASKS.c.repeat_collection).where(TASKS.c.id.in_([x, y])))).scalars()
            assert list(marked) == [True, True]
    finally:
        for writer in writers:
            await writer.stop()
            await writer._engine.dispose()
        await engine.dispose()
