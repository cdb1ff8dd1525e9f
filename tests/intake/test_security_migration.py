"""Migration 0006 keeps open invite codes working while storing only their hashes, on both databases."""

from __future__ import annotations

import asyncio
import datetime as dt

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine

from intake.accounts import bind_account
from intake.store.db import alembic_config, upgrade_database
from tests.conftest import make_settings


async def test_migration_0006_hashes_existing_codes_and_scrubs_them_from_the_audit_log(db_url: str) -> None:
    settings = make_settings(db_url)
    # the template databases are at head: step back to just before 0006 (alembic runs its own event loop)
    config = alembic_config(settings.database_url)
    before = ScriptDirectory.from_config(config).get_revision("0006").down_revision
    await asyncio.to_thread(command.downgrade, config, str(before))
    engine = create_async_engine(settings.database_url)
    now = dt.datetime.now(dt.UTC)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text(
                "INSERT INTO invites (code, role, community_id, expires_at, created_by, created_at) "
                "VALUES ('AB3K7Q2M', 'head', (SELECT id FROM communities ORDER BY id LIMIT 1), :exp, 'cli', :now)"),
                {"exp": now + dt.timedelta(days=3), "now": now})
            await conn.execute(sa.text(
                "INSERT INTO audit_log (at, actor, entity, action, after) "
                "VALUES (:now, 'cli', 'invite', 'create', :after)"), {"now": now, "after": '{"code": "AB3K7Q2M"}'})
        await asyncio.to_thread(upgrade_database, settings)
        async with engine.begin() as conn:
            stored = (await conn.execute(sa.text("SELECT * FROM invites"))).mappings().one()
            audit = (await conn.execute(sa.text("SELECT after FROM audit_log WHERE entity = 'invite'"))).scalar()
            result = await bind_account(conn, channel="wechat", external_id="o-old", code="ab3k7q2m", now=now)
        assert "code" not in stored and stored["hint"] == "2M"
        assert "AB3K7Q2M" not in str(audit) and "2M" in str(audit)
        assert result.role == "head"
    finally:
        await engine.dispose()
