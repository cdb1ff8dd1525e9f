"""Edits of the tree made in the console: add or rename a street, add a community to a street, rename or
move a community, set its staff. Repository functions: keyword-only, the connection given, no commit.

Every edit is a version in ``org_imports`` (who, when, the lines of what changed, the tree after it), as
an import is. Tasks, assignments, accounts and counter work point at communities by id, so a rename or a
move keeps all of them attached; the archived digests of a renamed community follow its new name.
Who may make which edit is decided by the console (``bot/console/views/org.py``), not here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.audit import add_audit
from intake.errors import InvalidRequest, NotFound
from intake.org import texts
from intake.org.tree import OrgChanges, add_org_version, ensure_street, get_street_id
from intake.store.models import COMMUNITIES, DIGESTS, DISTRICTS, STREETS

__all__ = ["add_street", "rename_street", "add_street_community", "update_org_community", "MAX_STAFF"]

MAX_STAFF = 999


def _name(value: str) -> str:
    value = value.strip()
    if not value:
        raise InvalidRequest(texts.NAME_REQUIRED)
    if len(value) > 64:
        raise InvalidRequest(texts.NAME_TOO_LONG.format(name=value[:20]))
    return value


def _staff(value: int) -> int:
    if not 1 <= value <= MAX_STAFF:
        raise InvalidRequest(texts.BAD_STAFF)
    return value


async def _street(conn: AsyncConnection, street_id: int) -> Any:
    row = (await conn.execute(sa.select(STREETS.c.id, STREETS.c.name, STREETS.c.district_id,
                                        DISTRICTS.c.name.label("district"))
                              .join(DISTRICTS, DISTRICTS.c.id == STREETS.c.district_id)
                              .where(STREETS.c.id == street_id))).first()
    if row is None:
        raise NotFound(texts.NO_STREET)
    return row


async def _record(conn: AsyncConnection, changes: OrgChanges, *, entity: str, entity_id: int, actor: str,
                  now: dt.datetime) -> OrgChanges:
    if changes:
        changes.version = await add_org_version(conn, source="console", author=actor, changes=changes, now=now)
        await add_audit(conn, actor=actor, entity=entity, entity_id=entity_id, action="org",
                        after={"changes": changes.lines, "version": changes.version}, now=now)
    return changes


async def add_street(conn: AsyncConnection, *, district_id: int, name: str, actor: str, now: dt.datetime) -> OrgChanges:
    """A new street (with its own 街道办) in the district."""
    name = _name(name)
    district = (await conn.execute(sa.select(DISTRICTS.c.name).where(DISTRICTS.c.id == district_id))).scalar()
    if district is None:
        raise NotFound(texts.NO_DISTRICT)
    if await get_street_id(conn, district_id=district_id, name=name) is not None:
        raise InvalidRequest(texts.STREET_EXISTS.format(district=district, name=name))
    changes = OrgChanges()
    street_id = await ensure_street(conn, district_id=district_id, district=str(district), name=name, now=now,
                                    changes=changes)
    return await _record(conn, changes, entity="street", entity_id=street_id, actor=actor, now=now)


async def rename_street(conn: AsyncConnection, *, street_id: int, name: str, actor: str, now: dt.datetime) -> OrgChanges:
    name = _name(name)
    street = await _street(conn, street_id)
    changes = OrgChanges()
    if name != street.name:
        if await get_street_id(conn, district_id=street.district_id, name=name) is not None:
            raise InvalidRequest(texts.STREET_EXISTS.format(district=street.district, name=name))
        await conn.execute(sa.update(STREETS).where(STREETS.c.id == street_id).values(name=name))
        changes.lines.append(texts.STREET_RENAMED.format(district=street.district, before=street.name, after=name))
    return await _record(conn, changes, entity="street", entity_id=street_id, actor=actor, now=now)


async def _free_community_name(conn: AsyncConnection, name: str) -> None:
    if (await conn.execute(sa.select(COMMUNITIES.c.id).where(COMMUNITIES.c.name == name))).first() is not None:
        raise InvalidRequest(texts.COMMUNITY_EXISTS.format(name=name))


async def add_street_community(conn: AsyncConnection, *, street_id: int, name: str, staff: int, actor: str,
                               now: dt.datetime) -> OrgChanges:
    name, staff = _name(name), _staff(staff)
    street = await _street(conn, street_id)
    await _free_community_name(conn, name)
    community_id = int((await conn.execute(sa.insert(COMMUNITIES).values(
        name=name, street_id=street_id, staff=staff, active=True, created_at=now).returning(COMMUNITIES.c.id)
    )).scalar_one())
    changes = OrgChanges([texts.COMMUNITY_ADDED.format(where=f"{street.district} / {street.name} / {name}",
                                                       staff=staff)])
    return await _record(conn, changes, entity="community", entity_id=community_id, actor=actor, now=now)


async def update_org_community(
    conn: AsyncConnection, *, community_id: int, actor: str, now: dt.datetime, name: str | None = None,
    street_id: int | None = None, staff: int | None = None,
) -> OrgChanges:
    """Rename, move and/or set the staff of a community (None: unchanged); one version for all three."""
    row = (await conn.execute(sa.select(COMMUNITIES.c.name, COMMUNITIES.c.street_id, COMMUNITIES.c.staff)
                              .where(COMMUNITIES.c.id == community_id))).first()
    if row is None:
        raise NotFound(texts.NO_COMMUNITY)
    changes, values = OrgChanges(), dict[str, Any]()
    if name is not None and _name(name) != row.name:
        name = _name(name)
        await _free_community_name(conn, name)
        values["name"] = name
        await conn.execute(sa.update(DIGESTS).where(DIGESTS.c.scope == row.name).values(scope=name))
        changes.lines.append(texts.COMMUNITY_RENAMED.format(before=row.name, after=name))
    if street_id is not None and street_id != row.street_id:
        street = await _street(conn, street_id)
        values["street_id"] = street_id
        changes.lines.append(texts.COMMUNITY_MOVED.format(community=values.get("name", row.name),
                                                          district=street.district, street=street.name))
    if staff is not None and _staff(staff) != row.staff:
        values["staff"] = staff
        changes.lines.append(texts.STAFF_CHANGED.format(community=values.get("name", row.name), before=row.staff,
                                                        after=staff))
    if values:
        await conn.execute(sa.update(COMMUNITIES).where(COMMUNITIES.c.id == community_id).values(**values))
    return await _record(conn, changes, entity="community", entity_id=community_id, actor=actor, now=now)
