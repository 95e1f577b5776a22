"""Job status for web apps: a job id becomes pending, started, retrying, succeeded or failed."""

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
