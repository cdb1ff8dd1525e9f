"""`jianfu serve` as a real subprocess on a free loopback port: start, wait for /healthz, kill -9.

Used by the reliability and fuzz tests (and the benchmarks) where the server must be a
separate process: a crash has to be a real ``SIGKILL``, and a load generator must not share
the server's event loop.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa

from bot.settings import Settings
from tests.peer import WeChatPeer, text_xml

__all__ = ["ServerProcess", "free_port", "jianfu_command", "wait_until", "add_invites", "bind_accounts", "query_rows",
           "RECEIPT_CODE"]

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config.toml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def jianfu_command() -> list[str]:
    """The `jianfu` console script's entry point run by this interpreter (a stale installed script cannot
    get in the way: the code under test is the working tree's)."""
    return [sys.executable, "-m", "bot.cli"]


def wait_until(condition: object, *, timeout: float, interval: float = 0.02, what: str = "condition") -> None:
    """Poll ``condition()`` until it is true or ``timeout`` seconds passed (then AssertionError)."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():  # type: ignore[operator]
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


class ServerProcess:
    """One `jianfu serve` process. ``env`` adds JIANFU_* overrides (e.g. the database URL)."""

    def __init__(
        self,
        *,
        env: Mapping[str, str],
        config: Path = CONFIG,
        port: int | None = None,
        log_path: Path | None = None,
        cpu: int | None = None,
        extra_args: Sequence[str] = (),
        entry: Sequence[str] | None = None,
    ) -> None:
        self.config = config
        self.port = port or free_port()
        self.env = {**os.environ, "JIANFU_SERVER_ENVIRONMENT": "test", **env}
        self.log_path = log_path
        self.cpu = cpu
        self.extra_args = list(extra_args)
        self.entry = list(entry) if entry is not None else jianfu_command()  # what runs `serve`
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = None
        self.started_s: float | None = None  # spawn to first healthy answer, seconds

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=1) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def start(self, *, timeout: float = 120.0) -> ServerProcess:
        command = [*self.entry, "serve", "--config", str(self.config), "--host", "127.0.0.1",
                   "--port", str(self.port), *self.extra_args]
        if self.cpu is not None:
            command = ["taskset", "-c", str(self.cpu), *command]
        if self.log_path is not None:
            self._log = self.log_path.open("ab")
        out = self._log if self._log is not None else subprocess.DEVNULL
        began = time.monotonic()
        self.proc = subprocess.Popen(command, env=self.env, cwd=str(ROOT), stdout=out, stderr=subprocess.STDOUT)

        def up() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"jianfu serve exited with {self.proc.returncode} before answering /healthz"
                                   + (f"; log: {self.log_path}" if self.log_path else ""))
            return self.healthy()

        try:
            wait_until(up, timeout=timeout, interval=0.01, what=f"jianfu serve on port {self.port} to answer /healthz")
        except BaseException:
            self.kill()
            raise
        self.started_s = time.monotonic() - began
        return self

    def rss_kib(self) -> int:
        """Resident memory of the server process (VmRSS), KiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def kill(self) -> None:
        """``kill -9``: no cleanup, no flush, like a power cut for the process."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._close_log()

    def stop(self, *, timeout: float = 15.0) -> None:
        """A clean shutdown (SIGTERM), then SIGKILL if it does not end in time."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
            self._log = None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------- chatting with a live server

RECEIPT_CODE = re.compile(r"R-\d{8}-\d{4,}")


async def add_invites(settings: Settings, *, role: str, targets: Sequence[str]) -> list[str]:
    """Single-use binding codes written straight into the server's database (as `jianfu invite` does)."""
    from intake.accounts import add_invite
    from intake.store.db import create_engine
    from intake.store.models import Role

    engine = create_engine(settings)
    codes = []
    try:
        async with engine.begin() as conn:
            for target in targets:
                kw = {"department": target} if role in ("clerk", "admin") else {"community": target}
                codes.append(await add_invite(conn, role=Role(role), now=dt.datetime.now(dt.UTC), **kw))
    finally:
        await engine.dispose()
    return codes


async def bind_accounts(
    session: aiohttp.ClientSession, peer: WeChatPeer, settings: Settings, *, role: str, targets: Sequence[str],
    prefix: str,
) -> list[str]:
    """Bind one OpenID per target over real HTTP (``绑定 CODE``); returns the OpenIDs."""
    codes = await add_invites(settings, role=role, targets=targets)
    users = [f"{prefix}-{i:03d}" for i in range(len(targets))]
    for user, code in zip(users, codes, strict=True):
        reply = await peer.post_wechat(session, text_xml(from_user=user, content=f"绑定 {code}"))
        assert reply.status == 200 and "绑定成功" in reply.content, (reply.status, reply.body)
    return users


async def query_rows(settings: Settings, sql: str, **params: Any) -> list[Any]:
    """Read the server's database from outside the server (a fresh engine, closed after the query)."""
    from intake.store.db import create_engine

    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(sa.text(sql), params)).all())
    finally:
        await engine.dispose()
