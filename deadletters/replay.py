"""Replaying a dead letter: re-publish its original message as a new job.

The replay carries the original arguments, custom headers, callbacks, errbacks, chain and
chord, goes through the app (so routing sends it to the task's queue), gets a new task id
and a `replay_of` header naming the dead letter. The row records `replayed_as`, when and
by whom; if the replay fails again it becomes a new dead letter whose `replay_of` links
back, and if it succeeds the original is resolved (deadletters/capture.py).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from celery import Celery
from celery.exceptions import TimeoutError as ResultTimeout
from sqlalchemy import Engine

from broker import keys
from config import database, job_context
from deadletters import payload, repository
from deadletters.letters import SUPERSEDED, UNREPLAYABLE
from deadletters.model import DeadLetter
from taskplatform import correlation
from taskplatform.guard import job_task_id

logger = logging.getLogger(__name__)

#: A bulk replay's pace and canary wait (the CLI's defaults, and the page's).
DEFAULT_RATE = 5.0
CANARY_TIMEOUT = 60.0


class ReplayError(RuntimeError):
    """This dead letter cannot be replayed (and why)."""


def original_message(letter: DeadLetter) -> dict[str, Any]:
    """The real arguments, headers and embedded callbacks of a dead letter's message."""
    if letter.reason in UNREPLAYABLE:
        raise ReplayError(
            f"dead letter {letter.id} ({letter.reason}) never was a valid job: not replayable"
        )
    if letter.payload_sealed and payload.can_seal():
        return payload.unseal(letter.payload_sealed)
    if not letter.redacted:
        return {
            "args": letter.args,
            "kwargs": letter.kwargs,
            "embed": letter.message.get("embed") or {},
            "headers": letter.message.get("headers") or {},
        }
    raise ReplayError(
        f"dead letter {letter.id}: its arguments were redacted and "
        + (
            "DEADLETTER_ENCRYPTION_KEY is not set here"
            if letter.payload_sealed
            else "no DEADLETTER_ENCRYPTION_KEY sealed them when it failed"
        )
        + "; a replay would send masked values"
    )


def replay_one(
    app: Celery, letter_id: int, by: str, force: bool = False, engine: Engine | None = None
) -> str:
    """Re-publish one dead letter; the new task id."""
    with database.session(engine) as db:
        letter = repository.lock_for_replay(db, letter_id)
        if letter is None:
            raise ReplayError(f"no dead letter {letter_id}")
        if letter.resolved_by == SUPERSEDED and not force:
            raise ReplayError(
                f"dead letter {letter_id} is superseded: the job succeeded on another"
                " delivery (use --force to run it again anyway)"
            )
        if letter.replayed_as and not force:
            raise ReplayError(
                f"dead letter {letter_id} was already replayed as {letter.replayed_as}"
                " (use --force to replay it again)"
            )
        if letter.resolved_at and not force:
            raise ReplayError(
                f"dead letter {letter_id} is resolved ({letter.resolved_by}): someone decided"
                " it needs no replay (use --force to run it anyway)"
            )
        original = original_message(letter)
        embed = original.get("embed") or {}
        # The publish guard stamps enqueued_at and drops the publish-once mark.
        headers = {**(original.get("headers") or {}), "replay_of": letter.id}
        # Publish once per replay: a replay retried after an ambiguous failure (a timeout,
        # the row not marked) gets the same task id and is not queued twice.
        key = f"replay:{letter.id}:{letter.replayed_as or 'first'}"
        new_task_id = job_task_id(letter.task_name, key)
        app.send_task(
            letter.task_name,
            args=original.get("args") or [],
            kwargs=original.get("kwargs") or {},
            task_id=new_task_id,
            job_key=key,
            headers=headers,
            link=embed.get("callbacks"),
            link_error=embed.get("errbacks"),
            chain=embed.get("chain"),
            chord=embed.get("chord"),
            priority=(letter.message.get("properties") or {}).get("priority"),
        )
        repository.mark_replayed(db, letter.id, new_task_id, by)
        logger.info(
            "dead letter %s (%s[%s]) replayed as %s[%s] by %s", letter.id, letter.task_name,
            letter.task_id, letter.task_name, new_task_id, by,
            extra=job_context.extra(task_id=new_task_id, task_name=letter.task_name,
                                    queue=letter.queue,
                                    correlation_id=headers.get(correlation.HEADER)),
        )  # fmt: skip
    return new_task_id


def outcome(app: Celery, task_id: str, timeout: float) -> str:
    """How a replayed job ended: succeeded, failed, or pending after `timeout` seconds."""
    result = app.AsyncResult(task_id)
    try:
        result.get(timeout=timeout, propagate=False, disable_sync_subtasks=False)
    except ResultTimeout:
        return "pending"
    return "succeeded" if result.successful() else "failed"


@dataclass
class BulkReport:
    sent: dict[int, str] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    canary: str | None = None
    stopped: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failed and self.stopped is None


def replay_many(
    app: Celery,
    ids: list[int],
    by: str,
    rate: float,
    canary_timeout: float,
    force: bool = False,
    progress: Callable[[int, str], None] | None = None,
) -> BulkReport:
    """Replay dead letters. With more than one, the first is a canary: the rest are sent only
    if it succeeds, then at most `rate` a second."""
    report = BulkReport()
    for position, letter_id in enumerate(ids):
        try:
            new_id = replay_one(app, letter_id, by, force=force)
        except ReplayError as exc:
            report.failed[letter_id] = str(exc)
            if progress:
                progress(letter_id, f"not replayed: {exc}")
            continue
        except Exception as exc:  # the broker or Postgres: stop, and say what is left
            report.failed[letter_id] = f"{type(exc).__name__}: {exc}"
            report.stopped = (
                f"replaying {letter_id} failed ({exc}); it may have been queued, and replaying"
                f" it again is safe (once per replay); {len(ids) - position - 1} left unsent"
            )
            return report
        report.sent[letter_id] = new_id
        if progress:
            progress(letter_id, new_id)
        if report.canary is None and len(ids) > 1:
            report.canary = outcome(app, new_id, canary_timeout)
            if report.canary != "succeeded":
                report.stopped = (
                    f"canary {letter_id} (replayed as {new_id}) {report.canary}:"
                    f" {len(ids) - position - 1} left unsent"
                )
                return report
        elif rate > 0:
            time.sleep(1.0 / rate)
    return report


#: One bulk replay at a time, whoever starts it: two overlapping forced bulks would replay
#: letters twice.
BULK_TASK = "maintenance.replay_deadletters"
BULK_LOCK_SECONDS = 3600


class BulkRunning(ReplayError):
    """Another bulk replay has not finished yet."""


def start_bulk(app: Celery, client: Any, ids: list[int], by: str, force: bool = False) -> str:
    """Queue a bulk replay (canary first) for a worker to run; its task id. Refused while
    another runs. A web request cannot wait for a canary and hundreds of paced publishes."""
    job = str(uuid.uuid4())
    if not client.set(keys.BULK_REPLAY_LOCK, job, nx=True, ex=BULK_LOCK_SECONDS):
        running = client.get(keys.BULK_REPLAY_LOCK)
        running = running.decode() if isinstance(running, bytes) else running
        raise BulkRunning(f"a bulk replay is running ({running}): wait for it to finish")
    try:
        app.send_task(BULK_TASK, args=(ids, by, force), task_id=job)
    except Exception:
        client.delete(keys.BULK_REPLAY_LOCK)
        raise
    return job


def run_bulk(app: Celery, client: Any, ids: list[int], by: str, force: bool,
             job: str | None) -> dict[str, Any]:  # fmt: skip
    """The worker's side of start_bulk: replay, report, and free the lock."""
    try:
        report = replay_many(app, ids, by, rate=DEFAULT_RATE, canary_timeout=CANARY_TIMEOUT,
                             force=force)  # fmt: skip
    finally:
        if job is not None and client.get(keys.BULK_REPLAY_LOCK) in (job, job.encode()):
            client.delete(keys.BULK_REPLAY_LOCK)
    return {"ok": report.ok, "sent": report.sent, "failed": report.failed,
            "canary": report.canary, "stopped": report.stopped}  # fmt: skip
