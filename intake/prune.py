"""The prune job: rows that only guard the edges are deleted once nothing can need them again.

Run by the process that holds the scheduler lock, every ``[retention] prune_minutes``
(:mod:`intake.scheduler`):

* ``processed_messages`` — the first reply to each message (for WeChat's retries) and the nonce of
  the signed URL it came with (replays are refused). Kept ``[retention] replies_hours``; that must
  cover two timestamp windows (a URL signed at T is accepted from T − window to T + window, and
  its row is written inside that span), which ``bot.settings`` checks at start-up with
  :func:`replies_floor`. A pruned nonce's URL is refused as stale by the timestamp check.
* ``console_sessions`` — sessions last used more than ``[retention] sessions_days`` ago. A session's
  last use stops moving when it ends (logout, password change, deactivation, "end all") or expires
  (idle or absolute timeout); a live one was used within the idle timeout, which the retention must
  exceed (:func:`sessions_floor`, checked at start-up). The days in between keep the record of who
  was logged in when.
* ``login_throttle`` — counts whose last failure faded (``FAILURES_FADE``) and whose wait is over:
  such a row counts as no failure at all, so it goes at once; nothing to configure.

Each table is deleted in batches of ``[retention] prune_batch`` rows, each batch its own write
unit through the writer (so on SQLite the write lock is held for one short batch at a time,
between messages), at most ``max_batches`` per table and run; the next run goes on.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection

from intake.console_sessions import prune_login_throttle, prune_sessions
from intake.dedupe import prune_processed

if TYPE_CHECKING:
    from intake.context import Services

__all__ = ["PruneReport", "run_prune", "replies_floor", "sessions_floor", "CLOCK_SLACK"]

log = logging.getLogger(__name__)

CLOCK_SLACK = dt.timedelta(minutes=1)  # processes' clocks may differ a little; keep this much more
MAX_BATCHES = 200  # per table and run: a backlog is worked off over several runs

Batch = Callable[[AsyncConnection], Awaitable[int]]


def replies_floor(timestamp_window_s: int) -> dt.timedelta:
    """The shortest safe ``replies_hours``: two timestamp windows and the clock slack."""
    return 2 * dt.timedelta(seconds=timestamp_window_s) + CLOCK_SLACK


def sessions_floor(idle: dt.timedelta) -> dt.timedelta:
    """The shortest safe ``sessions_days``: longer than a live session can go unused."""
    return idle + CLOCK_SLACK


@dataclass
class PruneReport:
    replies: int = 0
    sessions: int = 0
    login_throttle: int = 0


async def _drain(services: Services, batch: Batch, *, limit: int, max_batches: int) -> int:
    """Run ``batch`` (one delete of at most ``limit`` rows) as write units until one deletes fewer."""
    total = 0
    for _ in range(max_batches):
        deleted = await services.writer.submit(batch)
        total += deleted
        if deleted < limit:
            break
    return total


async def run_prune(services: Services, *, now: dt.datetime, max_batches: int = MAX_BATCHES) -> PruneReport:
    """Delete what is past its window at ``now`` (see the module's docstring)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    retention = services.settings.retention
    limit = retention.prune_batch
    replies_before = now - dt.timedelta(hours=retention.replies_hours)
    seen_before = now - dt.timedelta(days=retention.sessions_days)

    async def replies(conn: AsyncConnection) -> int:
        return await prune_processed(conn, before=replies_before, limit=limit)

    async def sessions(conn: AsyncConnection) -> int:
        return await prune_sessions(conn, seen_before=seen_before, limit=limit)

    async def throttle(conn: AsyncConnection) -> int:
        return await prune_login_throttle(conn, now=now, limit=limit)

    report = PruneReport(
        replies=await _drain(services, replies, limit=limit, max_batches=max_batches),
        sessions=await _drain(services, sessions, limit=limit, max_batches=max_batches),
        login_throttle=await _drain(services, throttle, limit=limit, max_batches=max_batches),
    )
    if report.replies or report.sessions or report.login_throttle:
        log.info("pruned %d replies, %d console sessions, %d login throttle rows",
                 report.replies, report.sessions, report.login_throttle)
    return report
