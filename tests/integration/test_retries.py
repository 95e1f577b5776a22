"""The base task's retry policy, observed on real workers through the real broker.

Backoff is made fast by configuration (RETRY_BACKOFF_MAX=0 in the test environment); the
test of the backoff itself runs a worker with a non-zero cap.
"""

import uuid
from datetime import datetime

import httpx
import pytest

from config.errors import PermanentError, TransientError
from tests.probe_tasks import attempts, flaky, http_status, permanent


def key() -> str:
    return f"attempts:{uuid.uuid4().hex}"


def test_transient_errors_retry_then_succeed(embedded_worker):
    k = key()
    assert flaky.delay(k, failures=2).get(timeout=20) == 3
    assert [a["retries"] for a in attempts(k)] == [0, 1, 2]


def test_exhausted_retries_end_as_failure_with_the_original_error(embedded_worker):
    k = key()
    result = flaky.delay(k, failures=100)
    with pytest.raises(TransientError, match="flaky attempt 4"):
        result.get(timeout=20)
    assert result.state == "FAILURE"
    assert len(attempts(k)) == flaky.max_retries + 1 == 4


def test_permanent_errors_fail_at_once(embedded_worker):
    k = key()
    result = permanent.delay(k)
    with pytest.raises(PermanentError, match="bad input"):
        result.get(timeout=20)
    assert len(attempts(k)) == 1


def test_http_4xx_fails_at_once(embedded_worker):
    k = key()
    with pytest.raises(httpx.HTTPError, match="404"):
        http_status.delay(k, 404).get(timeout=20)
    assert len(attempts(k)) == 1


@pytest.mark.parametrize("status", [429, 503])
def test_http_429_and_5xx_retry(embedded_worker, status):
    k = key()
    with pytest.raises(httpx.HTTPError, match=str(status)):
        http_status.delay(k, status).get(timeout=20)
    assert len(attempts(k)) == http_status.max_retries + 1


def test_retry_after_is_honoured(embedded_worker):
    # Given a cap of 0 s on backoff, the only wait comes from the error's retry_after
    k = key()
    assert flaky.delay(k, failures=1, retry_after=2).get(timeout=20) == 2
    first, second = attempts(k)
    assert second["at"] - first["at"] >= 1.9


def test_retries_wait_a_jittered_backoff_below_the_cap(worker_process):
    # Given a worker whose backoff cap is 2 s (factor 2: 2, 4, 8... capped, full jitter)
    worker_process(["quote"], env={"RETRY_BACKOFF_MAX": "2"})
    k = key()

    # When a job fails transiently three times
    assert flaky.delay(k, failures=3).get(timeout=30) == 4

    # Then each retry waited a countdown drawn from [0, cap] (a 0 s draw carries no ETA)
    runs = attempts(k)
    for previous, current in zip(runs, runs[1:], strict=False):
        eta = datetime.fromisoformat(current["eta"]).timestamp() if current["eta"] else None
        if eta is not None:
            assert 0 <= eta - previous["at"] <= 2.5
            assert current["at"] >= eta - 0.05
        assert current["at"] - previous["at"] <= 3.5
