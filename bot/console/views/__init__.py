"""The console's pages, one module per subject; every route is registered here, in :func:`setup_routes`.

Handlers are small: they read a form or a query, call :mod:`intake` (through the writer for
changes), and render a template or redirect with a flash message.
"""

from __future__ import annotations

from aiohttp import web

from bot.console.views import accounts, admin, dashboard, digests, lists, login, review, simulator, tasks

__all__ = ["setup_routes"]


def setup_routes(app: web.Application, static_dir: str) -> None:
    r = app.router
    r.add_get("/", dashboard.handle_dashboard, name="dashboard")
    sign_in = r.add_resource("/login", name="login")
    sign_in.add_route("GET", login.handle_login_form)
    sign_in.add_route("POST", login.handle_login)
    r.add_post("/logout", login.handle_logout, name="logout")
    r.add_get("/tasks", tasks.handle_tasks, name="tasks")
    r.add_get("/tasks.csv", tasks.handle_tasks_csv, name="tasks_csv")
    r.add_get("/tasks.xlsx", tasks.handle_tasks_xlsx, name="tasks_xlsx")
    r.add_get("/tasks/{code}", tasks.handle_task, name="task")
    r.add_post("/tasks/{code}/correct", tasks.handle_task_correct, name="task_correct")
    r.add_post("/tasks/{code}/admit", review.handle_admit, name="task_admit")
    r.add_post("/tasks/{code}/refuse", review.handle_refuse, name="task_refuse")
    r.add_get("/review", review.handle_review, name="review")
    r.add_get("/lists", lists.handle_lists, name="lists")
    r.add_post("/lists/{section}", lists.handle_list_save, name="list_save")
    r.add_get("/lists/versions/{id}", lists.handle_list_version, name="list_version")
    r.add_get("/directory", accounts.handle_directory, name="directory")
    r.add_post("/departments", accounts.handle_department_add, name="department_add")
    r.add_post("/departments/{id}/active", accounts.handle_department_active, name="department_active")
    r.add_post("/communities", accounts.handle_community_add, name="community_add")
    r.add_post("/communities/{id}", accounts.handle_community_update, name="community_update")
    r.add_get("/accounts", accounts.handle_accounts, name="accounts")
    r.add_post("/accounts/{id}/bind", accounts.handle_account_bind, name="account_bind")
    r.add_post("/accounts/{id}/unbind", accounts.handle_account_unbind, name="account_unbind")
    r.add_post("/accounts/{id}/active", accounts.handle_account_active, name="account_active")
    r.add_get("/invites", accounts.handle_invites, name="invites")
    r.add_post("/invites", accounts.handle_invite_add, name="invite_add")
    r.add_get("/ledger", dashboard.handle_ledger, name="ledger")
    r.add_get("/ledger.xlsx", dashboard.handle_ledger_xlsx, name="ledger_xlsx")
    sim = r.add_resource("/simulator", name="simulator")
    sim.add_route("GET", simulator.handle_simulator)
    sim.add_route("POST", simulator.handle_simulator_post)
    users = r.add_resource("/users", name="users")
    users.add_route("GET", admin.handle_users)
    users.add_route("POST", admin.handle_user_add)
    r.add_post("/users/{id}/password", admin.handle_user_password, name="user_password")
    r.add_post("/users/{id}/active", admin.handle_user_active, name="user_active")
    r.add_get("/outbox", admin.handle_outbox, name="outbox")
    r.add_post("/outbox/{id}/retry", admin.handle_outbox_retry, name="outbox_retry")
    r.add_post("/outbox/{id}/read", admin.handle_inbox_read, name="inbox_read")
    r.add_get("/digests", digests.handle_digests, name="digests")
    r.add_get("/digests/view", digests.handle_digest_view, name="digest_view")
    r.add_get("/digests/{id:\\d+}", digests.handle_digest_by_id, name="digest")
    r.add_get("/digests/{month}/{scope}", digests.handle_digest_page, name="digest_page")
    r.add_get("/digests/{month}/{scope}/chart.png", digests.handle_digest_chart, name="digest_chart")
    r.add_get("/digests/{month}/{scope}/digest.xlsx", digests.handle_digest_xlsx, name="digest_xlsx")
    r.add_get("/digests/{month}/{scope}/digest.json", digests.handle_digest_json, name="digest_json")
    r.add_static("/static/", static_dir, name="static")
