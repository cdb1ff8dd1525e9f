"""The monthly run: build every digest of the month off the event loop, archive it and queue its messages."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.calendar import digest_month_due
from intake.links import build_digest_link
from intake.reports.chart import chart_pool, render_charts
from intake.reports.digest import build_monthly_digests
from intake.reports.digest_times import DigestSlot, list_digest_places
from intake.reports.model import DISTRICT, Digest
from intake.reports.render import render_chat_text, to_json
from intake.reports.runner import run_report
from intake.reports.safety import slug
from intake.reports.streets import build_street_digests, list_street_recipients, street_id_of
from intake.store.models import COMMUNITIES, DIGESTS

if TYPE_CHECKING:
    from intake.context import Services

__all__ = ["archive_digest", "digest_link", "send_monthly_digests"]


async def archive_digest(conn: AsyncConnection, *, digest: Digest, now: dt.datetime) -> None:
    """Store (or replace) the digest's JSON in ``digests`` (unique per month and scope)."""
    existing = (
        await conn.execute(
            sa.select(DIGESTS.c.id).where(DIGESTS.c.month == digest.month, DIGESTS.c.scope == digest.scope)
        )
    ).scalar_one_or_none()
    content = to_json(digest)
    if existing is None:
        await conn.execute(sa.insert(DIGESTS).values(month=digest.month, scope=digest.scope, content=content,
                                                       created_at=now))
    else:
        await conn.execute(sa.update(DIGESTS).where(DIGESTS.c.id == existing).values(content=content))


def _chat_link(services: Services, digest: Digest, *, now: dt.datetime) -> str:
    """A community head's link opens the digest alone (signed, expiring); the district's goes to the console."""
    if digest.is_district or not services.link_secret:
        return digest_link(services.public_url, month=digest.month, scope=digest.scope)
    expires = now + dt.timedelta(days=services.settings.links.digest_days)
    return build_digest_link(services.public_url, services.link_secret, community=digest.scope, month=digest.month,
                             expires_at=expires)


def digest_link(public_url: str, *, month: str, scope: str) -> str:
    return f"{public_url.rstrip('/')}/admin/digests/{month}/{scope}"


async def _queue_digest(conn: AsyncConnection, *, services: Services, digest: Digest, chart: Path | None,
                        link: str, text: str, now: dt.datetime) -> None:
    """One digest's messages to its recipients (and its chart to group robots), then its archive row."""
    from intake.outbox import add_outbox_message, list_admin_recipients, list_community_recipients

    settings = services.settings
    if digest.tasks:
        street = street_id_of(digest.scope)
        if street is not None:  # a street's digest: to the street's own admins
            recipients = await list_street_recipients(conn, street_id=street, configured=settings.notify.admins)
        elif digest.is_district:
            recipients = await list_admin_recipients(conn, configured=settings.notify.admins)
        else:
            cid = (await conn.execute(
                sa.select(COMMUNITIES.c.id).where(COMMUNITIES.c.name == digest.scope))).scalar_one()
            recipients = await list_community_recipients(conn, community_id=int(cid), configured=settings.notify.heads)
        for rcp in recipients:
            payload: dict[str, Any] = {"month": digest.month, "scope": digest.scope, "link": link,
                                       "format": "markdown",
                                       "fields": {"month": digest.month, "tasks": str(digest.tasks)}}
            if rcp.webhook:
                payload["webhook"] = rcp.webhook
            key = f"digest:{digest.month}:{digest.scope}:{rcp.channel}:{rcp.recipient}"
            await add_outbox_message(
                conn, idempotency_key=key, channel=rcp.channel, recipient=rcp.recipient, kind="digest",
                subject=digest.title, body=text, account_id=rcp.account_id, community_id=rcp.community_id,
                payload=payload, now=now,
            )
            if chart is not None and rcp.channel == "wecom_robot":
                await add_outbox_message(
                    conn, idempotency_key=key + ":chart", channel=rcp.channel, recipient=rcp.recipient,
                    kind="digest_chart", subject=digest.title, body=digest.title,
                    community_id=rcp.community_id, payload={**payload, "image_path": str(chart)}, now=now,
                )
    await archive_digest(conn, digest=digest, now=now)


async def send_monthly_digests(services: Services, *, now: dt.datetime, only_if_due: bool = True,
                               month: str | None = None, slot: DigestSlot | None = None) -> int:
    """Build, archive and queue the digests of the previous month (or `month`); returns how many were built.

    `slot` (the scheduler's: one per district digest time) keeps to its districts' digests, due at its
    own day and hour; None sends every digest at [schedule]'s time.
    The digests are built on the report runner's thread (off this loop) and the charts in a worker thread.
    Idempotent: the default slot's district digest is archived last and marks the month done (another
    slot sends only its digests not archived yet); the outbox's idempotency keys keep messages single.
    """
    settings = services.settings
    schedule = settings.schedule
    if month is None:
        day, hour = (slot.day, slot.hour) if slot is not None else (schedule.digest_day, schedule.digest_hour)
        month = digest_month_due(now=now, day=day, hour=hour, tz=settings.tz)
        if month is None:
            return 0
    default = slot is None or slot.default
    if only_if_due and default and DISTRICT in await _archived(services, month=month):
        return 0

    async def build(conn: AsyncConnection) -> tuple[list[Digest], dict[str, int | None]]:
        built = [*await build_monthly_digests(conn, month=month, settings=settings, now=now),
                 *await build_street_digests(conn, month=month, settings=settings, now=now)]
        return built, await list_digest_places(conn)

    built, places = await run_report(services.reports, services.engine, build)
    chosen = [d for d in built if slot is None or slot.sends(None if d.scope == DISTRICT else places.get(d.scope))]
    if only_if_due and not default:  # another district's time: done once its digests are archived
        done = await _archived(services, month=month)
        chosen = [d for d in chosen if d.scope not in done]
    # the deployment's own digest (when this slot sends it) is queued last: its archive marks the month done
    chosen.sort(key=lambda d: d.scope == DISTRICT)
    out_dir = settings.base_dir / schedule.digest_dir
    charts = await _draw_charts([(d, out_dir / f"{month}-{slug(d.scope)}.png") for d in chosen if d.tasks])
    for digest in chosen:
        link = _chat_link(services, digest, now=now)
        text = render_chat_text(digest, limit_bytes=schedule.digest_chat_bytes, link=link)
        await services.writer.submit(functools.partial(
            _queue_digest, services=services, digest=digest, chart=charts.get(digest.scope), link=link, text=text,
            now=now))
    return len(chosen)


async def _archived(services: Services, *, month: str) -> set[str]:
    async with services.engine.connect() as conn:
        return set((await conn.execute(sa.select(DIGESTS.c.scope).where(DIGESTS.c.month == month))).scalars())


async def _draw_charts(jobs: list[tuple[Digest, Path]]) -> dict[str, Path]:
    """The month's charts, drawn in a worker process (never in this process, whose loop answers WeChat)."""
    if not jobs:
        return {}
    with chart_pool() as pool:
        paths = await asyncio.get_running_loop().run_in_executor(pool, render_charts, jobs)
    return {digest.scope: path for (digest, _), path in zip(jobs, paths, strict=True)}
