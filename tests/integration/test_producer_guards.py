"""Producers never hang and never send what must not reach Redis."""

import json

import pytest

from config.queues import QUEUES
from devstack.servers import free_port
from tasks.base import PayloadError
from tests import harness
from tests.probe_tasks import ECHO


def queued(redis_client) -> int:
    return sum(redis_client.llen(queue) for queue in QUEUES)


def test_delay_raises_within_3_seconds_when_nothing_listens_on_the_broker_port(services):
    # Given a web app whose REDIS_URL points at a port where nothing listens
    port = free_port()
    outcome = harness.publish_in_a_new_process({"REDIS_URL": f"redis://127.0.0.1:{port}/0"})

    # Then .delay() raises a clear error, well within 3 seconds
    assert outcome["raised"] == "BrokerUnavailableError"
    assert "could not queue quote.probe_echo: Redis unreachable" in outcome["message"]
    assert outcome["seconds"] < 3


def test_delay_raises_within_3_seconds_when_only_the_broker_is_down(services):
    # Given the result backend answers but the broker does not
    port = free_port()
    outcome = harness.publish_in_a_new_process(
        {
            "REDIS_URL": f"redis://127.0.0.1:{port}/0",
            "RESULT_BACKEND_URL": harness.os.environ["REDIS_URL"],
        }
    )
    assert outcome["raised"] == "BrokerUnavailableError"
    assert "Connection refused" in outcome["message"]
    assert outcome["seconds"] < 3


def test_delay_raises_rather_than_hangs_when_redis_accepts_but_never_answers(services):
    # Given a "Redis" that accepts connections and then says nothing
    with harness.SilentServer() as port:
        outcome = harness.publish_in_a_new_process({"REDIS_URL": f"redis://127.0.0.1:{port}/0"})

    # Then .delay() gives up after the socket timeouts instead of hanging the request
    assert outcome["raised"] == "BrokerUnavailableError"
    assert outcome["seconds"] < 10


def test_an_oversized_payload_is_refused_before_it_reaches_redis(redis_client):
    before = queued(redis_client)
    with pytest.raises(PayloadError, match="over the cap of 262144"):
        ECHO["search"].delay("x" * 300_000)
    assert queued(redis_client) == before


def test_a_payload_that_is_not_json_is_refused_before_it_reaches_redis(redis_client):
    before = queued(redis_client)
    with pytest.raises(PayloadError, match="not JSON-serialisable"):
        ECHO["email"].delay({"when": object()})
    assert queued(redis_client) == before


def test_a_countdown_beyond_the_cap_is_refused(redis_client):
    before = queued(redis_client)
    with pytest.raises(PayloadError, match="exceeds MAX_COUNTDOWN"):
        ECHO["crm"].apply_async(("x",), countdown=31 * 24 * 3600)
    assert queued(redis_client) == before


def test_what_logs_and_flower_show_of_arguments_is_redacted(redis_client):
    # Given no worker, when a job whose arguments carry a secret is queued
    ECHO["search"].delay({"user": "ana", "password": "hunter2"})

    # Then the message body holds the real value (the worker needs it) ...
    message = json.loads(redis_client.lindex("search", 0))
    assert "hunter2" in harness.decode_body(message)
    # ... but the headers that Flower and worker logs display are masked
    assert "hunter2" not in message["headers"]["argsrepr"]
    assert "[REDACTED]" in message["headers"]["argsrepr"]
    redis_client.delete("search")
