"""The admin console under ``/admin``: a server-rendered aiohttp sub-application (Jinja2, autoescaped).

Mount it with ``app.add_subapp("/admin", create_console_app())``; it reads the
:class:`~intake.context.Services` of the parent app from ``request.config_dict``.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

__all__ = ["create_console_app"]

HERE = Path(__file__).resolve().parent


def create_console_app(*, dashboard_max_age_s: float = 60.0, digest_wait_s: float = 0.25) -> web.Application:
    from bot.console.boards import BOARDS, Boards, close_boards
    from bot.console.core import CODECS, session_middleware, setup_templates
    from bot.console.scoping import scope_middleware
    from bot.console.views import setup_routes
    from bot.console.views.digests import BUILT, BuiltDigests, close_built

    app = web.Application(middlewares=[session_middleware, scope_middleware])
    app[CODECS] = {}
    app[BUILT] = BuiltDigests(wait_s=digest_wait_s)
    app[BOARDS] = Boards(dashboard_max_age_s)
    app.on_cleanup.append(close_boards)
    app.on_cleanup.append(close_built)
    setup_templates(app, str(HERE / "templates"))
    setup_routes(app, str(HERE / "static"))
    return app
