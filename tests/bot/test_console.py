"""The admin console through the real app (aiohttp test client; SQLite and a real PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import io
import re

import sqlalchemy as sa
from openpyxl import load_workbook

from bot.console.security import SESSION_COOKIE, Session, SessionCodec
from intake.console_users import ensure_first_admin
from intake.store.models import (
    ACCOUNTS,
    ADMIN_USERS,
    INVITES,
    LOGIN_THROTTLE,
    OUTBOX,
    REMINDERS,
    RULE_VERSIONS,
    TASKS,
)
from intake.store.models import AUDIT_LOG as AUDIT
from intake.store.models import TASK_TARGETS as TARGETS
from tests.console_support import PASSWORD, add_user, csrf_of, login, scalar, seed_task

# --- login, sessions, CSRF, roles ----------------------------------------------------------------

async def test_pages_need_login(console):
    resp = await console.get("/admin/tasks?kind=report", allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"].startswith("/admin/login?next=")


async def test_login_sets_signed_httponly_lax_cookie(console):
    page = await console.get("/admin/login")
    token = csrf_of(await page.text())
    resp = await console.post("/admin/login", data={"username": "wang", "password": PASSWORD, "csrf_token": token},
                              allow_redirects=False)
    assert resp.status == 303
    cookie = resp.headers.getall("Set-Cookie")[-1]
    assert SESSION_COOKIE in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/admin" in cookie


async def test_wrong_passwords_make_the_next_try_wait_and_never_lock(console, engine):
    page = await console.get("/admin/login")
    token = csrf_of(await page.text())
    for _ in range(3):
        resp = await console.post("/admin/login", data={"username": "wang", "password": "nope", "csrf_token": token})
        assert resp.status == 401
        assert "用户名或密码不正确" in await resp.text()
    # a try during the wait is answered without checking the password, even the right one
    resp = await console.post("/admin/login", data={"username": "wang", "password": PASSWORD, "csrf_token": token})
    assert resp.status == 429
    assert "秒后再试" in await resp.text()
    # once the wait has passed, the right password gets in: a delay, not a lock
    async with engine.begin() as conn:
        await conn.execute(sa.update(LOGIN_THROTTLE).values(retry_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    resp = await console.post("/admin/login", data={"username": "wang", "password": PASSWORD, "csrf_token": token},
                              allow_redirects=False)
    assert resp.status == 303
    assert await scalar(engine, sa.text("SELECT count(*) FROM login_throttle WHERE key = 'user:wang'")) == 0


async def test_unknown_user_is_refused_like_a_wrong_password(console):
    page = await console.get("/admin/login")
    resp = await console.post("/admin/login", data={"username": "nobody", "password": "whatever1",
                                                    "csrf_token": csrf_of(await page.text())})
    assert resp.status == 401


async def test_post_without_csrf_token_is_refused(console, engine):
    await login(console)
    resp = await console.post("/admin/departments", data={"name": "新部门"})
    assert resp.status == 403
    assert "CSRF" in await resp.text()
    assert await scalar(engine, sa.text("SELECT count(*) FROM departments WHERE name='新部门'")) == 0


async def test_login_form_without_csrf_is_refused(console):
    resp = await console.post("/admin/login", data={"username": "wang", "password": PASSWORD})
    assert resp.status == 403


async def test_viewer_reads_but_cannot_write(console, engine):
    await add_user(engine, "li", role="viewer")
    token = await login(console, "li")
    assert (await console.get("/admin/lists")).status == 200
    resp = await console.post("/admin/departments", data={"name": "新部门", "csrf_token": token})
    assert resp.status == 403
    assert "只读" in await resp.text()


async def test_deactivated_user_is_logged_out(console, engine):
    await login(console)
    async with engine.begin() as conn:
        await conn.execute(sa.update(ADMIN_USERS).values(active=False))
    resp = await console.get("/admin/tasks", allow_redirects=False)
    assert resp.status == 303


async def test_logout(console):
    token = await login(console)
    resp = await console.post("/admin/logout", data={"csrf_token": token}, allow_redirects=False)
    assert resp.status == 303
    assert (await console.get("/admin/tasks", allow_redirects=False)).status == 303


def test_session_codec_refuses_tampering_and_expiry():
    codec = SessionCodec("x" * 40, max_age_s=60)
    value = codec.dumps(Session(token="tok", issued=1000))
    assert codec.loads(value, now=1010).token == "tok"
    payload, sig = value.split(".")
    assert codec.loads(payload + "." + sig[:-2] + "AA", now=1010) is None
    assert codec.loads(value, now=2000) is None
    assert SessionCodec("y" * 40).loads(value, now=1010) is None
    assert codec.loads("garbage", now=1010) is None


async def test_ensure_first_admin_once(engine):
    async with engine.begin() as conn:
        first = await ensure_first_admin(conn)
        again = await ensure_first_admin(conn)
    assert first is not None and first[0] == "admin" and len(first[1]) >= 12
    assert again is None


# --- intake log ----------------------------------------------------------------------------------

async def test_log_filters_search_sort_and_progress(console, engine):
    a = await seed_task(engine, raw_text="【区民政局】请报送高龄老人花名册", deadline=dt.date(2025, 12, 20))
    b = await seed_task(engine, raw_text="【区城管局】开展占道经营整治", department="城管局", kind="adhoc",
                        listing="negative", item="N4", status="refused", deadline=dt.date(2025, 12, 1),
                        communities=("光明社区",))
    await login(console)
    text = await (await console.get("/admin/tasks")).text()
    assert a in text and b in text
    text = await (await console.get("/admin/tasks", params={"department": "城管局"})).text()
    assert b in text and a not in text
    text = await (await console.get("/admin/tasks", params={"community": "幸福社区"})).text()
    assert a in text and b not in text
    text = await (await console.get("/admin/tasks", params={"listing": "negative", "status": "refused"})).text()
    assert b in text and a not in text
    text = await (await console.get("/admin/tasks", params={"q": "花名册"})).text()
    assert a in text and b not in text
    text = await (await console.get("/admin/tasks", params={"kind": "adhoc"})).text()
    assert b in text and a not in text
    text = await (await console.get("/admin/tasks", params={"sort": "deadline"})).text()
    assert text.index(b) < text.index(a)
    text = await (await console.get("/admin/tasks", params={"from": "2025-11-21"})).text()
    assert a not in text
    assert "0/2" in await (await console.get("/admin/tasks", params={"q": "花名册"})).text()


async def test_log_search_is_case_insensitive_and_literal_on_both_databases(console, engine):
    pdf = await seed_task(engine, raw_text="请上传PDF扫描件并填写100%完成率")
    other = await seed_task(engine, raw_text="请填写1000份表格")
    await login(console)
    text = await (await console.get("/admin/tasks", params={"q": "pdf"})).text()
    assert pdf in text and other not in text
    text = await (await console.get("/admin/tasks", params={"q": "100%"})).text()
    assert pdf in text and other not in text  # % is a character, not a wildcard
    text = await (await console.get("/admin/tasks", params={"q": pdf.lower()})).text()
    assert pdf in text and other not in text


async def test_log_bad_date_says_how_to_write_it(console):
    await login(console)
    resp = await console.get("/admin/tasks", params={"from": "11/20"})
    assert resp.status == 400
    assert "YYYY-MM-DD" in await resp.text()


async def test_log_paginates(console, engine):
    for i in range(35):
        await seed_task(engine, raw_text=f"通知{i}")
    await login(console)
    first = await (await console.get("/admin/tasks")).text()
    assert "第 1 页" in first and "共 35 条" in first
    older = re.search(r'href="([^"]*)" rel="next"', first)
    assert older is not None
    second = await (await console.get(older.group(1).replace("&amp;", "&"))).text()
    assert "第 2 页" in second and 'rel="next"' not in second and 'rel="prev"' in second


# --- task page, corrections ----------------------------------------------------------------------

async def test_task_page_escapes_script_and_shows_evidence(console, engine):
    code = await seed_task(engine, raw_text="<script>alert('x')</script>请报送花名册")
    await login(console)
    text = await (await console.get(f"/admin/tasks/{code}")).text()
    assert "<script>alert" not in text
    assert "&lt;script&gt;" in text
    assert "kind.words" in text and "“报送”命中报表" in text


async def test_unknown_task_code_is_named(console):
    await login(console)
    resp = await console.get("/admin/tasks/R-20990101-0001")
    assert resp.status == 404
    assert "R-20990101-0001" in await resp.text()


async def test_correct_kind_with_keyword_rule(console, engine, settings):
    code = await seed_task(engine, raw_text="请各社区组织居民参加消防演练观摩", kind="report", listing="unlisted",
                           item=None, status="pending_review")
    token = await login(console)
    form = {"csrf_token": token, "department": "民政局", "kind": "meeting", "listing": "assist", "item": "A12",
            "deadline": "2099-12-05", "funded": "0", "rule_keyword": "演练观摩", "rule_field": "kind"}
    resp = await console.post(f"/admin/tasks/{code}/correct", data=form)
    assert resp.status == 200
    text = await resp.text()
    assert "已更正" in text and "演练观摩" in text
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(TASKS).where(TASKS.c.code == code))).one()
        audit = (await conn.execute(sa.select(AUDIT).where(AUDIT.c.action == "correct"))).one()
        rules = (await conn.execute(sa.select(RULE_VERSIONS.c.content))).scalar_one()
        reminders = (await conn.execute(sa.select(sa.func.count()).select_from(REMINDERS))).scalar_one()
    assert row.kind == "meeting" and row.corrected and row.status == "accepted" and row.item == "A12"
    assert audit.actor == "admin:wang" and audit.before["kind"] == "report" and audit.after["kind"] == "meeting"
    assert rules["kinds"]["meeting"]["words"]["演练观摩"] == 3
    assert reminders > 0  # accepted with a deadline: reminders planned
    # the rules in force learnt the word
    # the provider was refreshed: a new classification reads the same wording
    from bot.keys import SERVICES
    from classifiers import classify

    services = console.server.app[SERVICES]
    result = classify("请各社区组织居民参加消防演练观摩", now=dt.datetime(2025, 11, 20, tzinfo=dt.UTC),
                      sender_department="民政局", rules=services.rules.current)
    assert result.kind.value == "meeting"


async def test_correction_errors_are_explained(console, engine):
    code = await seed_task(engine)
    token = await login(console)
    base = {"csrf_token": token, "department": "民政局", "kind": "report", "listing": "assist", "item": "A2",
            "deadline": "2025-12-05", "funded": "0"}
    resp = await console.post(f"/admin/tasks/{code}/correct", data={**base})
    assert resp.status == 400 and "没有字段被修改" in await resp.text()
    resp = await console.post(f"/admin/tasks/{code}/correct", data={**base, "deadline": "12月5日"})
    assert resp.status == 400 and "2025-01-31" in await resp.text()
    resp = await console.post(f"/admin/tasks/{code}/correct", data={**base, "kind": "meeting", "rule_keyword": "不存在的词"})
    assert resp.status == 400 and "没有出现在这条消息里" in await resp.text()


# --- review queue --------------------------------------------------------------------------------

async def _clerk(engine) -> int:
    async with engine.begin() as conn:
        dept = (await conn.execute(sa.text("SELECT id FROM departments WHERE name='民政局'"))).scalar()
        return (await conn.execute(sa.insert(ACCOUNTS).values(
            channel="wechat", external_id="o-clerk", role="clerk", department_id=dept, active=True,
            created_at=dt.datetime.now(dt.UTC)).returning(ACCOUNTS.c.id))).scalar_one()


async def test_admit_unlisted_task(console, engine):
    clerk = await _clerk(engine)
    code = await seed_task(engine, raw_text="请各社区协助开展老年助餐点满意度回访", kind="survey", listing="unlisted",
                           item=None, status="pending_review", sender_id=clerk, deadline=dt.date(2099, 1, 10))
    token = await login(console)
    assert code in await (await console.get("/admin/review")).text()
    resp = await console.post(f"/admin/tasks/{code}/admit", data={
        "csrf_token": token, "name": "老年助餐回访", "basis": "《养老服务条例》第十条", "funding": "每户20元",
        "amount_yuan": "2000", "duration": "2026年全年", "keywords": "助餐、回访"})
    assert resp.status == 200
    assert "已准入" in await resp.text()
    async with engine.connect() as conn:
        task = (await conn.execute(sa.select(TASKS).where(TASKS.c.code == code))).one()
        notices = (await conn.execute(sa.select(OUTBOX.c.recipient, OUTBOX.c.body))).all()
        rules = (await conn.execute(sa.select(RULE_VERSIONS.c.content))).scalar_one()
        reminders = (await conn.execute(sa.select(sa.func.count()).select_from(REMINDERS))).scalar_one()
    assert task.status == "accepted" and task.listing == "assist" and task.item == "A16" and task.funded
    assert "《养老服务条例》" in task.review_note
    assert rules["items"]["A16"]["text"] == "老年助餐回访" and rules["items"]["A16"]["words"]["助餐"] == 3
    assert any(n.recipient == "o-clerk" and "准入" in n.body for n in notices)
    assert any(n.recipient in ("幸福社区", "和平社区") for n in notices)  # heads (community inbox)
    assert reminders > 0
    assert code not in await (await console.get("/admin/review")).text()


async def test_admit_needs_basis_funding_duration(console, engine):
    code = await seed_task(engine, listing="unlisted", item=None, status="pending_review")
    token = await login(console)
    resp = await console.post(f"/admin/tasks/{code}/admit", data={"csrf_token": token, "name": "x"})
    assert resp.status == 400
    text = await resp.text()
    assert "法定依据" in text and "经费保障" in text and "期限" in text


async def test_refuse_unlisted_task_tells_clerk(console, engine):
    clerk = await _clerk(engine)
    code = await seed_task(engine, listing="unlisted", item=None, status="pending_review", sender_id=clerk)
    token = await login(console)
    resp = await console.post(f"/admin/tasks/{code}/refuse", data={"csrf_token": token, "reason": "无法定依据"})
    assert resp.status == 200 and "已拒绝" in await resp.text()
    assert await scalar(engine, sa.select(TASKS.c.status).where(TASKS.c.code == code)) == "refused"
    assert await scalar(engine, sa.select(sa.func.count()).select_from(TARGETS).where(TARGETS.c.status == "refused")) == 2
    assert "无法定依据" in await scalar(engine, sa.select(OUTBOX.c.body).where(OUTBOX.c.recipient == "o-clerk"))
    resp = await console.post(f"/admin/tasks/{code}/refuse", data={"csrf_token": token, "reason": "again"})
    assert resp.status == 400 and "待准入审核" in await resp.text()


# --- lists ---------------------------------------------------------------------------------------

async def test_edit_assist_list_is_versioned_and_effective(console, engine):
    token = await login(console)
    page = await (await console.get("/admin/lists")).text()
    assert "A15" in page and "民政局" in page
    body = "A1 | 社会救助:低保、特困 | 低保 3, 特困 3\nA16 | 老年助餐 | 老年助餐 3, 助餐点 3\n"
    resp = await console.post("/admin/lists/assist", data={"csrf_token": token, "body": body, "note": "加助餐"})
    assert resp.status == 200 and "规则第" in await resp.text()
    history = await (await console.get("/admin/lists")).text()
    assert "加助餐" in history and "admin:wang" in history
    from bot.keys import SERVICES

    rules = console.server.app[SERVICES].rules.current
    assert rules.items["A16"].text == "老年助餐"
    assert rules.items["A2"].words and all(w == 0 for w in rules.items["A2"].words.values())


async def test_edit_list_bad_line_names_line(console):
    token = await login(console)
    resp = await console.post("/admin/lists/assist", data={"csrf_token": token, "body": "A1 社会救助 没有竖线"})
    assert resp.status == 400
    assert "第 1 行" in await resp.text()


async def test_edit_department_aliases(console):
    token = await login(console)
    resp = await console.post("/admin/lists/departments",
                              data={"csrf_token": token, "body": "民政局: 民政、区民政局、救助站\n"})
    assert resp.status == 200
    from bot.keys import SERVICES

    assert "救助站" in console.server.app[SERVICES].rules.current.departments["民政局"]


# --- directory, accounts, invites ----------------------------------------------------------------

async def test_directory_accounts_invites(console, engine):
    token = await login(console)
    resp = await console.post("/admin/departments", data={"csrf_token": token, "name": "数据局"})
    assert "已添加部门" in await resp.text()
    resp = await console.post("/admin/communities", data={"csrf_token": token, "name": "新华社区", "staff": "6"})
    assert "已添加社区" in await resp.text()
    cid = await scalar(engine, sa.text("SELECT id FROM communities WHERE name='新华社区'"))
    resp = await console.post(f"/admin/communities/{cid}", data={"csrf_token": token, "staff": "7",
                                                                 "robot_webhook": "http://bad"})
    assert "https://" in await resp.text()
    resp = await console.post("/admin/invites", data={"csrf_token": token, "role": "head", "target": "新华社区"})
    assert "绑定" in await resp.text()
    assert await scalar(engine, sa.select(sa.func.count()).select_from(INVITES)) == 1
    account = await _clerk(engine)
    resp = await console.post(f"/admin/accounts/{account}/bind", data={"csrf_token": token, "role": "head",
                                                                       "target": "新华社区"})
    assert "已绑定" in await resp.text()
    assert await scalar(engine, sa.select(ACCOUNTS.c.role).where(ACCOUNTS.c.id == account)) == "head"
    resp = await console.post(f"/admin/accounts/{account}/bind", data={"csrf_token": token, "role": "head",
                                                                       "target": "民政局"})
    assert "需选择社区" in await resp.text()
    await console.post(f"/admin/accounts/{account}/unbind", data={"csrf_token": token})
    assert await scalar(engine, sa.select(ACCOUNTS.c.role).where(ACCOUNTS.c.id == account)) is None
    await console.post(f"/admin/accounts/{account}/active", data={"csrf_token": token, "active": "0"})
    assert await scalar(engine, sa.select(ACCOUNTS.c.active).where(ACCOUNTS.c.id == account)) is False
    assert "o-clerk" in await (await console.get("/admin/accounts")).text()


# --- dashboard, digests, exports -----------------------------------------------------------------

async def test_dashboard_counts(console, engine):
    now = dt.datetime.now(dt.UTC)
    await seed_task(engine, received_at=now, listing="assist", funded=False)
    await seed_task(engine, received_at=now, listing="negative", status="refused", item="N6", kind="levy")
    await seed_task(engine, received_at=now, listing="unlisted", status="pending_review", item=None)
    await login(console)
    text = await (await console.get("/admin/")).text()
    assert "<svg" in text and "民政局" in text
    assert ">3</b><span>本月任务" in text
    resp = await console.get("/admin/", params={"month": "2025-13"})
    assert resp.status == 400 and "YYYY-MM" in await resp.text()


async def test_exports_csv_xlsx_and_ledger(console, engine):
    await seed_task(engine, raw_text="=HYPERLINK(\"x\") 请报送花名册")
    await seed_task(engine, raw_text="请开具居住证明", kind="certificate", listing="duty", item="C")
    await login(console)
    resp = await console.get("/admin/tasks.csv")
    body = await resp.read()
    assert body.startswith("\ufeff".encode()) and "任务编号" in body.decode("utf-8-sig")
    assert "'=HYPERLINK" in body.decode("utf-8-sig")
    resp = await console.get("/admin/tasks.xlsx", params={"kind": "certificate"})
    wb = load_workbook(io.BytesIO(await resp.read()))
    rows = list(wb.active.iter_rows(values_only=True))
    assert rows[0][0] == "任务编号" and len(rows) == 2 and rows[1][3] == "证明"
    resp = await console.get("/admin/ledger.xlsx", params={"community": "幸福社区"})
    wb = load_workbook(io.BytesIO(await resp.read()))
    assert wb.sheetnames[0] == "汇总" and "报表" in wb.sheetnames and "证明" in wb.sheetnames
    assert wb["报表"].max_row == 2 and wb["证明"].cell(1, 16).value == "证明判定"
    resp = await console.get("/admin/ledger.xlsx", params={"community": "不存在"})
    assert resp.status == 400


# --- chat simulator ------------------------------------------------------------------------------

async def test_simulator_binds_and_sends_through_wechat(console, engine):
    token = await login(console)
    resp = await console.post("/admin/simulator", data={"csrf_token": token, "bind_role": "clerk",
                                                        "bind_target": "民政局", "openid": "sim-1"})
    text = await resp.text()
    assert resp.status == 200, text
    assert "sim-1" in text and "HTTP 200" in text
    assert await scalar(engine, sa.select(ACCOUNTS.c.role).where(ACCOUNTS.c.external_id == "sim-1")) == "clerk"
    resp = await console.post("/admin/simulator", data={"csrf_token": token, "account": "sim-1",
                                                        "message": "【区民政局】请各社区于12月5日前报送高龄老人花名册。"})
    text = await resp.text()
    assert resp.status == 200 and "R-" in text
    assert await scalar(engine, sa.select(sa.func.count()).select_from(TASKS)) == 1


async def test_simulator_needs_message(console):
    token = await login(console)
    resp = await console.post("/admin/simulator", data={"csrf_token": token, "openid": "x"})
    assert resp.status == 400 and "消息内容" in await resp.text()
