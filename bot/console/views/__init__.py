"""The console's pages, one module per subject; every route is registered here, in :func:`setup_routes`.

Handlers are small: they read a form or a query, call :mod:`intake` (through the writer for
changes), and render a template or redirect with a flash message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.console.views import (
    accounts,
    admin,
    catalogue,
    community,
    dashboard,
    digests,
    learning,
    lists,
    login,
    org,
    review,
    simulator,
    tasks,
)

__all__ = ["setup_routes"]


_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# path, route name, handler per method: every console route, in one table
ROUTES: tuple[tuple[str, str, dict[str, _Handler]], ...] = (
    ("/", "dashboard", {"GET": dashboard.handle_dashboard}),
    ("/login", "login", {"GET": login.handle_login_form, "POST": login.handle_login}),
    ("/logout", "logout", {"POST": login.handle_logout}),
    ("/tasks", "tasks", {"GET": tasks.handle_tasks}),
    ("/tasks.csv", "tasks_csv", {"GET": tasks.handle_tasks_csv}),
    ("/tasks.xlsx", "tasks_xlsx", {"GET": tasks.handle_tasks_xlsx}),
    ("/tasks/{code}", "task", {"GET": tasks.handle_task}),
    ("/tasks/{code}/original", "task_original", {"GET": tasks.handle_task_original}),
    ("/tasks/{code}/correct", "task_correct", {"POST": tasks.handle_task_correct}),
    ("/tasks/{code}/admit", "task_admit", {"POST": review.handle_admit}),
    ("/tasks/{code}/refuse", "task_refuse", {"POST": review.handle_refuse}),
    ("/review", "review", {"GET": review.handle_review}),
    ("/lists", "lists", {"GET": lists.handle_lists}),
    ("/lists/{section}", "list_save", {"POST": lists.handle_list_save}),
    ("/lists/versions/{id}", "list_version", {"GET": lists.handle_list_version}),
    ("/rules/suggest", "rule_suggest", {"GET": learning.handle_suggest}),
    ("/rules/suggest/preview", "rule_suggest_preview", {"POST": learning.handle_preview}),
    ("/rules/suggest/accept", "rule_suggest_accept", {"POST": learning.handle_accept}),
    ("/directory", "directory", {"GET": accounts.handle_directory}),
    ("/departments", "department_add", {"POST": accounts.handle_department_add}),
    ("/departments/{id}/active", "department_active", {"POST": accounts.handle_department_active}),
    ("/communities", "community_add", {"POST": accounts.handle_community_add}),
    ("/communities/{id}", "community_update", {"POST": accounts.handle_community_update}),
    ("/org", "org", {"GET": org.handle_org}),
    ("/org.xlsx", "org_xlsx", {"GET": org.handle_org_xlsx}),
    ("/org/import", "org_import", {"POST": org.handle_org_import}),
    ("/org/streets", "org_street_add", {"POST": org.handle_street_add}),
    ("/org/streets/{id}", "org_street_update", {"POST": org.handle_street_update}),
    ("/org/streets/{id}/communities", "org_street_community_add", {"POST": org.handle_street_community_add}),
    ("/org/communities/{id}", "org_community_update", {"POST": org.handle_org_community_update}),
    ("/communities/{id}/work", "community_work", {"GET": community.handle_community_work}),
    ("/communities/{id}/work.xlsx", "community_work_xlsx", {"GET": community.handle_counter_xlsx}),
    ("/communities/{id}/work/{entry}", "counter_correct", {"POST": community.handle_counter_correct}),
    ("/accounts", "accounts", {"GET": accounts.handle_accounts}),
    ("/accounts/{id}/bind", "account_bind", {"POST": accounts.handle_account_bind}),
    ("/accounts/{id}/unbind", "account_unbind", {"POST": accounts.handle_account_unbind}),
    ("/accounts/{id}/active", "account_active", {"POST": accounts.handle_account_active}),
    ("/invites", "invites", {"GET": accounts.handle_invites}),
    ("/invites", "invite_add", {"POST": accounts.handle_invite_add}),
    ("/invites/{id}/revoke", "invite_revoke", {"POST": accounts.handle_invite_revoke}),
    ("/ledger", "ledger", {"GET": dashboard.handle_ledger}),
    ("/ledger.xlsx", "ledger_xlsx", {"GET": dashboard.handle_ledger_xlsx}),
    ("/simulator", "simulator", {"GET": simulator.handle_simulator, "POST": simulator.handle_simulator_post}),
    ("/users", "users", {"GET": admin.handle_users, "POST": admin.handle_user_add}),
    ("/users/{id}/password", "user_password", {"POST": admin.handle_user_password}),
    ("/users/{id}/active", "user_active", {"POST": admin.handle_user_active}),
    ("/users/{id}/sessions/end", "user_sessions_end", {"POST": admin.handle_user_sessions_end}),
    ("/outbox", "outbox", {"GET": admin.handle_outbox}),
    ("/outbox/{id}/retry", "outbox_retry", {"POST": admin.handle_outbox_retry}),
    ("/outbox/{id}/read", "inbox_read", {"POST": admin.handle_inbox_read}),
    ("/digests", "digests", {"GET": digests.handle_digests}),
    ("/digests/view", "digest_view", {"GET": digests.handle_digest_view}),
    ("/digests/{id:\\d+}", "digest", {"GET": digests.handle_digest_by_id}),
    ("/digests/{month}/{scope}", "digest_page", {"GET": digests.handle_digest_page}),
    ("/digests/{month}/{scope}/chart.png", "digest_chart", {"GET": digests.handle_digest_chart}),
    ("/digests/{month}/{scope}/digest.xlsx", "digest_xlsx", {"GET": digests.handle_digest_xlsx}),
    ("/digests/{month}/{scope}/digest.json", "digest_json", {"GET": digests.handle_digest_json}),
    ("/catalogue", "catalogue", {"GET": catalogue.handle_catalogue, "POST": catalogue.handle_form_add}),
    ("/catalogue/{id}/decision", "form_decision", {"POST": catalogue.handle_form_decision}),
    ("/platforms", "platforms", {"GET": catalogue.handle_platforms}),
    ("/platforms/{id}", "platform_update", {"POST": catalogue.handle_platform_update}),
    ("/report", "report", {"GET": catalogue.handle_report}),
    ("/report.{fmt}", "report_file", {"GET": catalogue.handle_report_file}),
)


def setup_routes(app: web.Application, static_dir: str) -> None:
    for path, name, methods in ROUTES:
        resource = app.router.add_resource(path, name=name)
        for method, handler in methods.items():
            resource.add_route(method, handler)
            if method == "GET":
                resource.add_route("HEAD", handler)  # as add_get does
    app.router.add_static("/static/", static_dir, name="static")
