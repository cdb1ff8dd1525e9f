"""The classifier rules in force: shipped files, config overrides, the city's console edit, then a district's.

Admission is set per level (issue 17): the city default (``rule_versions`` rows with no district) is
what every district reads, and a district's own edit (rows with its ``district_id``) is merged over it,
table by table, for the notices of that district's communities and departments. Streets set no lists.
Rules are rebuilt only when a level's newest version changes, so the tokenizer is built once per
process per rule version.

Every console correction is also a labelled notice for the second opinion (issue 13): a new correction
only rebuilds the second opinion's index (classifiers/similar.py) of every level, so the deployment's
reader places the next notice like it the way the admin did (for review, never refusing).

The communities the reader finds named in a notice are config's and every active one the tree holds:
one added or renamed in the console or by ``jianfu org import`` is read by name from the next refresh
(the directory's version, raised by triggers, says when to look).
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from classifiers import Rules, load_rules
from classifiers.rules.reader import merge
from classifiers.similar import Example
from intake.audit import add_audit
from intake.corrections import build_similar_examples, list_correction_examples
from intake.settings import IntakeSettings
from intake.store.models import COMMUNITIES, CORRECTION_EXAMPLES, RULE_VERSIONS
from intake.store.models_directory import DIRECTORY_VERSION

__all__ = ["RulesProvider", "add_rule_version", "get_latest_overrides", "merge_overrides", "save_overrides"]

log = logging.getLogger(__name__)


def merge_overrides(city: Mapping[str, Any] | None, district: Mapping[str, Any] | None) -> dict[str, Any]:
    """The override document a district reads: its own edit merged over the city's (values replace)."""
    combined: dict[str, Any] = copy.deepcopy(dict(city or {}))
    if district:
        merge(combined, district, {}, "district")
    return combined


class RulesProvider:
    """The rules of the city default (``current``) and of each district with lists of its own."""

    def __init__(self, settings: IntakeSettings) -> None:
        self._settings = settings
        self._seen: dict[int | None, int] = {}  # level (None: the city) -> newest version id built
        self._docs: dict[int | None, dict[str, Any]] = {}
        self._districts: dict[int, Rules] = {}
        self._lock = asyncio.Lock()  # one refresh at a time (the poller and a console save may overlap)
        self._correction_id: int | None = None  # the newest correction the second opinion asks
        self._examples: list[Example] = []  # the corrections, as the second opinion's labelled notices
        self.corrections = 0  # how many corrections the second opinion asks
        self._communities: tuple[str, ...] = settings.community_names  # config's, then the tree's (refresh)
        self._directory_version: int | None = None  # as of the last read of the tree's names
        self.current: Rules = self.build(None)

    def build(self, overrides: dict[str, Any] | None) -> Rules:
        """The rules this deployment would read with `overrides` as its console edit (for a preview).

        With the corrections as neighbours, as the rules in force have them: a preview differs from them
        only by the edit.
        """
        rules = load_rules(
            override_paths=self._settings.rule_paths,
            overrides=overrides,
            communities=self._communities,
        )
        return rules.with_examples(self._examples) if self._examples else rules

    def build_for(self, district_id: int | None, overrides: dict[str, Any] | None) -> Rules:
        """The rules of `district_id` (None: the city default) were its own edit `overrides` (a preview)."""
        if district_id is None:
            return self.build(overrides)
        return self.build(merge_overrides(self._docs.get(None), overrides))

    @property
    def overrides(self) -> dict[str, Any]:
        return dict(self._docs.get(None) or {})

    def overrides_of(self, district_id: int | None) -> dict[str, Any]:
        """The newest edit of that level alone (the district's, not merged with the city's)."""
        return copy.deepcopy(self._docs.get(district_id) or {})

    def for_district(self, district_id: int | None) -> Rules:
        """The rules a notice of `district_id` is read with: its own lists, else the city default."""
        if district_id is None:
            return self.current
        return self._districts.get(district_id, self.current)

    async def refresh(self, conn: AsyncConnection) -> bool:
        """Load each level's newest edit, and the newest corrections, not built yet; True when any rules changed."""
        async with self._lock:
            named = await self._refresh_communities(conn)
            corrected = await self._refresh_corrections(conn)
            edited = await self._refresh(conn)
            if corrected or named:  # a new second opinion or new names for every level
                await asyncio.to_thread(self._rebuild_levels)
            return corrected or edited or named

    async def _refresh_communities(self, conn: AsyncConnection) -> bool:
        """Take the tree's active communities as names the reader knows; True when they changed."""
        version = (await conn.execute(sa.select(DIRECTORY_VERSION.c.version).where(DIRECTORY_VERSION.c.id == 1))
                   ).scalar()
        if version is not None and version == self._directory_version:
            return False
        rows = await conn.execute(sa.select(COMMUNITIES.c.name).where(COMMUNITIES.c.active).order_by(COMMUNITIES.c.id))
        names = tuple(dict.fromkeys([*self._settings.community_names, *rows.scalars()]))
        self._directory_version = version
        if names == self._communities:
            return False
        self._communities = names
        log.info("rules: %d communities known by name", len(names))
        return True

    async def _refresh_corrections(self, conn: AsyncConnection) -> bool:
        latest = (await conn.execute(sa.select(sa.func.max(CORRECTION_EXAMPLES.c.id)))).scalar()
        if latest == self._correction_id:
            return False
        self._examples = build_similar_examples(await list_correction_examples(conn)) if latest is not None else []
        self._correction_id, self.corrections = latest, len(self._examples)
        log.info("second opinion: %d corrections as labelled notices", self.corrections)
        return True

    def _rebuild_levels(self) -> None:
        self.current = self.build(self._docs.get(None) or None)
        for district_id, doc in self._docs.items():
            if district_id is not None:
                self._districts[int(district_id)] = self.build_for(int(district_id), doc)

    async def _refresh(self, conn: AsyncConnection) -> bool:
        newest = sa.select(RULE_VERSIONS.c.district_id, sa.func.max(RULE_VERSIONS.c.id).label("id")).group_by(
            RULE_VERSIONS.c.district_id).subquery()
        rows = (await conn.execute(sa.select(RULE_VERSIONS.c.id, RULE_VERSIONS.c.district_id, RULE_VERSIONS.c.content)
                                   .join(newest, newest.c.id == RULE_VERSIONS.c.id))).all()
        latest = {row.district_id: row for row in rows}
        if {k: int(r.id) for k, r in latest.items()} == self._seen:
            return False
        city_changed = self._seen.get(None) != (latest[None].id if None in latest else None)
        if city_changed:  # a build takes seconds (jieba): off the event loop, which keeps answering
            self._docs[None] = dict(latest[None].content or {}) if None in latest else {}
            self.current = await asyncio.to_thread(self.build, self._docs[None] or None)
            log.info("rules reloaded: version %s (city edit #%s)", self.current.version, self._seen_id(latest, None))
        for district_id, row in latest.items():
            if district_id is None or (not city_changed and self._seen.get(district_id) == row.id):
                continue
            self._docs[district_id] = dict(row.content or {})
            self._districts[int(district_id)] = await asyncio.to_thread(
                self.build_for, int(district_id), self._docs[district_id])
            log.info("rules reloaded for district %s: version %s (edit #%s)", district_id,
                     self._districts[int(district_id)].version, row.id)
        self._seen = {k: int(r.id) for k, r in latest.items()}
        return True

    @staticmethod
    def _seen_id(latest: Mapping[int | None, Any], level: int | None) -> int | None:
        row = latest.get(level)
        return int(row.id) if row is not None else None


async def get_latest_overrides(conn: AsyncConnection, *, district_id: int | None = None) -> dict[str, Any]:
    """The newest override document of one level (None: the city default), not merged."""
    row = (
        await conn.execute(
            sa.select(RULE_VERSIONS.c.content)
            .where(RULE_VERSIONS.c.district_id.is_(None) if district_id is None
                   else RULE_VERSIONS.c.district_id == district_id)
            .order_by(RULE_VERSIONS.c.id.desc())
            .limit(1)
        )
    ).first()
    return dict(row.content) if row is not None and row.content else {}


async def add_rule_version(conn: AsyncConnection, *, content: dict[str, Any], author: str, note: str | None,
                           district_id: int | None = None) -> int:
    result = await conn.execute(
        sa.insert(RULE_VERSIONS).values(content=content, author=author, note=note, district_id=district_id)
        .returning(RULE_VERSIONS.c.id)
    )
    return int(result.scalar_one())


async def save_overrides(conn: AsyncConnection, *, content: dict[str, Any], actor: str, note: str,
                         now: dt.datetime, district_id: int | None = None) -> int:
    """A new version of one level's override document (a console rule edit), audited with what it changed."""
    before = await get_latest_overrides(conn, district_id=district_id)
    version = await add_rule_version(conn, content=content, author=actor, note=note, district_id=district_id)
    changed = sorted(k for k in set(before) | set(content) if before.get(k) != content.get(k))
    await add_audit(conn, actor=actor, entity="rules", entity_id=version, action="edit",
                    before={"sections": changed, "district_id": district_id}, after={"note": note}, now=now)
    return version
