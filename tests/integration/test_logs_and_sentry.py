"""Logs are JSON lines that say which job they are about, with a correlation id that follows
the job into its retries and child jobs; Sentry gets one event per job that finally failed."""

from __future__ import annotations

import json
import uuid

import pytest

from taskplatform.correlation import correlation_id
from tests import harness
from tests.fakes import FakeSentry
from tests.probe_tasks import flaky, spawn


def json_lines(log: str) -> list[dict]:
    lines = []
    for line in log.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return lines


def test_the_correlation_id_follows_retries_and_child_jobs(worker_process):
    worker = worker_process(["quote"])
    k = f"k:{uuid.uuid4().hex}"

    # Given a web request that queues work under its request id
    with correlation_id("req-7f3a"):
        retried = flaky.delay(k, failures=2)
        parent = spawn.delay(f"{k}:p")
    assert retried.get(timeout=20) == 3
    child_id = parent.get(timeout=20)
    harness.wait_for(lambda: f"{k}:p:child" in worker.log(), 20)

    # Then every line about those jobs is JSON naming the job and the correlation id
    lines = json_lines(worker.log())
    attempts = [x for x in lines if x["message"].startswith("flaky attempt")
                and x["message"].endswith(f"of {k}")]  # fmt: skip
    assert [x["attempt"] for x in attempts] == [1, 2, 3]
    for line in attempts:
        assert line["correlation_id"] == "req-7f3a"
        assert (line["task_id"], line["task_name"], line["queue"]) == (
            retried.id, "quote.probe_flaky", "quote",
        )  # fmt: skip
    (child,) = [x for x in lines if x.get("task_id") == child_id and "flaky attempt" in
                x["message"]]  # fmt: skip
    assert child["correlation_id"] == "req-7f3a"


@pytest.mark.redis_broker  # the client publishes to Redis only (docs/client.md)
def test_a_web_apps_correlation_id_from_the_client_is_in_the_workers_lines(worker_process):
    # Given a web app that queues through the client alone (taskplatform), under its request id
    from taskplatform import TaskHandle
    from taskplatform import correlation_id as client_correlation_id

    worker = worker_process(["quote"])
    with client_correlation_id("req-client-7f3a"):
        job = TaskHandle("quote.probe_flaky").delay(f"k:{uuid.uuid4().hex}", failures=1)

    # Then the worker's lines about each attempt carry it
    harness.wait_for(lambda: f"{job.id}] succeeded" in worker.log(), 30)
    about = [x for x in json_lines(worker.log()) if x.get("task_id") == job.id]
    assert {x["attempt"] for x in about} == {1, 2}
    assert all(x["correlation_id"] == "req-client-7f3a" for x in about), about


def retried_and_dead_lettered(worker, request_id: str):
    """Queue, under `request_id`, a job that retries once then succeeds and one that ends as a
    dead letter after its retries; wait until the worker logged both ends."""
    with correlation_id(request_id):
        ok = flaky.delay(f"k:{uuid.uuid4().hex}", failures=1)
        bad = flaky.delay(f"k:{uuid.uuid4().hex}", failures=100)
    assert ok.get(timeout=20) == 2
    harness.wait_for_letter(bad.id)
    # (with prefork, the main process logs the failure after the child stored its letter)
    harness.wait_for(
        lambda: (
            "dead letter" in (log := worker.log()) and bad.id in log and "raised unexpected" in log
        ),
        20,
    )
    return ok, bad


@pytest.mark.parametrize("pool", ["solo", "prefork"])
def test_every_line_about_a_job_names_it_and_its_correlation_id(worker_process, pool):
    # Given a worker (the prefork pool logs from its main process and its children)
    worker = worker_process(["quote"], pool=pool, concurrency=2 if pool == "prefork" else 1)

    # When a web request queues a job that retries then succeeds, and one that ends as a
    # dead letter after its retries
    ok, bad = retried_and_dead_lettered(worker, "req-every-line")

    # Then every line about them, Celery's own included, carries the job and the request id
    ids = {ok.id, bad.id}
    about = [x for x in json_lines(worker.log())
             if x.get("task_id") in ids or any(i in x["message"] for i in ids)]  # fmt: skip
    said = " | ".join(x["message"] for x in about)
    for kind in ("received", "succeeded in", "Retry in", "raised unexpected", "dead letter"):
        assert kind in said, kind
    for line in about:
        assert line["correlation_id"] == "req-every-line", line
        assert line["task_id"] in ids and line["task_name"] == "quote.probe_flaky", line
        assert line["queue"] == "quote" and line["attempt"] >= 1, line
    attempts_of_bad = {x["attempt"] for x in about if x["task_id"] == bad.id}
    assert attempts_of_bad == {1, 2, 3, 4}  # RETRY_MAX_RETRIES=3 in tests


@pytest.mark.parametrize("pool", ["solo", "prefork"])
def test_text_lines_about_a_job_carry_its_request_id_too(worker_process, pool):
    # Given a worker logging text, as `make run` does in development
    worker = worker_process(
        ["quote"], pool=pool, concurrency=2 if pool == "prefork" else 1,
        env={"LOG_FORMAT": "text"},
    )  # fmt: skip

    # When a web request queues a job that retries once, and one that ends as a dead letter
    ok, bad = retried_and_dead_lettered(worker, "req-text-line")

    # Then every text line about them, Celery's own and the task's, names the request id
    ids = {ok.id, bad.id}
    log = worker.log()
    assert not log.lstrip().startswith("{"), "not text lines"
    about = [line for line in log.splitlines() if any(i in line for i in ids)]
    said = " | ".join(about)
    for kind in ("received", "succeeded in", "Retry in", "raised unexpected", "dead letter"):
        assert kind in said, kind
    attempts = [line for line in log.splitlines() if "flaky attempt" in line and " of k:" in line]
    assert len(attempts) >= 2 + 4  # the task's own lines: 2 attempts of ok, 4 of bad
    for line in about + attempts:
        assert line.count("[correlation_id=req-text-line]") == 1, line


def test_one_sentry_event_per_job_that_finally_failed(worker_process):
    with FakeSentry() as sentry:
        worker_process(["quote"], env={"SENTRY_DSN": sentry.dsn})
        result = flaky.delay(f"k:{uuid.uuid4().hex}", failures=100)  # 3 retries, then fails
        harness.wait_for_letter(result.id)
        harness.wait_for(lambda: sentry.events(), 20)
        ok = flaky.delay(f"k:{uuid.uuid4().hex}", failures=1)  # retried, then succeeds
        assert ok.get(timeout=20) == 2
        harness.never(lambda: len(sentry.events()) > 1, 2)  # a second event, were one sent
        events = sentry.events()
        assert len(events) == 1
        assert "flaky attempt 4" in events[0] and result.id in events[0]
