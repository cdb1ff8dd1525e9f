"""Disk full or database locked: the operator sees a clear error, WeChat gets `success` or a retryable 5xx,
and nobody ever gets a receipt for a task that was not stored.

SQLite only, by nature: the lock is another connection's ``BEGIN EXCLUSIVE`` held past the busy
timeout; a full disk is ``PRAGMA max_page_count`` pinned to the file's current size on every
connection the app checks out (a tiny filesystem is not available here).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from bot.app import create_app
from bot.chat import texts
from bot.keys import PENDING, SERVICES
from intake.accounts import add_invite
from intake.store.models import Role
from tests.conftest import make_settings, scalar
from tests.peer import Reply, WeChatPeer, text_xml
from tests.serverproc import RECEIPT_CODE

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

NOTICE = "【区民政局】请各社区于12月25日前对辖区低保家庭开展入户核查,共68户,填写核查表后报社会救助科。"


@dataclass
class Clerk:
    client: Any
    peer: WeChatPeer
    user: str

    async def say(self, text: str, *, msg_id: int | None = None) -> Reply:
        return await self.peer.post_wechat(self.client, text_xml(from_user=self.user, content=text, msg_id=msg_id))


async def _bound_clerk(client: Any, peer: WeChatPeer, user: str) -> Clerk:
    import datetime as dt

    async with client.server.app[SERVICES].engine.begin() as conn:
        code = await add_invite(conn, role=Role.clerk, department="民政局", now=dt.datetime.now(dt.UTC))
    clerk = Clerk(client, peer, user)
    assert "绑定成功" in (await clerk.say(f"绑定 {code}")).content
    return clerk


async def _tasks(client: Any) -> int:
    return int(await scalar(client.server.app[SERVICES].engine, "SELECT count(*) FROM tasks"))


def _no_receipt(reply: Reply) -> bool:
    """`success` (nothing shown, pushed later or never) or a 5xx WeChat retries: never a task code."""
    if reply.status == 200:
        return reply.body == "success"
    return 500 <= reply.status < 600 and RECEIPT_CODE.search(reply.body) is None


async def test_database_locked_past_busy_timeout_gives_no_receipt(
    aiohttp_client: Any, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(sqlite_url)
    app = create_app(settings, background=False)
    client = await aiohttp_client(app)
    peer = WeChatPeer(settings)
    clerk = await _bound_clerk(client, peer, "o-locked")
    path = sqlite_url.split(":///", 1)[1]
    caplog.set_level(logging.ERROR)

    blocker = sqlite3.connect(path, isolation_level=None, timeout=1)
    try:
        blocker.execute("BEGIN EXCLUSIVE")  # another process holding the write lock longer than busy_timeout
        reply = await clerk.say(NOTICE, msg_id=9_100_000_001)
        assert _no_receipt(reply), (reply.status, reply.body)
        if reply.status != 200:
            assert texts.STORAGE_DOWN in reply.body
        await asyncio.gather(*app[PENDING])  # a late answer, if any, has given up by now
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    assert await _tasks(client) == 0
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("not stored" in r.getMessage() and "locked" in r.getMessage() for r in errors), \
        [r.getMessage() for r in errors]

    retry = await clerk.say(NOTICE, msg_id=9_100_000_001)  # WeChat's retry, or the clerk sending it again
    assert retry.status == 200 and retry.content.startswith("已登记 R-")
    assert await _tasks(client) == 1


async def test_database_full_answers_503_and_stores_nothing(
    aiohttp_client: Any, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(sqlite_url)
    with contextlib.closing(sqlite3.connect(sqlite_url.split(":///", 1)[1])) as raw:
        raw.execute("VACUUM")  # no free pages left over from the migrations: "full" means full
    client = await aiohttp_client(create_app(settings, background=False))
    peer = WeChatPeer(settings)
    clerk = await _bound_clerk(client, peer, "o-full")
    engine = client.server.app[SERVICES].engine
    async with engine.connect() as conn:
        pages = int((await conn.exec_driver_sql("PRAGMA page_count")).scalar_one())
    limit = {"pages": pages}

    def pin_size(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA max_page_count = {limit['pages']}")
        cursor.close()

    # every pool of the process (the app's engine and the writer's own), for this test only
    sa.event.listen(sa.pool.Pool, "checkout", pin_size)
    caplog.set_level(logging.ERROR)
    # a long notice needs overflow pages: it cannot fit into the free space of the pinned file
    long_notice = NOTICE + "附:核查要求。" + "请逐户核对家庭成员、收入和财产状况,如实填写。" * 300
    try:
        reply = await clerk.say(long_notice, msg_id=9_200_000_001)
        assert reply.status == 503, (reply.status, reply.body[:300])
        assert texts.STORAGE_DOWN in reply.body and _no_receipt(reply)
        assert await _tasks(client) == 0
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert any("not stored" in m and "full" in m for m in errors), errors
        health = await client.get("/healthz")  # reads still work: the process stays up and says so
        assert health.status == 200

        limit["pages"] = 1_073_741_823  # space again (SQLite's largest page count)
        retry = await clerk.say(long_notice, msg_id=9_200_000_001)
        assert retry.status == 200 and retry.content.startswith("已登记 R-"), retry.body[:300]
        assert await _tasks(client) == 1
    finally:
        sa.event.remove(sa.pool.Pool, "checkout", pin_size)
