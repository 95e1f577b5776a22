"""The result backend, redacted: what a failure leaves in Redis is masked before it is stored.

Celery's Redis backend stores a FAILURE's (and RETRY's) exception message and traceback
as raised, and Flower's API shows them (`/api/task/result/<id>`). Passwords, bearer
tokens and card numbers in them are masked here, once, by taskplatform/redaction.py. A success's
result is stored as returned: the caller that asked for it needs it; what Flower shows of
it comes from task events (config/task_events.py) and is redacted there.

A failure never overwrites a success: a job delivered twice (a worker that froze past its
heartbeat and resumed while another ran the job) may fail on the late delivery after the
other succeeded. The caller keeps the success, and the dead-letter capture, which finds
SUCCESS stored, files the failure as superseded instead of alerting.

The app picks these classes by URL scheme through its loader's `override_backends`
(config/celery_app.py), as kombu picks the platform's transport.
"""

from __future__ import annotations

from typing import Any

from celery import states
from celery.backends.redis import RedisBackend, SentinelBackend

from taskplatform.redaction import redact, redact_text


class RedactingBackendMixin:
    def prepare_exception(self, exc: BaseException, serializer: str | None = None) -> Any:
        prepared = super().prepare_exception(exc, serializer)  # type: ignore[misc]
        if isinstance(prepared, dict) and "exc_message" in prepared:
            prepared["exc_message"] = redact(prepared["exc_message"])
        return prepared

    def store_result(
        self, task_id: str, result: Any, state: str, traceback: str | None = None,
        request: Any = None, **kwargs: Any,
    ) -> Any:  # fmt: skip
        if state == states.FAILURE and self.succeeded(task_id):
            return result
        if isinstance(traceback, str):
            traceback = redact_text(traceback)
        return super().store_result(task_id, result, state, traceback, request, **kwargs)  # type: ignore[misc]

    def succeeded(self, task_id: str) -> bool:
        """Whether SUCCESS is stored for `task_id` (read from the store, not the cache)."""
        return self._get_task_meta_for(task_id).get("status") == states.SUCCESS  # type: ignore[attr-defined]


class PlatformRedisBackend(RedactingBackendMixin, RedisBackend):
    """redis:// and rediss:// results."""


class PlatformSentinelBackend(RedactingBackendMixin, SentinelBackend):
    """sentinel:// results."""


#: Backend classes by URL scheme, for the loader's `override_backends`.
BACKENDS = {
    "redis": "config.result_backend:PlatformRedisBackend",
    "rediss": "config.result_backend:PlatformRedisBackend",
    "sentinel": "config.result_backend:PlatformSentinelBackend",
}
