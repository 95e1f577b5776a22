"""Job status for web apps: the 202-then-poll pattern.

A web request calls `.delay()`, answers 202 with the job id, and the client polls an
endpoint that returns `job_status(job_id)`. Errors are redacted: the dict is safe to send
to a browser.
"""

from __future__ import annotations

from typing import Any

from config import app
from taskplatform.redaction import redact, redact_text
from taskplatform.status import STATES, JobError, JobStatus


def job_status(job_id: str) -> JobStatus:
    """The status of a job by id, with its result when done and a redacted error."""
    result = app.AsyncResult(job_id)
    state = result.state
    status = STATES.get(state, "pending")
    error: JobError | None = None
    value: Any = None
    if status == "succeeded":
        value = result.result
    elif status in ("failed", "retrying") and isinstance(result.result, BaseException):
        exc = result.result
        error = {"type": type(exc).__name__, "message": redact_text(str(exc))}
    elif status == "failed":
        error = {"type": state.title(), "message": redact_text(str(result.result or ""))}
    return {
        "status": status,
        "result": redact(value) if value is not None else None,
        "error": error,
    }
