"""Job status for web apps: a job id becomes pending, started, retrying, succeeded or failed."""

import os
import subprocess
import sys
import uuid

from tasks.status import job_status
from tests import harness
from tests.probe_tasks import ECHO, flaky, permanent, sleep


def key() -> str:
    return f"attempts:{uuid.uuid4().hex}"


def test_an_unknown_or_waiting_job_is_pending(services):
    assert job_status(uuid.uuid4().hex) == {"status": "pending", "result": None, "error": None}


def test_a_finished_job_has_succeeded_with_its_result(embedded_worker):
    result = ECHO["quote"].delay(41)
    result.get(timeout=10)
    status = job_status(result.id)
    assert status["status"] == "succeeded"
    assert status["result"]["value"] == 41
    assert status["error"] is None


def test_a_running_job_has_started(embedded_worker):
    result = sleep.delay(key(), 1.5)
    harness.wait_for(lambda: job_status(result.id)["status"] == "started", timeout=10)
    result.get(timeout=10)


def test_a_job_waiting_to_retry_is_retrying_with_its_error(embedded_worker):
    result = flaky.delay(key(), failures=1, retry_after=3)
    status = harness.wait_for(
        lambda: (s := job_status(result.id))["status"] == "retrying" and s, timeout=10
    )
    assert status["error"] == {"type": "TransientError", "message": "flaky attempt 1"}
    result.get(timeout=10)


def test_a_failed_job_reports_a_redacted_error(embedded_worker):
    result = permanent.delay(key(), message="login refused: password=hunter2 token=abc123")
    harness.wait_for(lambda: result.ready(), timeout=10)
    status = job_status(result.id)
    assert status["status"] == "failed"
    assert status["error"]["type"] == "PermanentError"
    assert "hunter2" not in str(status) and "abc123" not in str(status)
    assert "password=[REDACTED]" in status["error"]["message"]


def test_a_result_store_that_does_not_answer_is_a_named_error(services):
    from devstack import servers

    code = (
        "from taskplatform import ResultStoreUnavailableError\n"
        "from tasks.status import job_status\n"
        "try:\n    job_status('x')\nexcept ResultStoreUnavailableError as exc:\n"
        "    print('refused:', exc)\n"
    )
    dead = f"redis://127.0.0.1:{servers.free_port()}/0"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=harness.ROOT, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(harness.ROOT), "RESULT_BACKEND_URL": dead},
        timeout=60,
    )  # fmt: skip
    assert "refused: the result store did not answer" in done.stdout, done.stderr[-2000:]
