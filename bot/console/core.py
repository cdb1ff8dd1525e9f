"""The console's plumbing: sessions, login and CSRF checks, roles, rendering and friendly error pages."""

from __future__ import annotations

import datetime as dt
import hmac
import json
import time
from collections import deque
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
from intake.console_users import AdminView, get_admin_by_id
from intake.context import Services

__all__ = [
    "CODECS",
    "codec_of",
    "LIMITER",
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
    "LoginLimiter",
]

CODECS = web.AppKey("console_codecs", dict[str, SessionCodec])
PUBLIC_ROUTES = frozenset({"login", "static"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginLimiter:
    """Failed logins per client address in a sliding window (the per-user lock lives in the database)."""

    def __init__(self, *, limit: int = 20, window_s: float = 900.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}

    def _trim(self, key: str, now: float) -> deque[float]:
        q = self._failures.setdefault(key, deque())
        while q and q[0] < now - self.window_s:
            q.popleft()
        return q

    def blocked(self, key: str, *, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        return len(self._trim(key, now)) >= self.limit

    def failed(self, key: str, *, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._trim(key, now).append(now)
        if len(self._failures) > 10_000:  # bounded memory under a spray of addresses
            self._failures.clear()

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)


LIMITER = web.AppKey("console_limiter", LoginLimiter)
SESSION = web.RequestKey("console_session", Session)
USER = web.RequestKey("console_user", AdminView)


def codec_of(request: web.Request) -> SessionCodec:
    """The session codec for the configured secret (built once per secret)."""
    secret = settings_of(request).server.session_secret
    codecs = request.app[CODECS]
    if secret not in codecs:
        codecs[secret] = SessionCodec(secret)
    return codecs[secret]


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


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Load the session and user; require login, a CSRF token on every write, and a writing role."""
    codec = codec_of(request)
    loaded = codec.loads(request.cookies.get(SESSION_COOKIE))
    session = loaded or Session(changed=True)
    request[SESSION] = session
    route = request.match_info.route.name or ""
    try:
        if route == "static":
            return await handler(request)
        if session.user_id is not None:
            async with services_of(request).engine.connect() as conn:
                user = await get_admin_by_id(conn, user_id=session.user_id)
            if user is None or not user.active or not hmac.compare_digest(
                session.credential, codec.credential_of(user.password_hash)
            ):
                session.logout()  # deactivated, deleted, or the password was reset since this login
            else:
                request[USER] = user
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
        response = await handler(request)
    except web.HTTPException as exc:
        if session.changed:
            _set_cookie(request, exc, session)
        raise
    if session.changed or loaded is None:
        _set_cookie(request, response, session)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'",
    )
    return response


def markup_join(parts: list[Markup]) -> Markup:
    return Markup("").join(parts)
