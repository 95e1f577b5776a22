"""Job status for web apps: the 202-then-poll pattern, read straight from the result store.

A web request queues a job, answers 202 with its id, and the browser polls an endpoint that
returns `job_status(job_id)`. `job_status_many(ids)` reads any number in one round trip.
Errors are redacted: the dict is safe to send to a browser. When the result store does not
answer, `ResultStoreUnavailableError` says so (the job is not affected).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, TypedDict

from taskplatform import wire
from taskplatform.errors import ResultStoreUnavailableError
from taskplatform.redaction import redact, redact_text
from taskplatform.settings import check_redis_url, current

Status = Literal["pending", "started", "retrying", "succeeded", "failed"]

# Celery state -> what a web app needs to know. An unknown id reads PENDING in Celery too:
# the backend cannot tell "not started yet" from "never existed" or "expired".
STATES: dict[str, Status] = {
    "PENDING": "pending",
    "RECEIVED": "pending",
    "STARTED": "started",
    "RETRY": "retrying",
    "SUCCESS": "succeeded",
    "FAILURE": "failed",
    "REVOKED": "failed",
    "REJECTED": "failed",
    "IGNORED": "failed",
}


class JobError(TypedDict):
    type: str
    message: str


class JobStatus(TypedDict):
    status: Status
    result: Any
    error: JobError | None


def job_status(job_id: str) -> JobStatus:
    """The status of a job by id, with its result when done and a redacted error."""
    return job_status_many([job_id])[job_id]


def job_status_many(job_ids: Sequence[str]) -> dict[str, JobStatus]:
    """The status of many jobs, by id, in one round trip (MGET)."""
    ids = list(dict.fromkeys(str(job_id) for job_id in job_ids))
    if not ids:
        return {}
    from kombu.utils.json import loads

    from taskplatform.producer import redis_client

    url = check_redis_url("RESULT_BACKEND_URL", current().result_url)
    try:
        raw = redis_client(url).mget([wire.RESULT_PREFIX + job_id for job_id in ids])
    except Exception as exc:
        raise ResultStoreUnavailableError(
            f"the result store did not answer ({str(exc).strip() or type(exc).__name__});"
            " the jobs are not affected: ask again later"
        ) from exc
    return {
        job_id: from_meta(loads(item) if item else None)
        for job_id, item in zip(ids, raw, strict=True)
    }


def from_meta(meta: dict[str, Any] | None) -> JobStatus:
    """What a web app may see of Celery's stored state for a job."""
    state = (meta or {}).get("status", "PENDING")
    stored = (meta or {}).get("result")
    status = STATES.get(state, "pending")
    error: JobError | None = None
    value: Any = None
    if status == "succeeded":
        value = stored
    elif isinstance(stored, dict) and "exc_type" in stored:
        error = {"type": str(stored["exc_type"]), "message": redact_text(_message(stored))}
    elif status == "failed":
        error = {"type": state.title(), "message": redact_text(str(stored or ""))}
    return {
        "status": status,
        "result": redact(value) if value is not None else None,
        "error": error,
    }


def _message(stored: dict[str, Any]) -> str:
    """Celery stores an exception's arguments; its message is what str() of it would say."""
    args = stored.get("exc_message")
    if isinstance(args, list | tuple):
        return str(args[0]) if len(args) == 1 else str(tuple(args)) if args else ""
    return str(args or "")
