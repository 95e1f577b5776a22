"""The client against real Redis and a real worker: what a web app's `.delay()` does.

The web app's side runs in this process through the client alone (taskplatform), the
worker is the platform's (Celery's session worker, consuming every queue)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import pytest

import taskplatform
from devstack import servers
from taskplatform import (
    BrokerUnavailableError,
    BulkPublishError,
    ResultStoreUnavailableError,
    TaskHandle,
    job_status,
    job_status_many,
)
from tasks.status import job_status as platform_job_status
from tests import harness
from tests.probe_tasks import attempts

ECHO = TaskHandle("quote.probe_echo")
FLAKY = TaskHandle("quote.probe_flaky")
PERMANENT = TaskHandle("quote.probe_permanent")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
pytestmark = pytest.mark.redis_broker


@pytest.fixture
def client_on(services):
    """Point the client at another Redis for one test, then back at this run's."""

    def move(url: str) -> None:
        taskplatform.configure(broker_url=url)

    yield move
    taskplatform.configure(broker_url=os.environ["REDIS_URL"])


def wait_done(job_id: str, timeout: float = 15) -> dict:
    return harness.wait_for(
        lambda: (s := job_status(job_id))["status"] in ("succeeded", "failed") and s, timeout
    )


def test_a_job_queued_by_the_client_runs_and_reads_as_the_platform_reads_it(embedded_worker):
    job = ECHO.delay(41)
    status = wait_done(job.id)
    assert status["status"] == "succeeded" and status["result"]["value"] == 41
    assert status["result"]["routing_key"] == "quote"
    assert status == platform_job_status(job.id)


def test_failed_and_retrying_jobs_read_the_same_on_both_sides(embedded_worker):
    key = f"attempts:{uuid.uuid4().hex}"
    flaky = FLAKY.delay(key, failures=1, retry_after=3)
    retrying = harness.wait_for(
        lambda: (s := job_status(flaky.id))["status"] == "retrying" and s, timeout=10
    )
    assert retrying["error"] == {"type": "TransientError", "message": "flaky attempt 1"}
    assert retrying == platform_job_status(flaky.id)
    failed = PERMANENT.delay(key + ":p", message="login refused: password=hunter2")
    status = wait_done(failed.id)
    assert status["status"] == "failed" and "hunter2" not in str(status)
    assert status == platform_job_status(failed.id)
    assert wait_done(flaky.id)["result"] == 2


def test_a_job_key_queues_the_job_once(embedded_worker):
    key = f"attempts:{uuid.uuid4().hex}"
    first = FLAKY.apply_async((key, 0), job_key=key)
    again = FLAKY.apply_async((key, 0), job_key=key)
    assert first.id == again.id
    assert wait_done(first.id)["status"] == "succeeded"
    harness.never(lambda: len(attempts(key)) > 1, window=1.5)


def test_a_countdown_waits(embedded_worker):
    job = ECHO.apply_async((1,), countdown=1.5)
    started = time.monotonic()
    assert wait_done(job.id)["status"] == "succeeded"
    assert time.monotonic() - started >= 1.0


def test_delay_many_queues_every_item_in_order_and_status_many_reads_them(embedded_worker):
    jobs = ECHO.delay_many([(n,) for n in range(1200)])
    assert len(jobs) == 1200 and len({job.id for job in jobs}) == 1200
    ids = [job.id for job in jobs]
    statuses = harness.wait_for(
        lambda: (
            (s := job_status_many(ids))
            and all(v["status"] == "succeeded" for v in s.values())
            and s
        ),
        timeout=90,
    )
    assert [statuses[i]["result"]["value"] for i in ids] == list(range(1200))


def test_delay_many_with_job_keys_queues_each_key_once(embedded_worker):
    keys = [f"bulk-{uuid.uuid4().hex}" for _ in range(3)]
    first = ECHO.delay_many([(n,) for n in range(3)], job_keys=keys)
    again = ECHO.delay_many([(n,) for n in range(3)], job_keys=keys)
    assert [j.id for j in first] == [j.id for j in again]
    for job in first:
        assert wait_done(job.id)["status"] == "succeeded"


def test_a_broker_that_is_down_raises_within_the_bound_and_queues_nothing(client_on):
    client_on(f"redis://127.0.0.1:{servers.free_port()}/0")
    started = time.monotonic()
    with pytest.raises(BrokerUnavailableError, match="Redis unreachable") as raised:
        ECHO.delay(1)
    assert time.monotonic() - started < 3
    assert "may have been queued" not in str(raised.value)  # refused: nothing written
    with pytest.raises(BulkPublishError) as bulk:
        ECHO.delay_many([(n,) for n in range(3)])
    assert bulk.value.queued == {} and bulk.value.unsent == [0, 1, 2]
    with pytest.raises(ResultStoreUnavailableError, match="ask again later"):
        job_status(str(uuid.uuid4()))


def test_a_bulk_publish_that_fails_part_way_says_what_was_queued(client_on, tmp_path):
    server = servers.RedisServer(tmp_path / "redis").start()
    try:
        client_on(server.url)
        from taskplatform import producer

        producer.BATCH, batch = 2, producer.BATCH
        import redis

        admin = redis.Redis.from_url(server.url)
        admin.config_set("maxmemory", admin.info("memory")["used_memory"] + 1_500_000)
        big = "x" * 200_000
        with pytest.raises(BulkPublishError) as raised:
            ECHO.delay_many([(big,) for _ in range(12)])
        # Then the error names each item once, and what it calls queued is in the queue
        error = raised.value
        assert error.queued and error.unsent and not error.uncertain
        assert sorted([*error.queued, *error.unsent]) == list(range(12))
        waiting = {json.loads(m)["headers"]["id"] for m in admin.lrange("quote", 0, -1)}
        assert {job.id for job in error.queued.values()} == waiting
    finally:
        producer.BATCH = batch
        server.stop()


def test_messages_are_what_the_platforms_send_task_writes_byte_for_byte(tmp_path):
    """One call through the platform's app and the same through the client, on a Redis of
    the test's own: the queued bytes and the task-sent events match apart from ids, clocks,
    timestamps and the producer's name. Time limits differ by design: the client leaves
    them to the worker (`[null, null]`), which applies its own, as for `[600, 540]`."""
    server = servers.RedisServer(tmp_path / "redis").start()
    try:
        script = SAME_CALL_TWICE.replace("URL", server.url)
        completed = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT,
            env={**os.environ, "REDIS_URL": server.url, "PYTHONPATH": ROOT},
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert completed.returncode == 0, completed.stderr
        out = json.loads(completed.stdout.strip().splitlines()[-1])
    finally:
        server.stop()
    for kind in ("plain", "keyed", "delayed"):
        platform, client = out[kind]
        assert normalised(platform["message"]) == normalised(client["message"]), kind
        assert normalised(platform["event"]) == normalised(client["event"]), kind


def normalised(raw: str) -> str:
    """The raw bytes with each varying value replaced by its name."""
    envelope = json.loads(raw)
    headers, properties = envelope["headers"], envelope["properties"]
    varying = {"delivery_tag": properties["delivery_tag"]}
    if "task" in headers:
        varying |= {
            "id": headers["id"], "origin": headers["origin"],
            "reply_to": properties["reply_to"], "enqueued_at": headers["enqueued_at"],
        }  # fmt: skip
        if headers["eta"]:
            varying["eta"] = headers["eta"]
        raw = raw.replace('"timelimit": [600, 540]', '"timelimit": [null, null]')
    else:
        import base64

        event = json.loads(base64.b64decode(envelope["body"]))
        body = json.dumps({**event, "hostname": "H", "pid": 0, "clock": 0, "uuid": "U",
                           "root_id": "U", "timestamp": 0, "eta": bool(event["eta"])})  # fmt: skip
        raw = raw.replace(envelope["body"], body).replace(headers["hostname"], "H")
    for name, value in varying.items():
        raw = raw.replace(json.dumps(value), f'"<{name}>"')
    return raw


SAME_CALL_TWICE = r"""
import json, redis, time
from tasks.quote import generate_quote as platform_task
from taskplatform.tasks import generate_quote as client_task

client = redis.Redis.from_url("URL", decode_responses=True)
events = client.pubsub()
events.psubscribe("/0.celeryev/*")
events.get_message(timeout=1)
request = {"roles": [{"title": "qa tester", "count": 2, "level": "token=abc123"}]}
out = {}
for kind, options in (("plain", {}), ("keyed", {"job_key": "k-1"}), ("delayed", {"countdown": 60})):
    pair = []
    for task, key in ((platform_task, "p"), (client_task, "c")):
        given = dict(options)
        if "job_key" in given:
            given["job_key"] += key
        task.apply_async((request,), **given)
        message = client.lpop("quote")
        event = None
        deadline = time.monotonic() + 5
        while event is None and time.monotonic() < deadline:
            got = events.get_message(timeout=1)
            if got and got["type"] == "pmessage":
                event = got["data"]
        pair.append({"message": message, "event": event})
    out[kind] = pair
print(json.dumps(out))
"""


def test_a_job_that_skips_the_door_is_refused_by_the_worker_as_input_that_never_pages(
    embedded_worker,
):
    """A producer without the declaration (an older client, a raw send_task): the worker
    checks the same declaration before the body runs."""
    from sqlalchemy import select

    from config import database
    from deadletters.model import DeadLetter
    from deadletters.repository import Filters
    from tasks.quote import generate_quote as platform_task

    job = platform_task.delay({"roles": [{"title": "qa tester", "count": 10_000}]})
    letter = harness.wait_for_letter(job.id)
    assert (letter.reason, letter.attempts) == ("invalid_input", 1)
    assert "request.roles[0].count: is 10000" in letter.exception_message
    with database.session() as db:
        paging = set(db.scalars(Filters(unresolved=True, paging=True).apply(
            select(DeadLetter.task_id))))  # fmt: skip
        every = set(db.scalars(Filters(unresolved=True).apply(select(DeadLetter.task_id))))
    assert job.id in every and job.id not in paging
