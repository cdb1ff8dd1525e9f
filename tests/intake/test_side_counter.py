"""Task codes on PostgreSQL are drawn beside the write transaction (intake/store/side.py).

They must not make one writer wait for another's COMMIT, must never be handed out twice, and the
notices stored with them must be stored exactly as the in-transaction counter stores them.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.app import create_app
from bot.keys import CLOCK, SERVICES
from intake.accounts import add_invite
from intake.store import writer as writer_module
from intake.store.db import create_engine
from intake.store.models import Role
from intake.store.side import SIDE, SideConnection
from intake.tasks import next_task_code
from tests.conftest import make_settings
from tests.peer import MovingClock, WeChatPeer, text_xml
from tests.pgcluster import PgCluster

pytestmark = [pytest.mark.postgres, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

DAY = dt.date(2026, 12, 7)
NOW = dt.datetime(2026, 12, 7, 9, 30, tzinfo=dt.UTC)
NOTICES = (
    "【区民政局】请各社区于12月25日前对辖区低保家庭开展入户核查,共68户,填写核查表后报社会救助科。",
    "【区民政局】请幸福社区于12月20日前报送辖区高龄老人补贴发放名单,按模板填写。",
    "【区民政局】请各社区于12月25日前对辖区低保家庭开展入户核查,共68户,填写核查表后报社会救助科。",  # a resend
    "【区民政局】请各社区协助开展消防安全检查,排查隐患,形成台账。",  # no deadline: the clerk is asked
    "【区民政局】请各社区12月9日前统计辖区灵活就业人员,填写统计表。",  # short notice
)
_msg_ids = itertools.count(93_000_001)


async def _lock_timeout(conn: AsyncConnection) -> None:
    await conn.execute(sa.text("SET LOCAL lock_timeout = '200ms'"))


async def test_a_second_writer_draws_a_code_while_the_first_batch_is_still_open(pg_url: str) -> None:
    engine = create_engine(make_settings(pg_url))
    side = SideConnection(engine)
    try:
        async with engine.begin() as first, engine.begin() as second:
            await _lock_timeout(second)
            token = SIDE.set(side)
            try:
                assert await next_task_code(first, day=DAY) == "R-20261207-0001"
                assert await next_task_code(second, day=DAY) == "R-20261207-0002"  # no wait for `first`
            finally:
                SIDE.reset(token)
        # the in-transaction counter (no side connection) does wait: what the side connection avoids
        async with engine.begin() as first, engine.begin() as second:
            await _lock_timeout(second)
            assert await next_task_code(first, day=DAY) == "R-20261207-0003"
            with pytest.raises(sa.exc.DBAPIError, match="lock timeout"):
                await next_task_code(second, day=DAY)
    finally:
        await side.close()
        await engine.dispose()


async def test_a_code_drawn_by_a_rolled_back_notice_is_never_handed_out_again(pg_url: str) -> None:
    engine = create_engine(make_settings(pg_url))
    side = SideConnection(engine)
    token = SIDE.set(side)
    try:
        async with engine.connect() as conn:
            assert await next_task_code(conn, day=DAY) == "R-20261207-0001"
            await conn.rollback()
        async with engine.begin() as conn:
            assert await next_task_code(conn, day=DAY) == "R-20261207-0002"
    finally:
        SIDE.reset(token)
        await side.close()
        await engine.dispose()


async def _store_notices(aiohttp_client: Any, db_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """The notices sent through the real app; every row they left, without ids and wall-clock times."""
    settings = make_settings(db_url)
    client = await aiohttp_client(create_app(settings, background=False, clock=MovingClock(NOW.timestamp())))
    peer = WeChatPeer(settings)
    async with client.server.app[SERVICES].engine.begin() as conn:
        code = await add_invite(conn, role=Role.clerk, now=NOW - dt.timedelta(days=1), department="民政局")
    for text in (f"绑定 {code}", *NOTICES):
        client.server.app[CLOCK].now = int(NOW.timestamp())
        xml = text_xml(from_user="o-clerk", content=text, create_time=int(NOW.timestamp()), msg_id=next(_msg_ids))
        reply = await peer.post_wechat(client, xml, timestamp=int(NOW.timestamp()))
        assert reply.status == 200, reply.body
    queries = {
        "tasks": "SELECT code, channel, department, raw_text, kind, nature, listing, item, deadline, status, "
                 "duplicate_of IS NOT NULL, repeat_collection, short_notice, communities, keywords, evidence, "
                 "received_at, review_note FROM tasks ORDER BY code",
        "targets": "SELECT t.code, c.name, g.status, g.due_date, g.announced_at FROM task_targets g "
                   "JOIN tasks t ON t.id = g.task_id JOIN communities c ON c.id = g.community_id ORDER BY 1, 2",
        "reminders": "SELECT t.code, c.name, r.kind, r.fire_at, r.cancelled FROM reminders r "
                     "JOIN task_targets g ON g.id = r.target_id JOIN tasks t ON t.id = g.task_id "
                     "JOIN communities c ON c.id = g.community_id ORDER BY 1, 2, 3",
        "audit": "SELECT actor, entity, action, after FROM audit_log WHERE entity = 'task' ORDER BY id",
        "counters": "SELECT day, last FROM task_code_counters ORDER BY day",
        "dialogue": "SELECT external_id, dialogue_state FROM accounts ORDER BY external_id",
    }
    out = {}
    async with client.server.app[SERVICES].engine.connect() as conn:
        for name, sql in queries.items():
            out[name] = [tuple(str(v) for v in row) for row in (await conn.execute(sa.text(sql))).all()]
    await client.close()
    return out


async def test_notices_stored_with_side_codes_equal_those_stored_with_the_in_transaction_counter(
    aiohttp_client: Any, pg_cluster: PgCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    side = await _store_notices(aiohttp_client, pg_cluster.create_database("side_on", template="jianfu_template"))
    monkeypatch.setattr(writer_module, "SIDE_COUNTERS", False)
    generic = await _store_notices(aiohttp_client, pg_cluster.create_database("side_off", template="jianfu_template"))
    assert len(side["tasks"]) == len(NOTICES) and side["reminders"] and side["targets"]
    assert side == generic
