"""The Core tables behind the SQLModel classes (typed column access for queries: ``TASKS.c.code``)."""

from __future__ import annotations

from sqlalchemy import Table
from sqlmodel import SQLModel

import intake.models  # noqa: F401  (registers the tables)

__all__ = ["TASKS", "TARGETS", "COMMUNITIES", "DEPARTMENTS", "ACCOUNTS", "INVITES", "REMINDERS", "AUDIT",
           "OUTBOX", "RULE_VERSIONS", "DIGESTS", "ADMIN_USERS"]


def _t(name: str) -> Table:
    return SQLModel.metadata.tables[name]


TASKS = _t("tasks")
TARGETS = _t("task_targets")
COMMUNITIES = _t("communities")
DEPARTMENTS = _t("departments")
ACCOUNTS = _t("accounts")
INVITES = _t("invites")
REMINDERS = _t("reminders")
AUDIT = _t("audit_log")
OUTBOX = _t("outbox")
RULE_VERSIONS = _t("rule_versions")
DIGESTS = _t("digests")
ADMIN_USERS = _t("admin_users")
