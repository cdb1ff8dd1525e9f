"""GET /digest/{community}/{month}?e=…&s=…: a head's own monthly digest, read-only, without the console.

The link is signed and expires (:mod:`intake.links`); a wrong or expired link gets 403 with a sentence that
says what to do. The page is built from the database, so late corrections show.
"""

from __future__ import annotations

import html

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.console.core import now_utc
from bot.console.markdown import markdown_to_html
from bot.keys import SERVICES
from intake.calendar import parse_month
from intake.errors import BadFilter, NotFound
from intake.links import is_valid_digest_link
from intake.reports.digest import Digest, build_digest
from intake.reports.render import render_markdown
from intake.reports.runner import run_report

__all__ = ["setup_public_digest_routes"]

EXPIRED = "这个月报链接无效或已过期。请在减负通中回复“帮助”,或向区减负办索取新的链接。"
PAGE = ("<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta name=\"robots\" content=\"noindex\">"
        "<title>{title}</title><link rel=\"stylesheet\" href=\"/admin/static/console.css\"></head>"  # no inline style: CSP
        "<body><main class=\"page\">{body}</main></body></html>")


def _page(title: str, body: str, status: int = 200) -> web.Response:
    return web.Response(text=PAGE.format(title=html.escape(title), body=body), status=status,
                        content_type="text/html", headers={"Cache-Control": "private, no-store",
                                                           "Referrer-Policy": "no-referrer"})


async def handle_public_digest(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    community, month = request.match_info["community"], request.match_info["month"]
    now = now_utc()
    valid = is_valid_digest_link(services.link_secret, community=community, month=month,
                                 expires=request.query.get("e", ""), signature=request.query.get("s", ""), now=now)
    if not valid:
        return _page("链接无效", f"<p>{html.escape(EXPIRED)}</p>", status=403)
    try:
        parse_month(month)

        async def build(conn: AsyncConnection) -> Digest:
            return await build_digest(conn, month=month, community=community, settings=services.settings, now=now)

        digest = await run_report(services.reports, services.engine, build)  # off the loop that answers WeChat
    except (BadFilter, NotFound):
        return _page("没有这份月报", "<p>没有这份月报。</p>", status=404)
    return _page(digest.title, str(markdown_to_html(render_markdown(digest), shift=0)))


def setup_public_digest_routes(app: web.Application) -> None:
    app.router.add_get(r"/digest/{community}/{month:\d{4}-\d{2}}", handle_public_digest, name="public_digest")
