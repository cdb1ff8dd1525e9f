"""The stored values' enums (statuses and roles), apart from the tables so that importing them is cheap.

The tables store each as its string value (``intake.store.models``); their Chinese names are in
``intake.labels``.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Role", "ConsoleRole", "TaskStatus", "TargetStatus", "TaskSource", "CounterKind", "OutboxStatus",
           "FormDecision", "FormSource", "OrgLevel"]


class Role(StrEnum):
    clerk = "clerk"
    head = "head"
    admin = "admin"


class ConsoleRole(StrEnum):
    """A console user's role (``admin_users.role``), apart from the chat accounts' :class:`Role`."""

    admin = "admin"  # reads and writes
    viewer = "viewer"  # reads only


class TaskStatus(StrEnum):
    accepted = "accepted"
    refused = "refused"
    pending_review = "pending_review"
    withdrawn = "withdrawn"
    done = "done"


class TargetStatus(StrEnum):
    open = "open"
    done = "done"
    withdrawn = "withdrawn"
    refused = "refused"


class TaskSource(StrEnum):
    """How a task reached Jianfu: a department's chat message, a community head's report, the console."""

    bot = "bot"
    community = "community"
    console = "console"


class CounterKind(StrEnum):
    """Counter work a community logs in one line (its own ledgers)."""

    certificate = "certificate"
    inspection = "inspection"
    meeting = "meeting"
    secondment = "secondment"
    platform = "platform"


class OutboxStatus(StrEnum):
    pending = "pending"
    sending = "sending"
    sent = "sent"
    dead = "dead"


class FormDecision(StrEnum):
    """The catalogue's decision on a form (报表目录): not yet reviewed, keep, merge into another, stop."""

    pending = "pending"
    keep = "keep"
    merge = "merge"
    stop = "stop"


class FormSource(StrEnum):
    notice = "notice"  # named in a notice's text (《…表》)
    attachment = "attachment"  # an attached spreadsheet's header row and sheet names
    console = "console"  # entered by an admin


class OrgLevel(StrEnum):
    """A level of the organisation tree: where a department sits, and how far a person's scope reaches."""

    city = "city"
    district = "district"
    street = "street"
    community = "community"
