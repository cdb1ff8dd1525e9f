"""The console's plumbing: sessions, login and CSRF checks, roles, rendering and friendly error pages."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
from aiohttp import web
from markupsafe import Markup

from bot.console import texts
from bot.console.security import CSRF_FIELD, SESSION_COOKIE, Session, SessionCodec, is_same_token
from bot.keys import SERVICES, SETTINGS
from bot.settings import Settings
from intake.console_sessions import get_live_session, is_seen_stale, update_session_seen
from intake.console_users import AdminView, get_admin_by_id
from intake.context import Services

__all__ = [
    "CODECS",
    "codec_of",
    "PUBLIC_ROUTES",
    "setup_templates",
    "session_middleware",
    "render",
    "fail",
    "redirect",
    "services_of",
    "settings_of",
    "user_of",
    "session_of",
    "actor_of",
    "url",
    "now_utc",
    "client_of",
]

CODECS = web.AppKey("console_codecs", dict[str, SessionCodec])
PUBLIC_ROUTES = frozenset({"login", "static"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


SESSION = web.RequestKey("console_session", Session)
USER = web.RequestKey("console_user", AdminView)


def codec_of(request: web.Request) -> SessionCodec:
    """The session codec for the configured secret (built once per secret)."""
    server = settings_of(request).server
    codecs = request.app[CODECS]
    if server.session_secret not in codecs:
        codecs[server.session_secret] = SessionCodec(server.session_secret,
                                                     max_age_s=server.session_absolute_hours * 3600)
    return codecs[server.session_secret]


def client_of(request: web.Request) -> str:
    """The client's address (the proxy's X-Forwarded-For only when the proxy is trusted: bot.edge)."""
    return request.remote or "?"


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def settings_of(request: web.Request) -> Settings:
    """The whole configuration (server and chat sections included) of the app the console is mounted on."""
    return request.config_dict[SETTINGS]


def services_of(request: web.Request) -> Services:
    return request.config_dict[SERVICES]


def session_of(request: web.Request) -> Session:
    return request[SESSION]


def user_of(request: web.Request) -> AdminView:
    return request[USER]


def actor_of(request: web.Request) -> str:
    return f"admin:{user_of(request).username}"


def url(request: web.Request, name: str, query: dict[str, Any] | None = None, **parts: str) -> str:
    target = request.app.router[name].url_for(**parts)
    if query:
        target = target.with_query({k: str(v) for k, v in query.items() if v not in (None, "")})
    return str(target)


def _base_path(request: web.Request) -> str:
    return str(request.app.router["dashboard"].url_for()).rstrip("/") or "/"


# --- templates -----------------------------------------------------------------------------------

@jinja2.pass_context
def _local(ctx: Any, value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    tz: ZoneInfo = ctx.get("tz") or ZoneInfo("Asia/Shanghai")
    return value.astimezone(tz).strftime(fmt)


def _pretty(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _zh(value: Any, table: dict[str, str]) -> str:
    return table.get(str(value), "" if value is None else str(value))


def setup_templates(app: web.Application, folder: str) -> None:
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(folder),
        autoescape=jinja2.select_autoescape(["html"], default_for_string=True, default=True),
        undefined=jinja2.StrictUndefined,
    )
    env.filters["local"] = _local
    env.filters["percent"] = _percent
    env.filters["pretty"] = _pretty
    env.filters["zh"] = _zh
    env.globals["T"] = texts


def render(request: web.Request, template: str, context: dict[str, Any], *, status: int = 200) -> web.Response:
    session = request.get(SESSION)
    user = request.get(USER)
    base = {
        "request": request,
        "user": user,
        "csrf_field": CSRF_FIELD,
        "csrf": session.csrf if session else "",
        "flashes": session.pop_flash() if session else [],
        "tz": services_of(request).settings.tz,
        "district": services_of(request).settings.district.name,
        "url": lambda name, query=None, **parts: url(request, name, query, **parts),
        "nav": request.match_info.route.name or "",
    }
    base.update(context)
    response = aiohttp_jinja2.render_template(template, request, base, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def fail(request: web.Request, status: int, message: str, *, title: str = "") -> NoReturn:
    """Stop with a friendly page that says what was wrong and what to do."""
    titles = {400: "请求有误", 403: "没有权限", 404: "没有找到", 409: "无法完成", 429: "请稍后再试"}
    response = render(request, "error.html", {"title": title or titles.get(status, "出错了"), "message": message,
                                              "status": status}, status=status)
    raise _http_error(status, response)


def _http_error(status: int, response: web.Response) -> web.HTTPException:
    classes: dict[int, type[web.HTTPException]] = {
        400: web.HTTPBadRequest, 403: web.HTTPForbidden, 404: web.HTTPNotFound, 409: web.HTTPConflict,
        429: web.HTTPTooManyRequests,
    }
    cls = classes.get(status, web.HTTPBadRequest)
    body = response.body
    assert isinstance(body, bytes)
    return cls(text=body.decode("utf-8"), content_type="text/html", headers={"Cache-Control": "no-store"})


def redirect(request: web.Request, name: str, *, flash: str | None = None, level: str = "ok",
             query: dict[str, Any] | None = None, **parts: str) -> NoReturn:
    if flash:
        session_of(request).add_flash(level, flash)
    raise web.HTTPSeeOther(url(request, name, query, **parts))


# --- middleware ----------------------------------------------------------------------------------

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _set_cookie(request: web.Request, response: web.StreamResponse, session: Session) -> None:
    response.set_cookie(
        SESSION_COOKIE, codec_of(request).dumps(session), path=_base_path(request), httponly=True,
        samesite="Lax", secure=request.secure, max_age=codec_of(request).max_age_s,
    )


async def _load_user(request: web.Request, session: Session) -> None:
    """Who the session's token belongs to, if its server-side session is live and the user active."""
    server, services, now = settings_of(request).server, services_of(request), now_utc()
    async with services.engine.connect() as conn:
        live = await get_live_session(conn, token=session.token, now=now,
                                      idle=dt.timedelta(minutes=server.session_idle_minutes),
                                      absolute=dt.timedelta(hours=server.session_absolute_hours))
        user = await get_admin_by_id(conn, user_id=live.user_id) if live is not None else None
    if live is None or user is None or not user.active:
        session.logout()  # logged out, ended, timed out, deactivated or deleted
        return
    request[USER] = user
    if is_seen_stale(live, now):
        token_hash = live.token_hash
        await services.writer.submit(lambda c: update_session_seen(c, token_hash=token_hash, now=now))


async def _guard(request: web.Request, session: Session, route: str) -> None:
    """Require login, a CSRF token on every write, and a writing role."""
    if route not in PUBLIC_ROUTES and USER not in request:
        if request.method in SAFE_METHODS:
            target = request.rel_url.path_qs
            raise web.HTTPSeeOther(url(request, "login", {"next": target}))
        fail(request, 403, texts.LOGIN_REQUIRED + "登录后请重新提交。")
    if request.method not in SAFE_METHODS:
        form = await request.post()
        token = form.get(CSRF_FIELD) or request.headers.get("X-CSRF-Token")
        if not is_same_token(session.csrf, token if isinstance(token, str) else None):
            fail(request, 403, texts.CSRF_FAILED, title="安全校验未通过")
        user = request.get(USER)
        if user is not None and not user.can_write and route not in {"logout"}:
            fail(request, 403, texts.VIEWER_READ_ONLY)


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Load the session and user, guard the route, and keep the cookie in step with the session."""
    codec = codec_of(request)
    loaded = codec.loads(request.cookies.get(SESSION_COOKIE))
    session = loaded or Session(changed=True)
    request[SESSION] = session
    route = request.match_info.route.name or ""
    try:
        if route == "static":
            return await handler(request)
        if session.token:
            await _load_user(request, session)
        await _guard(request, session, route)
        response = await handler(request)
    except web.HTTPException as exc:
        if session.changed:
            _set_cookie(request, exc, session)
        raise
    if session.changed or loaded is None:
        _set_cookie(request, response, session)
    return response


def markup_join(parts: list[Markup]) -> Markup:
    return Markup("").join(parts)
