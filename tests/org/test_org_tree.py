"""The organisation tree: the flat set-up moved by migration 0012 (both databases), config.toml's
[[district]] tables, and `jianfu org import` (changes printed, bad rows listed, nothing half-imported)."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from openpyxl import Workbook
from sqlalchemy.ext.asyncio import create_async_engine

from bot.cli import main
from intake.org import ADOPT_DISTRICT, list_org_tree, sync_org_from_config
from intake.settings import DistrictSettings
from intake.store.db import alembic_config, upgrade_database
from tests.conftest import CONFIG, make_settings

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def _flat(tree: list[dict[str, Any]]) -> dict[str, str]:
    return {c["name"]: f'{d["name"]}/{s["name"]}' for d in tree for s in d["streets"] for c in s["communities"]}


async def test_migration_0012_moves_the_flat_setup_into_one_district_and_street(db_url: str) -> None:
    settings = make_settings(db_url)
    config = alembic_config(settings.database_url)
    await asyncio.to_thread(command.downgrade, config, "0011")
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.begin() as conn:  # the old shape: flat communities, one 街道办 for every street
            for name, staff in (("幸福社区", 9), ("和平社区", 7)):
                await conn.execute(sa.text("INSERT INTO communities (name, staff, active, created_at) "
                                           "VALUES (:n, :s, true, :now)"), {"n": name, "s": staff, "now": NOW})
            for name in ("民政局", "街道办"):
                await conn.execute(sa.text("INSERT INTO departments (name, active, created_at) VALUES (:n, true, :now)"),
                                   {"n": name, "now": NOW})
        await asyncio.to_thread(upgrade_database, settings)
        async with engine.begin() as conn:
            tree = await list_org_tree(conn)
            departments = {r.name: (r.level, r.district_id, r.street_id) for r in await conn.execute(
                sa.text("SELECT name, level, district_id, street_id FROM departments"))}
            staff = dict((await conn.execute(sa.text("SELECT name, staff FROM communities"))).all())
            # start-up names the adopted district and street from config.toml's flat [district]
            changes = await sync_org_from_config(conn, districts=settings.districts, departments=["民政局"], now=NOW)
            named = await list_org_tree(conn)
    finally:
        await engine.dispose()
    assert _flat(tree) == {"幸福社区": f"{ADOPT_DISTRICT}/未命名街道", "和平社区": f"{ADOPT_DISTRICT}/未命名街道"}
    assert staff == {"幸福社区": 9, "和平社区": 7}
    (district,) = tree
    street_id = district["streets"][0]["id"]
    assert departments == {"民政局": ("district", district["id"], None), "街道办": ("street", district["id"], street_id)}
    assert [d["name"] for d in named] == ["示范街道"] and named[0]["id"] == district["id"]
    assert _flat(named)["幸福社区"] == "示范街道/示范街道"
    assert "原有社区归入 示范街道 / 示范街道" in changes.lines


async def test_config_district_tables_build_two_streets_and_never_undo_a_console_move(engine: Any) -> None:
    districts = (DistrictSettings.model_validate({
        "name": "东湖区", "city": "江城市",
        "streets": [{"name": "甲街道", "communities": [{"name": "甲一社区", "staff": 6}],
                     "departments": ["街道社区服务中心"]},
                    {"name": "乙街道", "communities": [{"name": "乙一社区"}]}]}),)
    async with engine.begin() as conn:
        first = await sync_org_from_config(conn, districts=districts, departments=["民政局", "街道办"], now=NOW)
        await conn.execute(sa.text("UPDATE communities SET street_id = (SELECT id FROM streets WHERE name = '乙街道') "
                                   "WHERE name = '甲一社区'"))
        again = await sync_org_from_config(conn, districts=districts, departments=["民政局", "街道办"], now=NOW)
        tree = await list_org_tree(conn)
        offices = (await conn.execute(sa.text(
            "SELECT d.name, s.name FROM departments d JOIN streets s ON s.id = d.street_id "
            "WHERE d.level = 'street' ORDER BY s.name, d.name"))).all()
    assert "新增街道 东湖区 / 甲街道" in first.lines and first.version is not None
    assert _flat(tree)["甲一社区"] == "东湖区/乙街道"  # the console's move stands
    assert not again
    assert [tuple(r) for r in offices] == [("街道办", "乙街道"), ("街道办", "甲街道"), ("街道社区服务中心", "甲街道")]


def _sheet(path: Path, rows: list[list[Any]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


@pytest.fixture
def config(tmp_path: Path, sqlite_url: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.read_text(encoding="utf-8").replace('url = "sqlite:///data/jianfu.db"',
                                                               f'url = "{sqlite_url}"'), encoding="utf-8")
    return path


async def _tree_of(sqlite_url: str) -> dict[str, str]:
    engine = create_async_engine(make_settings(sqlite_url).database_url)
    try:
        async with engine.connect() as conn:
            return _flat(await list_org_tree(conn))
    finally:
        await engine.dispose()


def test_org_import_prints_what_changed_and_a_second_import_changes_nothing(
        config: Path, sqlite_url: str, tmp_path: Path, capsys: Any) -> None:
    sheet = _sheet(tmp_path / "org.xlsx", [["区", "街道", "社区", "工作人员数", "备注"],
                                           ["东湖区", "甲街道", "甲一社区", 6, ""],
                                           ["东湖区", "乙街道", "乙一社区", 9.0, "新建"],
                                           [None, None, None, None, None]])
    assert main(["org", "import", "--config", str(config), str(sheet)]) == 0
    out = capsys.readouterr().out
    assert "新增区 东湖区" in out and "新增街道 东湖区 / 乙街道" in out
    assert "新增社区 东湖区 / 乙街道 / 乙一社区(工作人员 9 人)" in out
    assert main(["org", "import", "--config", str(config), str(sheet)]) == 0
    assert "组织架构没有变化" in capsys.readouterr().out
    tree = asyncio.run(_tree_of(sqlite_url))
    assert tree["甲一社区"] == "东湖区/甲街道" and tree["乙一社区"] == "东湖区/乙街道"


def test_org_import_with_bad_rows_lists_each_and_imports_nothing(
        config: Path, sqlite_url: str, tmp_path: Path, capsys: Any) -> None:
    sheet = _sheet(tmp_path / "bad.xlsx", [["社区", "街道", "区", "工作人员数"],
                                           ["甲一社区", "甲街道", "东湖区", 6],
                                           ["乙一社区", "", "东湖区", 5],
                                           ["丙一社区", "丙街道", "东湖区", "七个"],
                                           ["甲一社区", "乙街道", "东湖区", 6]])
    assert main(["org", "import", "--config", str(config), str(sheet)]) == 1
    err = capsys.readouterr().err
    assert "第 3 行:缺少街道" in err and "第 4 行:工作人员数“七个”" in err and "第 5 行:社区“甲一社区”在第 2 行" in err
    assert "甲一社区" not in asyncio.run(_tree_of(sqlite_url))  # the good row was not imported either


def test_org_import_of_a_file_that_is_not_a_workbook_says_so(config: Path, tmp_path: Path, capsys: Any) -> None:
    fake = tmp_path / "org.xlsx"
    fake.write_text("区,街道,社区,工作人员数\n", encoding="utf-8")
    assert main(["org", "import", "--config", str(config), str(fake)]) == 1
    assert "另存为 .xlsx" in capsys.readouterr().err
