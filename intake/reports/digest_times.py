"""Each district's monthly digest time (issue 17): ``[[district]] digest_day / digest_hour`` in config.toml,
stored on the district; a district without one goes at ``[schedule]``'s time.

:func:`plan_digest_slots` is pure: the scheduler registers one monthly job per slot, and each run sends the
digests of its slot's districts only (:meth:`DigestSlot.sends`). The deployment-wide digest goes with the
default slot, as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.reports.model import STREET_PREFIX
from intake.store.models import COMMUNITIES, DISTRICTS, STREETS

__all__ = ["DEFAULT_SLOT_JOB", "DigestSlot", "list_district_times", "list_digest_places", "plan_digest_slots"]

DEFAULT_SLOT_JOB = "jianfu.monthly_digest"  # the job id of [schedule]'s time (as before districts had times)


@dataclass(frozen=True)
class DigestSlot:
    """One monthly digest time and whose digests go then."""

    day: int
    hour: int
    default: bool  # [schedule]'s time: the deployment's own digest, and every district without a time of its own
    districts: frozenset[int] = frozenset()  # a non-default slot's districts
    excluded: frozenset[int] = frozenset()  # the default slot: the districts that have their own time

    @property
    def job_id(self) -> str:
        return DEFAULT_SLOT_JOB if self.default else f"{DEFAULT_SLOT_JOB}.day{self.day:02d}.h{self.hour:02d}"

    def sends(self, district_id: int | None) -> bool:
        """Whether a digest of that district (None: unplaced, or the deployment's own) goes in this slot."""
        if self.default:
            return district_id not in self.excluded
        return district_id in self.districts


def plan_digest_slots(*, day: int, hour: int, district_times: Mapping[int, tuple[int | None, int | None]]
                      ) -> list[DigestSlot]:
    """The slots: the default one first, then one per other (day, hour), a district's missing half from [schedule]."""
    own: dict[tuple[int, int], set[int]] = {}
    for district_id, (d, h) in district_times.items():
        when = (d if d is not None else day, h if h is not None else hour)
        if when != (day, hour):
            own.setdefault(when, set()).add(district_id)
    excluded = frozenset(i for ids in own.values() for i in ids)
    slots = [DigestSlot(day=day, hour=hour, default=True, excluded=excluded)]
    slots += [DigestSlot(day=d, hour=h, default=False, districts=frozenset(ids)) for (d, h), ids in sorted(own.items())]
    return slots


async def list_district_times(conn: AsyncConnection) -> dict[int, tuple[int | None, int | None]]:
    """The districts that set a digest day or hour of their own."""
    rows = await conn.execute(sa.select(DISTRICTS.c.id, DISTRICTS.c.digest_day, DISTRICTS.c.digest_hour).where(
        sa.or_(DISTRICTS.c.digest_day.is_not(None), DISTRICTS.c.digest_hour.is_not(None))))
    return {int(r.id): (r.digest_day, r.digest_hour) for r in rows}


async def list_digest_places(conn: AsyncConnection) -> dict[str, int | None]:
    """Digest scope → its district: each community's name, and each street's ``street:ID``."""
    rows = (await conn.execute(sa.select(COMMUNITIES.c.name, STREETS.c.id, STREETS.c.district_id)
                               .outerjoin(STREETS, STREETS.c.id == COMMUNITIES.c.street_id))).all()
    places: dict[str, int | None] = {str(r.name): r.district_id for r in rows}
    streets = await conn.execute(sa.select(STREETS.c.id, STREETS.c.district_id))
    places.update({f"{STREET_PREFIX}{r.id}": int(r.district_id) for r in streets})
    return places
