"""Two web processes on one PostgreSQL (SPEC: several processes behind a load balancer), one MsgId at both.

WeChat's retry of a slow message can reach another process while the first is still working on it.
Each process has its own writer, so the database's unique keys are what stop a second task: the
message is stored once, every delivery gets the receipt or a retryable 503 (never a second receipt
with another code, never a 500), and WeChat's next retry is answered with the stored receipt.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
from typing import Any

import pytest

from bot.app import create_app
from bot.keys import SERVICES
from intake.accounts import add_invite
from intake.store.models import Role
from tests.conftest import make_settings
from tests.peer import WeChatPeer, text_xml
from tests.serverproc import RECEIPT_CODE, query_rows

pytestmark = [pytest.mark.postgres, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

NOTICE = "【区民政局】请各社区于12月25日前对辖区低保家庭开展入户核查,共{n}户,填写核查表后报社会救助科。"


async def test_one_msgid_racing_into_two_processes_is_stored_once(aiohttp_client: Any, pg_url: str) -> None:
    settings = make_settings(pg_url)
    first = await aiohttp_client(create_app(settings, background=False))
    second = await aiohttp_client(create_app(settings, background=False))
    peer = WeChatPeer(settings)
    async with first.server.app[SERVICES].engine.begin() as conn:
        code = await add_invite(conn, role=Role.clerk, department="民政局", now=dt.datetime.now(dt.UTC))
    assert "绑定成功" in (await peer.post_wechat(first, text_xml(from_user="o-mp", content=f"绑定 {code}"))).content

    statuses: collections.Counter[int] = collections.Counter()
    for n in range(1, 21):
        xml = text_xml(from_user="o-mp", content=NOTICE.format(n=n), msg_id=6_600_000_000 + n)
        replies = await asyncio.gather(peer.post_wechat(first, xml), peer.post_wechat(second, xml))
        statuses.update(r.status for r in replies)
        assert {r.status for r in replies} <= {200, 503}, [(r.status, r.body[:200]) for r in replies]
        receipts = {RECEIPT_CODE.search(r.content).group(0) for r in replies if r.status == 200 and r.content}
        assert len(receipts) <= 1, receipts
        retry = await peer.post_wechat(second, xml)  # WeChat retries whatever got a 503
        assert retry.status == 200 and retry.content.startswith("已登记 R-")
        assert receipts <= {RECEIPT_CODE.search(retry.content).group(0)}

    rows = await query_rows(settings, "SELECT msg_id, count(*) AS n FROM tasks GROUP BY msg_id")
    assert len(rows) == 20 and all(int(r.n) == 1 for r in rows)
    assert statuses[200] >= 20  # at least one delivery of each MsgId answered with the receipt
