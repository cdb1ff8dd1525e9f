"""Reading and changing the organisation tree. Repository functions: keyword-only, the connection given, no commit.

A change never deletes: a community missing from an import or from config.toml keeps its street, its
tasks and its accounts. What changed is returned as lines (printed by the CLI, shown in the console)
and stored, with the whole tree after it, as one version in ``org_imports``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.errors import InvalidRequest
from intake.org import texts
from intake.settings import DistrictSettings
from intake.store.models import COMMUNITIES, DEPARTMENTS, DISTRICTS, ORG_IMPORTS, STREETS
from intake.store.values import OrgLevel

__all__ = [
    "ADOPT_DISTRICT",
    "ADOPT_STREET",
    "STREET_OFFICE",
    "CommunityRow",
    "OrgChanges",
    "OrgRowsRefused",
    "apply_org_rows",
    "get_district_id",
    "get_street_id",
    "list_org_tree",
    "list_org_versions",
    "sync_org_from_config",
]

# the names migration 0012 gave the flat set-up's one district and street, until config.toml names them
ADOPT_DISTRICT = "未命名区"
ADOPT_STREET = "未命名街道"
STREET_OFFICE = "街道办"  # the flat set-up's one department for every street: each street's own office


@dataclass(frozen=True)
class CommunityRow:
    """One community where it belongs: what a sheet row, a config entry or a console form says."""

    district: str
    street: str
    community: str
    staff: int | None = None  # None: keep what is stored (8 for a new community)
    city: str | None = None


class OrgRowsRefused(InvalidRequest):
    """Rows that would move a community out of its district (names are unique in a deployment); nothing
    is written. `problems` lists them, one line each."""

    def __init__(self, message: str, problems: Sequence[str]) -> None:
        super().__init__(message)
        self.problems = list(problems)


@dataclass
class OrgChanges:
    lines: list[str] = field(default_factory=list)
    version: int | None = None

    def __bool__(self) -> bool:
        return bool(self.lines)


async def get_district_id(conn: AsyncConnection, *, name: str) -> int | None:
    value = (await conn.execute(sa.select(DISTRICTS.c.id).where(DISTRICTS.c.name == name))).scalar()
    return int(value) if value is not None else None


async def get_street_id(conn: AsyncConnection, *, district_id: int, name: str) -> int | None:
    value = (await conn.execute(
        sa.select(STREETS.c.id).where(STREETS.c.district_id == district_id, STREETS.c.name == name))).scalar()
    return int(value) if value is not None else None


async def _adopt(conn: AsyncConnection, *, district: str, street: str, changes: OrgChanges) -> None:
    """The flat set-up's unnamed district and street (migration 0012) take the first configured names."""
    adopted = await get_district_id(conn, name=ADOPT_DISTRICT)
    if adopted is None or await get_district_id(conn, name=district) is not None:
        return
    await conn.execute(sa.update(DISTRICTS).where(DISTRICTS.c.id == adopted).values(name=district))
    await conn.execute(sa.update(STREETS).where(STREETS.c.district_id == adopted, STREETS.c.name == ADOPT_STREET)
                       .values(name=street))
    changes.lines.append(texts.ADOPTED.format(district=district, street=street))


async def _ensure_district(conn: AsyncConnection, *, name: str, city: str | None, now: dt.datetime,
                           changes: OrgChanges) -> int:
    found = await get_district_id(conn, name=name)
    if found is not None:
        if city:
            await conn.execute(sa.update(DISTRICTS).where(DISTRICTS.c.id == found, DISTRICTS.c.city.is_(None))
                               .values(city=city))
        return found
    changes.lines.append(texts.DISTRICT_ADDED.format(name=name))
    return int((await conn.execute(sa.insert(DISTRICTS).values(name=name, city=city, created_at=now)
                                   .returning(DISTRICTS.c.id))).scalar_one())


async def _ensure_street(conn: AsyncConnection, *, district_id: int, district: str, name: str, now: dt.datetime,
                         changes: OrgChanges) -> int:
    found = await get_street_id(conn, district_id=district_id, name=name)
    if found is not None:
        return found
    changes.lines.append(texts.STREET_ADDED.format(district=district, name=name))
    street_id = int((await conn.execute(sa.insert(STREETS).values(district_id=district_id, name=name, created_at=now)
                                        .returning(STREETS.c.id))).scalar_one())
    await _ensure_department(conn, name=STREET_OFFICE, level=OrgLevel.street, district_id=district_id,
                             street_id=street_id, now=now)
    return street_id


async def _ensure_department(conn: AsyncConnection, *, name: str, level: OrgLevel, district_id: int | None,
                             street_id: int | None, now: dt.datetime) -> int:
    found = (await conn.execute(sa.select(DEPARTMENTS.c.id).where(
        DEPARTMENTS.c.name == name, DEPARTMENTS.c.level == level.value,
        DEPARTMENTS.c.district_id.is_(None) if district_id is None else DEPARTMENTS.c.district_id == district_id,
        DEPARTMENTS.c.street_id.is_(None) if street_id is None else DEPARTMENTS.c.street_id == street_id,
    ))).scalar()
    if found is not None:
        return int(found)
    return int((await conn.execute(sa.insert(DEPARTMENTS).values(
        name=name, level=level.value, district_id=district_id, street_id=street_id, created_at=now,
    ).returning(DEPARTMENTS.c.id))).scalar_one())


async def _place_community(conn: AsyncConnection, *, row: CommunityRow, street_id: int, move: bool,
                           now: dt.datetime, changes: OrgChanges) -> None:
    """Add the community, or put it under `street_id` (when `move`, or when it has no street yet), staff updated."""
    where = f"{row.district} / {row.street} / {row.community}"
    found = (await conn.execute(sa.select(COMMUNITIES.c.id, COMMUNITIES.c.street_id, COMMUNITIES.c.staff)
                                .where(COMMUNITIES.c.name == row.community))).first()
    if found is None:
        await conn.execute(sa.insert(COMMUNITIES).values(name=row.community, street_id=street_id,
                                                         staff=row.staff or 8, created_at=now))
        changes.lines.append(texts.COMMUNITY_ADDED.format(where=where, staff=row.staff or 8))
        return
    values: dict[str, Any] = {}
    if found.street_id != street_id and (move or found.street_id is None):
        values["street_id"] = street_id
        changes.lines.append(texts.COMMUNITY_MOVED.format(community=row.community, district=row.district,
                                                            street=row.street))
    if move and row.staff is not None and row.staff != found.staff:
        values["staff"] = row.staff
        changes.lines.append(texts.STAFF_CHANGED.format(community=row.community, before=found.staff, after=row.staff))
    if values:
        await conn.execute(sa.update(COMMUNITIES).where(COMMUNITIES.c.id == found.id).values(**values))


async def apply_org_rows(
    conn: AsyncConnection, *, rows: Sequence[CommunityRow], source: str, author: str, now: dt.datetime,
    move: bool = True, departments: Sequence[str] = (),
) -> OrgChanges:
    """Put every row's community under its district and street (created when new) and record a version.

    `move` False (config.toml at start-up) only fills in what is missing, never undoing a console edit.
    `departments` are added to every district named in the rows (the rule files' departments).
    """
    changes = OrgChanges()
    if move:
        await _refuse_other_districts(conn, rows)
    if rows:
        await _adopt(conn, district=rows[0].district, street=rows[0].street, changes=changes)
    districts: dict[str, int] = {}
    streets: dict[tuple[str, str], int] = {}
    for row in rows:
        if row.district not in districts:
            districts[row.district] = await _ensure_district(conn, name=row.district, city=row.city, now=now,
                                                             changes=changes)
            for name in departments:
                await _ensure_department(conn, name=name, level=OrgLevel.district, district_id=districts[row.district],
                                         street_id=None, now=now)
        key = (row.district, row.street)
        if key not in streets:
            streets[key] = await _ensure_street(conn, district_id=districts[row.district], district=row.district,
                                                name=row.street, now=now, changes=changes)
        await _place_community(conn, row=row, street_id=streets[key], move=move, now=now, changes=changes)
    if changes:
        changes.version = await _add_version(conn, source=source, author=author, changes=changes, now=now)
    return changes


async def _refuse_other_districts(conn: AsyncConnection, rows: Sequence[CommunityRow]) -> None:
    """A community name is one community in the whole deployment: a row placing a community of another
    district (two districts' 幸福社区) is refused, before anything is written, rather than moving it."""
    placed = {str(r.name): str(r.district) for r in (await conn.execute(
        sa.select(COMMUNITIES.c.name, DISTRICTS.c.name.label("district"))
        .join(STREETS, STREETS.c.id == COMMUNITIES.c.street_id)
        .join(DISTRICTS, DISTRICTS.c.id == STREETS.c.district_id)
        .where(COMMUNITIES.c.name.in_(sorted({row.community for row in rows}))))).all()}
    problems = [texts.OTHER_DISTRICT.format(community=row.community, district=row.district, other=placed[row.community])
                for row in rows if placed.get(row.community, row.district) not in (row.district, ADOPT_DISTRICT)]
    if problems:
        raise OrgRowsRefused(texts.ROWS_REFUSED_CONFLICT.format(count=len(problems)), problems)


async def sync_org_from_config(
    conn: AsyncConnection, *, districts: Sequence[DistrictSettings], departments: Iterable[str], now: dt.datetime,
) -> OrgChanges:
    """config.toml's tree at start-up: adds what is missing (districts, streets, communities, offices)."""
    names = sorted(set(departments) - {STREET_OFFICE})  # each street has its own 街道办
    rows = [CommunityRow(district=d.name, street=s.name, community=c.name, staff=c.staff, city=d.city)
            for d in districts for s in d.tree for c in s.communities]
    changes = await apply_org_rows(conn, rows=rows, source="config", author="system", now=now, move=False,
                                   departments=names)
    for d in districts:
        district_id = await get_district_id(conn, name=d.name)
        if district_id is None:
            district_id = await _ensure_district(conn, name=d.name, city=d.city, now=now, changes=changes)
        if d.digest_day is not None or d.digest_hour is not None:  # config.toml's time is the district's
            await conn.execute(sa.update(DISTRICTS).where(DISTRICTS.c.id == district_id).values(
                digest_day=d.digest_day, digest_hour=d.digest_hour))
        for name in d.departments:
            await _ensure_department(conn, name=name, level=OrgLevel.district, district_id=district_id,
                                     street_id=None, now=now)
        for s in d.tree:
            street_id = await _ensure_street(conn, district_id=district_id, district=d.name, name=s.name, now=now,
                                             changes=changes)
            for name in s.departments:
                await _ensure_department(conn, name=name, level=OrgLevel.street, district_id=district_id,
                                         street_id=street_id, now=now)
    return changes


async def list_org_tree(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Districts (with city) → streets → communities (id, name, staff, active), by name; unplaced ones last."""
    rows = (await conn.execute(
        sa.select(DISTRICTS.c.id.label("district_id"), DISTRICTS.c.name.label("district"), DISTRICTS.c.city,
                  STREETS.c.id.label("street_id"), STREETS.c.name.label("street"), COMMUNITIES.c.id,
                  COMMUNITIES.c.name, COMMUNITIES.c.staff, COMMUNITIES.c.active)
        .select_from(DISTRICTS)
        .outerjoin(STREETS, STREETS.c.district_id == DISTRICTS.c.id)
        .outerjoin(COMMUNITIES, COMMUNITIES.c.street_id == STREETS.c.id)
        .order_by(DISTRICTS.c.name, STREETS.c.name, COMMUNITIES.c.id)
    )).all()
    tree: dict[int, dict[str, Any]] = {}
    for r in rows:
        district = tree.setdefault(r.district_id, {"id": r.district_id, "name": r.district, "city": r.city,
                                                   "streets": {}})
        if r.street_id is None:
            continue
        street = district["streets"].setdefault(r.street_id, {"id": r.street_id, "name": r.street, "communities": []})
        if r.id is not None:
            street["communities"].append({"id": r.id, "name": r.name, "staff": r.staff, "active": r.active})
    return [{**d, "streets": list(d["streets"].values())} for d in tree.values()]


async def _snapshot(conn: AsyncConnection) -> dict[str, Any]:
    return {d["name"]: {s["name"]: {c["name"]: c["staff"] for c in s["communities"]} for s in d["streets"]}
            for d in await list_org_tree(conn)}


async def _add_version(conn: AsyncConnection, *, source: str, author: str, changes: OrgChanges,
                       now: dt.datetime) -> int:
    return int((await conn.execute(sa.insert(ORG_IMPORTS).values(
        source=source[:255], author=author, changes=changes.lines, tree=await _snapshot(conn), created_at=now,
    ).returning(ORG_IMPORTS.c.id))).scalar_one())


async def list_org_versions(conn: AsyncConnection, *, limit: int = 20) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(ORG_IMPORTS.c.id, ORG_IMPORTS.c.source, ORG_IMPORTS.c.author, ORG_IMPORTS.c.changes,
                  ORG_IMPORTS.c.created_at).order_by(ORG_IMPORTS.c.id.desc()).limit(limit))
    return [dict(r._mapping) for r in rows]
