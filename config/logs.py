"""Logging: secrets never reach a log line, and in JSON each line says which job it is about.

Celery logs a failed task's exception (message and traceback) and a received task's
argument repr; both may carry secrets. A filter on every handler redacts the formatted
message and traceback through config/redaction.py before any handler writes it.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from celery import current_task

from config import correlation
from config.redaction import redact_text


class RedactingFilter(logging.Filter):
    """Rewrite a record's message and traceback with secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the handler's own error path
            return True
        record.msg, record.args = redact_text(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
            record.exc_info = None
        return True


def install_redaction(logger: logging.Logger | None = None) -> None:
    """Add the filter to every handler of `logger` (the root logger by default)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the job it is about: task id and name, queue, attempt
    and correlation id (when logged while a job runs)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "process": record.processName,
            "message": record.getMessage(),
        }
        task = current_task
        request = getattr(task, "request", None) if task else None
        if request is not None and getattr(request, "id", None):
            entry["task_id"] = request.id
            entry["task_name"] = task.name
            entry["queue"] = (request.delivery_info or {}).get("routing_key")
            entry["attempt"] = (request.retries or 0) + 1
        cid = correlation.current()
        if cid:
            entry["correlation_id"] = cid
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, default=str)


def install_json(logger: logging.Logger | None = None) -> None:
    """Format every handler of `logger` (the root logger by default) as JSON lines."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        handler.setFormatter(JsonFormatter())
