"""Logging: secrets never reach a log line, and in JSON each line says which job it is about.

Celery logs a failed task's exception (message and traceback) and a received task's
argument repr; both may carry secrets. A filter on every handler redacts the formatted
message and traceback through client/taskplatform/redaction.py before any handler writes it.

Every line about a job carries its task id, name, queue, attempt and correlation id,
Celery's own lines included (`received`, `succeeded`, `Retry in`, a lost worker): a filter
that runs first finds the job (config/job_context.py).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from config import job_context
from taskplatform.redaction import redact_text


class JobFilter(logging.Filter):
    """Attach the job a record is about (`record.job`), before redaction rewrites it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "job"):
            try:
                record.job = job_context.of_record(record)
            except Exception:  # a log line must never fail over its context
                record.job = {}
        return True


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
    """Add the filters to every handler of `logger` (the root logger by default): the job
    first, then redaction."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, JobFilter) for f in handler.filters):
            handler.filters.insert(0, JobFilter())
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the job it is about: task id and name, queue, attempt
    and correlation id (config/job_context.py)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "process": record.processName,
            "message": record.getMessage(),
        }
        job = getattr(record, "job", None)
        if job is None:
            job = job_context.of_record(record)
        entry.update(job)
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
