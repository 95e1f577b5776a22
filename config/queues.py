"""Queues and routing, in one table.

The queue is the domain is the module: task `email.send_email` (in tasks/email.py) goes to
queue `email`. Routing follows the prefix of the task's explicit name, so no task repeats
`queue=`, and a renamed module does not strand messages already in flight.
"""

from __future__ import annotations

from typing import Any

from kombu import Exchange, Queue

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

TASK_QUEUES = tuple(Queue(name, Exchange(name, type="direct"), routing_key=name) for name in QUEUES)


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


def route_task(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any):
    """Celery router (`task_routes`): the queue follows the task name's prefix."""
    return {"queue": queue_for(name)}
