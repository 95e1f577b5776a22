"""No item in a queue can stop a worker: what the intake refuses becomes a dead letter.

Every shape of tests/unit/test_intake.py (each one killed an unchecked worker, or could not
run) is pushed straight into a real queue under a real prefork worker (as the Procfile runs
it), then random mutations of real messages are; the worker must keep consuming and every
refused item must be a row. An item the intake lets through and the worker still cannot
take (its pool cannot pickle it) is a row too, and the worker goes on.
"""

import base64
import json
import uuid

import pytest

from broker import keys
from config import app
from tests import harness
from tests.conftest import module_worker
from tests.probe_tasks import ECHO
from tests.unit.test_intake import ITEM, TASK_SHAPES, mutations


@pytest.fixture(scope="module")
def quote_worker():
    with module_worker(["quote"], pool="prefork", concurrency=2) as worker:
        yield worker
    # Mutations it accepted with far ETAs went back to the queue when it stopped: not for
    # the tests after this module.
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge("quote")


def _with_own_id(item: bytes, original: str) -> bytes:
    """The same shape under a task id of its own, so each refusal is a row of its own."""
    return item.replace(original.encode(), str(uuid.uuid4()).encode())


def _refused_rows() -> int:
    return sum(
        len(harness.letters_where(queue="quote", reason=reason))
        for reason in ("undecodable", "rejected")
    )


def test_every_refused_shape_is_a_dead_letter_and_the_worker_goes_on(quote_worker, redis_client):
    # Given a worker on `quote`, and every shape the intake refuses, each under its own id
    original = json.loads(ITEM)["headers"]["id"]
    before = _refused_rows()
    shapes = [_with_own_id(item, original) for _shape, item, *_ in TASK_SHAPES]

    # When they are pushed straight into the queue's list, as a stray writer would
    for item in shapes:
        redis_client.lpush("quote", item)

    # Then each became a dead letter, the worker is alive, and it still runs jobs
    harness.wait_for(lambda: _refused_rows() - before >= len(shapes), timeout=60)
    assert _refused_rows() - before == len(shapes)
    assert quote_worker.process.poll() is None
    assert ECHO["quote"].delay("after").get(timeout=20)["value"] == "after"
    assert "Unrecoverable error" not in quote_worker.log()


def test_random_mutations_of_real_messages_never_stop_the_worker(quote_worker, redis_client):
    # Given 300 random mutations of real task messages (truncated, bytes flipped, fields
    # deleted or retyped)
    items = list(mutations(300, seed=20261130))

    # When they are pushed into the queue
    for item in items:
        redis_client.lpush("quote", item)

    # Then the worker takes them all and is still consuming afterwards, and every letter
    # they caused reached Postgres (none refused there and left in the spool)
    harness.wait_for(lambda: redis_client.llen("quote") == 0, timeout=120)
    assert ECHO["quote"].delay("still here").get(timeout=30)["value"] == "still here"
    assert quote_worker.process.poll() is None
    assert "Unrecoverable error" not in quote_worker.log()
    assert redis_client.llen(keys.SPOOL) == 0


def _deep_echo(queue: str, levels: int) -> tuple[str, bytes]:
    """A real message for `queue`'s echo task whose argument is nested `levels` deep."""
    envelope = json.loads(ITEM)
    task_id = str(uuid.uuid4())
    envelope["headers"].update(id=task_id, task=f"{queue}.probe_echo", root_id=task_id, eta=None)
    envelope["properties"]["delivery_info"].update(exchange=queue, routing_key=queue)
    argument = "x"
    for _ in range(levels):
        argument = [argument]
    body = json.dumps([[argument], {}, {"callbacks": None, "errbacks": None, "chain": None}])
    envelope["body"] = base64.b64encode(body.encode()).decode()
    return task_id, json.dumps(envelope).encode()


def test_an_item_the_pool_cannot_take_is_a_dead_letter_and_the_worker_goes_on(
    worker_process, redis_client
):
    # Given a prefork worker of one process whose intake lets very deep arguments through
    # (TASK_MAX_DEPTH raised past what its pool can pickle)
    worker = worker_process(
        ["search"], pool="prefork", concurrency=1, env={"TASK_MAX_DEPTH": "2000"}
    )

    # When an item nested 700 levels deep reaches it
    task_id, item = _deep_echo("search", 700)
    redis_client.lpush("search", item)
    redis_client.lpush("taskplatform:broker:wake:search", "1")

    # Then it is a dead letter, the worker is alive, and its one pool slot still runs jobs
    letter = harness.wait_for_letter(task_id, timeout=20)
    assert (letter.reason, letter.exception_type) == ("rejected", "RecursionError")
    assert [ECHO["search"].delay(n).get(timeout=20)["value"] for n in range(3)] == [0, 1, 2]
    assert worker.process.poll() is None
    assert "Unrecoverable error" not in worker.log()
