"""Alembic environment: runs migrations over an async engine for SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import intake.store.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from intake.store.search import is_index_object

target_metadata = SQLModel.metadata


def _include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """The search index (an FTS5 table, a GIN expression index) is migrations' own, not the models'."""
    return not is_index_object(name)


def _run(connection: Connection) -> None:
    context.configure(
        include_name=_include_name,
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


def run_migrations_online() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url is not None
    asyncio.run(_run_async(url))


if context.is_offline_mode():
    context.configure(url=context.config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
