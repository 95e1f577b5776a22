"""The platform's two kinds of failure, for domain code to raise.

Domain code raises `TransientError` (try again later) or `PermanentError` (trying again
cannot help) and knows nothing of Celery; importing this module pulls in no client library.
What happens next, and how the client libraries' own exceptions are classified, is the one
failure policy's business (config/failure_policy.py).
"""

from __future__ import annotations


class TransientError(Exception):
    """Worth retrying: a timeout, a dropped connection, a 429 or 5xx.

    `retry_after` (seconds), when the other side said how long to wait, replaces the
    computed backoff for that attempt.
    """

    def __init__(self, message: str = "", *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(Exception):
    """Retrying cannot help: invalid input, a 4xx other than 429, an unknown record."""


class InvalidInput(PermanentError):
    """The job's arguments are wrong: user input its caller should have refused (a count of
    10,000, a role not in the catalogue). Kept as a dead letter of its own reason,
    `invalid_input`: counted and visible, never paging (the platform did not fail)."""
