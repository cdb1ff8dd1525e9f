"""Helpers shared by the console, export and browser tests (no tests of its own)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.settings import Settings
from classifiers import load_rules
from classifiers.search import document_terms, join_terms
from intake.accounts import get_or_add_department
from intake.console_users import add_admin_user
from intake.store.models import COMMUNITIES, TASKS
from intake.store.models import TASK_TARGETS as TARGETS

TZ = dt.timezone(dt.timedelta(hours=8))
PASSWORD = "correct-horse-9"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def build_app(settings: Settings) -> web.Application:
    """The real app; bot/app.py mounts the console under /admin."""
    from bot.app import create_app

    return create_app(settings, background=False)


async def add_user(engine: AsyncEngine, username: str = "wang", role: str = "admin",
                   password: str = PASSWORD) -> int:
    async with engine.begin() as conn:
        return await add_admin_user(conn, username=username, password=password, role=role)


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def login(client: Any, username: str = "wang", password: str = PASSWORD) -> str:
    """Log in through the form; returns a CSRF token valid for the new session."""
    page = await client.get("/admin/login")
    token = csrf_of(await page.text())
    resp = await client.post("/admin/login", data={"username": username, "password": password,
                                                   "csrf_token": token, "next": "/admin/tasks"},
                             allow_redirects=False)
    assert resp.status == 303, await resp.text()
    page = await client.get("/admin/tasks")
    assert page.status == 200
    return csrf_of(await page.text())


_counter = iter(range(1, 10_000))


async def seed_task(
    engine: AsyncEngine, *, raw_text: str = "【区民政局】请各社区于12月5日前报送高龄老人花名册。", department: str = "民政局",
    kind: str = "report", listing: str = "assist", item: str | None = "A2", status: str = "accepted",
    deadline: dt.date | None = dt.date(2025, 12, 5), communities: tuple[str, ...] = ("幸福社区", "和平社区"),
    received_at: dt.datetime | None = None, funded: bool = False, evidence: dict[str, Any] | None = None,
    sender_id: int | None = None, keywords: list[str] | None = None,
) -> str:
    """Insert a task with its targets directly (pure console tests)."""
    n = next(_counter)
    received_at = received_at or dt.datetime(2025, 11, 20, 9, 30, tzinfo=TZ)
    code = f"R-{received_at.strftime('%Y%m%d')}-{9000 + n:04d}"
    target_status = {"refused": "refused", "withdrawn": "withdrawn"}.get(status, "open")
    async with engine.begin() as conn:
        department_id = await get_or_add_department(conn, name=department) if department else None  # as intake does
        task_id = (await conn.execute(sa.insert(TASKS).values(
            code=code, msg_id=f"seed-{n}-{code}", channel="wechat", sender_id=sender_id, department=department,
            department_id=department_id,
            raw_text=raw_text, kind=kind, nature="service" if kind == "service" else "administrative",
            listing=listing, item=item, deadline=deadline, funded=funded, communities=list(communities),
            keywords=keywords or ["高龄", "花名册"],
            evidence=evidence if evidence is not None else {
                "kind": {"rule": "kind.words", "words": ["报送", "花名册"], "why": "“报送”命中报表"},
                "department": {"rule": "department.bracket", "words": ["区民政局"], "why": "【】中的部门"}},
            confidence=0.8, rules_version="test", status=status, received_at=received_at, created_at=received_at,
            updated_at=received_at, search_terms=join_terms(document_terms(raw_text, load_rules())),
        ).returning(TASKS.c.id))).scalar_one()
        ids = (await conn.execute(sa.select(COMMUNITIES.c.id).where(COMMUNITIES.c.name.in_(communities)))).scalars()
        for cid in ids:
            await conn.execute(sa.insert(TARGETS).values(task_id=task_id, community_id=cid, status=target_status,
                                                         due_date=deadline))
    return code


async def scalar(engine: AsyncEngine, stmt: Any) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(stmt)).scalar()
