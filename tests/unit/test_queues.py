"""The routing table: a task's queue is the prefix of its name."""

import pytest

from config.queues import QUEUES, UnroutableTaskError, queue_for


@pytest.mark.parametrize("queue", list(QUEUES))
def test_a_task_name_routes_to_its_prefix(queue):
    assert queue_for(f"{queue}.do_something") == queue


def test_celerys_own_tasks_run_with_the_housekeeping():
    assert queue_for("celery.chord_unlock") == "maintenance"


@pytest.mark.parametrize("name", ["billing.charge", "quote", "Quote.generate", "emails.send"])
def test_other_names_route_nowhere(name):
    with pytest.raises(UnroutableTaskError):
        queue_for(name)
