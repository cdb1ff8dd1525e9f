"""Crash: `kill -9` the server a third of the way through a load, restart it, replay what got no answer.

As WeChat does, every delivery that got no answer (connection reset, refused, or a 5xx) is
sent again, unchanged, to the restarted server. Afterwards every message that got a receipt
is stored exactly once under the code its receipt named, and so is every other message.
Reminders that fell due while the server was down are sent once after the restart: the
restarted server's own sweep sends them, and a later sweep finds nothing left to send.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import itertools
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from bot.app import create_app
from bot.keys import SERVICES
from intake.store.db import create_engine
from intake.store.models import REMINDERS
from intake.store.models import TASK_TARGETS as TARGETS
from tests.conftest import make_settings
from tests.peer import Reply, WeChatPeer, text_xml
from tests.serverproc import RECEIPT_CODE, ServerProcess, bind_accounts, query_rows

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SENDERS = 20
MESSAGES = {"sqlite": 450, "postgres": 300}  # a third answered, then kill -9
OVERDUE_EVERY = 10  # one notice in ten has a deadline that passed while the server was down
_msg_ids = itertools.count(8_200_000_000)


def _day(d: dt.date) -> str:
    return f"{d.month}月{d.day}日"


async def _deliver(session: aiohttp.ClientSession, peer: WeChatPeer, xml: str) -> Reply | None:
    """One delivery as WeChat makes it; None when there was no usable answer (WeChat would retry)."""
    try:
        reply = await peer.post_wechat(session, xml)
    except (TimeoutError, aiohttp.ClientError):
        return None
    return reply if reply.status == 200 else None


async def test_kill_9_mid_load_then_replay_loses_nothing_and_reminds_once(
    db_url: str, tmp_path: Path, aiohttp_client: Any
) -> None:
    total = MESSAGES["sqlite" if db_url.startswith("sqlite") else "postgres"]
    settings = make_settings(db_url)
    peer = WeChatPeer(settings)
    # The notices are sent now (a CreateTime far from the server's clock would be replaced by the receive
    # time): one in ten is due in five days, and once all are stored the outage is made to have lasted
    # nine days (their reminders' fire times are moved back), so all its reminders are due; the rest are
    # due in three weeks and remind nobody yet.
    now = dt.datetime.now(settings.tz)
    sent_at = now
    past_due, future_due = (now + dt.timedelta(days=5)).date(), (now + dt.timedelta(days=21)).date()
    env = {"JIANFU_DATABASE_URL": db_url, "JIANFU_SCHEDULE_SWEEP_SECONDS": "3600"}
    first = ServerProcess(env=env, log_path=tmp_path / "first.log").start()
    try:
        async with aiohttp.ClientSession(first.url, timeout=aiohttp.ClientTimeout(total=20)) as session:
            users = await bind_accounts(session, peer, settings, role="clerk", prefix="o-crash",
                                        targets=["民政局"] * SENDERS)
    except BaseException:
        first.kill()
        raise

    messages: dict[int, str] = {}
    by_sender: list[list[int]] = [[] for _ in users]
    for i in range(total):
        msg_id = next(_msg_ids)
        overdue = i % OVERDUE_EVERY == 0
        due = past_due if overdue else future_due
        content = f"【区民政局】请幸福社区于{_day(due)}前对辖区低保家庭开展入户核查,共{i + 1}户,填写核查表后报社会救助科。"
        user = users[i % SENDERS]
        messages[msg_id] = text_xml(from_user=user, content=content, msg_id=msg_id,
                                    create_time=int(sent_at.timestamp()))
        by_sender[i % SENDERS].append(msg_id)

    answered: dict[int, Reply] = {}
    killed = asyncio.Event()

    async def sender(session: aiohttp.ClientSession, ids: list[int]) -> None:
        for msg_id in ids:
            reply = await _deliver(session, peer, messages[msg_id])
            if reply is not None:
                answered[msg_id] = reply
                if len(answered) >= total // 3 and not killed.is_set():
                    killed.set()
                    first.kill()  # SIGKILL while the other senders' requests are in flight

    try:
        async with aiohttp.ClientSession(first.url, timeout=aiohttp.ClientTimeout(total=20)) as session:
            await asyncio.gather(*(sender(session, ids) for ids in by_sender))
    finally:
        first.kill()
    assert killed.is_set(), "the load finished before the kill"
    before_crash = dict(answered)
    unanswered = [m for m in messages if m not in answered]
    assert len(before_crash) < total and unanswered

    second = ServerProcess(env={**env, "JIANFU_SCHEDULE_SWEEP_SECONDS": "1"}, log_path=tmp_path / "second.log")
    second.start()
    try:
        senders = asyncio.Semaphore(SENDERS)

        async def replay(msg_id: int) -> Reply | None:
            async with senders:
                return await _replay(session, peer, messages[msg_id])

        async with aiohttp.ClientSession(second.url, timeout=aiohttp.ClientTimeout(total=20)) as session:
            replayed = await asyncio.gather(*(replay(m) for m in unanswered))
        for msg_id, reply in zip(unanswered, replayed, strict=True):
            assert reply is not None, f"replayed message {msg_id} got no answer from the restarted server"
            answered[msg_id] = reply

        # every message stored exactly once, under the code its receipt names (a `success` answer means
        # the reply budget ran out: the message is stored a moment later and its receipt pushed)
        async def all_stored() -> bool:
            rows = await query_rows(settings, "SELECT count(*) AS n FROM tasks")
            return int(rows[0].n) >= total

        await _poll(all_stored, timeout=60, what="the messages answered `success` to be stored")
        await _pass_days(settings, due=past_due, days=9)
        rows = await query_rows(settings, "SELECT msg_id, code FROM tasks")
        stored = collections.Counter(int(r.msg_id.rsplit(":", 1)[1]) for r in rows)
        assert {m: n for m, n in stored.items() if n != 1} == {}
        assert set(stored) == set(messages)
        codes = {int(r.msg_id.rsplit(":", 1)[1]): r.code for r in rows}
        for msg_id, reply in answered.items():
            if reply.body == "success":  # answered past the reply budget: stored, receipt pushed later
                continue
            found = RECEIPT_CODE.search(reply.content)
            assert found is not None and found.group(0) == codes[msg_id], (msg_id, reply.content)

        # the restarted server's sweep sends the reminders that fell due during the outage
        async def all_reminded() -> bool:
            waiting = await query_rows(
                settings,
                "SELECT count(*) AS n FROM reminders WHERE sent_at IS NULL AND cancelled = :f AND fire_at <= :now",
                f=False, now=dt.datetime.now(dt.UTC),
            )
            return int(waiting[0].n) == 0

        await _poll(all_reminded, timeout=60, what="the restarted server to send the reminders due in the outage")
    finally:
        second.stop()

    # once: one message per overdue target (the latest of its due reminders), and a later sweep adds nothing
    due_targets = await query_rows(
        settings, "SELECT count(DISTINCT target_id) AS n FROM reminders WHERE fire_at <= :now",
        now=dt.datetime.now(dt.UTC),
    )
    overdue_targets = int(due_targets[0].n)
    assert overdue_targets >= total // OVERDUE_EVERY
    sent = await query_rows(settings, "SELECT idempotency_key FROM outbox WHERE kind = 'reminder'")
    keys = [r.idempotency_key for r in sent]
    assert len(keys) == len(set(keys)) == overdue_targets
    client = await aiohttp_client(create_app(settings, background=False))
    from intake.jobs import run_sweep

    report = await run_sweep(client.server.app[SERVICES], now=dt.datetime.now(dt.UTC), digests=False)
    assert (report.reminders_queued, report.messages_queued) == (0, 0)
    again = await query_rows(settings, "SELECT count(*) AS n FROM outbox WHERE kind = 'reminder'")
    assert int(again[0].n) == overdue_targets


async def _pass_days(settings: Any, *, due: dt.date, days: int) -> None:
    """Let `days` pass for the targets due on `due`: their reminders' fire times move back by that much."""
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            rows = (await conn.execute(
                sa.select(REMINDERS.c.id, REMINDERS.c.fire_at).join(TARGETS, TARGETS.c.id == REMINDERS.c.target_id)
                .where(TARGETS.c.due_date == due))).all()
            for row in rows:
                await conn.execute(sa.update(REMINDERS).where(REMINDERS.c.id == row.id)
                                   .values(fire_at=row.fire_at - dt.timedelta(days=days)))
    finally:
        await engine.dispose()
    assert rows, "no reminders were planned for the overdue notices"


async def _replay(session: aiohttp.ClientSession, peer: WeChatPeer, xml: str) -> Reply | None:
    """WeChat retries three times; so do we."""
    for _ in range(3):
        reply = await _deliver(session, peer, xml)
        if reply is not None:
            return reply
    return None


async def _poll(condition: Any, *, timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.2)
