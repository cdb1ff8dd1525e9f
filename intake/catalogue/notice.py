"""What a notice carries for the catalogue: the forms it names (with the fields it lists) and the platforms.

A file sent as the notice (an Excel form, a Word form with a table) carries a form too: named after
the file, with the header row and sheet names as its fields.

``intake.tasks.create_task`` makes two small calls: :func:`check_notice` before the task is stored
(a stopped form refuses the notice) and :func:`record_notice` after (forms, sends, platforms).
A notice that names nothing costs two regular expressions and no query.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncConnection

from classifiers.forms import FormRules, find_field_list, find_form_names, find_platforms, load_form_rules
from intake.catalogue.forms import (
    FieldRepeat,
    FormEntry,
    add_form,
    add_form_send,
    form_name_from_file,
    get_stopped_form,
)
from intake.catalogue.platforms import add_platform_mentions
from intake.sources import NoticeSource
from intake.store.models import FormSource

__all__ = ["NoticeCatalogue", "CatalogueRecord", "get_form_rules", "read_notice", "check_notice", "record_notice"]


@lru_cache(maxsize=8)
def get_form_rules(paths: tuple[Path, ...] = ()) -> FormRules:
    """The form and platform rules (shipped forms.toml + the city's override files), read once per set of paths."""
    return load_form_rules(paths)


@dataclass(frozen=True)
class NoticeCatalogue:
    forms: tuple[str, ...]
    fields: tuple[str, ...]  # the columns the notice lists (for its first form)
    platforms: tuple[str, ...]
    stopped: FormEntry | None = None
    attached: bool = False  # the first form is the notice's attached file (named after it, its header as fields)

    @property
    def refusal_note(self) -> str | None:
        """The task's review note when a stopped form refuses it."""
        return None if self.stopped is None else f"报表目录停用:《{self.stopped.name}》"


@dataclass(frozen=True)
class CatalogueRecord:
    forms: tuple[FormEntry, ...] = ()
    repeats: tuple[FieldRepeat, ...] = ()
    merged: tuple[tuple[str, str], ...] = ()  # (form, merged into)


def read_notice(text: str, rules: FormRules, *, attachment: NoticeSource | None = None) -> NoticeCatalogue:
    """The forms a notice names and the platforms; an attached form (a file whose header row and sheet names
    were read) comes first, named after its file."""
    forms = find_form_names(text, rules)
    platforms = find_platforms(text, rules)
    if attachment is not None and attachment.fields and attachment.name:
        name = form_name_from_file(attachment.name)
        return NoticeCatalogue(forms=(name, *(f for f in forms if f != name)), fields=attachment.fields,
                               platforms=platforms, attached=True)
    return NoticeCatalogue(forms=forms, fields=find_field_list(text, rules) if forms else (), platforms=platforms)


async def check_notice(conn: AsyncConnection, *, text: str, rules: FormRules,
                       attachment: NoticeSource | None = None) -> NoticeCatalogue:
    """Read the notice; look up a stopped form only when it names or attaches one."""
    notice = read_notice(text, rules, attachment=attachment)
    if not notice.forms:
        return notice
    stopped = await get_stopped_form(conn, names=notice.forms)
    return dataclasses.replace(notice, stopped=stopped)


async def record_notice(
    conn: AsyncConnection,
    *,
    notice: NoticeCatalogue,
    task_id: int,
    department: str | None,
    department_id: int | None,
    recurrence: StrEnum | str | None,
    received_at: dt.datetime,
    rules: FormRules,
    actor: str,
) -> CatalogueRecord:
    """Register the named forms and their send; record the platforms."""
    if not notice.forms and not notice.platforms:
        return CatalogueRecord()
    entries: list[FormEntry] = []
    for index, name in enumerate(notice.forms):
        fields: Sequence[str] = notice.fields if index == 0 else ()
        source = FormSource.attachment if notice.attached and index == 0 else FormSource.notice
        entry = await add_form(conn, name=name, department=department, department_id=department_id, fields=fields,
                               source=source, now=received_at, rules=rules,
                               recurrence=None if recurrence is None else str(recurrence),
                               task_id=task_id, actor=actor)
        await add_form_send(conn, form_id=entry.id, task_id=task_id, received_at=received_at)
        entries.append(entry)
    await add_platform_mentions(conn, names=notice.platforms, task_id=task_id, received_at=received_at)
    return CatalogueRecord(
        forms=tuple(entries),
        repeats=tuple(e.repeat for e in entries if e.repeat is not None),
        merged=tuple((e.name, e.merge_into) for e in entries if e.decision == "merge" and e.merge_into),
    )
