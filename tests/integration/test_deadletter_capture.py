"""Every failure path produces exactly one dead letter with the right fields, on a real
prefork worker, real Redis and real Postgres."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from kombu.utils.json import dumps

from config import app
from deadletters import spool
from deadletters.letters import from_job
from tests import harness
from tests.conftest import module_worker
from tests.probe_tasks import flaky, kill_own_worker, login, permanent, reject, stubborn_sleep

WORKER_ENV = {"MAX_DELIVERIES": "2"}


@pytest.fixture(scope="module")
def capture_worker():
    """One prefork worker on every queue, with a delivery bound of 2."""
    with module_worker(
        ["quote", "email", "crm", "search", "maintenance"],
        pool="prefork",
        concurrency=2,
        env=WORKER_ENV,
    ) as worker:
        yield worker


def key() -> str:
    return f"attempts:{uuid.uuid4().hex}"


def failed(result) -> None:
    harness.wait_for(result.ready, 30)
    assert result.state == "FAILURE"


def test_exhausted_retries(capture_worker):
    result = flaky.delay(key(), failures=100)
    failed(result)
    letter = harness.wait_for_letter(result.id)
    assert (letter.reason, letter.task_name, letter.queue) == ("exhausted", flaky.name, "quote")
    assert letter.exception_type == "TransientError"
    assert letter.attempts == flaky.max_retries + 1
    assert letter.hostname == capture_worker.hostname
    assert "flaky attempt" in letter.traceback


def test_permanent_error(capture_worker):
    k = key()
    result = permanent.delay(k, message="no such customer")
    failed(result)
    letter = harness.wait_for_letter(result.id)
    assert (letter.reason, letter.exception_type, letter.attempts) == (
        "permanent",
        "PermanentError",
        1,
    )
    assert letter.exception_message == "no such customer"
    assert letter.args == [k] and letter.kwargs == {"message": "no such customer"}
    assert letter.redacted is False


def test_hard_time_limit(capture_worker):
    # Time limits travel in the message: the producer's settings, or per call as here
    result = stubborn_sleep.apply_async((key(), 30), soft_time_limit=1, time_limit=2)
    failed(result)
    letter = harness.wait_for_letter(result.id)
    assert (letter.reason, letter.exception_type, letter.queue) == (
        "time_limit",
        "TimeLimitExceeded",
        "search",
    )


def test_worker_lost_past_the_delivery_bound(capture_worker):
    result = kill_own_worker.delay(key())
    failed(result)
    letter = harness.wait_for_letter(result.id)
    assert (letter.reason, letter.exception_type) == ("worker_lost", "DeliveryBoundExceeded")
    assert letter.attempts == 2  # MAX_DELIVERIES deliveries, each of which killed the worker


def test_reject_without_requeue(capture_worker):
    result = reject.delay(key())
    failed(result)
    letter = harness.wait_for_letter(result.id)
    assert (letter.reason, letter.exception_type, letter.queue) == ("rejected", "Reject", "crm")


def test_unknown_task(capture_worker):
    result = app.send_task("quote.no_such_task", args=[1], kwargs={"api_key": "k-123"})
    letter = harness.wait_for_letter(result.id)
    assert (letter.reason, letter.task_name, letter.queue) == (
        "unknown_task",
        "quote.no_such_task",
        "quote",
    )
    assert letter.args == [1] and letter.kwargs == {"api_key": "[REDACTED]"}
    assert letter.payload_sealed  # the real api_key, sealed for a replay once it is deployed


def envelope(body: str, content_type: str, task_id: str) -> str:
    """A kombu message as it sits in a Redis list, with the body given verbatim."""
    return dumps(
        {
            "body": base64.b64encode(body.encode()).decode(),
            "content-encoding": "utf-8",
            "content-type": content_type,
            "headers": {"id": task_id, "task": "email.probe_echo", "lang": "py"},
            "properties": {
                "body_encoding": "base64",
                "correlation_id": task_id,
                "delivery_info": {"exchange": "email", "routing_key": "email"},
                "delivery_mode": 2,
                "delivery_tag": str(uuid.uuid4()),
                "priority": 0,
            },
        }
    )


@pytest.mark.redis_broker  # RabbitMQ's counterparts: test_rabbitmq.py
def test_a_disallowed_content_type_is_rejected(capture_worker, redis_client):
    task_id = str(uuid.uuid4())
    redis_client.lpush(
        "email", envelope("cos\nsystem\n(S'id'\ntR.", "application/x-python-serialize", task_id)
    )
    letter = harness.wait_for_letter(task_id)
    assert (letter.reason, letter.queue, letter.task_name) == (
        "rejected",
        "email",
        "email.probe_echo",
    )
    assert letter.exception_type == "ContentDisallowed"


@pytest.mark.redis_broker  # RabbitMQ's counterparts: test_rabbitmq.py
def test_a_body_that_does_not_decode_is_undecodable(capture_worker, redis_client):
    task_id = str(uuid.uuid4())
    item = envelope('[["x"], {"a": 1', "application/json", task_id)
    redis_client.lpush("email", item)
    letter = harness.wait_for_letter(task_id)
    assert (letter.reason, letter.queue) == ("undecodable", "email")
    assert letter.message["raw"] == item  # the whole item, as it sat in the queue


@pytest.mark.redis_broker  # RabbitMQ's counterparts: test_rabbitmq.py
def test_bytes_that_are_not_a_message_are_kept_and_the_worker_survives(
    capture_worker, redis_client
):
    # Given a stray write of raw bytes into a queue's list
    marker = f"garbage-{uuid.uuid4().hex}"
    redis_client.lpush("crm", f"{marker} password=hunter2")

    # Then it becomes one dead letter, with the secret masked
    def found():
        return [x for x in harness.letters_where(reason="undecodable", queue="crm")
                if marker in (x.message.get("raw") or "")]  # fmt: skip

    (letter,) = harness.wait_for(found, 30)
    assert "hunter2" not in json.dumps(letter.message)
    assert letter.exception_type == "NotAMessage"

    # And the worker is still alive and consuming that queue
    assert capture_worker.process.poll() is None
    assert login.delay(key(), "ana", "pw").get(timeout=20) == "logged in"


def test_a_redelivered_failure_writes_one_row(services):
    letter = from_job(
        task_id=str(uuid.uuid4()), task_name="quote.generate_quote", queue="quote", args=[1],
        kwargs={}, embed={}, headers={}, properties={}, exception_type="PermanentError",
        exception_message="bad", traceback=None, attempts=1, reason="permanent",
        hostname="host",
    )  # fmt: skip
    assert spool.keep(letter) == "stored"
    assert spool.keep(letter) == "already stored"  # and the log says so, not "stored"
    assert len(harness.letters_for(letter.task_id)) == 1
