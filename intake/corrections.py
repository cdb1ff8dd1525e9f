"""Corrections as labelled examples: the reader learns from what the admin decided (issue 13, part 4).

Every console correction, admission and refusal of a task writes one `correction_examples` row in
the same transaction: the notice text, its message time, the sender's department, the fields the
admin decided (in the labelled-corpus format of `jianfu eval`) and the rules version that read it.

Only what the admin decided is a label. A correction labels the fields it changed (listing and item
always together: an item belongs to a listing); an admission labels the listing and the item it
created; a refusal of an unlisted task labels it `unlisted` (the reader must hold it for review, never
admit it). Fields the admin did not touch are not labels: the deadline, for one, may have come from
the clerk's answer in the dialogue rather than from the text.

A task corrected twice has two rows; the newest states the admin's latest view and is the one scored.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from classifiers.similar import Example
from intake.store.models import ACCOUNTS, CORRECTION_EXAMPLES, DEPARTMENTS, TASKS

__all__ = [
    "CorrectionAction",
    "CorrectionExample",
    "add_correction_example",
    "build_eval_lines",
    "build_expect",
    "build_similar_examples",
    "list_correction_examples",
]


class CorrectionAction(StrEnum):
    correct = "correct"
    admit = "admit"
    refuse = "refuse"


# task columns -> labelled-corpus field
_FIELD_OF = {"quantity_value": "quantity", "quantity_unit": "quantity"}
_PAIRED = {"listing": "item", "item": "listing"}
_LABELLED_BY = {
    CorrectionAction.admit: ("listing", "item"),
    CorrectionAction.refuse: ("listing", "item"),
}


@dataclass(frozen=True)
class CorrectionExample:
    id: int
    task_code: str
    action: str
    text: str
    received_at: dt.datetime
    sender_department: str | None
    expect: dict[str, Any]
    rules_version: str
    actor: str
    created_at: dt.datetime


def _label(task: Any, field: str) -> Any:
    """One field of a task row as the labelled corpus writes it."""
    if field == "quantity":
        return None if task.quantity_value is None else {"value": task.quantity_value, "unit": task.quantity_unit}
    value = getattr(task, field)
    if field == "deadline":
        return value.isoformat() if value is not None else None
    if field == "deadline_time":
        return value.strftime("%H:%M") if value is not None else None
    return value


def build_expect(task: Any, *, action: CorrectionAction, fields: Iterable[str]) -> dict[str, Any]:
    """The labels a correction gives: the fields it changed (as corpus fields), listing and item together."""
    names = {_FIELD_OF.get(f, f) for f in fields if f != "nature"}
    names |= {_PAIRED[f] for f in names if f in _PAIRED}
    names |= set(_LABELLED_BY.get(action, ()))
    expect = {name: _label(task, name) for name in sorted(names)}
    if action is CorrectionAction.refuse:
        expect.update(listing="unlisted", item=None)  # refused after review: the reader must hold it, never admit it
    return expect


async def add_correction_example(
    conn: AsyncConnection, *, task_id: int, action: CorrectionAction, fields: Iterable[str], actor: str,
    now: dt.datetime,
) -> int | None:
    """Keep the task, as just corrected, as a labelled example; None when the change labels nothing."""
    task = (await conn.execute(
        sa.select(TASKS, DEPARTMENTS.c.name.label("sender_department"))
        .select_from(TASKS.outerjoin(ACCOUNTS, ACCOUNTS.c.id == TASKS.c.sender_id)
                     .outerjoin(DEPARTMENTS, DEPARTMENTS.c.id == ACCOUNTS.c.department_id))
        .where(TASKS.c.id == task_id)
    )).one()
    expect = build_expect(task, action=action, fields=fields)
    if not expect:
        return None
    result = await conn.execute(sa.insert(CORRECTION_EXAMPLES).values(
        task_id=task_id, action=action.value, text=task.raw_text, received_at=task.received_at,
        sender_department=task.sender_department, expect=expect, rules_version=task.rules_version or "",
        actor=actor, created_at=now,
    ).returning(CORRECTION_EXAMPLES.c.id))
    return int(result.scalar_one())


async def list_correction_examples(conn: AsyncConnection, *, latest_per_task: bool = True) -> list[CorrectionExample]:
    """Every kept correction, oldest first; with `latest_per_task`, only the newest of each task."""
    rows = (await conn.execute(
        sa.select(CORRECTION_EXAMPLES, TASKS.c.code)
        .join(TASKS, TASKS.c.id == CORRECTION_EXAMPLES.c.task_id)
        .order_by(CORRECTION_EXAMPLES.c.id)
    )).all()
    examples: dict[Any, CorrectionExample] = {}
    for row in rows:
        key = row.task_id if latest_per_task else row.id
        examples.pop(key, None)  # a newer correction of the same task replaces (and moves after) the older
        examples[key] = CorrectionExample(
            id=int(row.id), task_code=str(row.code), action=str(row.action), text=str(row.text),
            received_at=row.received_at, sender_department=row.sender_department, expect=dict(row.expect or {}),
            rules_version=str(row.rules_version), actor=str(row.actor), created_at=row.created_at,
        )
    return list(examples.values())


def build_eval_lines(examples: Iterable[CorrectionExample], *, tz: ZoneInfo) -> list[str]:
    """The examples as lines of a labelled corpus (the format of tests/data/dev.jsonl), read at the message's
    own local time."""
    return [
        json.dumps({
            "id": example.task_code, "text": example.text, "now": example.received_at.astimezone(tz).isoformat(),
            "sender_department": example.sender_department, "expect": example.expect,
        }, ensure_ascii=False)
        for example in examples
    ]


def build_similar_examples(examples: Iterable[CorrectionExample]) -> list[Example]:
    """The corrections as the second opinion's labelled notices (classifiers/similar.py), named by task code.

    Each votes only on what the admin decided: its kind when the kind was corrected, its item (None:
    unlisted) when the listing was. A correction of the deadline alone labels neither and is left out.
    """
    out: list[Example] = []
    for example in examples:
        expect = example.expect
        kind = expect.get("kind")
        labelled = "listing" in expect
        if not isinstance(kind, str) and not labelled:
            continue
        item = expect.get("item") if labelled else None
        out.append(Example(id=example.task_code, text=example.text, kind=kind if isinstance(kind, str) else None,
                           item=item if isinstance(item, str) else None, item_labelled=labelled))
    return out
