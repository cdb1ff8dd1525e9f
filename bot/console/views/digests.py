"""Monthly digests in the console: the archive, one digest as a page, its chart (PNG), workbook and JSON.

``/admin/digests/{month}/{scope}`` is the link the chat digest carries
(``intake.reports.monthly.digest_link``); ``scope`` is ``district``, ``street:ID`` or a community's name.
A month the monthly run sent is served from its archive (``digests``, the JSON the recipients' message
was made from: the page shows what they received, at once, whatever the log's size). ``?fresh=1``, and
any month without an archive, builds the digest from the log with the digest module's own builder and
renderers, so it always agrees with ``jianfu digest``.

A month over a million-task log takes seconds to build (37 s at 10,000,000 tasks on PostgreSQL), and
opening one page asks for the page, its chart and maybe the workbook: each process builds a digest once
in the background (one build per month and scope, whoever asks) and keeps it for :data:`KEEP_S`
seconds. A request waits for the build at most ``[server] digest_wait_s`` (0.25 s); a longer build answers 202 with
a page that refreshes itself until the digest is there (the chart, workbook and JSON answer 202 with
a line saying to try again), so no request hangs on a long build.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.console import queries, texts
from bot.console.core import fail, now_utc, render, services_of, url
from bot.console.markdown import markdown_to_html
from bot.console.scoping import read_conn, run_scoped, scope_of
from bot.console.shared import XLSX, int_param
from intake.calendar import month_key, parse_month, shift_month
from intake.errors import BadFilter, NotFound
from intake.reports import chart
from intake.reports import digest as digests
from intake.reports import render as formats
from intake.reports.streets import build_street_digest, street_id_of, street_scope
from intake.store.models import COMMUNITIES, DIGESTS
from intake.store.values import OrgLevel

__all__ = ["digest_url", "BuiltDigests", "BUILT", "DigestBuilding", "close_built"]


KEEP_S = 60.0  # how long a built digest is served again (the page, its chart, its workbook)
KEEP_MAX = 32
REFRESH_S = 2  # how often the "being built" page reloads itself


class BuiltDigests:
    """Digests built in the last KEEP_S seconds, and the builds under way, by (month, scope)."""

    def __init__(self, *, wait_s: float = 0.25) -> None:
        self.wait_s = wait_s  # how long a request waits for a build before it answers "being built"
        self._kept: dict[tuple[str, str], tuple[float, digests.Digest]] = {}
        self._building: dict[tuple[str, str], asyncio.Task[digests.Digest]] = {}

    def building(self, key: tuple[str, str], build: Callable[[], Awaitable[digests.Digest]]
                 ) -> asyncio.Task[digests.Digest]:
        """The build of `key` under way, or a new one started with `build` (kept here once it is done)."""
        task = self._building.get(key)
        if task is None:
            task = asyncio.ensure_future(build())
            self._building[key] = task
            task.add_done_callback(lambda done: self._done(key, done))
        return task

    def _done(self, key: tuple[str, str], task: asyncio.Task[digests.Digest]) -> None:
        self._building.pop(key, None)
        if not task.cancelled() and task.exception() is None:  # a failed build is answered to whoever waits
            self.put(key, task.result(), time.monotonic())

    async def close(self) -> None:
        """Stop the builds under way (app cleanup)."""
        tasks = list(self._building.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def get(self, key: tuple[str, str], now: float) -> digests.Digest | None:
        found = self._kept.get(key)
        return found[1] if found is not None and now - found[0] < KEEP_S else None

    def put(self, key: tuple[str, str], digest: digests.Digest, now: float) -> None:
        self._kept = {k: v for k, v in self._kept.items() if now - v[0] < KEEP_S}
        if len(self._kept) >= KEEP_MAX:
            self._kept.pop(min(self._kept, key=lambda k: self._kept[k][0]))
        self._kept[key] = (now, digest)


BUILT = web.AppKey("console_built_digests", BuiltDigests)


async def close_built(app: web.Application) -> None:
    await app[BUILT].close()


def digest_url(request: web.Request, month: str, scope: str, name: str = "digest_page") -> str:
    return url(request, name, month=month, scope=scope)


async def handle_digests(request: web.Request) -> web.StreamResponse:
    async with read_conn(request) as conn:
        archived = await queries.list_digests(conn)
        communities = (await conn.execute(
            sa.select(COMMUNITIES.c.name).where(COMMUNITIES.c.active.is_(True)).order_by(COMMUNITIES.c.id))).scalars().all()
    month = shift_month(month_key(now_utc(), services_of(request).settings.tz), -1)
    return render(request, "digests.html", {"digests": archived, "communities": list(communities),
                                            "last_month": month, "district_scope": _area_scope(request),
                                            "area_label": texts.AREA_STREET if scope_of(request).level is OrgLevel.street
                                            else texts.AREA_DISTRICT})


def _area_scope(request: web.Request) -> str:
    """The widest digest the user may open: the district's, or their street's (``street:ID``)."""
    scope = scope_of(request)
    return street_scope(scope.id) if scope.level is OrgLevel.street and scope.id else digests.DISTRICT


async def handle_digest_by_id(request: web.Request) -> web.StreamResponse:
    """Old archive links (by row id) lead to the month/scope page."""
    digest_id = int_param(request, message="月报编号应当是数字,请从月报存档进入。")
    async with read_conn(request) as conn:
        row = (await conn.execute(sa.select(DIGESTS.c.month, DIGESTS.c.scope).where(DIGESTS.c.id == digest_id))).first()
    if row is None:
        fail(request, 404, f"没有编号为 {digest_id} 的月报,请从月报存档进入。")
    raise web.HTTPSeeOther(digest_url(request, str(row.month), str(row.scope)))


async def handle_digest_view(request: web.Request) -> web.StreamResponse:
    """The archive's "open any month" form (GET month, scope) → the digest's own address."""
    month = request.query.get("month", "").strip()
    scope = request.query.get("scope", "").strip() or _area_scope(request)
    _check_month(request, month)
    raise web.HTTPSeeOther(digest_url(request, month, scope))


def _check_month(request: web.Request, month: str) -> None:
    try:
        parse_month(month)
    except BadFilter as exc:
        fail(request, 400, str(exc))


def is_fresh(request: web.Request) -> bool:
    """``?fresh=1``: build from the log as it is now, not the archived digest."""
    return request.query.get("fresh") == "1"


async def _build(request: web.Request) -> tuple[digests.Digest, Any]:
    """(digest of the URL's month and scope, archived row or None); 400/404 with what to do. The archive,
    read through the user's scope (a street admin reads only their street's and communities' digests),
    unless ``?fresh=1``."""
    month, scope = request.match_info["month"], request.match_info["scope"]
    _check_month(request, month)
    async with read_conn(request) as conn:
        archived = (await conn.execute(sa.select(DIGESTS.c.id, DIGESTS.c.created_at, DIGESTS.c.content).where(
            DIGESTS.c.month == month, DIGESTS.c.scope == scope))).first()
    if archived is not None and not is_fresh(request):
        try:
            return formats.from_json(archived.content), archived
        except (KeyError, TypeError, ValueError):  # an archive in an older shape: built from the log instead
            pass
    return await _build_from_log(request, month, scope), archived


async def _build_from_log(request: web.Request, month: str, scope: str) -> digests.Digest:
    services = services_of(request)
    kept = request.app[BUILT]
    now = time.monotonic()
    key = (month, f"{scope}@{scope_of(request).key}")  # a street admin's build is not the district's
    built = kept.get(key, now)
    if built is None:
        community = None if scope == digests.DISTRICT else scope
        when = now_utc()

        async def build(conn: AsyncConnection) -> digests.Digest:
            street = street_id_of(scope)
            if street is not None:  # the district's digest on the street's rows (intake.reports.streets)
                return await build_street_digest(conn, month=month, street_id=street, settings=services.settings,
                                                 now=when)
            return await digests.build_digest(conn, month=month, settings=services.settings, community=community,
                                              now=when)

        task = kept.building(key, lambda: run_scoped(request, build))
        try:
            built = await asyncio.wait_for(asyncio.shield(task), timeout=kept.wait_s)
        except TimeoutError:
            raise DigestBuilding() from None
        except NotFound:
            fail(request, 404, texts.DIGEST_BAD_SCOPE.format(scope=scope))
    return built


class DigestBuilding(Exception):
    """The digest asked for is being built in the background and took longer than the wait."""


def _building_answer(request: web.Request, *, page: bool) -> web.StreamResponse:
    if not page:
        return web.Response(status=202, text=texts.DIGEST_BUILDING, content_type="text/plain", charset="utf-8",
                            headers={"Retry-After": str(REFRESH_S)})
    month, scope = request.match_info["month"], request.match_info["scope"]
    return render(request, "building.html", {"title": f"{month} 月报 · {scope}", "refresh_s": REFRESH_S,
                                             "here": str(request.rel_url)}, status=202)


async def handle_digest_page(request: web.Request) -> web.StreamResponse:
    try:
        digest, archived = await _build(request)
    except DigestBuilding:
        return _building_answer(request, page=True)
    month, scope = digest.month, request.match_info["scope"]
    markdown = formats.render_markdown(digest)
    fresh = archived is None or is_fresh(request)
    return render(request, "digest.html", {
        "digest": digest, "scope": scope, "archived": archived, "fresh": fresh,
        "fresh_url": digest_url(request, month, scope) + "?fresh=1",
        "body": markdown_to_html(markdown), "markdown": markdown,
        "chart_url": digest_url(request, month, scope, "digest_chart") + ("?fresh=1" if is_fresh(request) else ""),
        "xlsx_url": digest_url(request, month, scope, "digest_xlsx") + ("?fresh=1" if is_fresh(request) else ""),
        "json_url": digest_url(request, month, scope, "digest_json") + ("?fresh=1" if is_fresh(request) else ""),
        "prev_url": digest_url(request, shift_month(month, -1), scope),
        "next_url": digest_url(request, shift_month(month, 1), scope),
    })


def _render_file(digest: digests.Digest, kind: str) -> bytes:
    """The chart PNG or the workbook, written to a temporary file by the digest module and read back."""
    with tempfile.TemporaryDirectory(prefix="jianfu-digest-") as folder:
        path = Path(folder) / f"digest.{kind}"
        if kind == "png":
            chart.render_chart_png(digest, path)
        else:
            formats.write_xlsx(digest, path)
        return path.read_bytes()


def _filename(digest: digests.Digest, suffix: str) -> str:
    return f"attachment; filename=digest-{digest.month}.{suffix}; filename*=UTF-8''{quote(digest.title)}.{suffix}"


async def handle_digest_chart(request: web.Request) -> web.StreamResponse:
    try:
        digest, _ = await _build(request)
    except DigestBuilding:
        return _building_answer(request, page=False)
    try:
        data = await asyncio.get_running_loop().run_in_executor(None, _render_file, digest, "png")
    except chart.CjkFontMissing:
        return web.Response(status=503, text=texts.CHART_NO_FONT, content_type="text/plain", charset="utf-8")
    return web.Response(body=data, content_type="image/png", headers={"Cache-Control": "private, max-age=300"})


async def handle_digest_xlsx(request: web.Request) -> web.StreamResponse:
    try:
        digest, _ = await _build(request)
    except DigestBuilding:
        return _building_answer(request, page=False)
    data = await asyncio.get_running_loop().run_in_executor(None, _render_file, digest, "xlsx")
    return web.Response(body=data, content_type=XLSX, headers={"Content-Disposition": _filename(digest, "xlsx")})


async def handle_digest_json(request: web.Request) -> web.StreamResponse:
    try:
        digest, _ = await _build(request)
    except DigestBuilding:
        return _building_answer(request, page=False)
    return web.json_response(formats.to_json(digest), dumps=_dumps)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)
