"""Once-only effects: a job's own database writes and the record that they were made, in one
transaction, so that a redelivered job writes nothing twice.

    @app.task(name="crm.record_order")
    def record_order(order_id: int) -> dict:
        with database.session() as db, once(db) as effect:
            if effect.done:
                return effect.result          # the first delivery committed: skip the body
            db.execute(...)                   # the job's writes
            return effect.keep({"order": order_id})

Delivery is at least once: a worker killed after its commit and before its ack, a broker
restarted, a frozen worker whose job was handed to another all run a job again. `once`
inserts the job's id into `taskplatform_once` first, in the caller's transaction: a second
delivery's insert waits for the first one's transaction and then finds the id (its writes
committed: `done` is true, with the stored result), or takes its place (the first rolled
back). The table lives beside the data the task writes: the platform's database (migration
0009), or a web app's (`taskplatform-outbox migrate`). Effects outside the database (a mail,
a webhook) cannot commit with the record; they keep their own claims (mail/send.py,
leads/capture.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from taskplatform.outbox.schema import ONCE


@dataclass
class Effect:
    """The job's record: `done` when an earlier delivery committed, with its `result`."""

    job_id: str
    done: bool
    result: Any = None
    _kept: bool = field(default=False, repr=False)

    def keep(self, result: Any) -> Any:
        """Store `result` (JSON) with the record, for a redelivery to return; returns it."""
        self.result, self._kept = result, True
        return result


@contextmanager
def once(db: Any, job_id: str | None = None) -> Iterator[Effect]:
    """The record of `job_id` (by default the running job's) in `db`'s transaction (a
    SQLAlchemy Session or Connection). Raising inside leaves no record: the transaction
    rolls back with the job's writes."""
    job_id = job_id or current_job_id()
    task = _current_task_name()
    claimed = db.execute(
        text(
            f"INSERT INTO {ONCE} (job_id, task) VALUES (:job_id, :task)"
            " ON CONFLICT (job_id) DO NOTHING RETURNING job_id"
        ),  # fmt: skip
        {"job_id": job_id, "task": task},
    ).first()
    if claimed is None:
        stored = db.execute(
            text(f"SELECT result FROM {ONCE} WHERE job_id = :job_id"), {"job_id": job_id}
        ).scalar()
        yield Effect(job_id, True, None if stored is None else json.loads(stored))
        return
    effect = Effect(job_id, False)
    yield effect
    if effect._kept:
        db.execute(
            text(f"UPDATE {ONCE} SET result = :result WHERE job_id = :job_id"),
            {"result": json.dumps(effect.result), "job_id": job_id},
        )


def current_job_id() -> str:
    """The running job's id; outside a job, a clear error instead of a record under None."""
    from celery import current_task

    job_id = getattr(getattr(current_task, "request", None), "id", None)
    if not job_id:
        raise RuntimeError("once() outside a running job needs its job_id")
    return job_id


def _current_task_name() -> str:
    from celery import current_task

    return getattr(current_task, "name", None) or "(outside a job)"
