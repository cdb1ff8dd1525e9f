"""The organisation tree in the console: view it, add and rename streets and communities, move a community,
set staff counts, import a sheet (all or nothing); every change a version; tasks stay attached by id; each
scope may change only what the page says it may."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import aiohttp
import sqlalchemy as sa
from openpyxl import Workbook, load_workbook

from bot.keys import SERVICES
from classifiers import classify
from intake.console_users import add_admin_user
from intake.org import CommunityRow, apply_org_rows
from intake.store.models import COMMUNITIES, DIGESTS, DISTRICTS, ORG_IMPORTS, STREETS, TASK_TARGETS
from tests.console_support import PASSWORD, login, scalar, seed_task
from tests.fake_wechat_api import insert

NOW = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)


async def _two_streets(engine: Any) -> dict[str, int]:
    async with engine.begin() as conn:
        await apply_org_rows(conn, rows=[CommunityRow("示范街道", "乙街道", n) for n in ("光明社区", "东风社区")],
                             source="test", author="test", now=NOW)
        ids = dict((await conn.execute(sa.select(STREETS.c.name, STREETS.c.id))).all())
        ids.update((await conn.execute(sa.select(COMMUNITIES.c.name, COMMUNITIES.c.id))).all())
        ids["district"] = (await conn.execute(sa.select(DISTRICTS.c.id))).scalar_one()
    return ids


def _sheet(*rows: tuple[Any, ...]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (("区", "街道", "社区", "工作人员数"), *rows):
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _upload(token: str, data: bytes, name: str = "组织架构.xlsx") -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("csrf_token", token)
    form.add_field("sheet", data, filename=name, content_type="application/octet-stream")
    return form


async def _versions(engine: Any) -> list[tuple[str, str, list[str]]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(ORG_IMPORTS.c.author, ORG_IMPORTS.c.source, ORG_IMPORTS.c.changes)
                                   .order_by(ORG_IMPORTS.c.id))).all()
    return [(r.author, r.source, list(r.changes)) for r in rows]


async def test_an_admin_edits_the_tree_and_every_edit_is_a_version_with_who_and_what(
        console: Any, engine: Any) -> None:
    ids = await _two_streets(engine)
    code = await seed_task(engine, communities=("光明社区",), received_at=NOW)
    token = await login(console)
    page = await (await console.get("/admin/org")).text()
    assert "乙街道" in page and "光明社区" in page and "从 Excel 导入" in page
    before = len(await _versions(engine))
    resp = await console.post("/admin/org/streets", data={"csrf_token": token, "district": ids["district"],
                                                          "name": "丙街道"})
    assert "已保存" in await resp.text() and "新增街道 示范街道 / 丙街道" in await resp.text()
    bing = await scalar(engine, sa.select(STREETS.c.id).where(STREETS.c.name == "丙街道"))
    resp = await console.post(f"/admin/org/communities/{ids['光明社区']}", data={
        "csrf_token": token, "name": "新光明社区", "street": str(bing), "staff": "11"})
    text = await resp.text()
    assert "社区 光明社区 改名为 新光明社区" in text and "社区 新光明社区 归入 示范街道 / 丙街道" in text
    assert "工作人员 7 → 11 人" in text
    await console.post(f"/admin/org/streets/{ids['乙街道']}/communities",
                       data={"csrf_token": token, "name": "新建社区", "staff": "5"})
    await console.post(f"/admin/org/streets/{bing}", data={"csrf_token": token, "name": "丙街道办事处"})
    versions = (await _versions(engine))[before:]
    assert [v[0] for v in versions] == ["admin:wang"] * 4 and {v[1] for v in versions} == {"console"}
    assert versions[-1][2] == ["街道 示范街道 / 丙街道 改名为 丙街道办事处"]
    # the task keeps its assignment (by id) and shows under the new name
    async with engine.connect() as conn:
        targets = (await conn.execute(sa.select(TASK_TARGETS.c.community_id))).scalars().all()
    assert targets == [ids["光明社区"]]
    task = await (await console.get(f"/admin/tasks/{code}")).text()
    assert "新光明社区" in task
    history = await (await console.get("/admin/org")).text()
    assert "版本记录" in history and "丙街道办事处" in history


async def test_renaming_a_community_keeps_its_archived_digests(console: Any, engine: Any) -> None:
    ids = await _two_streets(engine)
    await insert(engine, "digests", month="2026-10", scope="东风社区", content={"title": "东风社区2026年10月"})
    token = await login(console)
    await console.post(f"/admin/org/communities/{ids['东风社区']}", data={"csrf_token": token, "name": "东风新村"})
    assert await scalar(engine, sa.select(DIGESTS.c.scope)) == "东风新村"


async def test_a_sheet_imported_in_the_console_is_all_or_nothing(console: Any, engine: Any) -> None:
    await _two_streets(engine)
    token = await login(console)
    before = await _versions(engine)
    bad = _sheet(("示范街道", "丁街道", "幸福社区", 9), ("示范街道", "", "和平社区", 8), ("示范街道", "丁街道", "建设社区", "八"))
    resp = await console.post("/admin/org/import", data=_upload(token, bad))
    text = await resp.text()
    assert resp.status == 400 and "第 3 行:缺少街道" in text and "第 4 行:工作人员数“八”不是正整数" in text
    assert await _versions(engine) == before
    assert await scalar(engine, sa.select(sa.func.count()).select_from(STREETS).where(STREETS.c.name == "丁街道")) == 0
    resp = await console.post("/admin/org/import", data=_upload(token, b"not a workbook", "tree.xls"))
    assert resp.status == 400 and "另存为 .xlsx" in await resp.text()
    good = _sheet(("示范街道", "丁街道", "幸福社区", 12), ("示范街道", "丁街道", "和平社区", 8))
    text = await (await console.post("/admin/org/import", data=_upload(token, good))).text()
    assert "已导入 2 个社区" in text
    author, source, lines = (await _versions(engine))[-1]
    assert author == "admin:wang" and source == "console:组织架构.xlsx"
    assert "社区 幸福社区 归入 示范街道 / 丁街道" in lines and "社区 幸福社区 工作人员 9 → 12 人" in lines


async def test_the_tree_downloads_as_the_sheet_the_import_reads(console: Any, engine: Any) -> None:
    await _two_streets(engine)
    await login(console)
    resp = await console.get("/admin/org.xlsx")
    rows = list(load_workbook(io.BytesIO(await resp.read())).active.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert rows[0] == ("市", "区", "街道", "社区", "工作人员数")
    assert (None, "示范街道", "乙街道", "光明社区", 7) in rows or ("", "示范街道", "乙街道", "光明社区", 7) in rows


async def _scoped(console: Any, engine: Any, level: str, scope_id: int, name: str) -> str:
    async with engine.begin() as conn:
        await add_admin_user(conn, username=name, password=PASSWORD, scope_level=level, scope_id=scope_id)
    return await login(console, name)


async def test_a_street_admin_may_set_only_their_own_communities_staff(console: Any, engine: Any) -> None:
    ids = await _two_streets(engine)
    token = await _scoped(console, engine, "street", ids["乙街道"], "yi")
    page = await (await console.get("/admin/org")).text()
    assert "光明社区" in page and "幸福社区" not in page and "从 Excel 导入" not in page and "新街道" not in page
    resp = await console.post(f"/admin/org/communities/{ids['光明社区']}", data={"csrf_token": token, "staff": "10"})
    assert "工作人员 7 → 10 人" in await resp.text()
    refused = [
        await console.post(f"/admin/org/communities/{ids['光明社区']}", data={"csrf_token": token, "name": "改名"},
                           allow_redirects=False),
        await console.post(f"/admin/org/communities/{ids['幸福社区']}", data={"csrf_token": token, "staff": "3"},
                           allow_redirects=False),
        await console.post("/admin/org/streets", data={"csrf_token": token, "district": ids["district"], "name": "x"},
                           allow_redirects=False),
        await console.post("/admin/org/import", data=_upload(token, _sheet(("示范街道", "乙街道", "光明社区", 1))),
                           allow_redirects=False),
    ]
    assert [r.status for r in refused] == [403, 404, 403, 403]
    assert await scalar(engine, sa.select(COMMUNITIES.c.staff).where(COMMUNITIES.c.id == ids["幸福社区"])) == 9
    assert await scalar(engine, sa.select(COMMUNITIES.c.name).where(COMMUNITIES.c.id == ids["光明社区"])) == "光明社区"


async def test_a_district_admin_moves_communities_within_their_district_only(console: Any, engine: Any) -> None:
    ids = await _two_streets(engine)
    async with engine.begin() as conn:
        await apply_org_rows(conn, rows=[CommunityRow("别的区", "外街道", "外社区")], source="t", author="t", now=NOW)
        outside = (await conn.execute(sa.select(STREETS.c.id).where(STREETS.c.name == "外街道"))).scalar_one()
    token = await _scoped(console, engine, "district", ids["district"], "qu")
    page = await (await console.get("/admin/org")).text()
    assert "外社区" not in page and "别的区" not in page and "新街道" in page
    resp = await console.post(f"/admin/org/communities/{ids['幸福社区']}", data={
        "csrf_token": token, "street": str(ids["乙街道"])})
    assert "社区 幸福社区 归入 示范街道 / 乙街道" in await resp.text()
    moved_out = await console.post(f"/admin/org/communities/{ids['和平社区']}", data={
        "csrf_token": token, "street": str(outside)}, allow_redirects=False)
    assert moved_out.status == 403
    other_district = await console.post("/admin/org/streets", data={
        "csrf_token": token, "district": "999", "name": "x"}, allow_redirects=False)
    assert other_district.status == 404


async def test_a_community_added_in_the_console_is_read_by_name_in_the_next_notice(
        console: Any, engine: Any) -> None:
    ids = await _two_streets(engine)
    rules = console.app[SERVICES].rules
    notice = "【区民政局】请青松社区于12月25日前报送高龄老人名单。"

    def named() -> tuple[str, ...]:
        return classify(notice, now=NOW, sender_department="民政局", rules=rules.current).communities

    async with engine.connect() as conn:
        await rules.refresh(conn)
    assert "青松社区" not in named()
    token = await login(console)
    await console.post(f"/admin/org/streets/{ids['乙街道']}/communities",
                       data={"csrf_token": token, "name": "青松社区", "staff": "6"})
    async with engine.connect() as conn:
        assert await rules.refresh(conn)
    assert named() == ("青松社区",)
