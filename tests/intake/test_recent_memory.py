"""IntakeMemory: what storing a notice reads, kept in memory and brought up to date per write batch.

Run against the real databases: a second "process" (another memory on the same database) must see
what the first committed, a rolled-back batch must leave nothing behind, and an id that commits
after a larger one (PostgreSQL sequences) must still be found.
"""

from __future__ import annotations

import datetime as dt
import difflib
import random
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from intake.org.names import get_department_by_name
from intake.store.db import create_engine
from intake.store.models import COMMUNITIES, DEPARTMENTS, DISTRICTS, TASKS
from intake.store.recent import NEAR_IDENTICAL, IntakeMemory, RecentTask
from tests.conftest import make_settings

NOW = dt.datetime(2026, 11, 27, 2, 0, tzinfo=dt.UTC)
NOTICE = "【区民政局】请各社区于12月5日前对辖区低保家庭开展入户核查,共120户,填写核查表后报社会救助科。"
OTHER = "【区民政局】请各社区本周内组织一次消防安全演练,并上报演练照片和签到表,逾期通报。"

# ---------------------------------------------------------------- what counts as a resend

HAN = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面"


def _entry(task_id: int, code: str, text: str, *, department_id: int = 7, kind: str = "inspection",
           keywords: tuple[str, ...] = (), duplicate_of: int | None = None) -> RecentTask:
    return RecentTask(id=task_id, code=code, department_id=department_id, department="民政局", kind=kind,
                      keywords=frozenset(keywords), raw_text=text, duplicate_of=duplicate_of, received_at=NOW)


def _memory_with(*texts: str) -> IntakeMemory:
    memory = IntakeMemory()
    for i, text in enumerate(texts, start=1):
        memory.add(_entry(i, f"R-{i}", text))
    return memory


@settings(max_examples=200, deadline=None)
@given(
    base=st.text(alphabet=HAN + ",。0123456789", min_size=10, max_size=160),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    edits=st.integers(min_value=0, max_value=25),
)
def test_whatever_difflib_calls_near_identical_is_found(base: str, seed: int, edits: int) -> None:
    """The old measure (difflib's ratio) never finds a resend the new one (Indel, via rapidfuzz) misses."""
    rnd = random.Random(seed)
    chars = list(base)
    for _ in range(edits):
        where = rnd.randrange(len(chars))
        match rnd.randrange(3):
            case 0:
                chars[where] = rnd.choice(HAN)
            case 1:
                chars.insert(where, rnd.choice(HAN))
            case _:
                if len(chars) > 1:
                    del chars[where]
    resend = "".join(chars)
    found = _memory_with(OTHER, base).find_duplicate(department_id=7, text=resend, now=NOW)
    if difflib.SequenceMatcher(None, resend, base, autojunk=False).ratio() >= NEAR_IDENTICAL:
        assert found is not None


def test_resend_links_to_the_original_not_a_copy_and_not_another_department() -> None:
    memory = _memory_with(NOTICE, OTHER)
    resend = NOTICE.replace("120户", "121户")
    assert memory.find_duplicate(department_id=7, text=resend, now=NOW) == (1, "R-1")
    assert memory.find_duplicate(department_id=8, text=resend, now=NOW) is None
    assert memory.find_duplicate(department_id=7, text="请各社区上报本月安全生产检查台账。", now=NOW) is None
    memory.add(_entry(3, "R-3", resend, duplicate_of=1))
    assert memory.find_duplicate(department_id=7, text=resend, now=NOW) == (1, "R-1")


# ---------------------------------------------------------------- against the databases


def _task(task_id: int | None, *, text: str, department_id: int, kind: str = "inspection",
          keywords: tuple[str, ...] = (), at: dt.datetime = NOW) -> dict[str, object]:
    row: dict[str, object] = {
        "code": f"R-TEST-{task_id or random.randrange(10**6):06d}", "msg_id": f"m{random.randrange(10**12)}",
        "channel": "wechat", "department_id": department_id, "department": "民政局", "raw_text": text,
        "kind": kind, "nature": "administrative", "listing": "positive", "communities": [],
        "keywords": list(keywords), "evidence": {}, "status": "accepted", "received_at": at, "created_at": at,
        "updated_at": at,
    }
    if task_id is not None:
        row["id"] = task_id
    return row


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[tuple[AsyncEngine, int]]:
    """An engine on a migrated database (SQLite and PostgreSQL) and the id of department 民政局 in it."""
    engine = create_engine(make_settings(db_url))
    async with engine.begin() as conn:
        dept = (await conn.execute(sa.select(DEPARTMENTS.c.id).where(DEPARTMENTS.c.name == "民政局"))).scalar()
        if dept is None:
            dept = (await conn.execute(sa.insert(DEPARTMENTS).values(name="民政局").returning(DEPARTMENTS.c.id))).scalar_one()
    yield engine, int(dept)
    await engine.dispose()


async def test_a_second_process_sees_committed_notices_and_not_rolled_back_ones(db: tuple[AsyncEngine, int]) -> None:
    engine, dept = db
    mine, theirs = IntakeMemory(), IntakeMemory()
    async with engine.begin() as conn:
        await mine.begin(conn)
        await theirs.begin(conn)
    assert mine.departments["民政局"] == dept
    assert mine.find_duplicate(department_id=dept, text=NOTICE, now=NOW) is None

    # "their" batch stores the notice and commits
    async with engine.begin() as conn:
        await theirs.begin(conn)
        stored = (await conn.execute(sa.insert(TASKS).values(_task(None, text=NOTICE, department_id=dept))
                                     .returning(TASKS.c.id, TASKS.c.code))).one()
        theirs.add(_entry(stored.id, stored.code, NOTICE, department_id=dept))
    # my next batch reads it: a resend with one character changed is linked to it
    resend = NOTICE.replace("120户", "121户")
    async with engine.begin() as conn:
        await mine.begin(conn)
    assert mine.find_duplicate(department_id=dept, text=resend, now=NOW) == (stored.id, stored.code)
    assert mine.find_duplicate(department_id=dept, text=OTHER, now=NOW) is None
    assert mine.find_duplicate(department_id=dept, text=resend, now=NOW + dt.timedelta(days=31)) is None

    # a batch that rolls back: its addition is gone at the next begin (and the row never existed)
    conn = await engine.connect()
    trans = await conn.begin()
    await mine.begin(conn)
    ghost_id = (await conn.execute(sa.insert(TASKS).values(_task(None, text=OTHER, department_id=dept))
                                   .returning(TASKS.c.id))).scalar_one()
    mine.add(_entry(ghost_id, "R-GHOST", OTHER, department_id=dept))
    assert mine.find_duplicate(department_id=dept, text=OTHER, now=NOW) == (ghost_id, "R-GHOST")
    await trans.rollback()
    await conn.close()
    async with engine.begin() as conn:
        await mine.begin(conn)
    assert mine.find_duplicate(department_id=dept, text=OTHER, now=NOW) is None


async def test_own_committed_tasks_are_kept_once_not_read_back(db: tuple[AsyncEngine, int]) -> None:
    engine, dept = db
    memory = IntakeMemory()
    async with engine.begin() as conn:
        await memory.begin(conn)
        task_id = (await conn.execute(sa.insert(TASKS).values(
            _task(None, text=NOTICE, department_id=dept, kind="report", keywords=("低保", "核查", "家庭")))
            .returning(TASKS.c.id))).scalar_one()
        memory.add(_entry(task_id, "R-MINE", NOTICE, department_id=dept, kind="report",
                          keywords=("低保", "核查", "家庭")))
    memory.committed()
    async with engine.begin() as conn:
        await memory.begin(conn)
    assert memory.find_same_data(department_id=dept + 1, kind="survey", keywords=("低保", "核查"), now=NOW) \
        == [(task_id, "民政局")]
    # the code it was given in memory is kept: the row was not read back
    assert memory.find_duplicate(department_id=dept, text=NOTICE, now=NOW) == (task_id, "R-MINE")


async def test_restore_drops_a_failed_units_additions(db: tuple[AsyncEngine, int]) -> None:
    engine, dept = db
    memory = IntakeMemory()
    async with engine.begin() as conn:
        await memory.begin(conn)
    kept = _entry(10**6, "R-KEPT", NOTICE, department_id=dept, kind="report", keywords=("低保", "核查", "家庭"))
    memory.add(kept)
    mark = memory.checkpoint()
    memory.add(_entry(10**6 + 1, "R-FAILED", OTHER, department_id=dept, kind="report",
                      keywords=("消防", "演练", "照片")))
    memory.restore(mark)
    assert memory.find_duplicate(department_id=dept, text=OTHER, now=NOW) is None
    assert memory.find_duplicate(department_id=dept, text=NOTICE, now=NOW) == (kept.id, "R-KEPT")
    # 重复采集 looks at other departments' data notices only
    assert memory.find_same_data(department_id=dept + 1, kind="survey", keywords=("低保", "核查"), now=NOW) \
        == [(kept.id, "民政局")]
    assert memory.find_same_data(department_id=dept + 1, kind="survey", keywords=("消防", "演练"), now=NOW) == []
    assert memory.find_same_data(department_id=dept, kind="survey", keywords=("低保", "核查"), now=NOW) == []


async def test_an_id_that_commits_after_a_larger_one_is_still_found(db: tuple[AsyncEngine, int]) -> None:
    """PostgreSQL hands out ids before commit; a refresh that saw id n+2 must look for n+1 again."""
    engine, dept = db
    memory = IntakeMemory()
    async with engine.begin() as conn:
        base = int((await conn.execute(sa.select(sa.func.coalesce(sa.func.max(TASKS.c.id), 0)))).scalar_one())
        await conn.execute(sa.insert(TASKS).values(_task(base + 1, text="第一份通知,请各社区核对辖区人口台账数据并及时上报。",
                                                         department_id=dept)))
    async with engine.begin() as conn:
        await memory.begin(conn)
    async with engine.begin() as conn:  # base+3 commits first: base+2 is still "in flight"
        await conn.execute(sa.insert(TASKS).values(_task(base + 3, text=OTHER, department_id=dept)))
    async with engine.begin() as conn:
        await memory.begin(conn)
    assert memory.find_duplicate(department_id=dept, text=OTHER, now=NOW) == (base + 3, f"R-TEST-{base + 3:06d}")
    async with engine.begin() as conn:  # now base+2 commits
        await conn.execute(sa.insert(TASKS).values(_task(base + 2, text=NOTICE, department_id=dept)))
    async with engine.begin() as conn:
        await memory.begin(conn)
    assert memory.find_duplicate(department_id=dept, text=NOTICE, now=NOW) == (base + 2, f"R-TEST-{base + 2:06d}")


@pytest.mark.parametrize("names", [("*",), ()])
async def test_all_active_communities_for_star_or_none(sqlite_url: str, names: tuple[str, ...]) -> None:
    engine = create_engine(make_settings(sqlite_url))
    memory = IntakeMemory()
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.insert(COMMUNITIES), [{"name": "幸福社区", "active": True},
                                                        {"name": "和平社区", "active": True},
                                                        {"name": "旧社区", "active": False}])
            await memory.begin(conn)
        every = memory.target_communities(names)
        assert [name for _, name in every] == ["幸福社区", "和平社区"]
        assert [name for _, name in memory.target_communities(("和平社区", "旧社区", "无此社区"))] == ["和平社区"]
    finally:
        await engine.dispose()


def test_a_resend_exactly_at_the_near_identical_bar_is_found() -> None:
    """Hypothesis found a resend whose similarity is exactly 0.85, which rapidfuzz's cutoff missed."""
    base, resend = "000000000000000000001", "0000000000工000我0001"
    assert difflib.SequenceMatcher(None, resend, base, autojunk=False).ratio() >= NEAR_IDENTICAL
    assert _memory_with(OTHER, base).find_duplicate(department_id=7, text=resend, now=NOW) is not None


async def test_the_directory_is_read_once_not_per_batch_and_again_after_any_change(db: tuple[AsyncEngine, int]) -> None:
    """A province has 10,000 communities: a write batch reads the directory's version, not the directory,
    unless a community or department changed since (here by another connection, as another process would)."""
    engine, dept = db
    memory = IntakeMemory()
    for _ in range(3):
        async with engine.begin() as conn:
            await memory.begin(conn)
    assert memory.directory_reads == 1
    assert [name for _, name in memory.target_communities(("新建社区",))] == []

    async with engine.begin() as conn:  # a community added, as `jianfu org import` or the console adds one
        await conn.execute(sa.insert(COMMUNITIES).values(name="新建社区", active=True))
    async with engine.begin() as conn:
        await memory.begin(conn)
    assert memory.directory_reads == 2
    assert [name for _, name in memory.target_communities(("新建社区",))] == ["新建社区"]

    async with engine.begin() as conn:  # renamed, then deactivated: each is seen at the next batch
        await conn.execute(sa.update(DEPARTMENTS).where(DEPARTMENTS.c.id == dept).values(name="民政局(新)"))
    async with engine.begin() as conn:
        await memory.begin(conn)
    assert memory.departments.get("民政局(新)") == dept and "民政局" not in memory.departments
    async with engine.begin() as conn:
        await conn.execute(sa.update(COMMUNITIES).where(COMMUNITIES.c.name == "新建社区").values(active=False))
    async with engine.begin() as conn:
        await memory.begin(conn)
        await memory.begin(conn)
    assert memory.target_communities(("新建社区",)) == [] and memory.directory_reads == 4

    conn = await engine.connect()  # a change that rolls back is never seen as one
    trans = await conn.begin()
    await conn.execute(sa.insert(COMMUNITIES).values(name="幽灵社区", active=True))
    async with engine.begin() as other:
        await memory.begin(other)
    await trans.rollback()
    await conn.close()
    assert memory.directory_reads == 4


async def test_a_department_read_from_memory_is_the_one_the_query_reads_in_every_context(
    db: tuple[AsyncEngine, int]
) -> None:
    """Storing a notice finds its issuer in the memory's directory instead of a query per notice: the same
    department as :func:`get_department_by_name` in each context (a district's, another district's, the
    city's, none), and nothing for a name it does not hold (one added later is then read by the query)."""
    engine, _ = db
    async with engine.begin() as conn:
        districts = [(await conn.execute(sa.insert(DISTRICTS).values(name=n).returning(DISTRICTS.c.id))).scalar_one()
                     for n in ("甲区", "乙区", "丙区")]
        for level, district in (("district", districts[0]), ("district", districts[1]), ("city", None)):
            await conn.execute(sa.insert(DEPARTMENTS).values(name="卫健委", level=level, district_id=district))
        await conn.execute(sa.insert(DEPARTMENTS).values(name="城管局", level="district", district_id=districts[1]))
    memory = IntakeMemory()
    async with engine.begin() as conn:
        await memory.begin(conn)
        for name in ("卫健委", "城管局", "民政局", "没有的局"):
            for district in (*districts, None):
                for city in (False, True):
                    expected = await get_department_by_name(conn, name=name, district_id=district, city=city)
                    assert memory.department_in_context(name, district_id=district, city=city) == expected, \
                        (name, district, city)
        assert memory.department_in_context("城管局", district_id=districts[0], city=False) is None
