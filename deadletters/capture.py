"""Every failure path ends in a dead letter: the signal handlers and worker hooks.

Loaded by every worker (the app's `imports`). Paths covered:
- `task_failure`: retries exhausted, permanent errors, soft and hard time limits, the
  delivery bound (worker lost), `Reject(requeue=False)`;
- `task_unknown`: a message for a task no worker knows (Celery would discard it);
- `task_rejected`: a message the worker refuses (a disallowed content type such as pickle);
- a message whose body does not decode (Celery only logs and acks it): the worker's
  consumer (worker/consumer.py) calls `keep_undecodable`;
- items the broker cannot run as a message (refused by broker/intake.py) and jobs whose
  worker died MAX_DELIVERIES times: deadletters/intake.py, called by the transport;
- a job the worker cannot hand to its pool (Celery's prefork parent could not pickle it),
  which would otherwise end the worker on every restart: worker/process.py.

Each handler is small and reports its own failure loudly: Celery swallows exceptions
raised in signal handlers, and a silent failure here would be a lost job.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from typing import Any

from celery.signals import task_failure, task_rejected, task_success, task_unknown, worker_ready

from config import database, failure_policy
from config.queues import UnroutableTaskError, queue_for, queue_of_routing_key
from deadletters import letters, repository, spool
from taskplatform.guard import PROTOCOL_HEADERS

logger = logging.getLogger(__name__)


def reason_for(request: Any, task_id: str, exc: BaseException) -> str:
    """Why a job that raised `exc` ended as a dead letter: the failure policy's decision,
    as the base task applied it (on the attempt's request); for a failure no attempt decided
    on (a hard time limit or a lost worker, seen by the worker's main process), the event's
    own reason."""
    decided = failure_policy.attached(request, task_id)
    return decided.reason if decided is not None else failure_policy.reason_for(exc)


def _queue_of(task_name: str, delivery_info: dict | None) -> str | None:
    routing_key = queue_of_routing_key((delivery_info or {}).get("routing_key"))
    if routing_key:
        return routing_key
    try:
        return queue_for(task_name)
    except UnroutableTaskError:
        return None


def letter_for_failure(task: Any, task_id: str, exc: BaseException, args, kwargs, einfo):
    request = task.request
    delivery_info = request.delivery_info or {}
    return letters.from_job(
        task_id=task_id,
        task_name=task.name,
        queue=_queue_of(task.name, delivery_info),
        args=args,
        kwargs=kwargs,
        embed={
            "callbacks": request.callbacks,
            "errbacks": request.errbacks,
            "chain": request.chain,
            "chord": request.chord,
        },
        headers=request.headers or {},
        properties={
            "priority": delivery_info.get("priority"),
            "exchange": delivery_info.get("exchange"),
            "routing_key": delivery_info.get("routing_key"),
        },
        exception_type=type(exc).__name__,
        exception_message=str(exc),
        traceback=getattr(einfo, "traceback", None),
        attempts=(request.retries or 0) + 1,
        reason=reason_for(request, task_id, exc),
        hostname=request.hostname or socket.gethostname(),
    )


def keep(letter: letters.Letter) -> None:
    where = spool.keep(letter)
    job = letters.log_fields(letter)
    if letter.superseded:
        logger.info(
            "dead letter %s as superseded: %s[%s] reason=%s, but the job succeeded on another"
            " delivery", where, letter.task_name, letter.task_id, letter.reason, extra=job,
        )  # fmt: skip
        return
    logger.warning(
        "dead letter %s: %s[%s] reason=%s", where, letter.task_name, letter.task_id,
        letter.reason, extra=job,
    )  # fmt: skip


def _succeeded_elsewhere(task: Any, task_id: str) -> bool:
    """SUCCESS is stored for this id: another delivery of the job succeeded (the backend
    keeps a success over a later failure, config/result_backend.py)."""
    succeeded = getattr(task.backend, "succeeded", None)
    try:
        return bool(succeeded and succeeded(task_id))
    except Exception as exc:
        logger.warning("could not ask the result store about %s (%s)", task_id, exc)
        return False


@task_failure.connect
def on_task_failure(sender=None, task_id=None, exception=None, args=None, kwargs=None,
                    einfo=None, **_: Any) -> None:  # fmt: skip
    try:
        letter = letter_for_failure(sender, task_id, exception, args, kwargs, einfo)
    except Exception as exc:
        # Never nothing: who failed, where and why, even when the full letter cannot be built.
        logger.critical("dead letter for %s[%s] could not be built; storing a minimal one",
                        getattr(sender, "name", sender), task_id, exc_info=True)  # fmt: skip
        letter = _minimal_for_failure(sender, task_id, exception, exc)
    try:
        letter.superseded = _succeeded_elsewhere(sender, task_id)
        keep(letter)
    except Exception:
        logger.critical("DEAD LETTER CAPTURE FAILED for %s[%s]", sender, task_id, exc_info=True)


def _minimal_for_failure(task: Any, task_id: str, error: BaseException, why: BaseException):
    try:
        reason = reason_for(getattr(task, "request", None), task_id, error)
        queue = _queue_of(task.name, getattr(task.request, "delivery_info", None))
    except Exception:
        reason, queue = "permanent", None
    return letters.minimal(
        task_id=task_id, task_name=getattr(task, "name", None), queue=queue, reason=reason,
        exception_type=type(error).__name__, hostname=socket.gethostname(),
        note=f"the full letter could not be built ({type(why).__name__}: {why})",
    )  # fmt: skip


def _decoded_body(message) -> tuple[list, dict, dict]:
    body = message.decode()
    if isinstance(body, list | tuple) and len(body) == 3:
        args, kwargs, embed = body
        return list(args or []), dict(kwargs or {}), dict(embed or {})
    return [], {}, {}


@task_unknown.connect
def on_task_unknown(sender=None, name=None, id=None, message=None, exc=None, **_: Any) -> None:
    try:
        headers = dict(message.headers or {})
        args, kwargs, embed = _decoded_body(message)
        letter = letters.from_job(
            task_id=id or headers.get("id") or str(uuid.uuid4()),
            task_name=name or headers.get("task") or "(unknown)",
            queue=_queue_of(name or "", message.delivery_info),
            args=args,
            kwargs=kwargs,
            embed=embed,
            headers={k: v for k, v in headers.items() if k not in PROTOCOL_HEADERS},
            properties=dict(message.delivery_info or {}),
            exception_type="NotRegistered",
            exception_message=f"no worker knows the task {name!r}",
            traceback=None,
            attempts=(headers.get("retries") or 0) + 1,
            reason="unknown_task",
            hostname=socket.gethostname(),
        )
        keep(letter)
    except Exception:
        logger.critical("DEAD LETTER CAPTURE FAILED for unknown task %s[%s]", name, id,
                        exc_info=True)  # fmt: skip


def raw_letter(message, reason: str, exc: BaseException | None, default_error: str):
    headers = dict(message.headers or {})
    raw = message.body if message.body is not None else b""
    return letters.from_raw(
        task_id=headers.get("id") or letters.raw_id(reason, raw),
        task_name=headers.get("task") or "(undecodable)",
        queue=queue_of_routing_key((message.delivery_info or {}).get("routing_key")),
        raw=raw,
        headers=headers,
        exception_type=type(exc).__name__ if exc else default_error,
        exception_message=str(exc) if exc else f"{default_error}: {message.content_type}",
        reason=reason,
        hostname=socket.gethostname(),
    )


@task_rejected.connect
def on_task_rejected(sender=None, message=None, exc=None, **_: Any) -> None:
    try:
        # Celery rejects a disallowed content type, and a message naming no task at all
        known = "task" in (message.headers or {})
        keep(raw_letter(message, "rejected", exc, "ContentDisallowed" if known else "NotATask"))
    except Exception:
        logger.critical("DEAD LETTER CAPTURE FAILED for a rejected message", exc_info=True)


def keep_undecodable(message: Any, exc: BaseException) -> None:
    """A message whose body does not decode, as a dead letter with its raw bytes."""
    try:
        keep(raw_letter(message, "undecodable", exc, "DecodeError"))
    except Exception:
        logger.critical("DEAD LETTER CAPTURE FAILED for an undecodable message",
                        exc_info=True)  # fmt: skip


@task_success.connect
def on_replay_success(sender=None, **_: Any) -> None:
    """A replay that succeeds resolves the dead letter it came from and the rest of its
    lineage: the letters it descends from and other replays of them that failed (the job
    is done, whichever copy did it)."""
    replay_of = (getattr(sender.request, "headers", None) or {}).get("replay_of")
    if replay_of is None:
        return
    try:
        with database.session() as db:
            letter = repository.get(db, int(replay_of))
            if letter is None:
                return
            root = ([*repository.lineage(db, letter, descendants=False)["ancestors"], letter])[0]
            family = [root, *repository.lineage(db, root)["descendants"]]
            repository.resolve(
                db, [x.id for x in family], by=f"replay {sender.request.id}",
                note="replay succeeded",
            )  # fmt: skip
    except Exception:
        logger.error("could not resolve dead letter %s after its replay succeeded", replay_of,
                     exc_info=True)  # fmt: skip


#: How often a worker looks for letters filed on its own disk (Postgres and Redis were both
#: away): the file is per host or pod volume, and only a process there can drain it.
LOCAL_DRAIN_SECONDS = 10.0


@worker_ready.connect
def drain_on_start(**_: Any) -> None:
    """A worker that starts drains what an earlier one on this host (or this pod's volume) had
    to spool to file, then drains again whenever such a file exists: the maintenance queue's
    drain reaches only the disk of the worker that runs it."""

    def drain(when: str) -> None:
        try:
            spool.drain()
        except Exception as exc:
            logger.warning("dead-letter spool not drained %s: %s", when, exc)

    def drain_while_filed() -> None:
        drain("at start-up")
        while True:
            time.sleep(LOCAL_DRAIN_SECONDS)
            if spool.filed():
                drain("from this worker's file")

    threading.Thread(target=drain_while_filed, name="deadletter-drain", daemon=True).start()
