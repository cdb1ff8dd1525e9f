"""The form catalogue (报表目录): forms registered from notices, attachments and the console.

A form is one department's form, keyed by its normalised name. Each notice that sends it adds a
:class:`~intake.store.models.FormSend`; the task's targets are the communities that fill it in.
A form whose fields largely repeat an earlier form's (any department) is marked 重复采集 with the
earlier form and the number of shared fields (:func:`find_field_repeat`). Admins decide keep,
merge into another form, or stop; a notice that sends a stopped form is refused
(:func:`get_stopped_form`, called by ``intake.tasks.create_task``).

Repository functions: keyword-only, take the connection, never commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from classifiers.forms import FormRules, normalise_fields, normalise_name
from intake.audit import add_audit
from intake.errors import InvalidRequest, NotFound
from intake.store.models import FormDecision, FormSource
from intake.store.models_catalogue import FORM_SENDS, FORMS

__all__ = [
    "FieldRepeat",
    "FormEntry",
    "add_form",
    "form_name_from_file",
    "add_form_send",
    "find_field_repeat",
    "get_form",
    "get_stopped_form",
    "update_form_decision",
]

_SPREADSHEET_SUFFIXES = (".xlsx", ".xls", ".xlsm", ".csv", ".et", ".docx", ".doc", ".wps", ".pdf")


@dataclass(frozen=True)
class FieldRepeat:
    """重复采集 at field level: ``shared`` of the new form's ``total`` fields are in ``earlier``."""

    form_id: int
    form: str
    earlier_id: int
    earlier: str
    earlier_department: str
    earlier_on: dt.datetime
    shared: int
    total: int
    shared_fields: tuple[str, ...]


@dataclass(frozen=True)
class FormEntry:
    id: int
    name: str
    department: str
    fields: tuple[str, ...]
    decision: str
    decision_note: str | None
    merge_into: str | None
    created: bool
    repeat: FieldRepeat | None


def _row_to_entry(row: Any, *, created: bool, merge_into: str | None,
                  repeat: FieldRepeat | None) -> FormEntry:
    m = row._mapping
    return FormEntry(
        id=int(m["id"]), name=str(m["name"]), department=str(m["department"]), fields=tuple(m["fields"] or ()),
        decision=str(m["decision"]), decision_note=m["decision_note"], merge_into=merge_into, created=created,
        repeat=repeat,
    )


async def find_field_repeat(
    conn: AsyncConnection, *, form_id: int, field_keys: Sequence[str], rules: FormRules
) -> FieldRepeat | None:
    """The earlier form (any department) that already collects most of these fields, if enough do.

    Enough: at least ``[repeat] min_fields`` shared fields and at least ``[repeat] share`` of this
    form's fields. Ties go to the earliest form. The catalogue holds hundreds of forms, not millions:
    one read of their keys, compared as sets.
    """
    keys = set(field_keys)
    if len(keys) < rules.repeat_min_fields:
        return None
    rows = (await conn.execute(
        sa.select(FORMS.c.id, FORMS.c.name, FORMS.c.department, FORMS.c.field_keys, FORMS.c.first_seen_at)
        .where(FORMS.c.id != form_id).order_by(FORMS.c.first_seen_at, FORMS.c.id)
    )).all()
    best: tuple[int, Any] | None = None
    for row in rows:
        shared = len(keys & set(row.field_keys or ()))
        if best is None or shared > best[0]:
            best = (shared, row)
    if best is None or best[0] < rules.repeat_min_fields or best[0] / len(keys) < rules.repeat_share:
        return None
    shared_count, row = best
    name = (await conn.execute(sa.select(FORMS.c.name).where(FORMS.c.id == form_id))).scalar_one()
    ordered = tuple(k for k in field_keys if k in set(row.field_keys or ()))
    return FieldRepeat(form_id=form_id, form=str(name), earlier_id=int(row.id), earlier=str(row.name),
                       earlier_department=str(row.department), earlier_on=row.first_seen_at, shared=shared_count,
                       total=len(keys), shared_fields=ordered)


async def _merge_target_name(conn: AsyncConnection, merge_into_id: int | None) -> str | None:
    if merge_into_id is None:
        return None
    return (await conn.execute(sa.select(FORMS.c.name).where(FORMS.c.id == merge_into_id))).scalar_one_or_none()


async def add_form(
    conn: AsyncConnection,
    *,
    name: str,
    department: str | None,
    department_id: int | None,
    fields: Sequence[str],
    source: FormSource,
    now: dt.datetime,
    rules: FormRules,
    recurrence: str | None = None,
    task_id: int | None = None,
    actor: str = "system",
) -> FormEntry:
    """Register a form, or bring an existing one (same name, same department) up to date.

    New fields (an attachment's header row after a notice named the form) are added to the form's
    own; the field-level repeat is checked whenever the fields change.
    """
    key = normalise_name(name)
    if not key:
        raise InvalidRequest("表格名称为空,请填写表格名称。")
    dept = department or ""
    keys = normalise_fields(fields, rules)
    row = (await conn.execute(sa.select(FORMS).where(FORMS.c.name_key == key, FORMS.c.department == dept))).first()
    created = row is None
    if row is None:
        form_id = int((await conn.execute(sa.insert(FORMS).values(
            name=key, name_key=key, department_id=department_id, department=dept, fields=list(fields),
            field_keys=list(keys), source=source.value, recurrence=recurrence, decision=FormDecision.pending.value,
            repeat_shared=0, first_task_id=task_id, first_seen_at=now, created_at=now,
        ).returning(FORMS.c.id))).scalar_one())
        await add_audit(conn, actor=actor, entity="form", entity_id=form_id, action="register",
                        after={"name": key, "department": dept, "source": source.value, "fields": len(keys)}, now=now)
        changed = bool(keys)
    else:
        form_id = int(row.id)
        old_keys = list(row.field_keys or ())
        new_keys = [k for k in keys if k not in old_keys]
        changed = bool(new_keys)
        values: dict[str, object] = {}
        if changed:
            old_fields = list(row.fields or ())
            values |= {"fields": old_fields + [f for f in fields if f not in old_fields],
                       "field_keys": old_keys + new_keys}
        if recurrence and not row.recurrence:
            values["recurrence"] = recurrence
        if values:
            await conn.execute(sa.update(FORMS).where(FORMS.c.id == form_id).values(**values))
        keys = tuple(old_keys + new_keys)
    repeat = await find_field_repeat(conn, form_id=form_id, field_keys=keys, rules=rules) if changed else None
    if repeat is not None:
        await conn.execute(sa.update(FORMS).where(FORMS.c.id == form_id)
                           .values(repeat_of_id=repeat.earlier_id, repeat_shared=repeat.shared))
    fresh = (await conn.execute(sa.select(FORMS).where(FORMS.c.id == form_id))).one()
    return _row_to_entry(fresh, created=created, merge_into=await _merge_target_name(conn, fresh.merge_into_id),
                         repeat=repeat)


def form_name_from_file(filename: str) -> str:
    """高龄老人登记表.xlsx → 高龄老人登记表 (the attachment's name names the form)."""
    name = filename.rsplit("/", 1)[-1]
    lower = name.lower()
    for suffix in _SPREADSHEET_SUFFIXES:
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name


async def add_form_send(conn: AsyncConnection, *, form_id: int, task_id: int, received_at: dt.datetime) -> None:
    exists = (await conn.execute(sa.select(FORM_SENDS.c.id).where(
        FORM_SENDS.c.form_id == form_id, FORM_SENDS.c.task_id == task_id))).first()
    if exists is None:
        await conn.execute(sa.insert(FORM_SENDS).values(form_id=form_id, task_id=task_id, received_at=received_at))


async def get_form(conn: AsyncConnection, *, form_id: int) -> FormEntry:
    row = (await conn.execute(sa.select(FORMS).where(FORMS.c.id == form_id))).first()
    if row is None:
        raise NotFound(f"表格 {form_id}")
    return _row_to_entry(row, created=False, merge_into=await _merge_target_name(conn, row.merge_into_id),
                         repeat=None)


async def get_stopped_form(conn: AsyncConnection, *, names: Sequence[str]) -> FormEntry | None:
    """The first of these form names that the catalogue has stopped (for any department), if any."""
    keys = [normalise_name(n) for n in names if normalise_name(n)]
    if not keys:
        return None
    row = (await conn.execute(
        sa.select(FORMS).where(FORMS.c.name_key.in_(keys), FORMS.c.decision == FormDecision.stop.value)
        .order_by(FORMS.c.decided_at.desc(), FORMS.c.id).limit(1)
    )).first()
    return None if row is None else _row_to_entry(row, created=False, merge_into=None, repeat=None)


async def update_form_decision(
    conn: AsyncConnection,
    *,
    form_id: int,
    decision: FormDecision,
    merge_into_id: int | None,
    note: str | None,
    actor: str,
    now: dt.datetime,
) -> FormEntry:
    """Keep, merge into another form, or stop; audited. Merging needs a different, not-stopped target."""
    before = await get_form(conn, form_id=form_id)
    if decision == FormDecision.merge:
        if merge_into_id is None or merge_into_id == form_id:
            raise InvalidRequest("并入:请选择另一张表作为并入对象。")
        target = await get_form(conn, form_id=merge_into_id)
        if target.decision == FormDecision.stop.value:
            raise InvalidRequest(f"《{target.name}》已停用,不能作为并入对象。")
    else:
        merge_into_id = None
    await conn.execute(sa.update(FORMS).where(FORMS.c.id == form_id).values(
        decision=decision.value, merge_into_id=merge_into_id, decision_note=(note or "").strip() or None,
        decided_by=actor, decided_at=now,
    ))
    await add_audit(conn, actor=actor, entity="form", entity_id=form_id, action="decide",
                    before={"decision": before.decision}, after={"decision": decision.value,
                                                                 "merge_into_id": merge_into_id, "note": note},
                    now=now)
    return await get_form(conn, form_id=form_id)
