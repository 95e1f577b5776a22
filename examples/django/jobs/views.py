"""The example API (examples/README.md) as Django views, through the client alone."""

import json

from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from jobs.tasks import QUEUEABLE
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


def _refused(exc: Exception) -> JsonResponse:
    if isinstance(exc, InvalidArguments):
        return JsonResponse({"field": exc.field, "error": exc.problem}, status=400)
    if isinstance(exc, BrokerUnavailableError | ResultStoreUnavailableError | QueueFullError):
        return JsonResponse({"error": str(exc)}, status=503)
    return JsonResponse({"error": str(exc)}, status=400)


@csrf_exempt
def one(request: HttpRequest, name: str) -> JsonResponse:
    """POST /jobs/<task> queues a job; GET /jobs/<job id> reads one."""
    if request.method == "GET":
        try:
            return JsonResponse(job_status(name))
        except ResultStoreUnavailableError as exc:
            return _refused(exc)
    handle = QUEUEABLE.get(name)
    if handle is None:
        return JsonResponse({"error": f"no task {name!r}"}, status=404)
    body = json.loads(request.body or b"{}")
    with correlation_id(request.headers.get("X-Request-ID")):
        try:
            job = handle.apply_async(
                body.get("args"), body.get("kwargs"), job_key=body.get("job_key")
            )
        except (PayloadError, BrokerUnavailableError, QueueFullError) as exc:
            return _refused(exc)
    return JsonResponse({"job_id": job.id}, status=202)


@csrf_exempt
def queue_many(request: HttpRequest, task: str) -> JsonResponse:
    handle = QUEUEABLE.get(task)
    if handle is None:
        return JsonResponse({"error": f"no task {task!r}"}, status=404)
    items = json.loads(request.body or b"{}").get("items") or []
    with correlation_id(request.headers.get("X-Request-ID")):
        try:
            jobs = handle.delay_many([tuple(item) for item in items])
        except (PayloadError, BrokerUnavailableError, QueueFullError) as exc:
            return _refused(exc)
    return JsonResponse({"job_ids": [job.id for job in jobs]}, status=202)


def status_of_many(request: HttpRequest) -> JsonResponse:
    try:
        return JsonResponse(job_status_many(request.GET.get("ids", "").split(",")))
    except ResultStoreUnavailableError as exc:
        return _refused(exc)


@csrf_exempt
def outbox(request: HttpRequest, task: str) -> JsonResponse:
    """POST /outbox/<task> queues the job in the request's transaction (with the web app's
    own writes, were there any): `{"rollback": true}` rolls it back, and no job is queued."""
    from taskplatform.outbox import publish

    handle = QUEUEABLE.get(task)
    if handle is None:
        return JsonResponse({"error": f"no task {task!r}"}, status=404)
    body = json.loads(request.body or b"{}")
    try:
        with transaction.atomic():
            job_id = publish(connection, handle, body.get("args") or (), body.get("kwargs"))
            if body.get("rollback"):
                transaction.set_rollback(True)
    except PayloadError as exc:
        return _refused(exc)
    return JsonResponse({"job_id": job_id, "committed": not body.get("rollback")}, status=202)
