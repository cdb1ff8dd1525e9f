"""The intake log's search index over ``tasks.search_terms`` (the jieba terms of ``classifiers.search``).

* **SQLite**: an FTS5 table with external content (``tasks_fts``, ``content='tasks'``), kept in step with
  ``tasks.search_terms`` by triggers. Its ``ascii`` tokenizer splits only at ASCII punctuation and
  spaces, so it holds exactly the stored terms (which are lowercase letter-or-digit runs).
* **PostgreSQL**: a GIN index over ``string_to_array(search_terms, ' ')``. PostgreSQL's own text search
  parser and ``pg_trgm`` both take Chinese characters for letters only in some database locales (not in
  ``C``); an array of the same terms gives the same matches as FTS5 whatever the locale.

:class:`HasTerms` is the one condition "the task has every one of these terms", compiled for each.
Migration 0018 creates the index from here and fills ``search_terms`` for tasks stored before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.selectable import Join

from classifiers import Rules
from classifiers.search import document_terms, join_terms
from intake.store.models import TASKS

__all__ = ["FTS_TABLE", "PG_INDEX", "HasTerms", "from_index", "create_statements", "drop_statements", "is_index_object",
           "fill_search_terms"]

FTS_TABLE = "tasks_fts"
PG_INDEX = "ix_tasks_search_terms"
# the FTS5 'delete' command must get exactly what was indexed; empty terms are never indexed
_INDEX = (f"INSERT INTO {FTS_TABLE} (rowid, search_terms) SELECT new.id, new.search_terms "
          "WHERE new.search_terms <> ''")
_UNINDEX = (f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rowid, search_terms) SELECT 'delete', old.id, old.search_terms "
            "WHERE old.search_terms <> ''")
_TRIGGERS = {
    "insert": f"AFTER INSERT ON tasks BEGIN {_INDEX}; END",
    "delete": f"AFTER DELETE ON tasks BEGIN {_UNINDEX}; END",
    "update": f"AFTER UPDATE OF search_terms ON tasks BEGIN {_UNINDEX}; {_INDEX}; END",
}


def _sqlite() -> list[str]:
    return [f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(search_terms, content='tasks', content_rowid='id', "
            "tokenize='ascii', detail='none')",
            *(f"CREATE TRIGGER trg_{FTS_TABLE}_{event} {body}" for event, body in _TRIGGERS.items())]


def create_statements(dialect: str) -> list[str]:
    """The index of the search terms (run after the column exists; the FTS5 table starts empty)."""
    if dialect == "postgresql":
        return [f"CREATE INDEX {PG_INDEX} ON tasks USING gin (string_to_array(search_terms, ' '))"]
    return _sqlite()


def drop_statements(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [f"DROP INDEX IF EXISTS {PG_INDEX}"]
    return [f"DROP TRIGGER IF EXISTS trg_{FTS_TABLE}_{event}" for event in _TRIGGERS] + [
        f"DROP TABLE IF EXISTS {FTS_TABLE}"]


def is_index_object(name: str | None) -> bool:
    """Whether a table or index is the search index (kept by migrations, not described by the models)."""
    return bool(name) and (name == PG_INDEX or str(name).startswith(FTS_TABLE))


def fill_search_terms(connection: sa.Connection, rules: Rules, *, batch: int = 2000) -> int:
    """Compute ``search_terms`` of every task that has none (a sync connection; the caller commits).
    Returns how many tasks were filled. The SQLite triggers index each one as it is written."""
    filled, last = 0, 0
    select = sa.text("SELECT id, raw_text FROM tasks WHERE id > :last AND search_terms = '' ORDER BY id LIMIT :n")
    update = sa.text("UPDATE tasks SET search_terms = :terms WHERE id = :id")
    while True:
        rows = connection.execute(select, {"last": last, "n": batch}).all()
        if not rows:
            return filled
        values = [{"id": int(r[0]), "terms": join_terms(document_terms(str(r[1]), rules))} for r in rows]
        termed = [v for v in values if v["terms"]]
        if termed:  # an empty list would run the UPDATE once with no parameters
            connection.execute(update, termed)
        filled += len(values)
        last = int(rows[-1][0])


FTS = sa.table(FTS_TABLE, sa.column("rowid", sa.Integer))


def from_index(stmt: sa.Select[Any]) -> sa.Select[Any]:
    """`stmt` reading the SQLite FTS5 table first, then each matching task by its id (use with
    ``HasTerms(…, joined=True)``): for a search with few matches, rather than walking the log."""
    return stmt.select_from(_IndexFirst(FTS, TASKS, TASKS.c.id == FTS.c.rowid))


class _IndexFirst(Join):
    """``tasks_fts CROSS JOIN tasks``: SQLite then loops over the matches and looks each task up (a plain
    join may put tasks outside, where the FTS5 MATCH cannot be used)."""

    inherit_cache = True


@compiles(_IndexFirst, "sqlite")
def _index_first_sqlite(join: _IndexFirst, compiler: SQLCompiler, **kw: Any) -> str:
    kw["asfrom"] = True
    return (f"{compiler.process(join.left, **kw)} CROSS JOIN {compiler.process(join.right, **kw)} "
            f"ON {compiler.process(join.onclause, **kw) if join.onclause is not None else '1'}")


class HasTerms(sa.ColumnElement[bool]):
    """True for a task whose search terms include every one of `terms` (at least one term).
    `joined`: the statement reads the FTS5 table itself (:func:`from_index`; SQLite only)."""

    inherit_cache = False
    type = sa.Boolean()
    _is_implicitly_boolean = True  # a condition already: never rendered as "… = 1" on SQLite

    def __init__(self, terms: Sequence[str], *, joined: bool = False) -> None:
        if not terms:
            raise ValueError("HasTerms needs at least one term")
        self.terms = tuple(terms)
        self.joined = joined


@compiles(HasTerms, "sqlite")
def _has_terms_sqlite(element: HasTerms, compiler: SQLCompiler, **kw: Any) -> str:
    # every term a quoted FTS5 string: no query syntax gets through
    match = " ".join('"' + term.replace('"', '""') + '"' for term in element.terms)
    bound = compiler.process(sa.bindparam("search_match", match, unique=True), **kw)
    if element.joined:
        return f"{FTS_TABLE} MATCH {bound}"
    return f"tasks.id IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH {bound})"


@compiles(HasTerms, "postgresql")
def _has_terms_postgresql(element: HasTerms, compiler: SQLCompiler, **kw: Any) -> str:
    from sqlalchemy.dialects.postgresql import ARRAY

    bound = compiler.process(sa.bindparam("search_terms", list(element.terms), type_=ARRAY(sa.Text), unique=True),
                             **kw)
    return f"string_to_array(tasks.search_terms, ' ') @> {bound}"


@compiles(HasTerms)
def _has_terms_default(element: HasTerms, compiler: SQLCompiler, **kw: Any) -> str:
    padded = "(' ' || tasks.search_terms || ' ')"
    likes = [f"{padded} LIKE {compiler.process(sa.bindparam('search_like', f'% {t} %', unique=True), **kw)}"
             for t in element.terms]
    return "(" + " AND ".join(likes) + ")"
