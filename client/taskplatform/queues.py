"""Queues and routing, in one table: the queue is the domain is the module.

Task `email.send_email` goes to queue `email`. Routing follows the prefix of the task's
explicit name, so no task repeats `queue=`, and a renamed module does not strand messages
already in flight. The client routes with it; so does the platform's app (config/queues.py
declares the queues to the broker from this table).
"""

from __future__ import annotations

#: Every queue a worker may consume, and what it is for.
QUEUES: dict[str, str] = {
    "quote": "pricing quotes for offshore staffing",
    "email": "outgoing mail",
    "crm": "lead capture and CRM pushes",
    "search": "candidate search and reindexing",
    "maintenance": "beat's housekeeping: spool drains, digests, purges, snapshots",
}

#: Celery's own tasks (chord unlock, backend cleanup) run with the housekeeping.
CELERY_INTERNAL_QUEUE = "maintenance"


class UnroutableTaskError(LookupError):
    """A task name whose prefix is not a declared queue: it would reach no worker."""


def queue_for(task_name: str) -> str:
    """The queue a task name routes to, or UnroutableTaskError."""
    prefix = task_name.split(".", 1)[0]
    if prefix == "celery":
        return CELERY_INTERNAL_QUEUE
    if prefix in QUEUES and "." in task_name:
        return prefix
    raise UnroutableTaskError(
        f"task {task_name!r} routes nowhere: its name must start with one of"
        f" {', '.join(QUEUES)} followed by a dot"
    )
