"""The catalogue as a list: each form with its sends, the communities that fill it and its submissions.

``list_catalogue`` serves the console page (all time) and the burden report (a year, a scope):
one GROUP BY over ``form_sends ⋈ task_targets``, then the forms themselves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.store.models import TASK_TARGETS, TASKS
from intake.store.models_catalogue import FORM_SENDS, FORMS

__all__ = ["CatalogueRow", "list_catalogue", "catalogue_statement"]


@dataclass(frozen=True)
class CatalogueRow:
    id: int
    name: str
    department: str
    fields: tuple[str, ...]
    field_keys: tuple[str, ...]
    source: str
    recurrence: str | None
    decision: str
    decision_note: str | None
    merge_into: str | None
    repeat_of: str | None
    repeat_of_department: str | None
    repeat_shared: int
    first_seen_at: dt.datetime
    sends: int  # notices that sent it
    communities: int  # distinct communities asked to fill it
    submissions: int  # (notice × community): each one a filled-in form
    listed_sends: int  # sends whose notice carries a list item (the item is then the 事项)

    @property
    def is_recurring(self) -> bool:
        return self.recurrence is not None or self.sends >= 2


def catalogue_statement(*, start: dt.datetime | None, end: dt.datetime | None,
                        community_ids: Sequence[int] | None) -> sa.Select[tuple[int, int, int, int, int]]:
    """Sends, communities, submissions and listed sends per form (in a period and scope when given).

    Two grouped reads joined by form: the sends with their notices' list item (one row per form × notice:
    ``form_sends`` is unique on the pair, so nothing needs de-duplicating), and the communities with their
    submissions (form × community first, then per form). One DISTINCT-free pass each, where three
    ``count(DISTINCT …)`` over form × notice × community took twice the time at a year of a district."""
    sends_where: list[Any] = []
    pairs_where: list[Any] = []
    if start is not None and end is not None:
        sends_where += [FORM_SENDS.c.received_at >= start, FORM_SENDS.c.received_at < end]
        pairs_where += [FORM_SENDS.c.received_at >= start, FORM_SENDS.c.received_at < end]
    if community_ids is not None:
        sends_where.append(FORM_SENDS.c.task_id.in_(
            sa.select(TASK_TARGETS.c.task_id).where(TASK_TARGETS.c.community_id.in_(list(community_ids)))))
        pairs_where.append(TASK_TARGETS.c.community_id.in_(list(community_ids)))
    sends = (sa.select(FORM_SENDS.c.form_id, sa.func.count().label("sends"), sa.func.count(TASKS.c.item).label("listed"))
             .select_from(FORM_SENDS.join(TASKS, TASKS.c.id == FORM_SENDS.c.task_id))
             .where(*sends_where).group_by(FORM_SENDS.c.form_id).subquery("sends"))
    pairs = (sa.select(FORM_SENDS.c.form_id, TASK_TARGETS.c.community_id, sa.func.count().label("n"))
             .select_from(FORM_SENDS.join(TASK_TARGETS, TASK_TARGETS.c.task_id == FORM_SENDS.c.task_id))
             .where(*pairs_where).group_by(FORM_SENDS.c.form_id, TASK_TARGETS.c.community_id).subquery("pairs"))
    reached = (sa.select(pairs.c.form_id, sa.func.count().label("communities"), sa.func.sum(pairs.c.n).label("submissions"))
               .group_by(pairs.c.form_id).subquery("reached"))
    return (sa.select(sends.c.form_id, sends.c.sends, sa.func.coalesce(reached.c.communities, 0).label("communities"),
                      sa.func.coalesce(reached.c.submissions, 0).label("submissions"), sends.c.listed)
            .select_from(sends.outerjoin(reached, reached.c.form_id == sends.c.form_id)))


async def list_catalogue(
    conn: AsyncConnection, *, start: dt.datetime | None = None, end: dt.datetime | None = None,
    community_ids: Sequence[int] | None = None, only_sent: bool = False,
) -> list[CatalogueRow]:
    """Every form (or only those sent in the period and scope), most submissions first."""
    counts = {int(r.form_id): (int(r.sends), int(r.communities), int(r.submissions), int(r.listed))
              for r in (await conn.execute(catalogue_statement(start=start, end=end, community_ids=community_ids))).all()}
    earlier = FORMS.alias("earlier")
    target = FORMS.alias("target")
    rows = (await conn.execute(
        sa.select(FORMS, earlier.c.name.label("repeat_name"), earlier.c.department.label("repeat_department"),
                  target.c.name.label("merge_name"))
        .select_from(FORMS.outerjoin(earlier, earlier.c.id == FORMS.c.repeat_of_id)
                     .outerjoin(target, target.c.id == FORMS.c.merge_into_id))
        .order_by(FORMS.c.first_seen_at, FORMS.c.id)
    )).all()
    out = []
    for r in rows:
        sends, communities, submissions, listed = counts.get(int(r.id), (0, 0, 0, 0))
        if only_sent and sends == 0:
            continue
        out.append(CatalogueRow(
            id=int(r.id), name=str(r.name), department=str(r.department), fields=tuple(r.fields or ()),
            field_keys=tuple(r.field_keys or ()), source=str(r.source), recurrence=r.recurrence, decision=str(r.decision), decision_note=r.decision_note,
            merge_into=r.merge_name, repeat_of=r.repeat_name, repeat_of_department=r.repeat_department,
            repeat_shared=int(r.repeat_shared), first_seen_at=r.first_seen_at, sends=sends, communities=communities,
            submissions=submissions, listed_sends=listed,
        ))
    return sorted(out, key=lambda row: (-row.submissions, row.first_seen_at, row.id))
