"""How far a person sees: the whole deployment, a city, a district, a street or a community.

The console reads through connections that carry a :class:`Scope` (``conn.execution_options(jianfu_scope=…)``).
:func:`install_scope_filter` rewrites every SELECT run on such a connection, in this one place: each
scoped table it reads is replaced by the rows of that table the scope may see (a street admin's
``tasks`` are the tasks addressed to the street's communities or sent by its own offices). Pages,
exports, searches, digests and charts need no filters of their own, and a query a page forgets to
filter cannot leak. A scoped connection refuses text SQL and writes (writes go through the writer,
after the route guard has looked the object up through a scoped read).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import visitors

from intake.errors import Forbidden, InvalidRequest, NotFound
from intake.store.models import (
    ACCOUNTS,
    ADMIN_USERS,
    AUDIT_LOG,
    COMMUNITIES,
    CORRECTION_EXAMPLES,
    COUNTER_ENTRIES,
    DEPARTMENTS,
    DIGESTS,
    DISTRICTS,
    INVITES,
    MONTH_ROLLUPS,
    OPEN_MONTH_FIGURES,
    ORG_IMPORTS,
    OUTBOX,
    RATINGS,
    REMINDERS,
    RULE_VERSIONS,
    STREETS,
    TASK_REPORTS,
    TASK_TARGETS,
    TASKS,
)
from intake.store.models_catalogue import FORM_SENDS, FORMS, PLATFORM_MENTIONS, PLATFORMS
from intake.store.values import OrgLevel

__all__ = ["SCOPE_OPTION", "Scope", "ScopeError", "EVERYTHING", "resolve_scope", "parse_scope", "scoped",
           "install_scope_filter", "describe_scope"]

SCOPE_OPTION = "jianfu_scope"


class ScopeError(Forbidden):
    """A scoped connection was asked for something the filter cannot confine (text SQL, a write)."""


@dataclass(frozen=True)
class Scope:
    """A level and the ids it reaches; ``level`` None is the whole deployment (no filter)."""

    level: OrgLevel | None = None
    id: int | None = None
    name: str = ""
    district_ids: frozenset[int] = frozenset()
    street_ids: frozenset[int] = frozenset()
    community_ids: frozenset[int] = frozenset()
    community_names: frozenset[str] = frozenset()
    department_ids: frozenset[int] = frozenset()  # every department it may see (city, its district's, its street's)
    own_department_ids: frozenset[int] = frozenset()  # the offices of its own level (their tasks are its own)
    digest_scopes: frozenset[str] = frozenset()  # digests.scope values it may read

    @property
    def is_everything(self) -> bool:
        return self.level is None

    @property
    def key(self) -> str:
        """``street:12`` as stored on users and accounts; "" for everything."""
        return "" if self.level is None else f"{self.level.value}:{self.id}"


EVERYTHING = Scope()


def street_digest_scope(street_id: int) -> str:
    return f"street:{street_id}"


def district_digest_scope(district_id: int) -> str:
    return f"district:{district_id}"


async def _ids(conn: AsyncConnection, stmt: sa.Select[Any]) -> frozenset[int]:
    return frozenset(int(v) for v in (await conn.execute(stmt)).scalars())


async def resolve_scope(conn: AsyncConnection, *, level: str | None, scope_id: int | None) -> Scope:
    """The ids a stored scope reaches (read on an unscoped connection). An unknown id sees nothing."""
    if not level:
        return EVERYTHING
    lvl = OrgLevel(level)
    if lvl is OrgLevel.city:
        return EVERYTHING  # one deployment is one city
    ident = int(scope_id or 0)
    if lvl is OrgLevel.district:
        districts = frozenset({ident})
        streets = await _ids(conn, sa.select(STREETS.c.id).where(STREETS.c.district_id == ident))
        communities = await _ids(conn, sa.select(COMMUNITIES.c.id).where(COMMUNITIES.c.street_id.in_(streets)))
        name_of = sa.select(DISTRICTS.c.name).where(DISTRICTS.c.id == ident)
    elif lvl is OrgLevel.street:
        streets = frozenset({ident})
        districts = await _ids(conn, sa.select(STREETS.c.district_id).where(STREETS.c.id == ident))
        communities = await _ids(conn, sa.select(COMMUNITIES.c.id).where(COMMUNITIES.c.street_id == ident))
        name_of = sa.select(STREETS.c.name).where(STREETS.c.id == ident)
    else:
        communities = frozenset({ident})
        streets = await _ids(conn, sa.select(COMMUNITIES.c.street_id).where(COMMUNITIES.c.id == ident,
                                                                           COMMUNITIES.c.street_id.is_not(None)))
        districts = await _ids(conn, sa.select(STREETS.c.district_id).where(STREETS.c.id.in_(streets)))
        name_of = sa.select(COMMUNITIES.c.name).where(COMMUNITIES.c.id == ident)
    names = frozenset(str(n) for n in (await conn.execute(
        sa.select(COMMUNITIES.c.name).where(COMMUNITIES.c.id.in_(communities)))).scalars())
    visible = await _ids(conn, sa.select(DEPARTMENTS.c.id).where(sa.or_(
        DEPARTMENTS.c.level == OrgLevel.city.value,
        sa.and_(DEPARTMENTS.c.level == OrgLevel.district.value, DEPARTMENTS.c.district_id.in_(districts)),
        sa.and_(DEPARTMENTS.c.level == OrgLevel.street.value, DEPARTMENTS.c.street_id.in_(streets)))))
    own = await _ids(conn, sa.select(DEPARTMENTS.c.id).where(
        DEPARTMENTS.c.district_id.in_(districts) if lvl is OrgLevel.district
        else DEPARTMENTS.c.street_id.in_(streets) if lvl is OrgLevel.street else sa.false()))
    digests = set(names) | {street_digest_scope(s) for s in streets if lvl is not OrgLevel.community}
    if lvl is OrgLevel.district:
        digests |= {district_digest_scope(ident)}
    return Scope(level=lvl, id=ident, name=str((await conn.execute(name_of)).scalar() or "?"),
                 district_ids=districts, street_ids=streets, community_ids=communities, community_names=names,
                 department_ids=visible, own_department_ids=own, digest_scopes=frozenset(digests))


async def parse_scope(conn: AsyncConnection, *, text: str) -> tuple[OrgLevel, int]:
    """``district:NAME``, ``street:NAME`` (or ``street:区名/街道名`` when two districts share it), ``community:NAME``."""
    kind, _, name = text.partition(":")
    name = name.strip()
    try:
        level = OrgLevel(kind.strip())
    except ValueError:
        raise InvalidRequest(f"范围“{text}”不对:请写 district:区名、street:街道名 或 community:社区名。") from None
    if level is OrgLevel.city or not name:
        raise InvalidRequest(f"范围“{text}”不对:请写 district:区名、street:街道名 或 community:社区名。")
    table = {OrgLevel.district: DISTRICTS, OrgLevel.street: STREETS, OrgLevel.community: COMMUNITIES}[level]
    stmt = sa.select(table.c.id).where(table.c.name == name)
    if level is OrgLevel.street and "/" in name:
        district, _, street = name.partition("/")
        stmt = (sa.select(STREETS.c.id).join(DISTRICTS, DISTRICTS.c.id == STREETS.c.district_id)
                .where(DISTRICTS.c.name == district.strip(), STREETS.c.name == street.strip()))
    found = list((await conn.execute(stmt)).scalars())
    if not found:
        raise NotFound(f"没有找到“{name}”:请先在组织架构中添加(jianfu org import)或检查名称。")
    if len(found) > 1:
        raise InvalidRequest(f"有 {len(found)} 个街道叫“{name}”:请写 street:区名/{name}。")
    return level, int(found[0])


def describe_scope(scope: Scope) -> str:
    labels = {OrgLevel.district: "区", OrgLevel.street: "街道", OrgLevel.community: "社区"}
    return "全部" if scope.level is None else f"{scope.name}({labels.get(scope.level, '')})"


# --- the one filter ------------------------------------------------------------------------------

def _in(column: Any, ids: frozenset[int]) -> Any:
    return column.in_(sorted(ids)) if ids else sa.false()


def _visible_tasks(s: Scope) -> Any:
    return sa.select(TASKS.c.id).where(sa.or_(
        sa.exists().where(TASK_TARGETS.c.task_id == TASKS.c.id, _in(TASK_TARGETS.c.community_id, s.community_ids)),
        _in(TASKS.c.department_id, s.own_department_ids)))


def _within(table: sa.Table, s: Scope) -> Any:
    """An admin account's or invite's scope at the scope's own level or below it, inside it."""
    level, ident = table.c.scope_level, table.c.scope_id
    parts = [sa.and_(level == OrgLevel.community.value, _in(ident, s.community_ids))]
    if s.level in (OrgLevel.district, OrgLevel.street):
        parts.append(sa.and_(level == OrgLevel.street.value, _in(ident, s.street_ids)))
    if s.level is OrgLevel.district:
        parts.append(sa.and_(level == OrgLevel.district.value, _in(ident, s.district_ids)))
    return sa.or_(*parts)


def _visible_accounts(s: Scope) -> Any:
    return sa.select(ACCOUNTS.c.id).where(sa.or_(_in(ACCOUNTS.c.community_id, s.community_ids),
                                                  _in(ACCOUNTS.c.department_id, s.own_department_ids),
                                                  _within(ACCOUNTS, s)))


def _audit(s: Scope) -> Any:
    targets = sa.select(TASK_TARGETS.c.id).where(_in(TASK_TARGETS.c.community_id, s.community_ids))
    return sa.or_(
        sa.and_(AUDIT_LOG.c.entity == "task", AUDIT_LOG.c.entity_id.in_(_visible_tasks(s))),
        sa.and_(AUDIT_LOG.c.entity == "task_target", AUDIT_LOG.c.entity_id.in_(targets)),
        sa.and_(AUDIT_LOG.c.entity == "community", _in(AUDIT_LOG.c.entity_id, s.community_ids)),
        sa.and_(AUDIT_LOG.c.entity == "account", AUDIT_LOG.c.entity_id.in_(_visible_accounts(s))))


# table name → (table, rows the scope may see)
_CRITERIA: dict[str, tuple[sa.Table, Callable[[Scope], Any]]] = {
    "districts": (DISTRICTS, lambda s: _in(DISTRICTS.c.id, s.district_ids)),
    "streets": (STREETS, lambda s: _in(STREETS.c.id, s.street_ids)),
    "communities": (COMMUNITIES, lambda s: _in(COMMUNITIES.c.id, s.community_ids)),
    "departments": (DEPARTMENTS, lambda s: _in(DEPARTMENTS.c.id, s.department_ids)),
    "task_targets": (TASK_TARGETS, lambda s: _in(TASK_TARGETS.c.community_id, s.community_ids)),
    "tasks": (TASKS, lambda s: TASKS.c.id.in_(_visible_tasks(s))),
    "reminders": (REMINDERS, lambda s: REMINDERS.c.target_id.in_(
        sa.select(TASK_TARGETS.c.id).where(_in(TASK_TARGETS.c.community_id, s.community_ids)))),
    "accounts": (ACCOUNTS, lambda s: ACCOUNTS.c.id.in_(_visible_accounts(s))),
    "invites": (INVITES, lambda s: sa.or_(_in(INVITES.c.community_id, s.community_ids),
                                          _in(INVITES.c.department_id, s.own_department_ids), _within(INVITES, s))),
    "outbox": (OUTBOX, lambda s: sa.or_(_in(OUTBOX.c.community_id, s.community_ids),
                                        OUTBOX.c.account_id.in_(_visible_accounts(s)),
                                        OUTBOX.c.recipient == f"scope:{s.key}")),
    "digests": (DIGESTS, lambda s: DIGESTS.c.scope.in_(sorted(s.digest_scopes)) if s.digest_scopes else sa.false()),
    "audit_log": (AUDIT_LOG, _audit),
    "ratings": (RATINGS, lambda s: _in(RATINGS.c.community_id, s.community_ids)),
    "task_reports": (TASK_REPORTS, lambda s: _in(TASK_REPORTS.c.community_id, s.community_ids)),
    "counter_entries": (COUNTER_ENTRIES, lambda s: _in(COUNTER_ENTRIES.c.community_id, s.community_ids)),
    "correction_examples": (CORRECTION_EXAMPLES, lambda s: CORRECTION_EXAMPLES.c.task_id.in_(_visible_tasks(s))),
    "forms": (FORMS, lambda s: sa.or_(_in(FORMS.c.department_id, s.own_department_ids), sa.exists().where(
        FORM_SENDS.c.form_id == FORMS.c.id, FORM_SENDS.c.task_id.in_(_visible_tasks(s))))),
    "form_sends": (FORM_SENDS, lambda s: FORM_SENDS.c.task_id.in_(_visible_tasks(s))),
    "platforms": (PLATFORMS, lambda s: sa.exists().where(
        PLATFORM_MENTIONS.c.platform_id == PLATFORMS.c.id, PLATFORM_MENTIONS.c.task_id.in_(_visible_tasks(s)))),
    "platform_mentions": (PLATFORM_MENTIONS, lambda s: PLATFORM_MENTIONS.c.task_id.in_(_visible_tasks(s))),
    "admin_users": (ADMIN_USERS, lambda s: sa.and_(ADMIN_USERS.c.scope_level == (s.level.value if s.level else None),
                                                   ADMIN_USERS.c.scope_id == s.id)),
    # the city default's rule versions, and the scope's own district's
    "rule_versions": (RULE_VERSIONS, lambda s: sa.or_(RULE_VERSIONS.c.district_id.is_(None),
                                                      _in(RULE_VERSIONS.c.district_id, s.district_ids))),
    # the whole tree's versions: only for the whole deployment
    "org_imports": (ORG_IMPORTS, lambda s: sa.false()),
    # a closed month's figures per scope: only the communities' own (the district's are computed live, scoped)
    "month_rollups": (MONTH_ROLLUPS, lambda s: MONTH_ROLLUPS.c.scope.in_(sorted(f"community:{n}" for n in
                                                                                s.community_names))),
    # the open month's figures as last counted: likewise
    "open_month_figures": (OPEN_MONTH_FIGURES, lambda s: OPEN_MONTH_FIGURES.c.scope.in_(
        sorted(f"community:{n}" for n in s.community_names))),
}


def _views(scope: Scope) -> dict[str, sa.Subquery]:
    views = {}
    for name, (table, criteria) in _CRITERIA.items():
        views[name] = sa.select(table).where(criteria(scope)).subquery(name)
    return views


def scoped(stmt: Any, scope: Scope) -> Any:
    """`stmt` with every scoped table replaced by the rows `scope` may see (the table's name kept)."""
    if scope.is_everything:
        return stmt
    views = _views(scope)

    def replace(element: Any, **_: Any) -> Any:
        if isinstance(element, sa.TableClause) and not isinstance(element, sa.Subquery) and element.name in views:
            return views[element.name]
        table = getattr(element, "table", None)
        if (isinstance(element, sa.ColumnClause) and isinstance(table, sa.TableClause)
                and table.name in views and element.key in views[table.name].c):
            return views[table.name].c[element.key]
        return None

    return visitors.replacement_traverse(stmt, {}, replace)


def _before_execute(conn: Any, clause: Any, multiparams: Any, params: Any, options: Any) -> Any:
    scope = options.get(SCOPE_OPTION) if options else None
    if scope is None or scope.is_everything:
        return clause, multiparams, params
    if isinstance(clause, sa.Select | sa.CompoundSelect):
        return scoped(clause, scope), multiparams, params
    raise ScopeError(f"a connection scoped to {scope.key} runs only SELECT statements, not {type(clause).__name__}")


def install_scope_filter(engine: AsyncEngine) -> None:
    """Listen once on `engine`: SELECTs on a scoped connection see only their scope's rows."""
    if not event.contains(engine.sync_engine, "before_execute", _before_execute):
        event.listen(engine.sync_engine, "before_execute", _before_execute, retval=True)
