"""Scopes: a street admin sees only their street. Every console route and export is tried, as an admin of
another street, with the ids, codes and names of the other street's objects; nothing of it leaks and
nothing of it changes."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from typing import Any

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from bot.console.views import ROUTES
from intake.console_users import add_admin_user
from intake.org import CommunityRow, apply_org_rows
from intake.scope import resolve_scope, scoped
from intake.store.models import AUDIT_LOG, COMMUNITIES, DEPARTMENTS, STREETS, TASKS
from tests.console_support import PASSWORD, add_user, build_app, csrf_of, login, scalar, seed_task
from tests.fake_wechat_api import insert

NOW = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)
SECRET = "乙街道机密事项"  # in every object of the other street
OTHER = ("光明社区", "东风社区")  # moved to 乙街道; 幸福社区, 和平社区, 建设社区 stay in 示范街道


async def _other_street(engine: Any) -> dict[str, Any]:
    """Move two communities to 乙街道 and give it one of everything the console shows."""
    async with engine.begin() as conn:
        await apply_org_rows(conn, rows=[CommunityRow("示范街道", "乙街道", name) for name in OTHER],
                             source="test", author="test", now=NOW)
        street = (await conn.execute(sa.select(STREETS.c.id).where(STREETS.c.name == "乙街道"))).scalar_one()
        office = (await conn.execute(sa.select(DEPARTMENTS.c.id).where(DEPARTMENTS.c.street_id == street))).scalar_one()
        cid = (await conn.execute(sa.select(COMMUNITIES.c.id).where(COMMUNITIES.c.name == OTHER[0]))).scalar_one()
    code = await seed_task(engine, raw_text=f"【街道办】{SECRET}:请于11月28日前报送台账", communities=OTHER,
                           received_at=NOW, deadline=dt.date(2026, 11, 28))
    task_id = await scalar(engine, sa.select(TASKS.c.id).where(TASKS.c.code == code))
    account = await insert(engine, "accounts", channel="wechat", external_id="o-other-head", role="head",
                           community_id=cid, display_name=SECRET, active=True)
    ids = {
        "code": code, "street": street, "office": office, "community": cid, "account": account,
        "invite": await insert(engine, "invites", code_hash="f" * 64, hint="ZZ", role="head", community_id=cid,
                               expires_at=NOW + dt.timedelta(days=3), created_by="test"),
        "outbox": await insert(engine, "outbox", idempotency_key=f"t:{code}", channel="inbox", recipient=OTHER[0],
                               community_id=cid, kind="notice", subject=SECRET, body=SECRET, next_attempt_at=NOW),
        "entry": await insert(engine, "counter_entries", community_id=cid, kind="certificate", day=dt.date(2026, 11, 3),
                              party=SECRET, raw_text=f"证明 {SECRET}"),
        "digest": await insert(engine, "digests", month="2026-11", scope=OTHER[0], content={"note": SECRET}),
        "form": await insert(engine, "forms", name=f"{SECRET}表", name_key=f"{SECRET}表", source="notice",
                             first_task_id=task_id, department="街道办"),
        "platform": await insert(engine, "platforms", name=f"{SECRET}平台", display_name=f"{SECRET}平台"),
    }
    await insert(engine, "form_sends", form_id=ids["form"], task_id=task_id, received_at=NOW)
    await insert(engine, "platform_mentions", platform_id=ids["platform"], task_id=task_id, received_at=NOW)
    return ids


@pytest.fixture
async def street_admin(aiohttp_client: Any, settings: Any, engine: Any) -> tuple[Any, dict[str, Any]]:
    """Logged in as the admin of 示范街道; 乙街道's objects in the database."""
    client = await aiohttp_client(build_app(settings))
    others = await _other_street(engine)
    await seed_task(engine, raw_text="【街道办】本街道自己的任务:请于11月28日前报送", communities=("幸福社区",),
                    received_at=NOW, deadline=dt.date(2026, 11, 28))
    async with engine.begin() as conn:
        own = (await conn.execute(sa.select(STREETS.c.id).where(STREETS.c.name == "示范街道"))).scalar_one()
        await add_admin_user(conn, username="jia", password=PASSWORD, scope_level="street", scope_id=own)
    await add_user(engine, "boss")  # a whole-deployment admin, whose user id must not be usable either
    others["user"] = 2
    others["token"] = await login(client, "jia")
    return client, others


def _url(path: str, ids: dict[str, Any]) -> str:
    """A route's path with the other street's objects in it."""
    by_route_id = [("/departments/", "office"), ("/communities/", "community"), ("/accounts/", "account"),
                   ("/invites/", "invite"), ("/outbox/", "outbox"), ("/digests/", "digest"), ("/catalogue/", "form"),
                   ("/platforms/", "platform"), ("/users/", "user"), ("/lists/versions/", "digest")]
    ident = next((ids[key] for prefix, key in by_route_id if path.startswith(prefix)), 1)
    values = {"code": ids["code"], "id": ident, "entry": ids["entry"], "month": "2026-11", "scope": OTHER[0],
              "section": "duty", "fmt": "md"}
    return "/admin" + re.sub(r"\{(\w+)(?::[^}]*)?\}", lambda m: str(values[m.group(1)]), path)


def _text_of(body: bytes, content_type: str) -> str:
    """What a person could read in an answer: pages and text, or every cell / paragraph of a file."""
    if "spreadsheet" in content_type:
        book = load_workbook(io.BytesIO(body), read_only=True)
        return "\n".join(str(v) for s in book.worksheets for r in s.iter_rows(values_only=True) for v in r if v)
    if "wordprocessing" in content_type:
        with zipfile.ZipFile(io.BytesIO(body)) as z:
            return z.read("word/document.xml").decode("utf-8")
    if content_type.startswith("image/") or content_type == "application/pdf":
        return ""  # a picture holds no text; whether it may be built at all is what its status says
    return body.decode("utf-8", "replace")


def _leaks(text: str, ids: dict[str, Any], asked: str = "") -> list[str]:
    """The other street's words in `text`, but those the request itself typed (a search box shows its words)."""
    return [w for w in (SECRET, *OTHER, ids["code"], "乙街道") if w in text and w not in asked]


async def test_every_console_get_as_another_streets_admin_shows_nothing_of_it(street_admin: Any) -> None:
    client, ids = street_admin
    tried = 0
    for path, name, methods in ROUTES:
        if "GET" not in methods or name in {"login", "logout"}:
            continue
        for query in ("", f"?q={SECRET}", f"?community={OTHER[0]}", "?month=2026-11", f"?scope=community:{OTHER[0]}"):
            resp = await client.get(_url(path, ids) + query, allow_redirects=False)
            text = _text_of(await resp.read(), resp.headers.get("Content-Type", ""))
            leaks = _leaks(text, ids, asked=query)
            assert not leaks, f"{name}{query} ({resp.status}) shows {leaks}"
            if re.search(r"\{(code|id|entry|scope)", path):  # an object of the other street: as if it did not exist
                assert resp.status in (403, 404), f"{name} answered {resp.status}"
            tried += 1
    gets = [name for _, name, methods in ROUTES if "GET" in methods and name not in {"login", "logout"}]
    assert tried == 5 * len(gets) and len(gets) > 30


async def test_every_console_post_as_another_streets_admin_is_refused_and_changes_nothing(
        street_admin: Any, engine: Any) -> None:
    client, ids = street_admin
    audit_before = await scalar(engine, sa.select(sa.func.count()).select_from(AUDIT_LOG))
    for path, name, methods in ROUTES:
        if "POST" not in methods or name in {"login", "logout"}:
            continue
        form = {"csrf_token": ids["token"], "role": "head", "target": OTHER[0], "community": OTHER[0],
                "staff": "3", "active": "", "name": "新部门", "username": "x", "password": PASSWORD,
                "password2": PASSWORD, "kind": "meeting", "decision": "stop", "listing": "negative"}
        resp = await client.post(_url(path, ids), data=form, allow_redirects=False)
        if "{" in path or name in {"invite_add", "department_add", "community_add", "users", "catalogue",
                                   "simulator", "rule_suggest_preview", "rule_suggest_accept"}:
            assert resp.status in (403, 404), f"POST {name} answered {resp.status}"
        leaks = _leaks(await resp.text(), ids, asked=OTHER[0])  # a refusal may name what was asked for
        assert not leaks, f"POST {name} shows {leaks}"
    async with engine.connect() as conn:
        written = (await conn.execute(sa.select(AUDIT_LOG.c.entity, AUDIT_LOG.c.action, AUDIT_LOG.c.after)
                                      .where(AUDIT_LOG.c.id > audit_before))).all()
    assert written == []


async def test_the_street_admin_sees_their_own_street(street_admin: Any) -> None:
    client, ids = street_admin
    tasks = await (await client.get("/admin/tasks")).text()
    assert "本街道自己的任务" in tasks and SECRET not in tasks
    directory = await (await client.get("/admin/directory")).text()
    assert "幸福社区" in directory and "建设社区" in directory and OTHER[0] not in directory
    export = await (await client.get("/admin/tasks.csv")).text()
    assert "本街道自己的任务" in export and ids["code"] not in export


async def test_the_street_admins_burden_report_counts_their_street_and_refuses_any_other_area(
        street_admin: Any) -> None:
    client, ids = street_admin
    resp = await client.get("/admin/report?year=2026")
    page = await resp.text()
    assert resp.status == 200 and not _leaks(page, ids)
    assert "示范街道2026年度社区减负报告" in page and "(3个社区)" in page  # the street's three communities
    assert "通知1件" in page  # the street office's own task; 乙街道's is not counted
    assert 'value="street:示范街道"' in page and 'value="district:' not in page  # areas it may choose
    for area in ("street:乙街道", "district:示范街道", f"community:{OTHER[0]}"):  # beside or above the street
        resp = await client.get(f"/admin/report?year=2026&scope={area}")
        assert resp.status == 404, area
        assert not _leaks(await resp.text(), ids, asked=area)
    own = await client.get("/admin/report?year=2026&scope=community:幸福社区")
    assert own.status == 200 and "幸福社区2026年度社区减负报告" in await own.text()
    docx = await client.get("/admin/report.docx?year=2026")
    if docx.status == 200:  # without the CJK font the file is refused (409), and says so
        text = _text_of(await docx.read(), docx.headers["Content-Type"])
        assert "示范街道2026年度社区减负报告" in text and not _leaks(text, ids)
    else:
        assert docx.status == 409


async def test_the_filter_confines_a_query_that_forgot_its_scope(engine: Any, client: Any) -> None:
    """A repository function with no scope of its own (text search over every task) is confined all the same."""
    ids = await _other_street(engine)
    async with engine.connect() as conn:
        own = (await conn.execute(sa.select(STREETS.c.id).where(STREETS.c.name == "示范街道"))).scalar_one()
        mine = await resolve_scope(conn, level="street", scope_id=own)
        theirs = await resolve_scope(conn, level="street", scope_id=ids["street"])
        search = sa.select(TASKS.c.code).where(TASKS.c.raw_text.contains(SECRET))
        assert (await conn.execute(scoped(search, mine))).all() == []
        assert (await conn.execute(scoped(search, theirs))).scalars().all() == [ids["code"]]
        count = sa.select(sa.func.count()).select_from(COMMUNITIES)
        assert (await conn.execute(scoped(count, mine))).scalar() == 3
    assert csrf_of  # the helpers above are the console's own


async def test_the_street_digest_counts_only_the_street_and_the_other_streets_is_not_found(
        street_admin: Any, engine: Any) -> None:
    client, ids = street_admin
    own = await scalar(engine, sa.select(STREETS.c.id).where(STREETS.c.name == "示范街道"))
    resp = await client.get(f"/admin/digests/2026-11/street:{own}/digest.json")
    assert resp.status == 200
    digest = await resp.json()
    assert digest["tasks"] == 1 and "示范街道" in str(digest)
    assert (await client.get(f"/admin/digests/2026-11/street:{ids['street']}/digest.json")).status == 404
    assert (await client.get(f"/admin/digests/2026-11/street:{ids['street']}/chart.png")).status == 404
    page = await (await client.get("/admin/digests")).text()
    assert f'value="street:{own}">本街道' in page


async def test_monthly_run_sends_each_street_its_own_digest(tmp_path: Any, sqlite_url: str) -> None:
    from intake.reports.monthly import send_monthly_digests
    from tests.fake_wechat_api import notify_settings, running_services

    settings = notify_settings(sqlite_url, tmp_path / "site")
    async with running_services(settings) as services:
        async with services.engine.begin() as conn:
            await apply_org_rows(conn, rows=[CommunityRow("示范区", "甲街道", "幸福社区"),
                                             CommunityRow("示范区", "甲街道", "和平社区"),
                                             *(CommunityRow("示范区", "乙街道", n) for n in OTHER)],
                                 source="test", author="test", now=NOW)
        await seed_task(services.engine, raw_text=f"{SECRET}:报送台账", communities=OTHER, received_at=NOW)
        await seed_task(services.engine, communities=("幸福社区",), received_at=NOW)
        await seed_task(services.engine, communities=("和平社区",), received_at=NOW)
        await send_monthly_digests(services, now=NOW, month="2026-11", only_if_due=False)
        async with services.engine.connect() as conn:
            streets = dict((await conn.execute(sa.select(STREETS.c.name, STREETS.c.id))).all())
            sent = {r.recipient: r.body for r in await conn.execute(sa.text(
                "SELECT recipient, body FROM outbox WHERE kind = 'digest' AND recipient LIKE 'scope:%'"))}
    jia, yi = sent[f"scope:street:{streets['甲街道']}"], sent[f"scope:street:{streets['乙街道']}"]
    assert jia.startswith("【示范区甲街道2026年11月减负月报】") and "收到任务 2 件" in jia and SECRET not in jia
    assert yi.startswith("【示范区乙街道2026年11月减负月报】") and "收到任务 1 件" in yi
