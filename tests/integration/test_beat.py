"""Beat: a real beat process with a fast test schedule drives a real worker; two beats send
each run once; the standby takes over when the leader dies."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time

import pytest
from sqlalchemy import text

from beat_schedule import ENTRIES
from broker import keys
from config import database
from deadletters.letters import from_job
from tests import harness


@pytest.fixture
def beats(services, redis_client):
    started: list[harness.BeatProcess] = []
    redis_client.delete("taskplatform:beat:leader")

    def start() -> harness.BeatProcess:
        beat = harness.BeatProcess()
        started.append(beat)
        return beat.start()

    yield start
    for beat in started:
        beat.__exit__(None, None, None)


def worker_received(worker: harness.WorkerProcess, task: str) -> int:
    return sum(1 for line in worker.log().splitlines()
               if "received" in line and f"{task}[" in line)  # fmt: skip


def test_beat_drives_the_housekeeping_on_a_worker(beats, worker_process, redis_client):
    # Given a dead letter waiting in the spool, a maintenance worker and a fast beat
    letter = from_job(task_id=f"spooled-{time.time()}", task_name="crm.capture_lead",
                      queue="crm", args=[], kwargs={}, embed={}, headers={}, properties={},
                      exception_type="X", exception_message="x", traceback=None, attempts=1,
                      reason="permanent", hostname="h")  # fmt: skip
    redis_client.rpush(keys.SPOOL, letter.to_json())
    with database.engine().connect() as db:
        began = db.execute(text("SELECT now()")).scalar()  # earlier tests' snapshots are older
    worker_process(["maintenance"], env=harness.BeatProcess.FAST)
    beat = beats()

    # Then within seconds the jobs have done their work in Redis and Postgres
    harness.wait_for(lambda: harness.letters_for(letter.task_id), 30)

    def snapshots() -> int:
        with database.engine().connect() as db:
            query = "SELECT count(DISTINCT taken_at) FROM queue_health WHERE taken_at >= :began"
            return db.execute(text(query), {"began": began}).scalar()

    harness.wait_for(lambda: snapshots() >= 2, 30)
    assert beat.leads()
    assert beat.sent("maintenance.snapshot_queue_health") >= 2

    # And `celery -A config schedule` lists every entry and names the leader
    shown = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "config", "schedule"], cwd=harness.ROOT,
        env={**harness.os.environ, "PYTHONPATH": str(harness.ROOT)}, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    for name in ENTRIES:
        assert name in shown.stdout
    assert f"leader: {socket.gethostname()} pid {beat.process.pid}" in shown.stdout


def test_two_beats_send_each_run_once(beats, worker_process, redis_client):
    redis_client.delete("maintenance")  # runs sent by an earlier test's beat
    worker = worker_process(["maintenance"], env=harness.BeatProcess.FAST)
    first = beats()
    harness.wait_for(first.leads, 20)
    second = beats()
    harness.wait_for(lambda: first.sent() >= 6, 30)
    second.stop()  # the standby first: a leader that stops hands the lock over
    first.stop()

    # Only the leader sent; the standby waited for the lock
    assert first.sent() >= 6 and second.sent() == 0 and not second.leads()
    # Every run reached the worker exactly once
    task = "maintenance.snapshot_queue_health"
    harness.wait_for(lambda: worker_received(worker, task) >= first.sent(task), 10)
    assert worker_received(worker, task) == first.sent(task)


def test_the_standby_takes_over_when_the_leader_dies(beats):
    first = beats()
    harness.wait_for(first.leads, 20)
    second = beats()
    harness.never(second.leads, 2)

    first.process.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    harness.wait_for(second.leads, 30)
    # The lock expires BEAT_LOCK_TIMEOUT (3 s) after the leader's last extension; the standby
    # retries every BEAT_MAX_INTERVAL (1 s).
    assert time.monotonic() - killed < 10
    sent_at_takeover = second.sent()
    harness.wait_for(lambda: second.sent() > sent_at_takeover, 10)


@pytest.mark.redis_broker  # reads the queued messages in Redis's list
def test_what_beat_sends_crosses_the_publish_guard(beats, redis_client):
    # Given no maintenance worker, beat's runs wait in the queue, where they can be read
    redis_client.delete("maintenance")
    beat = beats()
    harness.wait_for(lambda: redis_client.llen("maintenance") >= 2, 30)
    beat.stop()
    for raw in redis_client.lrange("maintenance", 0, -1):
        headers = json.loads(raw)["headers"]
        # stamped by config/publish.py, which nothing but the guarded send_task adds
        assert time.time() - headers["enqueued_at"] < 60
        assert headers["task"].startswith("maintenance.")
    redis_client.delete("maintenance")
