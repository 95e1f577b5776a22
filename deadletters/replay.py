"""Replaying a dead letter: re-publish its original message as a new job.

The replay carries the original arguments, custom headers, callbacks, errbacks, chain and
chord, goes through the app (so routing sends it to the task's queue), gets a new task id
and a `replay_of` header naming the dead letter. The row records `replayed_as`, when and
by whom; if the replay fails again it becomes a new dead letter whose `replay_of` links
back, and if it succeeds the original is resolved (deadletters/capture.py).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from celery import Celery
from celery.exceptions import TimeoutError as ResultTimeout
from sqlalchemy import Engine

from config import database
from deadletters import payload, repository
from deadletters.letters import SUPERSEDED, UNREPLAYABLE
from deadletters.model import DeadLetter


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
        original = original_message(letter)
        embed = original.get("embed") or {}
        # The publish guard stamps enqueued_at and drops the publish-once mark.
        headers = {**(original.get("headers") or {}), "replay_of": letter.id}
        new_task_id = str(uuid.uuid4())
        app.send_task(
            letter.task_name,
            args=original.get("args") or [],
            kwargs=original.get("kwargs") or {},
            task_id=new_task_id,
            headers=headers,
            link=embed.get("callbacks"),
            link_error=embed.get("errbacks"),
            chain=embed.get("chain"),
            chord=embed.get("chord"),
            priority=(letter.message.get("properties") or {}).get("priority"),
        )
        repository.mark_replayed(db, letter.id, new_task_id, by)
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
