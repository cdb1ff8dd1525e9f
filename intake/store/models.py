"""The tables. SQLModel over SQLAlchemy; the same definitions serve SQLite and PostgreSQL.

Every timestamp is timezone-aware (stored as UTC). Enumerated values are stored as their string values
so that the lists can grow without migrations. Migrations live in ``intake/store/migrations`` and are generated from this metadata.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from intake.store.columns import AwareDateTime, _json, _table, _ts, utcnow
from intake.store.values import (
    ConsoleRole,
    CounterKind,
    FormDecision,
    FormSource,
    OutboxStatus,
    Role,
    TargetStatus,
    TaskSource,
    TaskStatus,
)

__all__ = [  # the tables of models_catalogue, models_community and models_console are re-exported too
    "AwareDateTime", "Role", "ConsoleRole", "TaskStatus", "TargetStatus", "TaskSource", "CounterKind",
    "OutboxStatus", "District", "Street", "OrgImport", "Department", "Community", "Account", "Invite", "Task",
    "TaskTarget", "Reminder", "TaskReport", "CounterEntry", "Rating", "AuditEntry", "ProcessedMessage",
    "TaskCodeCounter", "OutboxMessage", "AdminUser", "RuleVersion", "CorrectionExample", "DigestArchive",
    "TASK_REPORTS", "COUNTER_ENTRIES", "RollupMonth", "MonthRollup", "ROLLUP_MONTHS", "MONTH_ROLLUPS",
    "OpenMonthFigures", "OPEN_MONTH_FIGURES",
    "CONSOLE_SESSIONS", "LOGIN_THROTTLE", "ConsoleSession", "LoginThrottle", "FormDecision", "FormSource",
    "CatalogueForm", "FormSend", "Platform", "PlatformMention", "utcnow", "UPLOAD_TICKETS", "UploadTicket",
    "DIRECTORY_VERSION", "DirectoryVersion",
]


class District(SQLModel, table=True):
    """A district (区), optionally of a city: the unit a deployment's lists, digests and schedule belong to."""

    __tablename__ = "districts"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    city: str | None = Field(default=None, max_length=64)
    # the district's own monthly digest time (config.toml [[district]] digest_day/digest_hour); None: [schedule]'s
    digest_day: int | None = None
    digest_hour: int | None = None
    created_at: dt.datetime = _ts()


class Street(SQLModel, table=True):
    """A street (街道) of a district; its communities hang under it."""

    __tablename__ = "streets"
    __table_args__ = (sa.UniqueConstraint("district_id", "name", name="uq_streets_district_name"),)
    id: int | None = Field(default=None, primary_key=True)
    district_id: int = Field(foreign_key="districts.id")  # uq_streets_district_name leads with it
    name: str = Field(max_length=64)
    created_at: dt.datetime = _ts()


class Department(SQLModel, table=True):
    """A department of the city, of a district, or of a street (a street office such as 街道社区服务中心)."""

    __tablename__ = "departments"
    __table_args__ = (
        sa.UniqueConstraint("name", "level", "district_id", "street_id", name="uq_departments_level_name"),
    )
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, index=True)
    level: str = Field(default="district", max_length=16, sa_column_kwargs={"server_default": "district"})  # OrgLevel
    district_id: int | None = Field(default=None, foreign_key="districts.id", index=True)  # None: a city department
    street_id: int | None = Field(default=None, foreign_key="streets.id")  # only for level street
    active: bool = True
    created_at: dt.datetime = _ts()


class Community(SQLModel, table=True):
    __tablename__ = "communities"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True, index=True)
    street_id: int | None = Field(default=None, foreign_key="streets.id", index=True)
    staff: int = 8
    robot_webhook: str | None = Field(default=None, max_length=512)
    active: bool = True
    created_at: dt.datetime = _ts()


class OrgImport(SQLModel, table=True):
    """One version of the organisation tree: who changed it, how (config, console, xlsx), and what changed."""

    __tablename__ = "org_imports"
    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=255)  # "config", "console", or the imported file's name
    author: str = Field(max_length=96)
    changes: list[str] = _json(list)  # one line per change, as printed
    tree: dict[str, Any] = _json(dict)  # the whole tree after the change: {district: {street: {community: staff}}}
    created_at: dt.datetime = _ts()


class Account(SQLModel, table=True):
    """A chat identity: (channel, OpenID/UserID), bound to a department or a community."""

    __tablename__ = "accounts"
    __table_args__ = (sa.UniqueConstraint("channel", "external_id", name="uq_accounts_channel_external"),)
    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)  # "wechat" | "wecom"
    external_id: str = Field(max_length=128)
    role: str | None = Field(default=None, max_length=16)  # Role, None while unbound
    department_id: int | None = Field(default=None, foreign_key="departments.id")
    community_id: int | None = Field(default=None, foreign_key="communities.id")
    display_name: str | None = Field(default=None, max_length=64)
    scope_level: str | None = Field(default=None, max_length=16)  # an admin's reach in chat (intake.scope)
    scope_id: int | None = None
    active: bool = True
    disabled_at: dt.datetime | None = _ts(nullable=True)  # disabled by an admin: only an admin enables it again
    bind_failures: int = 0  # wrong 绑定 codes in a row; past a few, the next try waits (bind_retry_at)
    bind_retry_at: dt.datetime | None = _ts(nullable=True)
    bound_at: dt.datetime | None = _ts(nullable=True)
    last_seen_at: dt.datetime | None = _ts(nullable=True)
    # dialogue state: one pending question per account, answered by its next message
    dialogue_state: str | None = Field(default=None, max_length=32)
    dialogue_task_id: int | None = Field(default=None)
    dialogue_expires_at: dt.datetime | None = _ts(nullable=True)
    created_at: dt.datetime = _ts()


class Invite(SQLModel, table=True):
    """A single-use binding code. Only its SHA-256 is stored: the code is shown once, then only its hint."""

    __tablename__ = "invites"
    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(max_length=64, unique=True, index=True)
    hint: str = Field(max_length=4)  # the code's last 2 characters, for admins to tell codes apart
    role: str = Field(max_length=16)
    department_id: int | None = Field(default=None, foreign_key="departments.id")
    community_id: int | None = Field(default=None, foreign_key="communities.id")
    expires_at: dt.datetime = _ts()
    used_at: dt.datetime | None = _ts(nullable=True)
    used_by: int | None = Field(default=None, foreign_key="accounts.id")
    revoked_at: dt.datetime | None = _ts(nullable=True)
    revoked_by: str | None = Field(default=None, max_length=64)
    created_by: str = Field(default="cli", max_length=64)
    created_at: dt.datetime = _ts()
    scope_level: str | None = Field(default=None, max_length=16)  # an admin's invite: the scope it binds (0022)
    scope_id: int | None = None


class Task(SQLModel, table=True):
    __tablename__ = "tasks"
    __table_args__ = (sa.Index("ix_tasks_department_received", "department_id", "received_at"),  # dept by time
                      sa.Index("ix_tasks_status_received", "status", "received_at"),  # the review queue
                      sa.Index("ix_tasks_forwarded_received", "forwarded_by_id", "received_at"))  # 层层加码 (Q8)
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=24, unique=True, index=True)  # R-YYYYMMDD-NNNN
    msg_id: str = Field(max_length=128, unique=True)
    channel: str = Field(max_length=16)
    sender_id: int | None = Field(default=None, foreign_key="accounts.id", index=True)
    department_id: int | None = Field(default=None, foreign_key="departments.id")  # ix_tasks_department_received
    department: str | None = Field(default=None, max_length=64)  # canonical name as classified
    forwarded_by: str | None = Field(default=None, max_length=64)  # the sender's department, when it named another
    forwarded_by_id: int | None = Field(default=None, foreign_key="departments.id")  # the forwarding office
    # 层层加码: what the forwarder added ("deadline", "work"), and the issuer's own, later deadline
    escalation: list[str] | None = _json(None)
    issuer_deadline: dt.date | None = None
    issuer_deadline_time: dt.time | None = None
    raw_text: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    kind: str = Field(max_length=24)
    nature: str = Field(max_length=24)
    listing: str = Field(max_length=16)
    item: str | None = Field(default=None, max_length=16)
    certificate: str | None = Field(default=None, max_length=16)
    deadline: dt.date | None = Field(default=None, index=True)
    deadline_time: dt.time | None = None
    recurrence: str | None = Field(default=None, max_length=16)
    quantity_value: int | None = None
    quantity_unit: str | None = Field(default=None, max_length=16)
    funded: bool = False
    amount_yuan: float | None = None
    emergency: bool = False
    communities: list[str] = _json(list)
    keywords: list[str] = _json(list)
    evidence: dict[str, Any] = _json(dict)
    confidence: float = 0.0
    needs_review: bool = False
    rules_version: str = Field(default="", max_length=64)
    status: str = Field(max_length=16)  # ix_tasks_status_received
    duplicate_of: int | None = Field(default=None, foreign_key="tasks.id")
    repeat_collection: bool = False  # 重复采集: another department asked for the same data
    short_notice: bool = False
    corrected: bool = False
    review_note: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    source: str = Field(default=TaskSource.bot.value, max_length=16, sa_column_kwargs={"server_default": TaskSource.bot.value})
    trace_demand: list[str] | None = _json(None)  # the words of a 留痕 demand (POLICY §6), None when none
    funding_note: str | None = Field(default=None, max_length=500)  # the clerk's answer to the funding question
    review_reminded_at: dt.datetime | None = _ts(nullable=True)  # [review] remind_after_days push sent
    source_type: str = Field(default="text", max_length=16, sa_column_kwargs={"server_default": "text"})  # SourceType
    source_sha256: str | None = Field(default=None, max_length=64, index=True)  # the original file (resends)
    source_name: str | None = Field(default=None, max_length=255)  # the sender's file name, or the link
    source_chat: str | None = Field(default=None, max_length=128)  # the WeCom group (chatid), via the bot
    received_at: dt.datetime = _ts(index=True)  # the message's CreateTime
    created_at: dt.datetime = _ts()
    updated_at: dt.datetime = _ts()
    search_terms: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))  # search


class TaskTarget(SQLModel, table=True):
    __tablename__ = "task_targets"
    __table_args__ = (sa.UniqueConstraint("task_id", "community_id", name="uq_target_task_community"), sa.Index("ix_task_targets_status_community", "status", "community_id"))
    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="tasks.id")  # uq_target_task_community leads with it
    community_id: int = Field(foreign_key="communities.id", index=True)
    status: str = Field(default=TargetStatus.open.value, max_length=16)  # ix_task_targets_status_community
    due_date: dt.date | None = Field(default=None, index=True)  # digests: assignments due in a month
    done_at: dt.datetime | None = _ts(nullable=True)
    done_by: int | None = Field(default=None, foreign_key="accounts.id")
    announced_at: dt.datetime | None = _ts(nullable=True)  # the head heard of it (None: next sweep tells)
    quiet: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})  # 不再提醒


class Reminder(SQLModel, table=True):
    __tablename__ = "reminders"
    __table_args__ = (
        sa.UniqueConstraint("target_id", "kind", "fire_at", name="uq_reminder_target_kind_fire"),
        sa.Index("ix_reminders_unsent_fire", "sent_at", "fire_at"),  # the sweep: unsent and due
    )
    id: int | None = Field(default=None, primary_key=True)
    target_id: int = Field(foreign_key="task_targets.id")  # uq_reminder_target_kind_fire leads with it
    kind: str = Field(max_length=16)  # before_3 / before_1 / due / overdue
    fire_at: dt.datetime = _ts()
    sent_at: dt.datetime | None = _ts(nullable=True)
    cancelled: bool = False


class Rating(SQLModel, table=True):
    __tablename__ = "ratings"
    __table_args__ = (sa.UniqueConstraint("community_id", "department_id", "month", name="uq_rating_month"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="communities.id")
    department_id: int = Field(foreign_key="departments.id")
    month: str = Field(max_length=7)  # YYYY-MM
    score: int
    comment: str | None = Field(default=None, max_length=500)
    account_id: int | None = Field(default=None, foreign_key="accounts.id")
    created_at: dt.datetime = _ts()


class AuditEntry(SQLModel, table=True):
    """Append-only: every state change, who made it, before and after."""

    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = _ts(index=True)
    actor: str = Field(max_length=96)  # "account:12", "admin:wang", "system", "cli"
    entity: str = Field(max_length=32)
    entity_id: int | None = Field(default=None, index=True)
    action: str = Field(max_length=48)
    before: dict[str, Any] | None = _json(None)
    after: dict[str, Any] | None = _json(None)


class ProcessedMessage(SQLModel, table=True):
    """Dedupe log: the first reply to each MsgId (or event key), replayed to WeChat's retries."""

    __tablename__ = "processed_messages"
    __table_args__ = (sa.Index("ix_processed_messages_nonce", "nonce", unique=True),)
    key: str = Field(max_length=200, primary_key=True)
    channel: str = Field(max_length=16)
    reply: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    # the signed URL's "channel:timestamp:nonce": one signed URL carries one message (replays are refused)
    nonce: str | None = Field(default=None, max_length=160)
    created_at: dt.datetime = _ts(index=True)


class TaskCodeCounter(SQLModel, table=True):
    __tablename__ = "task_code_counters"
    day: str = Field(max_length=8, primary_key=True)  # YYYYMMDD
    last: int = 0


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_status_next_attempt", "status", "next_attempt_at"),)  # claim_due
    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=200, unique=True)
    channel: str = Field(max_length=24)  # log / inbox / wecom_app / wecom_robot / wechat
    recipient: str = Field(max_length=200)  # external id, community name, or "admins"
    account_id: int | None = Field(default=None, foreign_key="accounts.id")
    community_id: int | None = Field(default=None, foreign_key="communities.id")
    kind: str = Field(max_length=32)  # receipt / reminder / digest / notice
    subject: str = Field(default="", max_length=200)
    body: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    payload: dict[str, Any] | None = _json(None)
    status: str = Field(default=OutboxStatus.pending.value, max_length=16, index=True)
    attempts: int = 0
    next_attempt_at: dt.datetime = _ts(index=True)
    last_error: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    read_at: dt.datetime | None = _ts(nullable=True)
    created_at: dt.datetime = _ts()
    sent_at: dt.datetime | None = _ts(nullable=True)


class AdminUser(SQLModel, table=True):
    __tablename__ = "admin_users"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    password_hash: str = Field(max_length=256)
    role: str = Field(default=ConsoleRole.admin.value, max_length=16)  # ConsoleRole
    scope_level: str | None = Field(default=None, max_length=16)  # OrgLevel; None: the whole deployment
    scope_id: int | None = None  # the district, street or community (intake.scope)
    active: bool = True
    created_at: dt.datetime = _ts()


class RuleVersion(SQLModel, table=True):
    """Rule overrides, versioned: each edit stores the whole override document of its level.

    ``district_id`` None: the city default (every district reads it); else that district's own lists,
    merged over the city default (intake.rules_store)."""

    __tablename__ = "rule_versions"
    id: int | None = Field(default=None, primary_key=True)
    district_id: int | None = Field(default=None, foreign_key="districts.id", index=True)
    content: dict[str, Any] = _json(dict)
    author: str = Field(max_length=64)
    note: str | None = Field(default=None, max_length=500)
    created_at: dt.datetime = _ts()


class CorrectionExample(SQLModel, table=True):
    """A console correction kept as a labelled example (issue 13): the notice as it came, the fields the
    admin decided (in the `jianfu eval` format), and the rules version that read it before the correction."""

    __tablename__ = "correction_examples"
    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="tasks.id", index=True)
    action: str = Field(max_length=16)  # correct / admit / refuse
    text: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    received_at: dt.datetime = _ts()  # the message's time: the `now` the notice is read at again
    sender_department: str | None = Field(default=None, max_length=64)
    expect: dict[str, Any] = _json(dict)
    rules_version: str = Field(default="", max_length=64)
    actor: str = Field(max_length=96)
    created_at: dt.datetime = _ts()


class DigestArchive(SQLModel, table=True):
    __tablename__ = "digests"
    __table_args__ = (sa.UniqueConstraint("month", "scope", name="uq_digest_month_scope"),)
    id: int | None = Field(default=None, primary_key=True)
    month: str = Field(max_length=7)
    scope: str = Field(max_length=64)  # community name or "district"
    content: dict[str, Any] = _json(dict)
    created_at: dt.datetime = _ts()


# Core tables, for typed statements (``sa.select(TASKS.c.id)``) in repository functions.
DISTRICTS = _table(District)
STREETS = _table(Street)
ORG_IMPORTS = _table(OrgImport)
DEPARTMENTS = _table(Department)
COMMUNITIES = _table(Community)
ACCOUNTS = _table(Account)
INVITES = _table(Invite)
TASKS = _table(Task)
TASK_TARGETS = _table(TaskTarget)
REMINDERS = _table(Reminder)
RATINGS = _table(Rating)
AUDIT_LOG = _table(AuditEntry)
PROCESSED_MESSAGES = _table(ProcessedMessage)
TASK_CODE_COUNTERS = _table(TaskCodeCounter)
OUTBOX = _table(OutboxMessage)
ADMIN_USERS = _table(AdminUser)
RULE_VERSIONS = _table(RuleVersion)
CORRECTION_EXAMPLES = _table(CorrectionExample)
DIGESTS = _table(DigestArchive)

# the form catalogue and platforms (issue 18), registered on the same metadata
from intake.store.models_catalogue import CatalogueForm, FormSend, Platform, PlatformMention  # noqa: E402

# a community's reported notices and counter work (issue 12), registered on the same metadata
from intake.store.models_community import COUNTER_ENTRIES, TASK_REPORTS, CounterEntry, TaskReport  # noqa: E402

# console sessions and login throttling (issue 15), registered on the same metadata
from intake.store.models_console import CONSOLE_SESSIONS, LOGIN_THROTTLE, ConsoleSession, LoginThrottle  # noqa: E402
from intake.store.models_directory import DIRECTORY_VERSION, DirectoryVersion  # noqa: E402  (the directory's version)

# monthly rollups of closed months (issue 14), registered on the same metadata
from intake.store.models_rollups import (  # noqa: E402
    MONTH_ROLLUPS,
    OPEN_MONTH_FIGURES,
    ROLLUP_MONTHS,
    MonthRollup,
    OpenMonthFigures,
    RollupMonth,
)
from intake.store.models_upload import UPLOAD_TICKETS, UploadTicket  # noqa: E402  (upload tickets, issue 16)
