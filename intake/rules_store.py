"""The classifier rules in force: shipped files, config overrides, then the latest console edit.

Rules are rebuilt only when the override document changes (its version differs),
so the tokenizer is built once per process per rule version.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from classifiers import Rules, load_rules
from intake.audit import add_audit
from intake.settings import IntakeSettings
from intake.store.models import RULE_VERSIONS

__all__ = ["RulesProvider", "add_rule_version", "get_latest_overrides", "save_overrides"]

log = logging.getLogger(__name__)


class RulesProvider:
    def __init__(self, settings: IntakeSettings) -> None:
        self._settings = settings
        self._version_id: int | None = None
        self._overrides: dict[str, Any] | None = None
        self.current: Rules = self.build(None)

    def build(self, overrides: dict[str, Any] | None) -> Rules:
        """The rules this deployment would read with `overrides` as its console edit (for a preview)."""
        return load_rules(
            override_paths=self._settings.rule_paths,
            overrides=overrides,
            communities=self._settings.community_names,
        )

    @property
    def overrides(self) -> dict[str, Any]:
        return dict(self._overrides or {})

    async def refresh(self, conn: AsyncConnection) -> bool:
        """Load the newest console edit if there is one we have not built yet; True when rules changed."""
        row = (
            await conn.execute(
                sa.select(RULE_VERSIONS.c.id, RULE_VERSIONS.c.content)
                .order_by(RULE_VERSIONS.c.id.desc())
                .limit(1)
            )
        ).first()
        if row is None or row.id == self._version_id:
            return False
        self.current = self.build(row.content)
        self._version_id = row.id
        self._overrides = row.content
        log.info("rules reloaded: version %s (edit #%s)", self.current.version, row.id)
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
