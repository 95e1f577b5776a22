"""Logging: secrets never reach a log line, and in JSON each line says which job it is about.

Celery logs a failed task's exception (message and traceback) and a received task's
argument repr; both may carry secrets. A filter on every handler redacts the formatted
message and traceback through client/taskplatform/redaction.py before any handler writes it.

Every line about a job carries its task id, name, queue, attempt and correlation id,
Celery's own lines included (`received`, `succeeded`, `Retry in`, a lost worker): a filter
that runs first finds the job (config/job_context.py). As JSON, every field; as text (the
default in development), the line Celery's format gives, with the request id the caller
passed (`correlation_id`) appended to the line's first line.
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


class TextFormatter(logging.Formatter):
    """The handler's own text format (Celery's, usually), plus `[correlation_id=...]` on a
    line about a job that has one: Celery's formats know the task id, not the request id."""

    def __init__(self, inner: logging.Formatter | None = None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        line = self.inner.format(record)
        job = getattr(record, "job", None)
        if job is None:
            job = job_context.of_record(record)
        correlation_id = job.get("correlation_id")
        if not correlation_id:
            return line
        first, newline, rest = line.partition("\n")
        return f"{first} [correlation_id={correlation_id}]{newline}{rest}"


def install_text(logger: logging.Logger | None = None) -> None:
    """Add the request id to every text line of `logger`'s handlers (the root logger by
    default), keeping each handler's own format."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not isinstance(handler.formatter, TextFormatter | JsonFormatter):
            handler.setFormatter(TextFormatter(handler.formatter))


def install_json(logger: logging.Logger | None = None) -> None:
    """Format every handler of `logger` (the root logger by default) as JSON lines."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        handler.setFormatter(JsonFormatter())
