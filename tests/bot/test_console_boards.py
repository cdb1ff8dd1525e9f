"""Dashboards are kept a minute, and an older one is shown while a fresh one is built in the background."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.console.boards import Boards
from bot.console.queries import Dashboard

NOW = dt.datetime(2026, 12, 3, 8, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def builder():
    built: list[int] = []

    async def build() -> Dashboard:
        built.append(len(built) + 1)
        return Dashboard(month="2026-12", current=None, months=[], pending_review=len(built))  # type: ignore[arg-type]

    return build, built


async def test_a_kept_dashboard_is_shown_until_it_is_older_than_the_limit():
    clock, (build, built) = Clock(), builder()
    boards = Boards(60, clock=clock)
    first = await boards.get(("2026-12", ""), build, now=NOW)
    clock.t += 59
    again = await boards.get(("2026-12", ""), build, now=NOW)
    assert again is first and built == [1] and again.refreshing is None
    assert (await boards.get(("2026-12", "社区001"), build, now=NOW)).board.pending_review == 2  # its own key


async def test_an_old_dashboard_is_shown_while_a_fresh_one_is_built_once():
    clock, (build, built) = Clock(), builder()
    boards = Boards(60, clock=clock)
    await boards.get(("2026-12", ""), build, now=NOW)
    clock.t += 61
    stale = await boards.get(("2026-12", ""), build, now=NOW + dt.timedelta(minutes=1))
    assert stale.board.pending_review == 1 and stale.refreshing is not None
    refreshing = stale.refreshing
    assert (await boards.get(("2026-12", ""), build, now=NOW)).refreshing is refreshing  # one build at a time
    await refreshing
    fresh = await boards.get(("2026-12", ""), build, now=NOW)
    assert fresh.board.pending_review == 2 and fresh.built_at == NOW + dt.timedelta(minutes=1) and built == [1, 2]
    await boards.close()


async def test_a_failed_background_build_keeps_the_old_dashboard(caplog):
    clock = Clock()
    boards = Boards(60, clock=clock)
    build, _ = builder()
    kept = await boards.get(("2026-12", ""), build, now=NOW)

    async def broken() -> Dashboard:
        raise RuntimeError("database gone")

    clock.t += 61
    stale = await boards.get(("2026-12", ""), broken, now=NOW)
    assert stale.refreshing is not None
    await stale.refreshing
    assert (await boards.get(("2026-12", ""), build, now=NOW)) is not None
    assert kept.board.pending_review == 1 and "rebuilding the dashboard" in caplog.text


async def test_no_keeping_when_the_limit_is_zero():
    build, built = builder()
    boards = Boards(0)
    await boards.get(("2026-12", ""), build, now=NOW)
    await boards.get(("2026-12", ""), build, now=NOW)
    assert built == [1, 2]


async def test_an_unknown_community_is_never_kept():
    boards = Boards(60)

    async def unknown() -> Dashboard:
        raise LookupError("社区999")

    with pytest.raises(LookupError):
        await boards.get(("2026-12", "社区999"), unknown, now=NOW)
    build, built = builder()
    await boards.get(("2026-12", "社区999"), build, now=NOW)
    assert built == [1]
