"""A street's digest: the district's digest, built on a connection confined to the street.

The figures come from the same functions as the district's (:mod:`intake.reports.figures`); the scope
filter (:mod:`intake.scope`) makes "the district" mean the street's communities and the tasks of its
offices, so no figure is computed twice. The digest goes to the street's admins: console users of the
street (their inbox) and chat accounts bound as admins of it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.outbox import INBOX_CHANNEL, Recipient, channel_for_account
from intake.reports.digest import build_digest
from intake.reports.model import STREET_PREFIX, Digest
from intake.scope import SCOPE_OPTION, resolve_scope
from intake.settings import IntakeSettings
from intake.store.models import ACCOUNTS, COMMUNITIES, DISTRICTS, STREETS
from intake.store.values import OrgLevel, Role

__all__ = ["street_scope", "street_id_of", "build_area_digest", "build_street_digest", "build_street_digests", "list_street_recipients"]


def street_scope(street_id: int) -> str:
    return f"{STREET_PREFIX}{street_id}"


def street_id_of(scope: str) -> int | None:
    """The street of a digest scope ``street:ID``; None for the district or a community."""
    if not scope.startswith(STREET_PREFIX):
        return None
    tail = scope[len(STREET_PREFIX):]
    return int(tail) if tail.isdigit() else None


async def build_area_digest(
    conn: AsyncConnection, *, month: str, level: OrgLevel, area_id: int, settings: IntakeSettings, now: dt.datetime,
) -> Digest:
    """A street's (scope ``street:ID``) or a district's (``district:ID``) digest of `month`, built alone: the
    district's digest on a connection confined to the area. The monthly run builds the same digests for
    every area at once (:mod:`intake.reports.batch`)."""
    scope = await resolve_scope(conn, level=level.value, scope_id=area_id)
    await conn.execution_options(**{SCOPE_OPTION: scope})
    try:
        area = await build_digest(conn, month=month, community=None, settings=settings, now=now)
    finally:
        await conn.execution_options(**{SCOPE_OPTION: None})
    district_of = (sa.select(DISTRICTS.c.name).where(DISTRICTS.c.id == area_id) if level is OrgLevel.district else
                   sa.select(DISTRICTS.c.name).join(STREETS, STREETS.c.district_id == DISTRICTS.c.id)
                   .where(STREETS.c.id == area_id))
    district = str((await conn.execute(district_of)).scalar() or area.district)
    label = district if level is OrgLevel.district else f"{district}{scope.name}"
    return dataclasses.replace(area, scope=f"{level.value}:{area_id}", district=district, label=label)


async def build_street_digest(
    conn: AsyncConnection, *, month: str, street_id: int, settings: IntakeSettings, now: dt.datetime,
) -> Digest:
    """The street's digest of `month` (scope ``street:ID``), titled with the district's and street's names."""
    return await build_area_digest(conn, month=month, level=OrgLevel.street, area_id=street_id, settings=settings,
                                   now=now)


async def build_street_digests(
    conn: AsyncConnection, *, month: str, settings: IntakeSettings, now: dt.datetime,
) -> list[Digest]:
    """One digest per street that has an active community, by street id."""
    streets = (await conn.execute(
        sa.select(STREETS.c.id).where(sa.exists().where(COMMUNITIES.c.street_id == STREETS.c.id,
                                                        COMMUNITIES.c.active.is_(True))).order_by(STREETS.c.id)
    )).scalars().all()
    return [await build_street_digest(conn, month=month, street_id=int(s), settings=settings, now=now)
            for s in streets]


async def list_street_recipients(conn: AsyncConnection, *, street_id: int, configured: str) -> list[Recipient]:
    """The street's console users (the inbox of ``scope:street:ID``) and its chat admins, by their channel."""
    found = [Recipient(INBOX_CHANNEL, f"scope:{OrgLevel.street.value}:{street_id}")]
    if configured in ("inbox", "log", "wecom_robot"):
        return found
    admins = (await conn.execute(
        sa.select(ACCOUNTS.c.id, ACCOUNTS.c.channel, ACCOUNTS.c.external_id)
        .where(ACCOUNTS.c.role == Role.admin, ACCOUNTS.c.active.is_(True),
               ACCOUNTS.c.scope_level == OrgLevel.street.value, ACCOUNTS.c.scope_id == street_id)
        .order_by(ACCOUNTS.c.id))).all()
    return found + [Recipient(channel_for_account(configured, a.channel), a.external_id, account_id=int(a.id))
                    for a in admins]
