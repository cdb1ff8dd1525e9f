"""Tasks: every change to a task's state, one function each, and the views the chat and the console read.

* :mod:`intake.tasks.create`: ``create_task`` stores a classified notice (task, targets, reminders, audit).
* :mod:`intake.tasks.changes`: ``set_task_deadline``, ``withdraw_task``, ``complete_target``,
  ``roll_recurring`` (one target) and ``roll_due_targets`` (the sweep).
* :mod:`intake.tasks.review`: the admin's ``correct_task``, ``admit_task``, ``refuse_task``, with the
  notices they owe to clerks and heads queued in the same transaction.
* :mod:`intake.tasks.funding`: ``set_task_funding`` records the clerk's answer to the funding question
  (费随事转) and releases a task held for it.
* :mod:`intake.tasks.community`: a head's ``get_community_task``, ``quiet_target`` (不再提醒) and
  ``link_community_target`` (a reported notice that was logged already).
* :mod:`intake.tasks.reminding`: ``cancel_unsent_reminders`` and ``replan_reminders``, used by all of them.
* :mod:`intake.tasks.views`: ``TaskView`` and the reads.

Every function runs inside a writer unit (one transaction, one savepoint per message); none commits.
"""

from intake.tasks.changes import (
    complete_target,
    roll_due_targets,
    roll_recurring,
    set_task_deadline,
    withdraw_task,
)
from intake.tasks.community import get_community_task, link_community_target, quiet_target
from intake.tasks.create import NewTask, create_task, next_task_code, status_for_listing
from intake.tasks.funding import HELD_FOR_FUNDING, NO_FUNDING_ANSWERS, needs_funding_answer, set_task_funding
from intake.tasks.reminding import cancel_unsent_reminders, replan_reminders
from intake.tasks.review import (
    CORRECTABLE,
    Admission,
    Correction,
    admit_task,
    correct_task,
    is_funded,
    refuse_task,
)
from intake.tasks.views import (
    OPEN_STATUSES,
    CommunityTask,
    TargetView,
    TaskText,
    TaskView,
    get_task,
    get_task_text,
    list_clerk_tasks,
    list_community_targets,
)
from intake.texts_notify import escalation_lines  # the 层层加码 line beside a task

__all__ = [
    "escalation_lines",
    "CORRECTABLE",
    "HELD_FOR_FUNDING",
    "NO_FUNDING_ANSWERS",
    "OPEN_STATUSES",
    "Admission",
    "CommunityTask",
    "Correction",
    "NewTask",
    "TargetView",
    "TaskText",
    "TaskView",
    "admit_task",
    "cancel_unsent_reminders",
    "complete_target",
    "correct_task",
    "create_task",
    "get_community_task",
    "get_task",
    "get_task_text",
    "is_funded",
    "link_community_target",
    "list_clerk_tasks",
    "list_community_targets",
    "needs_funding_answer",
    "next_task_code",
    "quiet_target",
    "refuse_task",
    "replan_reminders",
    "roll_due_targets",
    "roll_recurring",
    "set_task_funding",
    "set_task_deadline",
    "status_for_listing",
    "withdraw_task",
]
