"""`jianfu report` through `main()`: Markdown to stdout, Word and PDF files, a bad scope, kept months."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from docx import Document

from bot.cli import main
from intake.org import CommunityRow, apply_org_rows
from intake.store.db import create_engine
from tests.conftest import CONFIG, make_settings
from tests.console_support import TZ, seed_task
from tests.fake_wechat_api import insert


@pytest.fixture
async def config(tmp_path: Path, sqlite_url: str) -> Path:
    """config.toml on the test database, with two notices of 2025 and one of 2026 in the log."""
    engine = create_engine(make_settings(sqlite_url))
    try:
        for name in ("幸福社区", "和平社区"):
            await insert(engine, "communities", name=name, staff=8)
        await seed_task(engine, received_at=dt.datetime(2025, 3, 2, 9, 0, tzinfo=TZ), kind="inspection", item=None,
                        listing="unlisted", status="pending_review", department="城管局")
        await seed_task(engine, received_at=dt.datetime(2025, 11, 20, 9, 0, tzinfo=TZ))
        await seed_task(engine, received_at=dt.datetime(2026, 1, 5, 9, 0, tzinfo=TZ))
    finally:
        await engine.dispose()
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.read_text(encoding="utf-8").replace('url = "sqlite:///data/jianfu.db"',
                                                               f'url = "{sqlite_url}"'), encoding="utf-8")
    return path


def test_report_md_to_stdout_counts_the_year_only(config: Path, capsys: Any) -> None:
    assert main(["report", "--config", str(config), "--year", "2025"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# 示范街道2025年度社区减负报告")
    assert "全年共收到2个部门的通知2件,派发到社区4件次" in out
    assert "城管局(1)" in out and "准入" in out  # the unlisted inspection's department is told to apply


def test_report_docx_file_and_kept_months(config: Path, tmp_path: Path, capsys: Any, sqlite_url: str) -> None:
    output = tmp_path / "out" / "report.docx"
    assert main(["report", "--config", str(config), "--year", "2025", "--format", "docx",
                 "--output", str(output)]) == 0
    assert capsys.readouterr().out.strip() == str(output)
    document = Document(str(output))
    assert document.paragraphs[0].text == "示范街道2025年度社区减负报告"
    assert [c.text for c in document.tables[0].rows[0].cells][:2] == ["部门", "事项"]
    db = sqlite3.connect(sqlite_url.split(":///", 1)[1])
    try:  # 2025 is closed: its twelve months (figures and the report's own rows) were kept for the next run
        assert db.execute("SELECT count(DISTINCT month) FROM month_rollups WHERE scope = 'burden' "
                          "AND month LIKE '2025-%'").fetchone()[0] == 12
    finally:
        db.close()


def test_report_for_an_unknown_community_says_so(config: Path, capsys: Any) -> None:
    assert main(["report", "--config", str(config), "--year", "2025", "--scope", "community:火星社区"]) == 1
    assert "火星社区" in capsys.readouterr().err


def test_report_with_a_bad_scope_kind_says_what_to_write(config: Path, capsys: Any) -> None:
    assert main(["report", "--config", str(config), "--year", "2025", "--scope", "planet:火星"]) == 1
    assert "district:区名、street:街道名 或 community:社区名" in capsys.readouterr().err


@pytest.fixture
async def two_streets(config: Path, sqlite_url: str) -> Path:
    """The two communities in two streets of 示范区; one more notice of 2025, for 和平社区 (乙街道) only."""
    engine = create_engine(make_settings(sqlite_url))
    try:
        async with engine.begin() as conn:
            await apply_org_rows(conn, rows=[CommunityRow("示范区", "甲街道", "幸福社区"),
                                             CommunityRow("示范区", "乙街道", "和平社区")],
                                 source="test", author="test", now=dt.datetime(2025, 1, 1, tzinfo=TZ))
        await seed_task(engine, received_at=dt.datetime(2025, 6, 2, 9, 0, tzinfo=TZ), communities=("和平社区",),
                        department="卫健委", kind="inspection", raw_text="【区卫健委】请和平社区迎接卫生检查。")
    finally:
        await engine.dispose()
    return config


@pytest.mark.parametrize(("scope", "title", "counted", "absent"), [
    ("street:乙街道", "示范区乙街道2025年度社区减负报告", "全年共收到3个部门的通知3件,派发到社区3件次", "幸福社区"),
    ("street:示范区/甲街道", "示范区甲街道2025年度社区减负报告", "全年共收到2个部门的通知2件,派发到社区2件次", "卫健委"),
    ("district:示范区", "示范区2025年度社区减负报告", "全年共收到3个部门的通知3件,派发到社区5件次", None),
])
def test_report_of_a_street_counts_only_its_communities(two_streets: Path, capsys: Any, scope: str, title: str,
                                                        counted: str, absent: str | None) -> None:
    assert main(["report", "--config", str(two_streets), "--year", "2025", "--scope", scope]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"# {title}")
    assert counted in out
    assert absent is None or absent not in out


def test_report_of_an_unknown_street_names_it_and_the_tree(two_streets: Path, capsys: Any) -> None:
    assert main(["report", "--config", str(two_streets), "--year", "2025", "--scope", "street:丙街道"]) == 1
    assert "没有找到“丙街道”" in capsys.readouterr().err
