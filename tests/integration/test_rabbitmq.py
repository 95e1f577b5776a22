"""RabbitMQ's own machinery, on the machine's RabbitMQ (TEST_RABBITMQ=1: `make test-rabbitmq`).

The routing, retry, delivery and dead-letter suites run unchanged on RabbitMQ too; these
tests cover what exists only there: quorum queues with a delivery limit and a dead-letter
exchange, countdowns by native delayed delivery, and message shapes that reach a worker
over AMQP (on Redis the transport's intake refuses them before Celery sees them).
"""

import json
import os
import subprocess
import sys
import time
import uuid

import pytest
from kombu import Exchange, Producer

from config import app
from config.delivery import DeliveryBoundExceeded
from config.queues import (
    BROKER_DELIVERY_LIMIT,
    DEAD_LETTER_EXCHANGE,
    DEAD_LETTER_QUEUE,
    QUEUES,
)
from devstack import servers
from tests import conftest, harness
from tests.probe_tasks import ECHO, attempts, flaky, sleep

pytestmark = pytest.mark.rabbitmq_broker


def key() -> str:
    return f"attempts:{uuid.uuid4().hex}"


def publish_raw(queue: str, body: bytes | str, content_type: str, headers: dict) -> None:
    """A message as any AMQP client could send it, bypassing the platform's producer."""
    with app.connection_for_write() as connection:
        producer = Producer(connection.default_channel)
        producer.publish(
            body,
            exchange=Exchange(queue, type="topic"),
            routing_key=queue,
            content_type=content_type,
            content_encoding="utf-8",
            headers=headers,
            delivery_mode=2,
            declare=[app.amqp.queues[queue]],
        )


def queues_on_the_broker() -> dict[str, dict]:
    done = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "-p", conftest.VHOST, "name", "type", "arguments",
         "--formatter", "json"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return {q["name"]: q for q in json.loads(done.stdout)}


def test_every_queue_is_a_quorum_queue_with_a_delivery_limit_and_a_dead_letter_exchange(
    worker_process,
):
    worker_process(list(QUEUES))
    declared = queues_on_the_broker()
    for queue in QUEUES:
        assert declared[queue]["type"] == "quorum", queue
        arguments = {name: value for name, _, value in declared[queue]["arguments"]}
        assert arguments["x-delivery-limit"] == BROKER_DELIVERY_LIMIT
        assert arguments["x-dead-letter-exchange"] == DEAD_LETTER_EXCHANGE
        assert arguments["x-dead-letter-strategy"] == "at-least-once"
    assert declared[DEAD_LETTER_EXCHANGE]["type"] == "quorum"


def test_a_countdown_waits_in_the_broker_not_in_a_worker_and_runs_once(worker_process):
    # Given a worker on the search queue
    worker_process(["search"])
    k = key()

    # When a job is queued with a 3 s countdown
    queued_at = time.time()
    result = sleep.apply_async((k, 0), countdown=3)

    # Then it waits in the broker's delay queues (not reserved by the worker) and runs
    # once, no earlier than asked
    time.sleep(1)
    assert harness.queue_depth("search") == 0 and attempts(k) == []
    assert result.get(timeout=40) == "slept"
    (run,) = attempts(k)
    assert run["at"] - queued_at >= 2.9


def test_a_disallowed_content_type_is_rejected_into_a_dead_letter(worker_process):
    worker_process(["email"])
    task_id = str(uuid.uuid4())
    publish_raw(
        "email",
        b"cos\nsystem\n(S'id'\ntR.",
        "application/x-python-serialize",
        {"id": task_id, "task": "email.probe_echo"},
    )
    letter = harness.wait_for_letter(task_id)
    assert (letter.reason, letter.queue, letter.exception_type) == (
        "rejected",
        "email",
        "ContentDisallowed",
    )
    # The broker's copy of the rejected message, once drained, lands on the same row
    harness.wait_for(lambda: harness.queue_depth(DEAD_LETTER_QUEUE) == 0, 20)
    assert [x.id for x in harness.letters_for(task_id)] == [letter.id]


def test_a_body_that_does_not_decode_is_undecodable(worker_process):
    worker_process(["email"])
    task_id = str(uuid.uuid4())
    publish_raw(
        "email", '[["x"], {"a": 1', "application/json", {"id": task_id, "task": "email.probe_echo"}
    )
    letter = harness.wait_for_letter(task_id)
    assert (letter.reason, letter.queue) == ("undecodable", "email")


def test_a_message_that_is_no_task_is_kept_once_and_the_worker_survives(
    worker_process,
):
    # Given JSON with no task in it, as a stray AMQP client might send
    worker = worker_process(["crm"])
    marker = f"stray-{uuid.uuid4().hex}"
    publish_raw("crm", json.dumps({"note": marker, "password": "hunter2"}), "application/json", {})

    # Then the worker refuses it before Celery sees it (as the Redis transport's intake
    # does), keeping one dead letter with the secret masked
    def found():
        return [x for x in harness.letters_where(reason="rejected", queue="crm")
                if marker in (x.message.get("raw") or "")]  # fmt: skip

    (letter,) = harness.wait_for(found, 30)
    assert letter.exception_type == "MalformedHeaders"
    assert "hunter2" not in json.dumps(letter.message)
    harness.wait_for(lambda: harness.queue_depth(DEAD_LETTER_QUEUE) == 0, 20)
    assert len(found()) == 1

    # And the worker still consumes that queue
    assert worker.process.poll() is None
    assert ECHO["crm"].delay("still here").get(timeout=20)["value"] == "still here"


@pytest.mark.parametrize("countdown", [None, 1])
def test_a_job_the_broker_gives_up_on_ends_as_a_worker_lost_dead_letter(worker_process, countdown):
    # Given a worker that drains the dead-letter exchange, and a job in a queue it does not
    # consume (one with a countdown died once before, in a delay queue)
    worker_process(["email"])
    result = ECHO["crm"].apply_async(("never runs",), countdown=countdown)

    # When the job comes back more often than the broker's delivery limit
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        for _ in range(BROKER_DELIVERY_LIMIT + 1):
            message = harness.wait_for(lambda: channel.basic_get("crm", no_ack=False), 10)
            channel.basic_reject(message.delivery_tag, requeue=True)

    # Then the broker dead-letters it, a worker keeps it as worker_lost, and its caller
    # hears so
    letter = harness.wait_for_letter(result.id)
    assert (letter.reason, letter.queue, letter.task_name) == (
        "worker_lost",
        "crm",
        "crm.probe_echo",
    )
    with pytest.raises(DeliveryBoundExceeded):
        result.get(timeout=20)
    assert harness.queue_depth("crm") == 0


def test_a_countdown_on_a_fresh_broker_reaches_its_queue_before_any_worker_ran(services):
    # Given a RabbitMQ virtual host no process has used (no queue, no binding yet)
    vhost = f"taskplatform_fresh_{uuid.uuid4().hex[:8]}"
    url = harness.create_vhost(vhost)
    try:
        # When a web app's first publish is a job with a 1 s countdown
        publish = (
            "from tests.probe_tasks import ECHO; ECHO['crm'].apply_async(('later',), countdown=1)"
        )
        subprocess.run(
            [sys.executable, "-c", publish], cwd=harness.ROOT, check=True, timeout=60,
            env={**os.environ, "BROKER_URL": url, "PYTHONPATH": str(harness.ROOT)},
        )  # fmt: skip

        # Then, once the delay has passed, the job waits in its queue: nothing was dropped
        def waiting_in_crm() -> bool:
            done = subprocess.run(
                ["rabbitmqctl", "-q", "list_queues", "-p", vhost, "name", "messages",
                 "--formatter", "json"],
                capture_output=True, text=True, timeout=60, check=True,
            )  # fmt: skip
            return {q["name"]: q["messages"] for q in json.loads(done.stdout)}.get("crm") == 1

        harness.wait_for(waiting_in_crm, 20, interval=0.5)
    finally:
        harness.delete_vhost(vhost)


@pytest.mark.parametrize("broker", ["down", "silent"])
def test_delay_raises_within_3_seconds_when_rabbitmq_is_down_or_silent(services, broker):
    # Given a RabbitMQ that refuses connections, or one that accepts them and never answers
    if broker == "down":
        outcome = harness.publish_in_a_new_process(
            {"BROKER_URL": f"amqp://guest:guest@127.0.0.1:{servers.free_port()}/x"}
        )
    else:
        with harness.SilentServer() as port:
            outcome = harness.publish_in_a_new_process(
                {"BROKER_URL": f"amqp://guest:guest@127.0.0.1:{port}/x"}
            )

    # Then .delay() raises the platform's error, naming RabbitMQ, instead of hanging
    assert outcome["raised"] == "BrokerUnavailableError", outcome
    assert "RabbitMQ unreachable" in outcome["message"]
    assert outcome["seconds"] < 3 * 2  # the bound is 3 s; twice that for a loaded machine


def test_a_sub_second_delay_is_queued_not_refused(worker_process):
    # Native delayed delivery takes whole seconds: 0.4 s becomes 1 s rather than an error,
    # for a producer's countdown and for a retry's Retry-After alike
    worker_process(["crm", "quote"])
    assert ECHO["crm"].apply_async(("soon",), countdown=0.4).get(timeout=30)["value"] == "soon"
    k = key()
    assert flaky.delay(k, failures=2, retry_after=0.5).get(timeout=60) == 3


def test_a_job_key_queues_one_job_on_rabbitmq_too(services):
    # Given no worker on the search queue, when a job is published twice under one key
    key_ = f"k-{uuid.uuid4()}"
    a = ECHO["search"].apply_async(("once",), job_key=key_)
    b = ECHO["search"].apply_async(("once",), job_key=key_)
    # Then both calls name one job, and one message waits
    assert a.id == b.id
    assert harness.queue_depth("search") == 1
    with app.connection_for_write() as connection:
        app.amqp.queues["search"].bind(connection.default_channel).purge()


def test_a_body_celery_would_crash_on_is_kept_and_the_worker_goes_on(worker_process):
    # Given JSON of the wrong shape under a real task's headers (Celery unpacks the body
    # into args, kwargs, embed: a dict would raise inside the consumer)
    worker = worker_process(["crm"])
    task_id = str(uuid.uuid4())
    publish_raw("crm", json.dumps({"args": [1]}), "application/json",
                {"id": task_id, "task": "crm.probe_echo"})  # fmt: skip

    # Then it becomes a dead letter, and the worker is still there and consuming
    letter = harness.wait_for_letter(task_id)
    assert (letter.reason, letter.queue, letter.exception_type) == (
        "rejected",
        "crm",
        "MalformedTaskBody",
    )
    assert worker.process.poll() is None
    assert ECHO["crm"].delay("still here").get(timeout=20)["value"] == "still here"


def test_a_job_that_expired_in_its_queue_is_dropped_without_a_dead_letter(worker_process):
    # Given a worker draining the dead-letter exchange, and a job that expires in 1 s in a
    # queue nobody consumes (beat's entries carry such an expiry)
    worker_process(["email"])
    result = ECHO["crm"].apply_async(("late",), expires=1)

    # Then the broker drops it at its expiry, the worker takes its dead-lettered copy, and
    # no dead letter is written: an expired job is revoked, not failed
    harness.wait_for(lambda: harness.queue_depth("crm") == 0, 20)
    harness.wait_for(lambda: harness.queue_depth(DEAD_LETTER_QUEUE) == 0, 20)
    harness.never(lambda: harness.letters_for(result.id), 3)


@pytest.fixture
def own_rabbitmq(services, tmp_path):
    """A RabbitMQ node of this test's own (an alarm on the machine's node would block every
    other publisher on it)."""
    try:
        node = servers.RabbitMQServer(tmp_path / "rabbitmq").start()
    except servers.binaries.BinaryMissing as exc:
        if harness.in_ci():
            pytest.fail(f"required binary missing under CI: {exc}")
        pytest.skip(str(exc))
    yield node
    node.stop()


ALARM_PUBLISHES = """
import json, sys, time
from tests.probe_tasks import ECHO
timings = []
for n in range(4):
    began = time.monotonic()
    try:
        ECHO["crm"].apply_async((n,), job_key=f"alarm-{n}")
        timings.append(["queued", time.monotonic() - began, ""])
    except Exception as exc:
        timings.append([type(exc).__name__, time.monotonic() - began, str(exc)])
    if n == 0:
        sys.stdin.readline()  # the test raises the alarm now
print(json.dumps(timings))
"""


def test_a_memory_alarm_bounds_every_publish_and_queues_nothing_twice(own_rabbitmq):
    # Given a web process publishing with job keys to a RabbitMQ of its own
    env = {**os.environ, "PYTHONPATH": str(harness.ROOT), "BROKER_URL": own_rabbitmq.url}
    web = subprocess.Popen([sys.executable, "-c", ALARM_PUBLISHES], cwd=harness.ROOT, env=env,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip

    # When the broker raises a memory alarm after the first publish
    harness.wait_for(lambda: own_rabbitmq.messages("crm") == 1, 30)
    own_rabbitmq.memory_alarm(True)
    web.stdin.write("go\n")
    web.stdin.flush()
    out, _ = web.communicate(timeout=60)
    timings = json.loads(out.strip().splitlines()[-1])

    # Then the next publish raises within the 3 s bound, saying nothing was queued, and the
    # ones after it raise at once
    assert [t[0] for t in timings] == ["queued"] + ["BrokerBlockedError"] * 3, timings
    assert timings[1][1] < 3 * 2  # the bound is 3 s; twice that for a loaded machine
    assert all(t[1] < 1 for t in timings[2:]), timings
    assert "nothing was queued" in timings[1][2]

    # And once the alarm is over, publishing again with the same keys queues each job once:
    # the publish that was cut off never reaches the queue
    own_rabbitmq.memory_alarm(False)
    time.sleep(1)
    again = harness.publish_in_a_new_process(
        {"BROKER_URL": own_rabbitmq.url},
        code="\n".join(f"ECHO['crm'].apply_async(({n},), job_key='alarm-{n}')" for n in range(4)),
    )
    assert again["raised"] is None, again
    assert own_rabbitmq.messages("crm") == 4


def test_a_dead_letter_of_the_brokers_delivery_limit_says_it_was_the_broker():
    text = str(DeliveryBoundExceeded.for_task("crm.x", "id-1", 101, BROKER_DELIVERY_LIMIT))
    assert "RabbitMQ gave up on it" in text and "x-delivery-limit=100" in text
    assert "worker was lost" not in text


def test_a_queue_at_its_max_length_refuses_a_publish_with_queue_full(services):
    """The platform's queues overflow with reject-publish: with a max-length policy (the
    operator's QUEUE_MAX_DEPTH on RabbitMQ), RabbitMQ nacks a publish past it and `.delay()`
    raises QueueFullError, queuing nothing."""
    from taskplatform import QueueFullError

    def ctl(command: str, *args: str, check: bool = True) -> None:
        subprocess.run(["rabbitmqctl", "-q", command, "-p", conftest.VHOST, *args],
                       check=check, timeout=60, capture_output=True)  # fmt: skip

    queue = "maintenance"  # no test's worker consumes it here
    app.send_task("maintenance.probe_nothing", (0,))  # the topology is in place
    ctl("purge_queue", queue)
    ctl("set_policy", "taskplatform-max", f"^{queue}$", '{"max-length": 2}', "--apply-to", "queues")
    try:
        time.sleep(1)  # the policy reaches the queue
        refused = []
        for n in range(1, 6):
            try:
                app.send_task("maintenance.probe_nothing", (n,))
            except QueueFullError as exc:
                refused.append((n, str(exc)))
        # A quorum queue checks its length before it takes a message: one may pass the bound
        assert [n for n, _ in refused] in ([3, 4, 5], [4, 5]), refused
        assert "max-length" in refused[0][1]
        assert harness.queue_depth(queue) == refused[0][0] - 1
    finally:
        ctl("clear_policy", "taskplatform-max", check=False)
        ctl("purge_queue", queue, check=False)
