"""The tables of the form catalogue (报表目录) and the platforms named in notices
(issue 18). Imported by ``intake.store.models``, which re-exports them.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from intake.store.columns import _json, _table, _ts
from intake.store.values import FormDecision

__all__ = ["CatalogueForm", "FormSend", "Platform", "PlatformMention", "FORMS", "FORM_SENDS", "PLATFORMS",
           "PLATFORM_MENTIONS"]


class CatalogueForm(SQLModel, table=True):
    """One form in the catalogue (报表目录): a department's form, its fields and the decision on it."""

    __tablename__ = "forms"
    __table_args__ = (sa.UniqueConstraint("name_key", "department", name="uq_forms_name_department"),)
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    name_key: str = Field(max_length=200, index=True)  # normalised name: what a notice is matched by
    department_id: int | None = Field(default=None, foreign_key="departments.id")
    department: str = Field(default="", max_length=64)  # "" when the notice named none
    fields: list[str] = _json(list)  # header cells as given
    field_keys: list[str] = _json(list)  # normalised (classifiers.forms.normalise_field)
    source: str = Field(max_length=16)  # FormSource
    recurrence: str | None = Field(default=None, max_length=16)
    decision: str = Field(default=FormDecision.pending.value, max_length=16)
    merge_into_id: int | None = Field(default=None, foreign_key="forms.id")
    decision_note: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: dt.datetime | None = _ts(nullable=True)
    repeat_of_id: int | None = Field(default=None, foreign_key="forms.id")  # 重复采集: the earlier form
    repeat_shared: int = 0  # how many of this form's fields the earlier one already collects
    first_task_id: int | None = Field(default=None, foreign_key="tasks.id")
    first_seen_at: dt.datetime = _ts()
    created_at: dt.datetime = _ts()


class FormSend(SQLModel, table=True):
    """A notice that sends a catalogued form to communities (its targets fill it in)."""

    __tablename__ = "form_sends"
    __table_args__ = (sa.UniqueConstraint("form_id", "task_id", name="uq_form_sends_form_task"),)
    id: int | None = Field(default=None, primary_key=True)
    form_id: int = Field(foreign_key="forms.id")  # uq_form_sends_form_task leads with it
    task_id: int = Field(foreign_key="tasks.id", index=True)
    received_at: dt.datetime = _ts(index=True)


class Platform(SQLModel, table=True):
    """A system, platform, app or mini program named in notices; admins rename and merge them."""

    __tablename__ = "platforms"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)  # as recognised: what a notice is matched by
    display_name: str = Field(max_length=64)
    merged_into_id: int | None = Field(default=None, foreign_key="platforms.id")
    created_at: dt.datetime = _ts()


class PlatformMention(SQLModel, table=True):
    """A notice that asks communities to type into a platform."""

    __tablename__ = "platform_mentions"
    __table_args__ = (sa.UniqueConstraint("platform_id", "task_id", name="uq_platform_mentions_platform_task"),)
    id: int | None = Field(default=None, primary_key=True)
    platform_id: int = Field(foreign_key="platforms.id")
    task_id: int = Field(foreign_key="tasks.id", index=True)
    received_at: dt.datetime = _ts(index=True)


FORMS = _table(CatalogueForm)
FORM_SENDS = _table(FormSend)
PLATFORMS = _table(Platform)
PLATFORM_MENTIONS = _table(PlatformMention)
