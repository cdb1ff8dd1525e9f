"""The classifier rules in force: shipped files, config overrides, then the latest console edit,
with every console correction as a labelled notice for the second opinion.

Rules are rebuilt only when the override document changes (its version differs),
so the tokenizer is built once per process per rule version. A new correction only
rebuilds the second opinion's index (classifiers/similar.py): the deployment's reader
places the next notice like it the way the admin did (for review, never refusing).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from classifiers import Rules, load_rules
from classifiers.similar import Example
from intake.audit import add_audit
from intake.corrections import build_similar_examples, list_correction_examples
from intake.settings import IntakeSettings
from intake.store.models import CORRECTION_EXAMPLES, RULE_VERSIONS

__all__ = ["RulesProvider", "add_rule_version", "get_latest_overrides", "save_overrides"]

log = logging.getLogger(__name__)


class RulesProvider:
    def __init__(self, settings: IntakeSettings) -> None:
        self._settings = settings
        self._version_id: int | None = None
        self._overrides: dict[str, Any] | None = None
        self._correction_id: int | None = None
        self._examples: list[Example] = []  # the corrections, as the second opinion's labelled notices
        self._base: Rules = self._load(None)
        self.current: Rules = self._base
        self.corrections = 0  # how many corrections the second opinion asks

    def _load(self, overrides: dict[str, Any] | None) -> Rules:
        return load_rules(
            override_paths=self._settings.rule_paths,
            overrides=overrides,
            communities=self._settings.community_names,
        )

    def build(self, overrides: dict[str, Any] | None) -> Rules:
        """The rules this deployment would read with `overrides` as its console edit (for a preview).

        With the same corrections as neighbours as the rules in force, so a preview differs from them only
        by the edit.
        """
        rules = self._load(overrides)
        return rules.with_examples(self._examples) if self._examples else rules

    @property
    def overrides(self) -> dict[str, Any]:
        return dict(self._overrides or {})

    async def refresh(self, conn: AsyncConnection) -> bool:
        """Load the newest console edit and the newest corrections we have not built yet; True when rules changed."""
        edited = await self._refresh_edit(conn)
        latest = (await conn.execute(sa.select(sa.func.max(CORRECTION_EXAMPLES.c.id)))).scalar()
        if not edited and latest == self._correction_id:
            return False
        examples = build_similar_examples(await list_correction_examples(conn)) if latest is not None else []
        self.current = self._base.with_examples(examples) if examples else self._base
        self._examples, self._correction_id, self.corrections = examples, latest, len(examples)
        if latest is not None:
            log.info("second opinion: %d corrections as labelled notices", len(examples))
        return True

    async def _refresh_edit(self, conn: AsyncConnection) -> bool:
        row = (
            await conn.execute(
                sa.select(RULE_VERSIONS.c.id, RULE_VERSIONS.c.content)
                .order_by(RULE_VERSIONS.c.id.desc())
                .limit(1)
            )
        ).first()
        if row is None or row.id == self._version_id:
            return False
        self._base = self._load(row.content)
        self._version_id = row.id
        self._overrides = row.content
        log.info("rules reloaded: version %s (edit #%s)", self._base.version, row.id)
        return True


async def get_latest_overrides(conn: AsyncConnection) -> dict[str, Any]:
    row = (
        await conn.execute(
            sa.select(RULE_VERSIONS.c.content).order_by(RULE_VERSIONS.c.id.desc()).limit(1)
        )
    ).first()
    return dict(row.content) if row is not None and row.content else {}


async def add_rule_version(conn: AsyncConnection, *, content: dict[str, Any], author: str, note: str | None) -> int:
    result = await conn.execute(
        sa.insert(RULE_VERSIONS).values(content=content, author=author, note=note).returning(RULE_VERSIONS.c.id)
    )
    return int(result.scalar_one())


async def save_overrides(conn: AsyncConnection, *, content: dict[str, Any], actor: str, note: str,
                         now: dt.datetime) -> int:
    """A new version of the override document (a console rule edit), audited with the sections it changed."""
    before = await get_latest_overrides(conn)
    version = await add_rule_version(conn, content=content, author=actor, note=note)
    changed = sorted(k for k in set(before) | set(content) if before.get(k) != content.get(k))
    await add_audit(conn, actor=actor, entity="rules", entity_id=version, action="edit",
                    before={"sections": changed}, after={"note": note}, now=now)
    return version
