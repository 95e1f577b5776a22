"""Logging: secrets never reach a log line.

Celery logs a failed task's exception (message and traceback) and a received task's
argument repr; both may carry secrets. A filter on every handler redacts the formatted
message and traceback through config/redaction.py before any handler writes it.
"""

from __future__ import annotations

import logging

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
