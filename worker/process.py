"""The worker process (`app.Worker`, named by config/celery_app.py): two backstops that end in
a dead letter what no check foresaw.

- A job the worker cannot hand to its pool (Celery's prefork parent could not pickle it):
  Celery lets that error end the worker, and the message would come back for the next one.
  Here its pool slot and Celery's records of it are given back, it is dead-lettered with its
  raw body (reason `rejected`), and the worker goes on.
- An unrecoverable error: what the worker holds goes back counting a delivery
  (broker/transport.py), so whatever caused it ends as a `worker_lost` dead letter after
  MAX_DELIVERIES restarts at most, instead of ending every worker for ever.

This module is imported when `celery worker` builds its worker, before the worker loads the
app's modules and starts Sentry (config/sentry.py); so it must not import Celery's
consumer, which binds the tracer builder Sentry wraps (tests/unit/test_worker_imports.py).
"""

from __future__ import annotations

import logging
from typing import Any

from celery.apps.worker import Worker
from celery.exceptions import TaskRevokedError
from celery.worker import state as worker_state

from broker.transport import stopping_on_error

logger = logging.getLogger(__name__)


class PlatformWorker(Worker):
    """Celery's worker with the two backstops above."""

    def start(self) -> None:
        start_blueprint = self.blueprint.start

        def start_counting_errors(parent: Any) -> Any:
            try:
                return start_blueprint(parent)
            except Exception:  # Celery logs it as "Unrecoverable error" and stops
                stopping_on_error()
                raise

        self.blueprint.start = start_counting_errors
        super().start()

    def _process_task(self, req: Any) -> None:
        try:
            super()._process_task(req)
        except TaskRevokedError:
            raise
        except Exception as exc:
            not_taken(self, req, exc)


def not_taken(worker: Any, req: Any, exc: Exception) -> None:
    from deadletters.capture import keep, raw_letter  # the consumer's module: not before Sentry

    """Handing a job to the pool raised (Celery lets that end the worker): undo what Celery
    had counted for it (its pool slot, its place in the worker's state and pool cache),
    dead-letter it with its raw body, and reject it so it is gone from the broker."""
    logger.critical("the pool could not take %s[%s] (%s: %s): dead-lettering it",
                    req.name, req.id, type(exc).__name__, exc, exc_info=True)  # fmt: skip
    release = getattr(worker, "_quick_release", None)
    if release is not None:
        release()  # as Celery does for a job revoked at this point
    _forget_in_pool(worker.pool, req.id)
    worker_state.task_ready(req)
    try:
        keep(raw_letter(req.message, "rejected", exc, "NotTaken"))
    except Exception:
        # Left unacked: it goes back counting a delivery when this worker stops.
        logger.critical("DEAD LETTER CAPTURE FAILED for %s[%s]", req.name, req.id, exc_info=True)
        return
    req.reject(requeue=False)


def _forget_in_pool(pool: Any, task_id: str) -> None:
    """billiard registers a job in its cache before writing it to a child; a job whose write
    failed would wait there for ever (and keep a stopping pool waiting)."""
    cache = getattr(getattr(pool, "_pool", None), "_cache", None)
    if not isinstance(cache, dict):
        return
    for job, result in list(cache.items()):
        unwritten = getattr(result, "_write_to", None) is None and not result.ready()
        if unwritten and getattr(result, "correlation_id", None) == task_id:
            cache.pop(job, None)
