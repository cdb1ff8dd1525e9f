"""The console's handlers: small functions that read a form, call intake, and render or redirect."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.console import actions, charts, forms, overrides, queries, simulator, texts
from bot.console.admin_pages import setup_admin_routes
from bot.console.core import (
    LIMITER,
    USER,
    actor_of,
    codec_of,
    fail,
    now_utc,
    redirect,
    render,
    services_of,
    session_of,
    url,
)
from bot.console.digest_pages import setup_digest_routes
from bot.console.shared import create_invite, directory_names, int_param, submit_or_back
from intake.console_users import (
    INACTIVE,
    WRONG_CREDENTIALS,
    AdminView,
    check_password,
    describe_lock,
    get_admin_user,
    record_login,
)
from intake.errors import IntakeError, NotFound
from intake.outbox import count_by_status
from intake.reports.export import (
    FilterError,
    TaskFilters,
    build_ledger_workbook,
    build_tasks_workbook,
    iter_task_records,
)
from intake.reports.export import write_csv as export_csv
from intake.reports.runner import run_report
from intake.rules_store import get_latest_overrides
from intake.store.models import TASKS, OutboxStatus

__all__ = ["setup_routes"]

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- helpers -------------------------------------------------------------------------------------

async def _refresh_rules(request: web.Request) -> None:
    services = services_of(request)
    async with services.engine.connect() as conn:
        await services.rules.refresh(conn)


async def _rules_doc(request: web.Request) -> tuple[dict[str, Any], dict[str, Any]]:
    """(effective rules, current override document)."""
    services = services_of(request)
    async with services.engine.connect() as conn:
        await services.rules.refresh(conn)
        current = await get_latest_overrides(conn)
    return services.rules.current.data, current


def _month_now(request: web.Request) -> str:
    return queries.month_key(now_utc(), services_of(request).settings.tz)


# --- login ---------------------------------------------------------------------------------------

async def handle_login_form(request: web.Request) -> web.StreamResponse:
    if request.get(USER) is not None:
        raise web.HTTPSeeOther(url(request, "dashboard"))
    return render(request, "login.html", {"next": request.query.get("next", ""), "error": "", "username": ""})


def _safe_next(request: web.Request, target: str) -> str:
    base = url(request, "dashboard")
    if target.startswith(base) and not target.startswith("//") and "\\" not in target:
        return target
    return base


async def handle_login(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    form = await request.post()
    username = forms.text(form, "username", limit=64)
    password = form.get("password", "")
    password = password if isinstance(password, str) else ""
    target = forms.text(form, "next", limit=500)
    client = request.remote or "?"
    limiter = request.app[LIMITER]

    def again(message: str, status: int) -> web.Response:
        return render(request, "login.html", {"next": target, "error": message, "username": username}, status=status)

    if limiter.blocked(client):
        return again(texts.TOO_MANY_ATTEMPTS, 429)
    if not username or not password:
        return again("请输入用户名和密码。", 400)
    now = now_utc()
    async with services.engine.connect() as conn:
        user = await get_admin_user(conn, username=username)
    if user is not None and user.is_locked(now):
        assert user.locked_until is not None
        return again(describe_lock(user.locked_until, now), 429)
    ok = await asyncio.get_running_loop().run_in_executor(
        None, check_password, user.password_hash if user else None, password)
    if user is None:
        limiter.failed(client)
        return again(WRONG_CREDENTIALS, 401)
    user_id = user.id

    async def unit(c: AsyncConnection) -> AdminView:
        return await record_login(c, user_id=user_id, ok=ok, now=now)

    recorded = await services.writer.submit(unit)
    if not ok:
        limiter.failed(client)
        if recorded.locked_until is not None and recorded.is_locked(now):
            return again(describe_lock(recorded.locked_until, now), 429)
        return again(WRONG_CREDENTIALS, 401)
    if not recorded.active:
        return again(INACTIVE, 403)
    limiter.succeeded(client)
    session_of(request).login(recorded.id, codec_of(request).credential_of(recorded.password_hash))
    raise web.HTTPSeeOther(_safe_next(request, target))


async def handle_logout(request: web.Request) -> web.StreamResponse:
    session_of(request).logout()
    redirect(request, "login", flash=texts.LOGGED_OUT)


# --- dashboard -----------------------------------------------------------------------------------

async def handle_dashboard(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    month = request.query.get("month", "").strip() or _month_now(request)
    community = request.query.get("community", "").strip()
    try:
        TaskFilters.from_query({"month": month})
    except FilterError as exc:
        fail(request, 400, str(exc))
    when = now_utc()

    async def build(conn: AsyncConnection) -> queries.Dashboard:
        return await queries.build_dashboard(conn, month=month, settings=services.settings, now=when,
                                             community=community)

    try:
        board = await run_report(services.reports, services.engine, build)
    except NotFound:
        fail(request, 404, texts.DASHBOARD_BAD_COMMUNITY.format(community=community))
    async with services.engine.connect() as conn:
        digests = (await queries.list_digests(conn))[:12]
        outbox_dead = (await count_by_status(conn)).get(OutboxStatus.dead.value, 0)
    _, communities = await directory_names(request)
    cur = board.current
    return render(request, "dashboard.html", {
        "board": board, "cur": cur, "total": cur.total, "timely": cur.timeliness, "month": month,
        "community": community, "communities": communities,
        "prev_month": queries.shift_month(month, -1), "next_month": queries.shift_month(month, 1),
        "chart_departments": charts.bar_chart([(d, c.tasks) for d, c in cur.by_department[:15]],
                                              title="本月各部门派发任务数"),
        "chart_kinds": charts.bar_chart([(texts.KIND_ZH.get(k, k), c.tasks) for k, c in cur.by_kind],
                                        title="本月任务类型"),
        "chart_trend": charts.stacked_months(
            [(f.month[2:], f.total.administrative, f.total.service) for f in board.months],
            labels=("行政事务", "服务性事务"), title="近13个月任务量:行政事务与服务性事务"),
        "chart_ontime": charts.rate_line([(f.month[2:], f.timeliness.on_time_rate) for f in board.months],
                                         title="近13个月按时完成率"),
        "dept_table": queries.group_months(board.months), "digests": digests, "outbox_dead": outbox_dead,
    })


# --- intake log ----------------------------------------------------------------------------------

def _filters(request: web.Request) -> TaskFilters:
    try:
        return TaskFilters.from_query(request.query)
    except FilterError as exc:
        fail(request, 400, str(exc))


async def handle_tasks(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    filters = _filters(request)
    try:
        page = max(1, int(request.query.get("page", "1")))
    except ValueError:
        page = 1
    async with services.engine.connect() as conn:
        result = await queries.list_task_page(conn, filters=filters, tz=services.settings.tz, page=page)
    departments, communities = await directory_names(request)
    params = filters.query_params()
    return render(request, "tasks.html", {
        "page": result, "filters": filters, "params": params, "departments": departments,
        "communities": communities,
    })


async def _records(request: web.Request, filters: TaskFilters) -> list[dict[str, Any]]:
    services = services_of(request)
    async with services.engine.connect() as conn:
        return [r async for r in iter_task_records(conn, filters=filters, tz=services.settings.tz)]


def _stamp(request: web.Request) -> str:
    return now_utc().astimezone(services_of(request).settings.tz).strftime("%Y%m%d-%H%M")


async def handle_tasks_csv(request: web.Request) -> web.StreamResponse:
    records = await _records(request, _filters(request))
    out = io.StringIO()
    export_csv(records, out)
    body = ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: Excel opens UTF-8 Chinese correctly
    return web.Response(body=body, content_type="text/csv", charset="utf-8", headers={
        "Content-Disposition": f"attachment; filename=jianfu-tasks-{_stamp(request)}.csv"})


async def handle_tasks_xlsx(request: web.Request) -> web.StreamResponse:
    records = await _records(request, _filters(request))
    data = await asyncio.get_running_loop().run_in_executor(None, build_tasks_workbook, records)
    return web.Response(body=data, content_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename=jianfu-tasks-{_stamp(request)}.xlsx"})


# --- one task ------------------------------------------------------------------------------------

async def _task_context(request: web.Request, code: str) -> dict[str, Any]:
    services = services_of(request)
    async with services.engine.connect() as conn:
        detail = await queries.get_task_detail(conn, code=code, tz=services.settings.tz)
    if detail is None:
        fail(request, 404, texts.TASK_NOT_FOUND.format(code=code))
    departments, communities = await directory_names(request)
    rules, _ = await _rules_doc(request)
    task = detail["task"]
    return {
        **detail, "departments": departments, "communities": communities,
        "items": {code: e.get("text", "") for code, e in rules["items"].items()},
        "item_text": rules["items"].get(task["item"] or "", {}).get("text", ""),
        "next_item": overrides.next_assist_code(rules),
        "form_error": "",
    }


async def handle_task(request: web.Request) -> web.StreamResponse:
    context = await _task_context(request, request.match_info["code"])
    return render(request, "task.html", context)


async def _form_error(request: web.Request, code: str, message: str) -> web.Response:
    context = await _task_context(request, code)
    context["form_error"] = message
    return render(request, "task.html", context, status=400)


async def handle_task_correct(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    code = request.match_info["code"].upper()
    form = await request.post()
    try:
        changes = forms.parse_correction(form)
        keyword = forms.text(form, "rule_keyword", limit=32)
        rule_field = forms.text(form, "rule_field", limit=16) or "kind"
    except forms.FormError as exc:
        return await _form_error(request, code, str(exc))
    async with services.engine.connect() as conn:
        raw = (await conn.execute(sa.select(TASKS.c.raw_text).where(TASKS.c.code == code))).scalar()
    if raw is None:
        fail(request, 404, texts.TASK_NOT_FOUND.format(code=code))
    new_overrides = None
    note = None
    if keyword:
        if keyword not in raw:
            return await _form_error(request, code, texts.KEYWORD_NOT_IN_TEXT.format(keyword=keyword))
        value = changes.get(rule_field) or ""
        if not value:
            return await _form_error(request, code, f"要为“{texts.FIELD_ZH.get(rule_field, rule_field)}”添加关键词,"
                                                    "请先在上面填写该字段的正确值。")
        rules, current = await _rules_doc(request)
        try:
            new_overrides = overrides.add_keyword(rules, current, field=rule_field, value=str(value), keyword=keyword)
        except overrides.OverrideError as exc:
            return await _form_error(request, code, str(exc))
        note = f"更正 {code}:关键词“{keyword}”→ {texts.FIELD_ZH.get(rule_field, rule_field)} {value}"
    actor, now = actor_of(request), now_utc()

    async def unit(conn: AsyncConnection) -> actions.Correction:
        return await actions.correct_task(conn, code=code, changes=changes, actor=actor, now=now,
                                          settings=services.settings, overrides=new_overrides, rule_note=note)

    try:
        result = await services.writer.submit(unit)
    except IntakeError as exc:
        return await _form_error(request, code, str(exc))
    session = session_of(request)
    if result.changed:
        fields = "、".join(texts.FIELD_ZH.get(k, k) for k in result.changed)
        session.add_flash("ok", texts.CORRECTED.format(code=code, fields=fields))
    if result.rule_version is not None:
        await _refresh_rules(request)
        session.add_flash("ok", texts.RULE_ADDED.format(keyword=keyword, version=result.rule_version))
    redirect(request, "task", code=code)


# --- review queue --------------------------------------------------------------------------------

async def handle_review(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    filters = TaskFilters(status="pending_review", sort="deadline")
    async with services.engine.connect() as conn:
        result = await queries.list_task_page(conn, filters=filters, tz=services.settings.tz, page=1, page_size=200)
    rules, _ = await _rules_doc(request)
    return render(request, "review.html", {"page": result, "next_item": overrides.next_assist_code(rules)})


async def handle_admit(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    code = request.match_info["code"].upper()
    form = await request.post()
    try:
        name = forms.text(form, "name", limit=120)
        basis = forms.text(form, "basis", limit=300)
        funding = forms.text(form, "funding", limit=200)
        duration = forms.text(form, "duration", limit=100)
        amount = forms.optional_float(form, "amount_yuan", label="经费金额")
        keywords = overrides.split_keywords(forms.text(form, "keywords", limit=300))
    except forms.FormError as exc:
        return await _form_error(request, code, str(exc))
    missing = [label for label, value in (("事项名称", name), ("法定依据", basis), ("经费保障", funding),
                                          ("期限", duration)) if not value]
    if missing:
        return await _form_error(request, code, texts.ADMIT_NEEDS.format(missing="、".join(missing)))
    async with services.engine.connect() as conn:
        task = (await conn.execute(sa.select(TASKS.c.keywords, TASKS.c.department).where(TASKS.c.code == code))).first()
    if task is None:
        fail(request, 404, texts.TASK_NOT_FOUND.format(code=code))
    rules, current = await _rules_doc(request)
    item = overrides.next_assist_code(rules)
    new_doc = overrides.add_assist_item(
        rules, current, code=item, name=name, keywords=keywords or list(task.keywords or [])[:6], basis=basis,
        funding=funding, duration=duration, department=task.department, task_code=code)
    funded = amount is not None or not any(w in funding for w in ("无", "没有", "暂无"))
    actor, now = actor_of(request), now_utc()

    async def unit(conn: AsyncConnection) -> actions.Admission:
        return await actions.admit_task(conn, code=code, item=item, name=name, basis=basis, funding=funding,
                                        duration=duration, funded=funded, amount_yuan=amount, overrides=new_doc,
                                        actor=actor, now=now, settings=services.settings)

    try:
        result = await services.writer.submit(unit)
    except IntakeError as exc:
        return await _form_error(request, code, str(exc))
    await _refresh_rules(request)
    redirect(request, "task", code=code,
             flash=texts.ADMITTED.format(code=code, item=result.item, targets=result.targets))


async def handle_refuse(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    code = request.match_info["code"].upper()
    form = await request.post()
    reason = forms.text(form, "reason", limit=500)
    if not reason:
        return await _form_error(request, code, texts.REFUSE_NEEDS_REASON)
    actor, now = actor_of(request), now_utc()

    async def unit(conn: AsyncConnection) -> str:
        return await actions.refuse_task(conn, code=code, reason=reason, actor=actor, now=now,
                                         settings=services.settings)

    try:
        await services.writer.submit(unit)
    except IntakeError as exc:
        return await _form_error(request, code, str(exc))
    redirect(request, "review", flash=texts.REFUSED.format(code=code))


# --- lists ---------------------------------------------------------------------------------------

async def _lists_context(request: web.Request) -> dict[str, Any]:
    services = services_of(request)
    rules, current = await _rules_doc(request)
    async with services.engine.connect() as conn:
        versions = await queries.list_rule_versions(conn)
    return {
        "sections": texts.LIST_SECTIONS,
        "entries": {s: overrides.section_entries(rules, s) for s in overrides.SECTIONS},
        "texts_": {s: overrides.section_text(rules, s) for s in overrides.SECTIONS},
        "versions": versions, "rules_version": services.rules.current.version,
        "open_section": request.query.get("section", ""), "form_error": "", "draft": {},
    }


async def handle_lists(request: web.Request) -> web.StreamResponse:
    return render(request, "lists.html", await _lists_context(request))


async def handle_list_save(request: web.Request) -> web.StreamResponse:
    section = request.match_info["section"]
    if section not in overrides.SECTIONS:
        fail(request, 404, f"没有名为“{section}”的清单,请从“清单管理”页面进入。")
    form = await request.post()
    body = forms.text(form, "body", limit=200_000)
    note = forms.text(form, "note", limit=200) or f"编辑{texts.LIST_SECTIONS[section]}"
    rules, current = await _rules_doc(request)
    try:
        new_doc = overrides.apply_section_text(rules, current, section, body)
    except overrides.OverrideError as exc:
        context = await _lists_context(request)
        context.update(form_error=str(exc), open_section=section, draft={section: body})
        return render(request, "lists.html", context, status=400)
    actor, now = actor_of(request), now_utc()

    async def unit(conn: AsyncConnection) -> int:
        return await actions.save_overrides(conn, content=new_doc, actor=actor, note=note, now=now)

    version = await services_of(request).writer.submit(unit)
    await _refresh_rules(request)
    redirect(request, "lists", query={"section": section},
             flash=texts.LIST_SAVED.format(section=texts.LIST_SECTIONS[section], version=version))


async def handle_list_version(request: web.Request) -> web.StreamResponse:
    version_id = int_param(request, message="版本号应当是数字。")
    async with services_of(request).engine.connect() as conn:
        versions = await queries.list_rule_versions(conn, limit=1000)
    found = next((v for v in versions if v["id"] == version_id), None)
    if found is None:
        fail(request, 404, f"没有第 {version_id} 版规则,请从“清单管理”的历史记录进入。")
    return render(request, "rule_version.html", {
        "version": found, "content": json.dumps(found["content"], ensure_ascii=False, indent=2)})


# --- directory, accounts, invites ----------------------------------------------------------------

async def handle_directory(request: web.Request) -> web.StreamResponse:
    async with services_of(request).engine.connect() as conn:
        departments = await queries.list_departments(conn)
        communities = await queries.list_communities(conn)
    return render(request, "directory.html", {"departments": departments, "communities": communities})


async def _submit(request: web.Request, unit: Any, *, back: str, ok: str = texts.SAVED) -> web.StreamResponse:
    await submit_or_back(request, unit, back=back)
    redirect(request, back, flash=ok)


async def handle_department_add(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    name = forms.text(form, "name", limit=64)
    actor, now = actor_of(request), now_utc()
    return await _submit(request, lambda c: actions.add_department(c, name=name, actor=actor, now=now),
                         back="directory", ok=f"已添加部门“{name}”。")


async def handle_department_active(request: web.Request) -> web.StreamResponse:
    department_id = int_param(request)
    active = forms.flag(await request.post(), "active")
    actor, now = actor_of(request), now_utc()
    return await _submit(request, lambda c: actions.set_department_active(
        c, department_id=department_id, active=active, actor=actor, now=now), back="directory")


async def handle_community_add(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        name = forms.text(form, "name", limit=64)
        staff = forms.optional_int(form, "staff", label="工作人员数", minimum=1) or 8
    except forms.FormError as exc:
        redirect(request, "directory", flash=str(exc), level="error")
    actor, now = actor_of(request), now_utc()
    return await _submit(request, lambda c: actions.add_community(c, name=name, staff=staff, actor=actor, now=now),
                         back="directory", ok=f"已添加社区“{name}”。")


async def handle_community_update(request: web.Request) -> web.StreamResponse:
    community_id = int_param(request)
    form = await request.post()
    try:
        staff = forms.optional_int(form, "staff", label="工作人员数", minimum=1) or 8
        webhook = forms.text(form, "robot_webhook", limit=512)
        if webhook and not webhook.startswith("https://"):
            raise forms.FormError("群机器人地址应以 https:// 开头(在企业微信群 → 添加群机器人 中复制)。")
    except forms.FormError as exc:
        redirect(request, "directory", flash=str(exc), level="error")
    active = forms.flag(form, "active")
    actor, now = actor_of(request), now_utc()
    return await _submit(request, lambda c: actions.update_community(
        c, community_id=community_id, staff=staff, active=active, robot_webhook=webhook or None, actor=actor,
        now=now), back="directory")


async def handle_accounts(request: web.Request) -> web.StreamResponse:
    async with services_of(request).engine.connect() as conn:
        accounts = await queries.list_accounts(conn)
    departments, communities = await directory_names(request)
    return render(request, "accounts.html", {"accounts": accounts, "departments": departments,
                                             "communities": communities})


async def handle_account_bind(request: web.Request) -> web.StreamResponse:
    account_id = int_param(request)
    form = await request.post()
    role = forms.text(form, "role", limit=16)
    target = forms.text(form, "target", limit=64)
    actor, now = actor_of(request), now_utc()
    department = target if role in ("clerk", "admin") else None
    community = target if role == "head" else None
    return await _submit(request, lambda c: actions.bind_account_to(
        c, account_id=account_id, role=role, department=department, community=community, actor=actor, now=now),
        back="accounts", ok=f"账号 {account_id} 已绑定为{texts.ROLE_ZH.get(role, role)}({target})。")


async def handle_account_unbind(request: web.Request) -> web.StreamResponse:
    account_id = int_param(request)
    actor, now = actor_of(request), now_utc()
    return await _submit(request, lambda c: actions.unbind_account(c, account_id=account_id, actor=actor, now=now),
                         back="accounts", ok=f"账号 {account_id} 已解除绑定。")


async def handle_account_active(request: web.Request) -> web.StreamResponse:
    account_id = int_param(request)
    active = forms.flag(await request.post(), "active")
    actor, now = actor_of(request), now_utc()
    return await _submit(request, lambda c: actions.set_account_active(
        c, account_id=account_id, active=active, actor=actor, now=now), back="accounts",
        ok=f"账号 {account_id} 已{'启用' if active else '停用'}。")


async def handle_invites(request: web.Request) -> web.StreamResponse:
    async with services_of(request).engine.connect() as conn:
        invites = await queries.list_invites(conn)
    departments, communities = await directory_names(request)
    return render(request, "invites.html", {"invites": invites, "departments": departments,
                                            "communities": communities, "now": now_utc()})


async def handle_invite_add(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        code = await create_invite(request, forms.text(form, "role", limit=16), forms.text(form, "target", limit=64))
    except IntakeError as exc:
        redirect(request, "invites", flash=str(exc), level="error")
    redirect(request, "invites", flash=texts.INVITE_CREATED.format(code=code))


# --- digests and ledgers -------------------------------------------------------------------------

async def handle_ledger(request: web.Request) -> web.StreamResponse:
    _, communities = await directory_names(request)
    return render(request, "ledger.html", {"communities": communities, "month": ""})


async def handle_ledger_xlsx(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    community = request.query.get("community", "").strip()
    month = request.query.get("month", "").strip()
    _, communities = await directory_names(request)
    if community not in communities:
        fail(request, 400, texts.EXPORT_NEEDS_COMMUNITY)
    try:
        TaskFilters.from_query({"month": month})
    except FilterError as exc:
        fail(request, 400, str(exc))
    async with services.engine.connect() as conn:
        data = await build_ledger_workbook(conn, community=community, tz=services.settings.tz, month=month,
                                           district=services.settings.district.name)
    from urllib.parse import quote

    filename = f"{community}台账{('-' + month) if month else ''}.xlsx"
    return web.Response(body=data, content_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename=ledger.xlsx; filename*=UTF-8''{quote(filename)}"})


# --- routes --------------------------------------------------------------------------------------

def setup_routes(app: web.Application, static_dir: str) -> None:
    r = app.router
    r.add_get("/", handle_dashboard, name="dashboard")
    login = r.add_resource("/login", name="login")
    login.add_route("GET", handle_login_form)
    login.add_route("POST", handle_login)
    r.add_post("/logout", handle_logout, name="logout")
    r.add_get("/tasks", handle_tasks, name="tasks")
    r.add_get("/tasks.csv", handle_tasks_csv, name="tasks_csv")
    r.add_get("/tasks.xlsx", handle_tasks_xlsx, name="tasks_xlsx")
    r.add_get("/tasks/{code}", handle_task, name="task")
    r.add_post("/tasks/{code}/correct", handle_task_correct, name="task_correct")
    r.add_post("/tasks/{code}/admit", handle_admit, name="task_admit")
    r.add_post("/tasks/{code}/refuse", handle_refuse, name="task_refuse")
    r.add_get("/review", handle_review, name="review")
    r.add_get("/lists", handle_lists, name="lists")
    r.add_post("/lists/{section}", handle_list_save, name="list_save")
    r.add_get("/lists/versions/{id}", handle_list_version, name="list_version")
    r.add_get("/directory", handle_directory, name="directory")
    r.add_post("/departments", handle_department_add, name="department_add")
    r.add_post("/departments/{id}/active", handle_department_active, name="department_active")
    r.add_post("/communities", handle_community_add, name="community_add")
    r.add_post("/communities/{id}", handle_community_update, name="community_update")
    r.add_get("/accounts", handle_accounts, name="accounts")
    r.add_post("/accounts/{id}/bind", handle_account_bind, name="account_bind")
    r.add_post("/accounts/{id}/unbind", handle_account_unbind, name="account_unbind")
    r.add_post("/accounts/{id}/active", handle_account_active, name="account_active")
    r.add_get("/invites", handle_invites, name="invites")
    r.add_post("/invites", handle_invite_add, name="invite_add")
    r.add_get("/ledger", handle_ledger, name="ledger")
    r.add_get("/ledger.xlsx", handle_ledger_xlsx, name="ledger_xlsx")
    sim = r.add_resource("/simulator", name="simulator")
    sim.add_route("GET", simulator.handle_simulator)
    sim.add_route("POST", simulator.handle_simulator_post)
    setup_admin_routes(app)
    setup_digest_routes(app)
    r.add_static("/static/", static_dir, name="static")
