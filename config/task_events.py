"""Task events and worker replies, redacted: what Flower and `celery inspect` show of a job
(arguments, result, exception, traceback) is masked before it leaves the worker.

Workers send `task-received`, `task-succeeded`, `task-failed` and `task-retried` with the
job's argument repr, its result repr, the exception and its traceback; Flower shows them on
its task pages and in `/api/tasks`. The producer already sends a redacted argument repr
(config/publish.py); a foreign producer's message, a result or an exception may carry
anything. Every event the app's dispatchers send passes through here, and so does every
job a worker describes to `inspect active/reserved/scheduled` (Flower's worker pages): Celery
answers those with the real arguments unless asked for the safe form.
"""

from __future__ import annotations

from typing import Any

from celery.app.events import Events
from celery.events.dispatcher import EventDispatcher
from celery.worker.request import Request

from config.redaction import redact, redact_text

#: Event fields that hold job data.
SHOWN_FIELDS = ("args", "kwargs", "result", "exception", "traceback")


def redacted_fields(fields: dict[str, Any]) -> dict[str, Any]:
    for name in SHOWN_FIELDS:
        value = fields.get(name)
        if isinstance(value, str):
            fields[name] = redact_text(value)
        elif value is not None:
            fields[name] = redact(value)
    return fields


class RedactingDispatcher(EventDispatcher):
    def send(self, type: str, *args: Any, **fields: Any) -> Any:  # noqa: A002 - Celery's name
        return super().send(type, *args, **redacted_fields(fields))

    def publish(self, type: str, fields: dict, *args: Any, **kwargs: Any) -> Any:  # noqa: A002
        return super().publish(type, redacted_fields(dict(fields)), *args, **kwargs)


class PlatformEvents(Events):
    """The app's `events`: its dispatchers redact."""

    dispatcher_cls = "config.task_events:RedactingDispatcher"


class RedactedRequest(Request):
    """A worker's job (the base task's `Request`): described by its redacted reprs only."""

    def info(self, safe: bool = False) -> dict[str, Any]:
        return redacted_fields(super().info(safe=True))
