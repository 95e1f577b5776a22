"""Job status for web apps: the 202-then-poll pattern.

A web request calls `.delay()`, answers 202 with the job id, and the client polls an
endpoint that returns `job_status(job_id)`. Errors are redacted: the dict is safe to send
to a browser; a result store that does not answer raises the client's
`ResultStoreUnavailableError`, as taskplatform.job_status does.
"""

from __future__ import annotations

from typing import Any

import redis.exceptions

from config import app
from taskplatform.errors import ResultStoreUnavailableError
from taskplatform.redaction import redact, redact_text
from taskplatform.status import STATES, JobError, JobStatus


def job_status(job_id: str) -> JobStatus:
    """The status of a job by id, with its result when done and a redacted error."""
    result = app.AsyncResult(job_id)
    try:
        state = result.state  # read once: the backend caches the meta it fetched
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
        raise ResultStoreUnavailableError(
            f"the result store did not answer ({str(exc).strip() or type(exc).__name__});"
            " the job is not affected: ask again later"
        ) from exc
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
