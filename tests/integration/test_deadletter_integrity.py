"""Dead letters that nothing can block, lose or fake: any bytes are stored, a letter Postgres
refuses is quarantined without holding up the rest, a huge argument's letter is built in
seconds, a failure after a success is filed as superseded, and a reused task id that fails
again is a row of its own."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
import uuid
from datetime import timedelta

from sqlalchemy import select

from broker import keys
from config import database
from deadletters import repository, spool
from deadletters.letters import Letter, from_job, from_raw
from deadletters.model import DeadLetter
from deadletters.replay import ReplayError, replay_one
from tests import harness
from tests.probe_tasks import ECHO, permanent


def raw_letter(raw: bytes, reason: str) -> Letter:
    return from_raw(
        task_id=f"raw-{uuid.uuid4()}", task_name=f"({reason})", queue="crm", raw=raw,
        headers={}, exception_type="NotAMessage", exception_message="x", reason=reason,
        hostname="h",
    )  # fmt: skip


def job_letter(**overrides) -> Letter:
    fields = dict(
        task_id=f"job-{uuid.uuid4()}", task_name="crm.capture_lead", queue="crm", args=[],
        kwargs={}, embed={}, headers={}, properties={}, exception_type="X",
        exception_message="x", traceback=None, attempts=1, reason="permanent", hostname="h",
    )  # fmt: skip
    return from_job(**{**fields, **overrides})


def rows_for(task_id: str) -> list[DeadLetter]:
    with database.session() as db:
        query = select(DeadLetter).where(DeadLetter.task_id == task_id).order_by(DeadLetter.id)
        return list(db.scalars(query))


def test_one_drain_stores_everything_and_quarantines_only_what_postgres_refuses(redis_client):
    redis_client.delete(keys.SPOOL, keys.SPOOL_DRAINING, keys.SPOOL_QUARANTINE)
    # Given, spooled in this order: garbage with NUL bytes, a pickle payload, a letter
    # Postgres refuses (a queue name longer than its column), and a normal letter
    garbage = raw_letter(b"\x00\x01garbage\x00" * 10, "undecodable")
    pickled = raw_letter(pickle.dumps({"password": "hunter2"}), "rejected")
    refused = job_letter(queue="q" * 300)
    normal = job_letter()
    for letter in (garbage, pickled, refused, normal):
        redis_client.rpush(keys.SPOOL, letter.to_json())

    # When the drain runs once
    report = spool.drain()

    # Then all four are rows, nothing is left, and only the refused one is in quarantine
    assert (report.stored, report.quarantined, report.left) == (3, 1, 0)
    for letter in (garbage, pickled, normal):
        assert len(rows_for(letter.task_id)) == 1
    [minimal] = rows_for(refused.task_id)
    assert "Postgres refused the full letter" in minimal.exception_message
    assert minimal.reason == "permanent"
    [entry] = spool.quarantined()
    assert json.loads(entry["letter"])["task_id"] == refused.task_id
    assert "StringDataRightTruncation" in entry["refusal"] or "DataError" in entry["refusal"]
    assert "\\x00" in rows_for(garbage.task_id)[0].message["raw"]

    # And the CLI shows the quarantine
    shown = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "config", "deadletters", "quarantine"],
        cwd=harness.ROOT, env={**os.environ, "PYTHONPATH": str(harness.ROOT)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert refused.task_id in shown.stdout
    redis_client.delete(keys.SPOOL_QUARANTINE)


def test_a_letter_for_a_5_mb_argument_is_stored_within_seconds(worker_process):
    # Given a worker and a producer that allow 8 MB of arguments
    env = {"TASK_MAX_PAYLOAD_BYTES": str(8 * 1024 * 1024)}
    worker_process(["quote"], env=env)
    publish = (
        "from tests.probe_tasks import permanent;"
        "print(permanent.delay('big', message='password=hunter2 ' + 'x' * 5_000_000).id)"
    )
    done = subprocess.run(
        [sys.executable, "-c", publish], cwd=harness.ROOT,
        env={**os.environ, "PYTHONPATH": str(harness.ROOT), **env},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    task_id = done.stdout.strip().splitlines()[-1]
    started = time.monotonic()

    # Then its letter is a row within seconds, cut (size noted) and redacted
    letter = harness.wait_for_letter(task_id, timeout=30)
    assert time.monotonic() - started < 20
    assert "more characters cut" in letter.exception_message
    assert "hunter2" not in letter.exception_message
    assert len(letter.exception_message) < 100_000


def test_a_failure_after_a_success_is_superseded_not_an_alert(worker_process):
    worker_process(["quote"])
    # Given a job that succeeded ...
    ok = ECHO["quote"].delay("done")
    assert ok.get(timeout=20)["value"] == "done"
    # ... and a late delivery of it that fails (what a worker that froze and resumed does)
    permanent.apply_async(("late",), {"message": "late delivery failed"}, task_id=ok.id)
    letter = harness.wait_for(lambda: rows_for(ok.id), 30)[0]

    # Then the letter is stored resolved as superseded, and the caller keeps its success
    assert letter.resolved_by == "superseded" and letter.resolved_at is not None
    assert ECHO["quote"].AsyncResult(ok.id).state == "SUCCESS"
    # And a replay would run the job a third time: refused unless forced
    try:
        replay_one(ECHO["quote"].app, letter.id, by="test")
        raise AssertionError("replayed a superseded letter")
    except ReplayError as refused:
        assert "superseded" in str(refused)


def test_a_reused_task_id_that_fails_again_is_a_row_of_its_own(worker_process):
    worker_process(["quote"])
    task_id = f"reused-{uuid.uuid4()}"
    first = permanent.apply_async(("a",), {"message": "first failure"}, task_id=task_id)
    harness.wait_for(lambda: first.ready(), 20)
    harness.wait_for(lambda: rows_for(task_id), 20)
    permanent.apply_async(("b",), {"message": "second failure"}, task_id=task_id)

    rows = harness.wait_for(lambda: len(rows_for(task_id)) == 2 and rows_for(task_id), 20)
    assert [row.exception_message for row in rows] == ["first failure", "second failure"]
    assert all(row.resolved_at is None for row in rows)


def test_a_failure_whose_job_succeeds_later_is_settled_as_superseded(worker_process):
    from deadletters import alerts

    worker_process(["quote"])
    # Given a letter for a delivery that failed ...
    failed = permanent.apply_async(("first",), {"message": "first delivery failed"})
    harness.wait_for(lambda: rows_for(failed.id), 20)
    # ... and another delivery of the same job that then succeeded
    second = ECHO["quote"].apply_async(("second",), task_id=failed.id)
    harness.wait_for(lambda: second.backend.get_task_meta(failed.id, cache=False)
                     ["status"] == "SUCCESS", 20)  # fmt: skip

    # When the alerting runs (beat's threshold check, the digest, `deadletters alert`)
    with database.session() as db:
        unresolved_before = repository.count(db, repository.Filters(unresolved=True))
    report = alerts.alert_unresolved(timedelta(0), succeeded=alerts.succeeded_in(ECHO["quote"].app))

    # Then the letter is resolved as superseded, and the alert does not count it
    [letter] = rows_for(failed.id)
    assert letter.resolved_by == "superseded"
    assert report.unresolved <= unresolved_before - 1  # (others may have been settled too)
