"""A FastAPI app that queues the platform's jobs through the client (taskplatform) alone.

The endpoints are plain `def`s: the client's calls block (a millisecond on a healthy Redis,
up to its timeouts on a sick one), so FastAPI runs them in its thread pool, not the loop.
"""

from typing import Annotated, Any

from fastapi import Body, FastAPI, Header
from fastapi.responses import JSONResponse

import config
import tasks
from taskplatform import (
    BrokerUnavailableError,
    InvalidArguments,
    PayloadError,
    QueueFullError,
    ResultStoreUnavailableError,
    correlation_id,
    job_status,
    job_status_many,
)

app = FastAPI(title="example web app")
#: The caller's request id (X-Request-ID): the correlation id of the jobs it queues.
RequestId = Annotated[str | None, Header()]


def _refused(exc: Exception) -> JSONResponse:
    if isinstance(exc, InvalidArguments):
        return JSONResponse({"field": exc.field, "error": exc.problem}, status_code=400)
    if isinstance(exc, BrokerUnavailableError | ResultStoreUnavailableError | QueueFullError):
        return JSONResponse({"error": str(exc)}, status_code=503)
    return JSONResponse({"error": str(exc)}, status_code=400)


@app.post("/jobs/{task}", status_code=202)
def queue_one(
    task: str, body: Annotated[dict[str, Any], Body()], x_request_id: RequestId = None
) -> Any:
    handle = tasks.QUEUEABLE.get(task)
    if handle is None:
        return JSONResponse({"error": f"no task {task!r}"}, status_code=404)
    with correlation_id(x_request_id):
        try:
            job = handle.apply_async(
                body.get("args"), body.get("kwargs"), job_key=body.get("job_key")
            )
        except (PayloadError, BrokerUnavailableError, QueueFullError) as exc:
            return _refused(exc)
    return {"job_id": job.id}


@app.post("/jobs/{task}/bulk", status_code=202)
def queue_many(
    task: str, body: Annotated[dict[str, Any], Body()], x_request_id: RequestId = None
) -> Any:
    handle = tasks.QUEUEABLE.get(task)
    if handle is None:
        return JSONResponse({"error": f"no task {task!r}"}, status_code=404)
    items = body.get("items") or []
    if len(items) > config.BULK_LIMIT:
        return JSONResponse({"error": f"at most {config.BULK_LIMIT} items"}, status_code=400)
    with correlation_id(x_request_id):
        try:
            jobs = handle.delay_many([tuple(item) for item in items])
        except (PayloadError, BrokerUnavailableError, QueueFullError) as exc:
            return _refused(exc)
    return {"job_ids": [job.id for job in jobs]}


@app.get("/jobs/{job_id}")
def status_of_one(job_id: str) -> Any:
    try:
        return job_status(job_id)
    except ResultStoreUnavailableError as exc:
        return _refused(exc)


@app.get("/jobs")
def status_of_many(ids: str) -> Any:
    try:
        return job_status_many(ids.split(","))
    except ResultStoreUnavailableError as exc:
        return _refused(exc)
