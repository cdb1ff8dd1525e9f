"""Names read in context (issue 17): a department is unique within its level and district, so 区民政局 of
district X and 市民政局 are two departments; community names are unique in a deployment.

Repository functions: keyword-only, the connection given, no commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.errors import InvalidRequest, NotFound
from intake.store.models import COMMUNITIES, DEPARTMENTS, DISTRICTS, STREETS
from intake.store.sqlite_fast import Prepared
from intake.store.values import OrgLevel

__all__ = ["CITY_PREFIX", "check_unambiguous_department", "department_fit", "get_community_by_name", "get_community_district", "get_department_by_name", "get_invite_district",
           "get_or_add_department", "qualified_name", "split_qualified"]

CITY_PREFIX = "市"  # "市/民政局": the city's department where a district has one of the same name


def split_qualified(target: str) -> tuple[str | None, str]:
    """"乙区/宣传部" → ("乙区", "宣传部"); a plain name → (None, name). The console's pickers qualify a name
    that several districts (or the city) share."""
    district, sep, name = target.strip().rpartition("/")
    return (district.strip() or None, name.strip()) if sep else (None, target.strip())


def qualified_name(name: str, *, district: str | None, ambiguous: bool) -> str:
    return f"{district or CITY_PREFIX}/{name}" if ambiguous else name

_SELECT_DEPARTMENTS = Prepared(
    sa.select(DEPARTMENTS.c.id, DEPARTMENTS.c.level, DEPARTMENTS.c.district_id, DEPARTMENTS.c.street_id)
    .where(DEPARTMENTS.c.name == sa.bindparam("name")).order_by(DEPARTMENTS.c.id)
)


def _department_rank(row: dict[str, Any], *, district_id: int | None, street_id: int | None, city: bool) -> int | None:
    """How well a department of that name fits the context (lower is better); None: not this context's."""
    if city:
        return 0 if row["level"] == OrgLevel.city.value else None
    if street_id is not None and row["street_id"] == street_id:
        return 1
    if district_id is not None and row["district_id"] == district_id and row["level"] == OrgLevel.district.value:
        return 2
    if row["level"] == OrgLevel.city.value:
        return 3
    if district_id is None or row["district_id"] is None:
        return 4  # no context (a flat set-up, the CLI): the first of that name
    return None  # another district's: 区民政局 of district X is never district Y's


async def get_department_by_name(conn: AsyncConnection, *, name: str, district_id: int | None = None,
                                 street_id: int | None = None, city: bool = False) -> int | None:
    """The department called `name` as read in a context (issue 17): the street's own office, then the
    district's, then the city's; `city` (市民政局) only the city's. Without a context, the first of the name."""
    rows = await _SELECT_DEPARTMENTS.mappings(conn, {"name": name})
    return department_fit(rows, district_id=district_id, street_id=street_id, city=city)


def department_fit(rows: Sequence[dict[str, Any]], *, district_id: int | None, street_id: int | None,
                   city: bool) -> int | None:
    """Of the departments of one name (id, level, district_id, street_id), the one the context means."""
    ranked = [(rank, int(r["id"])) for r in rows if (rank := _department_rank(
        r, district_id=district_id, street_id=street_id, city=city)) is not None]
    return min(ranked)[1] if ranked else None


async def get_or_add_department(conn: AsyncConnection, *, name: str, district_id: int | None = None,
                                city: bool = False) -> int:
    """The department of `name` in the context, added to it (a district's, or the city's) when new."""
    existing = await get_department_by_name(conn, name=name, district_id=district_id, city=city)
    if existing is not None:
        return existing
    level = OrgLevel.city if city else OrgLevel.district
    result = await conn.execute(sa.insert(DEPARTMENTS).values(
        name=name, level=level.value, district_id=None if city else district_id).returning(DEPARTMENTS.c.id))
    return int(result.scalar_one())


async def get_community_by_name(conn: AsyncConnection, *, name: str, district_id: int | None = None) -> int | None:
    """The community of that name (names are unique in a deployment), in `district_id` when given."""
    stmt = sa.select(COMMUNITIES.c.id).where(COMMUNITIES.c.name == name)
    if district_id is not None:
        stmt = stmt.join(STREETS, STREETS.c.id == COMMUNITIES.c.street_id).where(STREETS.c.district_id == district_id)
    value = (await conn.execute(stmt)).scalar_one_or_none()
    return int(value) if value is not None else None


async def get_invite_district(conn: AsyncConnection, *, name: str | None) -> int | None:
    """The district an invite names (``--district``), or None when it names none (or the city, 市);
    NotFound when unknown."""
    if not name or name == CITY_PREFIX:
        return None
    found = (await conn.execute(sa.select(DISTRICTS.c.id).where(DISTRICTS.c.name == name.strip()))).scalar()
    if found is None:
        raise NotFound(f"没有名为“{name}”的区:请检查名称(jianfu org import 或 config.toml 的 [[district]])")
    return int(found)


async def check_unambiguous_department(conn: AsyncConnection, *, name: str) -> None:
    """InvalidRequest when several districts (or the city and a district) have a department called `name`
    and nothing says which one is meant (an invite or binding without a district)."""
    places = (await conn.execute(
        sa.select(DISTRICTS.c.name).select_from(DEPARTMENTS)
        .outerjoin(DISTRICTS, DISTRICTS.c.id == DEPARTMENTS.c.district_id)
        .where(DEPARTMENTS.c.name == name, DEPARTMENTS.c.level != OrgLevel.street.value))).scalars().all()
    if len(places) > 1:
        where = "、".join(sorted({p or CITY_PREFIX for p in places}))
        raise InvalidRequest(f"有 {len(places)} 个部门叫“{name}”({where}):请指定区,如 --district 区名"
                             f"(管理后台中选“区名/{name}”;市级部门写“{CITY_PREFIX}/{name}”)。")


async def get_community_district(conn: AsyncConnection, *, name: str) -> str | None:
    """The name of the district a community is in (None when it is not placed in the tree)."""
    found = (await conn.execute(
        sa.select(DISTRICTS.c.name).select_from(COMMUNITIES)
        .join(STREETS, STREETS.c.id == COMMUNITIES.c.street_id)
        .join(DISTRICTS, DISTRICTS.c.id == STREETS.c.district_id)
        .where(COMMUNITIES.c.name == name))).scalar()
    return str(found) if found is not None else None
