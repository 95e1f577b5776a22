"""Celery's own commands work on the platform's transport, as in every Celery project.

`status`, `inspect`, `control`, `purge` and `events` run as subprocesses against a real worker.
"""

import os
import subprocess
import sys
import time

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


def test_events_show_a_job_run(search_worker):
    # Given `celery events --dump` listening
    with subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "events", "--dump"],
        cwd=harness.ROOT, env={**os.environ, "PYTHONPATH": str(harness.ROOT)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    ) as events:  # fmt: skip
        try:
            time.sleep(3)
            # When a job runs
            assert ECHO["search"].delay("seen").get(timeout=20)["value"] == "seen"
            time.sleep(2)
        finally:
            events.terminate()
        output = events.communicate(timeout=10)[0]

    # Then its events went by
    assert "task received" in output.lower() or "task-received" in output
    assert "succeeded" in output.lower()


def test_control_shutdown_stops_the_worker(worker_process):
    worker = worker_process(["crm"])
    # A worker told to shut down does not reply (Celery then says "No nodes replied").
    celery("control", "shutdown", "-d", worker.hostname)
    assert worker.process.wait(30) == 0
