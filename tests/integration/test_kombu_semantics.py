"""The platform's transport keeps kombu's promises to a plain kombu user.

kombu's and Celery's own suites measure that in `make conformance`; these are the promises
that needed work, on a Redis of the test's own, through a plain `kombu.Connection` on the
platform's transport: `basic_get` keeps what it takes until acked (requeue, reject, close
put it back, marked redelivered), key prefixes, the consumer's own `accept`, an immediate
wake-up for any queue, and no delivery bound without a place for lost jobs.
"""

from __future__ import annotations

import uuid

import kombu
import pytest
import redis

from broker import inflight
from devstack.servers import RedisServer

pytestmark = pytest.mark.redis_broker

PLATFORM = "broker.transport:Transport"


@pytest.fixture
def server(services, tmp_path):
    redis_server = RedisServer(tmp_path / "redis", config={"appendonly": "no"}).start()
    yield redis_server
    redis_server.stop()


def connect(server, **transport_options) -> kombu.Connection:
    return kombu.Connection(
        server.url, transport=PLATFORM, transport_options=transport_options or None
    )


def publish(connection: kombu.Connection, queue: kombu.Queue, body, **options) -> None:
    with connection.clone() as publisher:
        kombu.Producer(publisher).publish(
            body, exchange=queue.exchange, routing_key=queue.routing_key, declare=[queue],
            **options,
        )  # fmt: skip


def new_queue() -> kombu.Queue:
    name = f"plain-{uuid.uuid4().hex[:8]}"
    return kombu.Queue(name, kombu.Exchange(name, type="direct"), routing_key=name)


@pytest.mark.parametrize("put_back", ["requeue", "reject", "close"])
def test_basic_get_keeps_what_it_took_until_acked(server, put_back):
    # Given a message taken with basic_get, unacknowledged
    queue = new_queue()
    with connect(server) as connection:
        publish(connection, queue, {"n": 1}, serializer="json")
        channel = connection.channel()
        taken = queue(channel).get(no_ack=False)
        assert taken.payload == {"n": 1}
        assert queue(connection.default_channel).get(no_ack=True) is None  # held, not queued

        # When it is requeued, rejected with requeue, or its channel closes
        if put_back == "requeue":
            taken.requeue()
        elif put_back == "reject":
            taken.reject(requeue=True)
        else:
            channel.close()

        # Then it is back in its queue, once, and says it was delivered before
        again = queue(connection.default_channel).get(no_ack=False)
        assert again.payload == {"n": 1}
        assert again.delivery_info["redelivered"] is True and again.headers["redelivered"]
        again.ack()
        assert queue(connection.default_channel).get(no_ack=True) is None


def test_an_acked_basic_get_is_gone(server):
    queue = new_queue()
    with connect(server) as connection:
        publish(connection, queue, {"n": 2}, serializer="json")
        channel = connection.channel()
        queue(channel).get(no_ack=False).ack()
        channel.close()
        assert queue(connection.default_channel).get(no_ack=True) is None


# "taskplatform:" is the prefix the platform's own keys start with: once kombu has taken it
# off a key Redis answered with, the key still starts with it.
@pytest.mark.parametrize("prefix", ["pfx_", "taskplatform:"])
def test_every_key_carries_the_global_keyprefix(server, prefix):
    # Given a consumer waiting on an empty queue, with a global_keyprefix
    queue = new_queue()
    received = []
    with connect(server, global_keyprefix=prefix) as connection, kombu.Consumer(
        connection, [queue], callbacks=[lambda body, message: (received.append(body),
                                                                message.ack())],
    ):  # fmt: skip
        with pytest.raises(TimeoutError):
            connection.drain_events(timeout=0.5)
        # When a message is published, wakes it, and is consumed
        publish(connection, queue, "hello", serializer="json")
        connection.drain_events(timeout=5)
        with pytest.raises(TimeoutError):
            connection.drain_events(timeout=0.5)  # the next wait, after the wake-up
    # Then it arrived, and every key the transport left in Redis carries the prefix
    assert received == ["hello"]
    keys = [key.decode() for key in redis.Redis(port=server.port).scan_iter()]
    assert keys and all(key.startswith(prefix) for key in keys), keys
    platform_keys = [key for key in keys if inflight.PREFIX in key]
    assert platform_keys and all(k.startswith(prefix + inflight.PREFIX) for k in platform_keys)


def test_a_consumer_that_accepts_pickle_gets_it(server):
    # kombu leaves the content type to the consumer's `accept` (a platform task queue
    # refuses pickle at the intake; any other queue does not)
    queue = new_queue()
    received = []
    with connect(server) as connection:
        publish(connection, queue, {"k": "v"}, serializer="pickle")
        with kombu.Consumer(
            connection, [queue], accept=["pickle"],
            callbacks=[lambda body, message: (received.append(body), message.ack())],
        ):  # fmt: skip
            connection.drain_events(timeout=5)
    assert received == [{"k": "v"}]


def test_a_publish_to_any_queue_leaves_a_wake_token(server):
    # An idle consumer of a queue that is not one of the platform's waits on its wake list:
    # without a token it would find the message only at its next one-second poll.
    queue = new_queue()
    with connect(server) as connection:
        publish(connection, queue, "x", serializer="json")
    assert redis.Redis(port=server.port).llen(inflight.wake_key(queue.name)) == 1


def test_without_a_place_for_lost_jobs_a_message_comes_back_however_often(server):
    # The delivery bound parks a message for a dead letter; a plain kombu user has no
    # dead letters (no `on_lost`), so a message requeued again and again keeps coming back.
    queue = new_queue()
    with connect(server) as connection:
        publish(connection, queue, "again", serializer="json")
        for _ in range(6):
            taken = queue(connection.default_channel).get(no_ack=False)
            assert taken is not None and taken.payload == "again"
            taken.requeue()
        assert redis.Redis(port=server.port).llen(inflight.LOST) == 0


@pytest.mark.parametrize("no_ack", [True, False])
def test_an_item_no_consumer_can_read_is_kept_in_the_lost_list_not_dropped(server, no_ack):
    # Given bytes in a queue that are no kombu message, and a plain kombu user (no place
    # for dead letters)
    queue = new_queue()
    client = redis.Redis(port=server.port)
    with connect(server) as connection:
        channel = connection.default_channel
        queue(channel).declare()
        client.lpush(queue.name, b"\xffnot a message")

        # When a get takes it (outright, or held until acked)
        assert channel.basic_get(queue.name, no_ack=no_ack) is None

    # Then it is kept for an operator in the lost list, and held nowhere else
    assert client.lrange(inflight.LOST, 0, -1) == [queue.name.encode() + b"\n\xffnot a message"]
    assert client.llen(queue.name) == 0
    assert not [k for k in client.scan_iter(f"{inflight.PREFIX}inflight:*") if client.llen(k)]
