"""A task's queue follows from its name: each lands in its queue (a Redis list, or a
RabbitMQ quorum queue) and runs on a real worker that consumes only that queue."""

import json

import pytest

from config.queues import QUEUES
from config.settings import settings
from tests import harness
from tests.probe_tasks import ECHO


@pytest.mark.parametrize("queue", list(QUEUES))
def test_a_task_is_queued_in_its_queue_list_and_run_by_that_queues_worker(
    queue, redis_client, worker_process
):
    # Given no worker is running, when a web app calls .delay()
    result = ECHO[queue].delay("hello")

    # Then the message waits in that queue, and in no other
    lengths = {name: harness.queue_depth(name) for name in QUEUES}
    assert lengths == {name: int(name == queue) for name in QUEUES}
    if settings.broker_kind != "rabbitmq":
        message = json.loads(redis_client.lindex(queue, 0))
        assert message["headers"]["task"] == f"{queue}.probe_echo"

    # When a worker consuming only that queue starts, then it runs the job
    worker = worker_process([queue])
    outcome = result.get(timeout=20)
    assert outcome["value"] == "hello"
    assert outcome["routing_key"] == queue
    assert outcome["hostname"] == worker.hostname
