"""RabbitMQ's small rules, as plain functions: whole-second delays, the delay prefix, the
last death, and the queue arguments every process must agree on."""

from datetime import UTC, datetime, timedelta

from config.queues import BROKER_DELIVERY_LIMIT, QUEUES, queue_of_routing_key, task_queues
from config.rabbitmq import BROKER_HEADERS, prepare_publish, whole_seconds
from deadletters.exchange import death

NOW = datetime(2026, 12, 4, 12, 0, 0, tzinfo=UTC)


def test_a_delay_under_a_second_becomes_one_second():
    assert whole_seconds(0.4, None, NOW) == (1, None)
    assert whole_seconds(None, NOW + timedelta(seconds=0.3), NOW) == (1, None)
    assert whole_seconds(None, (NOW + timedelta(seconds=0.3)).isoformat(), NOW) == (1, None)


def test_other_delays_are_kept():
    later = NOW + timedelta(seconds=30)
    assert whole_seconds(None, None, NOW) == (None, None)
    assert whole_seconds(0, None, NOW) == (0, None)
    assert whole_seconds(5.5, None, NOW) == (5.5, None)
    assert whole_seconds(None, later, NOW) == (None, later)
    assert whole_seconds(None, NOW - timedelta(seconds=5), NOW) == (None, None)  # past: now


def test_the_delay_prefix_is_not_the_queue():
    assert queue_of_routing_key("0." * 27 + "1.quote") == "quote"
    assert queue_of_routing_key("quote") == "quote"
    assert queue_of_routing_key(None) is None


def test_the_last_death_is_the_one_that_counts():
    # a countdown job expired in a delay queue first, then hit the delivery limit
    headers = {"x-death": [
        {"reason": "delivery_limit", "queue": "quote"},
        {"reason": "expired", "queue": "celery_delayed_0"},
    ]}  # fmt: skip
    assert death(headers) == ("delivery_limit", "quote")
    assert death({"x-last-death-reason": "rejected", "x-last-death-queue": "crm"}) == (
        "rejected",
        "crm",
    )


def test_a_republish_carries_no_broker_headers_and_waits_for_its_confirm_a_bounded_time():
    options = {"headers": {"x-delivery-count": 2, "x-death": [], "job": "kept"}}
    prepare_publish(options)
    assert options["headers"] == {"job": "kept"}
    assert options["confirm_timeout"] == options["timeout"] == 3.0
    assert not BROKER_HEADERS & set(options["headers"])


def test_queue_arguments_do_not_depend_on_settings():
    queues = task_queues(rabbitmq=True)
    assert [q.name for q in queues] == list(QUEUES)
    for queue in queues:
        assert queue.queue_arguments["x-queue-type"] == "quorum"
        assert queue.queue_arguments["x-delivery-limit"] == BROKER_DELIVERY_LIMIT
        assert queue.exchange.type == "topic"  # native delayed delivery refuses direct
    assert all(q.exchange.type == "direct" for q in task_queues(rabbitmq=False))


def test_a_letter_is_built_from_headers_that_hold_themselves():
    from deadletters.letters import _plain

    headers = {"id": "t", "task": "quote.x"}
    headers["headers"] = headers
    assert _plain(headers) == {"id": "t", "task": "quote.x", "headers": "[circular]"}
    shared = [1]
    assert _plain({"a": shared, "b": shared}) == {"a": [1], "b": [1]}  # repeats, not cycles
