"""Celery's own commands work on the platform's transport, as in every Celery project.

`status`, `inspect`, `control`, `purge` and `events` run as subprocesses against a real worker.
"""

import os
import subprocess
import sys

import pytest

from tests import harness
from tests.conftest import module_worker
from tests.probe_tasks import ECHO


def celery(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "celery", "-A", "config", *args],
        cwd=harness.ROOT, env={**os.environ, "PYTHONPATH": str(harness.ROOT)},
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


@pytest.fixture(scope="module")
def search_worker():
    with module_worker(["search"]) as worker:
        yield worker


def test_status_and_inspect_reach_the_worker(search_worker):
    status = celery("status")
    assert status.returncode == 0, status.stderr
    assert f"{search_worker.hostname}: OK" in status.stdout
    ping = celery("inspect", "ping", "-d", search_worker.hostname)
    assert "pong" in ping.stdout
    queues = celery("inspect", "active_queues", "-d", search_worker.hostname)
    assert "'name': 'search'" in queues.stdout


def test_purge_empties_a_queue_and_its_wake_tokens(search_worker, redis_client):
    # Given three jobs waiting in `email`, which no worker here consumes
    for n in range(3):
        ECHO["email"].delay(n)
    assert redis_client.llen("email") == 3

    # When ops purge it
    purged = celery("purge", "-f", "-Q", "email")

    # Then the jobs and their wake tokens are gone
    assert purged.returncode == 0, purged.stderr
    assert "Purged 3 messages" in purged.stdout
    assert redis_client.llen("email") == 0
    assert redis_client.llen("taskplatform:broker:wake:email") == 0


def test_events_show_a_job_run(search_worker, tmp_path):
    # Given `celery events --dump` listening
    dump = tmp_path / "events.txt"
    with open(dump, "w") as out, subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "events", "--dump"],
        cwd=harness.ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(harness.ROOT), "PYTHONUNBUFFERED": "1"},
    ) as events:  # fmt: skip
        try:
            # When jobs run (the dump says it starts before its receiver has subscribed, so
            # a job every half second until one is seen)
            sent: list[str] = []

            def seen() -> str | None:
                text = dump.read_text()
                done = [i for i in sent if f"task succeeded: search.probe_echo({i})" in text]
                if not done:
                    sent.append(ECHO["search"].delay("seen").id)
                return done[0] if done else None

            task_id = harness.wait_for(seen, 30, interval=0.5)
        finally:
            events.terminate()
            events.wait(timeout=10)

    # Then its events went by, from the worker's receipt to its success
    assert f"task received: search.probe_echo({task_id})" in dump.read_text()


def test_control_shutdown_stops_the_worker(worker_process):
    worker = worker_process(["crm"])
    # A worker told to shut down does not reply (Celery then says "No nodes replied").
    celery("control", "shutdown", "-d", worker.hostname)
    assert worker.process.wait(30) == 0
