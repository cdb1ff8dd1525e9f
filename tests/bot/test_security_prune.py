"""Issue 15: pruning the nonce memory never opens a replay, and never costs a true retry its first reply.

The server's clock moves (MovingClock); the prune runs at the same moments with the shortest retention
the settings allow (two timestamp windows and a minute)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest

from bot.app import create_app
from bot.keys import SERVICES
from bot.settings import ConfigError
from intake.prune import run_prune
from tests.conftest import make_settings
from tests.peer import MovingClock, WeChatPeer, text_xml

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

WINDOW_S = 300
SHORTEST = "0.185"  # hours: 666 s, just over two windows (600 s) and a minute


def at_clock(clock: MovingClock) -> dt.datetime:
    return dt.datetime.fromtimestamp(clock.now, dt.UTC)


async def test_a_true_retry_inside_the_window_gets_its_first_reply_after_a_prune(aiohttp_client: Any,
                                                                                  sqlite_url: str) -> None:
    settings = make_settings(sqlite_url, retention_replies_hours=SHORTEST, server_timestamp_window_s=str(WINDOW_S))
    start = float(int(time.time()))
    clock = MovingClock(start)
    client = await aiohttp_client(create_app(settings, background=False, clock=clock))
    peer = WeChatPeer(settings)
    query, body = peer.signed_query(timestamp=int(start)), text_xml(from_user="o-retry", content="帮助").encode()
    first = await client.post("/wechat", params=query, data=body)
    assert first.status == 200

    clock.now = start + WINDOW_S - 1  # the last second this URL is accepted
    report = await run_prune(client.server.app[SERVICES], now=at_clock(clock) + dt.timedelta(seconds=WINDOW_S))
    assert report.replies == 0
    again = await client.post("/wechat", params=query, data=body)
    assert again.status == 200 and await again.text() == await first.text()
    forged = await client.post("/wechat", params=query,
                               data=text_xml(from_user="o-other", content="帮助").encode())
    assert forged.status == 403 and "already carried another message" in await forged.text()


async def test_a_url_whose_nonce_was_pruned_is_refused_as_stale(aiohttp_client: Any, sqlite_url: str) -> None:
    settings = make_settings(sqlite_url, retention_replies_hours=SHORTEST, server_timestamp_window_s=str(WINDOW_S))
    start = float(int(time.time()))
    clock = MovingClock(start)
    client = await aiohttp_client(create_app(settings, background=False, clock=clock))
    peer = WeChatPeer(settings)
    query = peer.signed_query(timestamp=int(start))
    assert (await client.post("/wechat", params=query,
                              data=text_xml(from_user="o-a", content="帮助").encode())).status == 200
    clock.now = start + 700  # past the retention: the row goes
    report = await run_prune(client.server.app[SERVICES], now=at_clock(clock))
    assert report.replies == 1
    replay = await client.post("/wechat", params=query, data=text_xml(from_user="o-b", content="帮助").encode())
    assert replay.status == 403 and "window" in await replay.text()


@pytest.mark.parametrize(("key", "value", "names"), [
    ("retention_replies_hours", "0.1", "retention.replies_hours"),  # 360 s < two windows of 300 s
    ("retention_sessions_days", "0.01", "retention.sessions_days"),  # 14 min < the 60-minute idle timeout
])
def test_a_retention_that_would_prune_rows_still_needed_stops_start_up(sqlite_url: str, key: str, value: str,
                                                                       names: str) -> None:
    with pytest.raises(ConfigError, match=rf"\[{names}\] is too short"):
        make_settings(sqlite_url, **{key: value})


def test_the_shortest_retention_the_windows_allow_is_accepted(sqlite_url: str) -> None:
    settings = make_settings(sqlite_url, retention_replies_hours=SHORTEST, retention_sessions_days="0.05")
    assert settings.retention.replies_hours == float(SHORTEST)
