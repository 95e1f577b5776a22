"""Task events and worker replies, redacted: what Flower and `celery inspect` show of a job
(arguments, result, exception, traceback) is masked before it leaves the worker.

Workers send `task-received`, `task-succeeded`, `task-failed` and `task-retried` with the
job's argument repr, its result repr, the exception and its traceback; Flower shows them on
its task pages and in `/api/tasks`. The producer already sends a redacted argument repr
(config/publish.py); a foreign producer's message, a result or an exception may carry
anything. Every event the app's dispatchers send passes through here, and so does every
job a worker describes to `inspect active/reserved/scheduled` (Flower's worker pages): Celery
answers those with the real arguments unless asked for the safe form.

A worker buffers its task events and sends them in batches (worker/consumer.py).
"""

from __future__ import annotations

from typing import Any

from celery.app.events import Events
from celery.events.dispatcher import EventDispatcher
from celery.worker.request import Request

from config import job_context
from config.queues import queue_of_routing_key
from taskplatform import correlation
from taskplatform.redaction import redact, redact_text

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

    def publish(self, type: str, fields: dict, producer: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A002
        # A task-sent event shows the reprs the publish guard wrote (config/publish.py), and
        # nothing else of the job: redacted already.
        shown = fields if type == "task-sent" else redacted_fields(dict(fields))
        channel = getattr(producer, "channel", None)
        if channel is not None and self.exchange.__dict__.get("_channel") is not channel:
            # kombu copies an unbound exchange on every publish to check it was declared
            self.exchange = self.exchange(channel)
        return super().publish(type, shown, producer, *args, **kwargs)


class PlatformEvents(Events):
    """The app's `events`: its dispatchers redact."""

    dispatcher_cls = "config.task_events:RedactingDispatcher"


class RedactedRequest(Request):
    """A worker's job (the base task's `Request`): described by its redacted reprs only.

    Made in the worker's main process as a message arrives, before Celery logs `received`:
    the job's fields are remembered there for the lines written about it
    (config/job_context.py)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        headers = self._request_dict
        job_context.remember(
            self.id,
            self.name,
            queue_of_routing_key((self.delivery_info or {}).get("routing_key")),
            int(headers.get("retries") or 0) + 1,
            headers.get(correlation.HEADER),
        )

    def info(self, safe: bool = False) -> dict[str, Any]:
        return redacted_fields(super().info(safe=True))
