"""What storing a notice reads, kept in memory and brought up to date once per write batch.

Storing a notice needs the active communities (its targets), the department ids and the last
month's notices (is this a resend of an earlier one? is another department collecting the same
data — 重复采集?). Reading those per message was most of the write path's cost; instead the
writer calls :meth:`IntakeMemory.begin` at the start of every batch transaction, which reads the
directory's version (one row; the directory itself only when that moved: a province has 10,000
communities, see :mod:`intake.store.models_directory`) and only the tasks stored since the previous
batch, by any process.

Tasks stored inside the current batch are added as they are stored, so a notice sent twice in one
batch is still caught; the writer's ``checkpoint``/``restore`` drop the additions of a unit whose
savepoint rolled back, ``committed`` keeps them once the batch committed, and ``begin`` drops any
that were never confirmed (a failed commit: those that did commit come back through its read).

On PostgreSQL a task id can commit after a larger one (sequences are handed out before commit),
so ids skipped by a refresh are read again by later refreshes for a while (:data:`HOLE_GRACE`).
What is kept is bounded like the old look-back queries: per department the newest
:data:`PER_DEPARTMENT` notices, and the newest :data:`DATA_NOTICES` data-collection notices,
all within :data:`WINDOW` of the message being stored.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from rapidfuzz.distance import Indel
from rapidfuzz.process import extractOne
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.org.names import department_fit
from intake.store.models import COMMUNITIES, DEPARTMENTS, DIRECTORY_VERSION, STREETS, TASKS
from intake.store.sqlite_fast import Prepared

__all__ = ["IntakeMemory", "RecentTask", "WINDOW", "PER_DEPARTMENT", "DATA_NOTICES", "DATA_KINDS",
           "NEAR_IDENTICAL", "SAME_DATA_OVERLAP"]

WINDOW = dt.timedelta(days=30)
PER_DEPARTMENT = 100  # newest notices of one department compared for near-identical resends
DATA_NOTICES = 60  # newest data-collection notices compared for 重复采集
NEAR_IDENTICAL = 0.85  # character-level similarity of two notices from one department
SAME_DATA_OVERLAP = 0.5  # keyword overlap of two data-collection notices from different departments
DATA_KINDS = frozenset({"report", "survey", "data_entry", "ledger"})
HOLE_GRACE = 120.0  # seconds an id skipped by a refresh is looked for again (a transaction lasts seconds)
FIRST_LOAD = 20_000  # newest tasks read at start-up (more than a district stores in a month)

_COLUMNS = (TASKS.c.id, TASKS.c.code, TASKS.c.department_id, TASKS.c.department, TASKS.c.kind, TASKS.c.keywords,
            TASKS.c.raw_text, TASKS.c.duplicate_of, TASKS.c.received_at)
_IDS_ABOVE = Prepared(sa.select(TASKS.c.id).where(TASKS.c.id > sa.bindparam("low")).order_by(TASKS.c.id))
_IDS_AMONG = sa.select(TASKS.c.id).where(TASKS.c.id.in_(sa.bindparam("ids", expanding=True)))
_BY_IDS = sa.select(*_COLUMNS).where(TASKS.c.id.in_(sa.bindparam("ids", expanding=True))).order_by(TASKS.c.id)
_MAX_ID = sa.select(sa.func.max(TASKS.c.id))
_NEWEST = (sa.select(*_COLUMNS)
           .where(TASKS.c.received_at >= sa.bindparam("since"), TASKS.c.id <= sa.bindparam("high"))
           .order_by(TASKS.c.id.desc()).limit(FIRST_LOAD))
_COMMUNITIES = (sa.select(COMMUNITIES.c.id, COMMUNITIES.c.name, COMMUNITIES.c.street_id, STREETS.c.district_id)
                .outerjoin(STREETS, STREETS.c.id == COMMUNITIES.c.street_id)
                .where(COMMUNITIES.c.active.is_(True)).order_by(COMMUNITIES.c.id))
_DEPARTMENTS = sa.select(DEPARTMENTS.c.id, DEPARTMENTS.c.name, DEPARTMENTS.c.level, DEPARTMENTS.c.district_id,
                         DEPARTMENTS.c.street_id).order_by(DEPARTMENTS.c.id)
_DIRECTORY_VERSION = Prepared(sa.select(DIRECTORY_VERSION.c.version).where(DIRECTORY_VERSION.c.id == 1))


@dataclass(frozen=True, slots=True)
class RecentTask:
    id: int
    code: str
    department_id: int | None
    department: str | None
    kind: str
    keywords: frozenset[str]
    raw_text: str
    duplicate_of: int | None
    received_at: dt.datetime


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


class IntakeMemory:
    """The directory and the recent notices, as of the start of the current write transaction."""

    def __init__(self) -> None:
        self.communities: list[tuple[int, str]] = []
        self._community_ids: dict[str, int] = {}
        self._places: dict[int, tuple[int | None, int | None]] = {}  # community id -> (district, street)
        self.departments: dict[str, int] = {}
        self._departments_named: dict[str, list[dict[str, Any]]] = {}  # name -> its rows, in id order
        self._directory_version: int | None = None  # as of the last directory read; None: read every batch
        self.directory_reads = 0  # how often the directory was read (a province must not pay it per batch)
        self._by_department: dict[int | None, deque[RecentTask]] = {}
        self._data: deque[RecentTask] = deque(maxlen=DATA_NOTICES)
        self._watermark: int | None = None  # the largest committed task id read; None: nothing read yet
        self._holes: dict[int, float] = {}  # id skipped by a refresh -> when it was first missed
        self._pending: list[RecentTask] = []  # stored in the current transaction, not yet committed
        self._mine: set[int] = set()  # stored and committed by this memory's writer, above the watermark

    # ------------------------------------------------------------- the writer's BatchState protocol

    async def begin(self, conn: AsyncConnection) -> None:
        """A write transaction starts: forget unconfirmed additions, read what was committed since.

        Only ids are read for tasks this memory stored itself and saw committed; tasks of a batch
        whose COMMIT failed are dropped here and, if the commit did happen, come back through the read.
        """
        self._forget(self._pending)
        self._pending.clear()
        await self._refresh_directory(conn)
        if self._watermark is None:
            self._watermark = int((await conn.execute(_MAX_ID)).scalar_one() or 0)
            since = dt.datetime.now(dt.UTC) - WINDOW
            rows = list(reversed((await conn.execute(_NEWEST, {"since": since, "high": self._watermark})).all()))
            for row in rows:
                self._remember(_recent(row))
            return
        # ids first (an index range), whole rows only for tasks this memory has not stored itself
        above = [int(r[0]) for r in await _IDS_ABOVE.rows(conn, {"low": self._watermark})]
        now = time.monotonic()
        self._holes = {i: t for i, t in self._holes.items() if now - t < HOLE_GRACE}
        filled = []
        if self._holes:
            filled = [int(r[0]) for r in (await conn.execute(_IDS_AMONG, {"ids": sorted(self._holes)})).all()]
        for task_id in above:
            # ids in between are not committed yet (or never will be): look for them again later
            for missing in range(max(self._watermark + 1, task_id - 1000), task_id):
                self._holes.setdefault(missing, now)
            self._watermark = max(self._watermark, task_id)
        for task_id in [*above, *filled]:
            self._holes.pop(task_id, None)
        fetch = sorted({i for i in [*above, *filled] if i not in self._mine})
        self._mine = {i for i in self._mine if i > self._watermark}
        if fetch:
            for row in (await conn.execute(_BY_IDS, {"ids": fetch})).all():
                self._remember(_recent(row))

    async def _refresh_directory(self, conn: AsyncConnection) -> None:
        """Read the communities (with their streets) and departments again only when the directory's version moved
        (:mod:`intake.store.models_directory`); without a version row, every time."""
        rows = await _DIRECTORY_VERSION.rows(conn)
        version = int(rows[0][0]) if rows else None
        if version is not None and version == self._directory_version:
            return
        directory = (await conn.execute(_COMMUNITIES)).all()
        self.communities = [(int(r.id), str(r.name)) for r in directory]
        self._community_ids = {name: cid for cid, name in self.communities}
        self._places = {int(r.id): (r.district_id, r.street_id) for r in directory}
        departments = (await conn.execute(_DEPARTMENTS)).all()
        self.departments = {str(r.name): int(r.id) for r in departments}
        self._departments_named = {}
        for r in departments:
            self._departments_named.setdefault(str(r.name), []).append(dict(r._mapping))
        self._directory_version = version
        self.directory_reads += 1

    def department_in_context(self, name: str, *, district_id: int | None, city: bool) -> int | None:
        """:func:`intake.org.names.get_department_by_name` on the directory as read at the batch's start; None
        when none fits (one added since, in this batch, is then found by that query)."""
        rows = self._departments_named.get(name)
        return department_fit(rows, district_id=district_id, street_id=None, city=city) if rows else None

    def committed(self) -> None:
        """The transaction committed: what it stored stays (and is not read back)."""
        self._mine.update(task.id for task in self._pending)
        self._pending.clear()

    def checkpoint(self) -> int:
        return len(self._pending)

    def restore(self, mark: object) -> None:
        """A unit's savepoint rolled back: drop what it added."""
        assert isinstance(mark, int)
        self._forget(self._pending[mark:])
        del self._pending[mark:]

    # ------------------------------------------------------------- what storing a notice reads

    def target_communities(self, names: tuple[str, ...], *, district_id: int | None = None,
                           street_id: int | None = None) -> list[tuple[int, str]]:
        """The active communities a notice names, in id order; for ``*`` or none named, all of the sender's
        street (a street office's notice) or district (a district department's), else of the deployment."""
        if "*" in names or not names:
            if street_id is not None:
                return [(cid, n) for cid, n in self.communities if self._places.get(cid, (None, None))[1] == street_id]
            if district_id is not None:
                return [(cid, n) for cid, n in self.communities if self._places.get(cid, (None, None))[0] == district_id]
            return list(self.communities)
        wanted = {(self._community_ids[n], n) for n in names if n in self._community_ids}
        return sorted(wanted)  # the named ones only: a province has 10,000 communities

    def find_duplicate(self, *, department_id: int | None, text: str, now: dt.datetime) -> tuple[int, str] | None:
        """The original most like a near-identical notice the same department sent within the window.

        Similarity is the normalised Indel similarity, 2·LCS / (len a + len b), computed by
        rapidfuzz in one native loop over the candidates (it is never below difflib's
        Ratcliff–Obershelp ratio, so what difflib calls near-identical is found too).
        """
        if department_id is None:
            return None
        since = now - WINDOW
        originals = [task for task in self._by_department.get(department_id, ())
                     if task.received_at >= since and task.duplicate_of is None]  # link to originals, not copies
        if not originals:
            return None
        # no score_cutoff: rapidfuzz turns it into a distance cutoff and can miss a score exactly at the
        # bar (0.85 against 0.85, found by hypothesis); compare here, with a hair of float tolerance
        best = extractOne(text, [task.raw_text for task in originals], scorer=Indel.normalized_similarity)
        if best is None or best[1] < NEAR_IDENTICAL - 1e-9:
            return None
        task = originals[best[2]]
        return task.id, task.code

    def find_same_data(
        self, *, department_id: int | None, kind: str, keywords: tuple[str, ...], now: dt.datetime
    ) -> list[tuple[int, str]]:
        """Data-collection notices from *other* departments sharing most keywords: 重复采集."""
        if kind not in DATA_KINDS or len(keywords) < 2 or department_id is None:
            return []
        since = now - WINDOW
        mine = set(keywords)
        found = []
        for task in reversed(self._data):
            if task.received_at < since or task.department_id == department_id or not task.keywords:
                continue
            shared = len(mine & task.keywords)
            if shared >= 2 and shared / min(len(mine), len(task.keywords)) >= SAME_DATA_OVERLAP:
                found.append((task.id, task.department or ""))
        return found

    def add(self, task: RecentTask) -> None:
        """A task stored by the current transaction (kept only if it commits; see the module doc)."""
        self._pending.append(task)
        self._remember(task)

    # ------------------------------------------------------------- internals

    def _remember(self, task: RecentTask) -> None:
        queue = self._by_department.get(task.department_id)
        if queue is None:
            queue = self._by_department[task.department_id] = deque(maxlen=PER_DEPARTMENT)
        queue.append(task)
        if task.kind in DATA_KINDS:
            self._data.append(task)

    def _forget(self, tasks: list[RecentTask]) -> None:
        """Drop tasks added last (they sit at the new end of their queues)."""
        gone = {t.id for t in tasks}
        if not gone:
            return
        for queue in (*self._by_department.values(), self._data):
            while queue and queue[-1].id in gone:
                queue.pop()


def _recent(row: Any) -> RecentTask:
    return RecentTask(
        id=int(row.id), code=str(row.code), department_id=row.department_id, department=row.department,
        kind=str(row.kind), keywords=frozenset(row.keywords or ()), raw_text=str(row.raw_text),
        duplicate_of=row.duplicate_of, received_at=_aware(row.received_at),
    )
