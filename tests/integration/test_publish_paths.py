"""Every way a job enters a queue crosses the one publish guard (config/publish.py): JSON
only, the payload and countdown caps, redacted argument reprs, the `enqueued_at` header;
and a job key makes a publish that is retried after a timeout queue the job once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from celery import chain, group
from sqlalchemy import text

from config import app, database
from devstack.servers import RedisServer
from taskplatform.errors import PayloadError
from tests import harness
from tests.probe_tasks import ECHO, attempts, flaky, permanent

QUEUE = "search"  # no worker consumes it in these tests
TASK = ECHO[QUEUE]
BIG = "x" * 300_000


def send_with(path: str, value: object, **options) -> None:
    """Publish `TASK(value)` the way a caller of `path` would."""
    if path == "delay":
        TASK.delay(value)
    elif path == "apply_async":
        TASK.apply_async((value,), **options)
    elif path == "send_task":
        app.send_task(TASK.name, args=[value], **options)
    elif path == "signature":
        TASK.s(value).apply_async(**options)
    elif path == "chain":
        chain(TASK.s(value), TASK.s()).apply_async(**options)
    elif path == "group":
        group(TASK.s(value)).apply_async(**options)
    else:
        raise AssertionError(path)


def call_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "celery", "-A", "config", "call", TASK.name, *args],
        cwd=harness.ROOT, env={**os.environ, "PYTHONPATH": str(harness.ROOT), **env},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def queued_messages(redis_client, queue: str = QUEUE) -> list[dict]:
    return [json.loads(raw) for raw in redis_client.lrange(queue, 0, -1)]


@pytest.fixture
def queue(redis_client):
    redis_client.delete(QUEUE)
    yield redis_client
    redis_client.delete(QUEUE)


PATHS = ["delay", "apply_async", "send_task", "signature", "chain", "group"]


def assert_guarded(message: dict, canary: str) -> None:
    """The worker gets the real value; what Flower and logs show of it is masked."""
    headers = message["headers"]
    assert canary in harness.decode_body(message)
    assert canary not in headers["argsrepr"] + headers["kwargsrepr"]
    assert "[REDACTED]" in headers["argsrepr"]
    assert time.time() - headers["enqueued_at"] < 60


@pytest.mark.parametrize("path", PATHS)
def test_each_publish_path_redacts_what_is_shown_and_stamps_the_headers(path, queue):
    canary = f"canary-{uuid.uuid4().hex}"
    send_with(path, {"password": canary})
    [message] = queued_messages(queue)
    assert_guarded(message, canary)


@pytest.mark.parametrize("path", PATHS)
def test_each_publish_path_refuses_an_oversized_payload(path, queue):
    with pytest.raises(PayloadError, match="over the cap of 262144"):
        send_with(path, BIG)
    assert queued_messages(queue) == []


@pytest.mark.parametrize("path", ["apply_async", "send_task", "signature"])
def test_each_publish_path_refuses_pickle_and_a_countdown_past_the_cap(path, queue):
    with pytest.raises(PayloadError, match="serializer 'pickle' refused"):
        send_with(path, "x", serializer="pickle")
    with pytest.raises(PayloadError, match="exceeds MAX_COUNTDOWN"):
        send_with(path, "x", countdown=31 * 24 * 3600)
    assert queued_messages(queue) == []


def test_celery_call_is_guarded_too(queue):
    canary = f"canary-{uuid.uuid4().hex}"
    done = call_cli("--kwargs", json.dumps({"value": {"token": canary}}))
    assert done.returncode == 0, done.stderr
    [message] = queued_messages(queue)
    assert canary not in message["headers"]["kwargsrepr"]
    assert message["headers"]["enqueued_at"]

    # (a command line cannot carry 256 kB: the cap is lowered for this one)
    refused = call_cli("--args", json.dumps(["x" * 3000]), TASK_MAX_PAYLOAD_BYTES="2048")
    assert refused.returncode != 0
    assert "over the cap of 2048" in refused.stderr
    assert len(queued_messages(queue)) == 1


def test_a_replay_is_guarded_and_published_once_under_its_own_key(worker_process, redis_client):
    from deadletters.replay import replay_one

    canary = f"canary-{uuid.uuid4().hex}"
    key = f"perm:{uuid.uuid4().hex}"
    worker = worker_process(["quote"])
    result = permanent.apply_async((key,), {"message": f"password={canary}"}, job_key=key)
    letter = harness.wait_for_letter(result.id)
    worker.stop()
    redis_client.delete("quote")

    # The stored job had a job key; its replay is a new publish under a key of its own
    # (never dropped as a repeat of the original)
    new_id = replay_one(app, letter.id, by="test")
    [message] = queued_messages(redis_client, "quote")
    assert message["headers"]["id"] == new_id != result.id
    assert message["headers"]["x_publish_once"] > 0
    assert time.time() - message["headers"]["enqueued_at"] < 60
    assert canary in harness.decode_body(message)
    assert canary not in message["headers"]["kwargsrepr"]

    # A replay retried after an ambiguous failure (published, but the row not marked)
    # gets the same job, queued once
    with database.engine().begin() as db:
        db.execute(text("UPDATE dead_letters SET replayed_as = NULL WHERE id = :id"),
                   {"id": letter.id})  # fmt: skip
    assert replay_one(app, letter.id, by="test") == new_id
    assert len(queued_messages(redis_client, "quote")) == 1
    redis_client.delete("quote")


def test_the_same_job_key_queues_one_job_and_returns_the_same_id(queue):
    key = f"req-{uuid.uuid4().hex}"
    first = TASK.apply_async(("a",), job_key=key)
    again = TASK.apply_async(("a",), job_key=key)
    by_name = app.send_task(TASK.name, args=["a"], job_key=key)
    assert first.id == again.id == by_name.id
    assert len(queued_messages(queue)) == 1

    # Another task under the same key is another job
    ECHO["crm"].apply_async(("a",), job_key=key)
    assert queue.llen("crm") == 1
    queue.delete("crm")


def test_a_job_key_inside_a_chain_is_refused_rather_than_ignored(queue):
    with pytest.raises(PayloadError, match="cannot go with task_id"):
        chain(TASK.s("a"), TASK.s()).apply_async(job_key="req-1")
    assert queued_messages(queue) == []


def test_a_chain_whose_later_step_is_oversized_is_refused(queue):
    with pytest.raises(PayloadError, match="over the cap of 262144"):
        chain(TASK.s("a"), TASK.s(BIG)).apply_async()
    assert queued_messages(queue) == []


def test_a_consumer_that_republishes_a_keyed_job_is_not_dropped_as_a_repeat(queue):
    # What `celery migrate` does: receive a message, publish its body and headers again
    TASK.apply_async(("a",), job_key=f"req-{uuid.uuid4().hex}")
    with app.connection_for_read() as connection:
        simple = connection.SimpleQueue(QUEUE)
        received = simple.get(timeout=5)
        assert "x_publish_once" not in received.headers
        with app.producer_or_acquire() as producer:
            producer.publish(received.body, routing_key=QUEUE, headers=received.headers,
                             content_type=received.content_type,
                             content_encoding=received.content_encoding)  # fmt: skip
        received.ack()
        simple.close()
    assert len(queued_messages(queue)) == 1


@pytest.mark.parametrize("bad", ["", "   ", 42, "k" * 300])
def test_a_bad_job_key_is_refused(bad, queue):
    with pytest.raises(PayloadError, match="job_key"):
        TASK.apply_async(("a",), job_key=bad)
    assert queued_messages(queue) == []


def test_a_job_with_a_key_still_retries(worker_process):
    # Retries republish under the same task id: the publish-once mark must not drop them
    key = f"flaky:{uuid.uuid4().hex}"
    worker_process(["quote"])
    result = flaky.apply_async((key, 2), job_key=key)
    assert result.get(timeout=60) == 3
    assert len(attempts(key)) == 3


PUBLISH_ONCE = """
import json, sys
from tests.probe_tasks import ECHO

def publish(key):
    try:
        result = ECHO["search"].apply_async(("frozen",), job_key=key)
        return {"id": result.id}
    except Exception as exc:
        return {"raised": type(exc).__name__, "message": str(exc)}

ECHO["search"].delay("warm-up")  # a web app's connection is open when Redis freezes
print("ready", flush=True)
for key in sys.stdin:
    print(json.dumps(publish(key.strip())), flush=True)
"""


class WebApp:
    """A publisher process, as a web app: warm connections, publishes on demand."""

    def __init__(self, redis_url: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", PUBLISH_ONCE],
            cwd=harness.ROOT,
            env={**os.environ, "PYTHONPATH": str(harness.ROOT), "REDIS_URL": redis_url,
                 "RESULT_BACKEND_URL": os.environ["REDIS_URL"]},  # fmt: skip
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.process.stdout.readline().strip() == "ready"

    def publish(self, key: str) -> dict:
        self.process.stdin.write(key + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(20)


def test_a_publish_retried_after_a_frozen_redis_queues_the_job_once(services):
    import redis

    server = RedisServer(Path(tempfile.mkdtemp(prefix="frozen-redis-"))).start()
    web = None
    try:
        client = redis.Redis.from_url(server.url)
        web = WebApp(server.url)
        client.delete(QUEUE)  # the warm-up job
        key = f"req-{uuid.uuid4().hex}"
        # Given a Redis that freezes: the publish times out, yet its commands are in the
        # socket and run when Redis resumes (a web app cannot tell this from a failure)
        os.kill(server.process.pid, signal.SIGSTOP)
        try:
            outcome = web.publish(key)
        finally:
            os.kill(server.process.pid, signal.SIGCONT)
        assert outcome.get("raised") == "BrokerUnavailableError", outcome
        assert "same job_key" in outcome["message"]
        harness.wait_for(lambda: client.llen(QUEUE) >= 1, 10)

        # When the web app publishes again with the same key, as the docs tell it to
        again = web.publish(key)

        # Then it gets the job that was queued, and there is still one
        harness.never(lambda: client.llen(QUEUE) > 1, 0.5)
        assert client.llen(QUEUE) == 1
        [raw] = client.lrange(QUEUE, 0, -1)
        assert json.loads(raw)["headers"]["id"] == again["id"]
    finally:
        if web:
            web.close()
        server.kill()


def inspect(command: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "config", "inspect", command, "--json"],
        cwd=harness.ROOT, env={**os.environ, "PYTHONPATH": str(harness.ROOT)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_inspect_and_flowers_worker_pages_show_jobs_redacted(queue, worker_process):
    # (`queue` first: its cleanup runs after the worker has put the waiting job back)
    from tests.probe_tasks import sleep

    canary = f"canary-{uuid.uuid4().hex}"
    worker_process(["search"], pool="prefork")
    # A job waiting for its countdown (what every retry is) and one running
    waiting = TASK.apply_async(({"password": canary},), countdown=120)
    running = sleep.delay(f"password={canary}", 30)
    scheduled = harness.wait_for(lambda: waiting.id in (out := inspect("scheduled")) and out, 30)
    active = harness.wait_for(lambda: running.id in (out := inspect("active")) and out, 30)
    assert canary not in scheduled + active
    assert "[REDACTED]" in scheduled and "[REDACTED]" in active
    waiting.revoke()
    running.revoke(terminate=True)
