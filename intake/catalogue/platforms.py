"""Platforms named in notices (…系统, …平台, …APP, …小程序): the list admins rename and merge.

A platform row keeps the name it was recognised by (so later notices find it) and a display
name an admin may change. Merging points one platform at another; figures count the root.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.audit import add_audit
from intake.errors import InvalidRequest, NotFound
from intake.store.models import TASK_TARGETS
from intake.store.models_catalogue import PLATFORM_MENTIONS, PLATFORMS

__all__ = ["PlatformRow", "add_platform_mentions", "list_platforms", "merge_platform", "rename_platform",
           "platform_roots"]


@dataclass(frozen=True)
class PlatformRow:
    id: int
    name: str
    display_name: str
    merged_into: str | None
    notices: int
    communities: int


def _insert_ignore(conn: AsyncConnection, table: sa.Table) -> Any:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing()


async def add_platform_mentions(
    conn: AsyncConnection, *, names: Sequence[str], task_id: int, received_at: dt.datetime
) -> list[int]:
    """Record that a notice asks communities to type into these platforms; new names join the list."""
    if not names:
        return []
    await conn.execute(_insert_ignore(conn, PLATFORMS),
                       [{"name": n, "display_name": n, "created_at": received_at} for n in names])
    ids = [int(i) for i in (await conn.execute(
        sa.select(PLATFORMS.c.id).where(PLATFORMS.c.name.in_(list(names))))).scalars()]
    await conn.execute(_insert_ignore(conn, PLATFORM_MENTIONS),
                       [{"platform_id": i, "task_id": task_id, "received_at": received_at} for i in ids])
    return ids


async def platform_roots(conn: AsyncConnection) -> dict[int, tuple[int, str]]:
    """Every platform id → (root id, root display name), following merges."""
    rows = {int(r.id): (r.merged_into_id, str(r.display_name)) for r in (await conn.execute(
        sa.select(PLATFORMS.c.id, PLATFORMS.c.merged_into_id, PLATFORMS.c.display_name))).all()}
    roots: dict[int, tuple[int, str]] = {}
    for pid in rows:
        current, seen = pid, set()
        while rows[current][0] is not None and current not in seen:
            seen.add(current)
            current = int(rows[current][0])
        roots[pid] = (current, rows[current][1])
    return roots


async def list_platforms(conn: AsyncConnection) -> list[PlatformRow]:
    """The list with how many notices named each platform and how many communities they reached."""
    counts = {int(r.platform_id): (int(r.notices), int(r.communities)) for r in (await conn.execute(
        sa.select(PLATFORM_MENTIONS.c.platform_id, sa.func.count(sa.distinct(PLATFORM_MENTIONS.c.task_id)).label("notices"),
                  sa.func.count(sa.distinct(TASK_TARGETS.c.community_id)).label("communities"))
        .select_from(PLATFORM_MENTIONS.outerjoin(TASK_TARGETS, TASK_TARGETS.c.task_id == PLATFORM_MENTIONS.c.task_id))
        .group_by(PLATFORM_MENTIONS.c.platform_id))).all()}
    rows = (await conn.execute(sa.select(PLATFORMS).order_by(PLATFORMS.c.display_name, PLATFORMS.c.id))).all()
    names = {int(r.id): str(r.display_name) for r in rows}
    return [PlatformRow(id=int(r.id), name=str(r.name), display_name=str(r.display_name),
                        merged_into=names.get(r.merged_into_id) if r.merged_into_id else None,
                        notices=counts.get(int(r.id), (0, 0))[0], communities=counts.get(int(r.id), (0, 0))[1])
            for r in rows]


async def _get(conn: AsyncConnection, platform_id: int) -> Any:
    row = (await conn.execute(sa.select(PLATFORMS).where(PLATFORMS.c.id == platform_id))).first()
    if row is None:
        raise NotFound(f"平台 {platform_id}")
    return row


async def rename_platform(conn: AsyncConnection, *, platform_id: int, display_name: str, actor: str,
                          now: dt.datetime) -> None:
    name = display_name.strip()
    if not name or len(name) > 64:
        raise InvalidRequest("平台名称应为1到64个字,请重新填写。")
    row = await _get(conn, platform_id)
    await conn.execute(sa.update(PLATFORMS).where(PLATFORMS.c.id == platform_id).values(display_name=name))
    await add_audit(conn, actor=actor, entity="platform", entity_id=platform_id, action="rename",
                    before={"display_name": row.display_name}, after={"display_name": name}, now=now)


async def merge_platform(conn: AsyncConnection, *, platform_id: int, into_id: int | None, actor: str,
                         now: dt.datetime) -> None:
    """Point a platform at another (None: undo the merge). Refuses a merge that would make a loop."""
    row = await _get(conn, platform_id)
    if into_id is not None:
        await _get(conn, into_id)
        roots = await platform_roots(conn)
        if into_id == platform_id or roots[into_id][0] == platform_id:
            raise InvalidRequest("不能把平台并入它自己或已并入它的平台。")
    await conn.execute(sa.update(PLATFORMS).where(PLATFORMS.c.id == platform_id).values(merged_into_id=into_id))
    await add_audit(conn, actor=actor, entity="platform", entity_id=platform_id, action="merge",
                    before={"merged_into_id": row.merged_into_id}, after={"merged_into_id": into_id}, now=now)
