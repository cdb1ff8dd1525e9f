"""The Alembic migrations build exactly the schema the models describe, on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import intake.store.models  # noqa: F401  (registers the tables)
from intake.store.db import alembic_config
from intake.store.search import is_index_object
from tests.conftest import make_settings


def test_one_head() -> None:
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert len(heads) == 1, f"migrations have several heads {heads}: chain the newest revision"


async def test_migrated_schema_matches_the_models(db_url: str) -> None:
    engine = create_async_engine(make_settings(db_url).database_url)

    def diff(sync_conn: Any) -> list[Any]:
        # the search index (FTS5 table, GIN expression index) is the migrations' own, not the models'
        context = MigrationContext.configure(sync_conn, opts={
            "compare_type": False, "include_name": lambda name, type_, parents: not is_index_object(name)})
        return list(compare_metadata(context, SQLModel.metadata))

    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(diff)
    finally:
        await engine.dispose()
    assert differences == [], f"models and migrations differ; write a migration for: {differences}"
