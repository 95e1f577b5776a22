"""Every task of the app uses the shared base task and routes to a declared queue."""

import importlib.util
import re

import pytest

from config import app
from config.celery_app import TASK_MODULES
from config.queues import QUEUES, UnroutableTaskError
from tasks.base import PlatformTask
from tests import harness

# Celery's built-ins, and the shared tasks the pytest-celery plugin adds to every app while
# the tests run (they never exist in a deployed worker).
FOREIGN_PREFIXES = ("celery.", "pytest_celery.")


def platform_tasks():
    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if not name.startswith(FOREIGN_PREFIXES)}


def test_every_task_uses_the_base_task_and_routes_to_its_prefix_queue():
    tasks = platform_tasks()
    assert tasks, "the app registers no tasks"
    for name, task in tasks.items():
        assert isinstance(task, PlatformTask), name
        prefix = name.split(".", 1)[0]
        assert prefix in QUEUES, name
        route = app.amqp.router.route({}, name, (), {})
        assert route["queue"].name == prefix, name


def consumed_by_the_procfile() -> dict[str, list[str]]:
    """Each Procfile worker line's queues (its `-Q` list)."""
    consumed = {}
    for line in (harness.ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if " worker " in f" {command} ":
            queues = re.search(r"-Q\s+(\S+)", command)
            assert queues, f"Procfile line {name} consumes no named queue (-Q)"
            consumed[name] = queues.group(1).split(",")
    return consumed


def test_every_queue_has_a_task_module_and_a_procfile_worker_and_nothing_else_is_consumed():
    consumed = consumed_by_the_procfile()
    everything = [queue for queues in consumed.values() for queue in queues]
    assert sorted(everything) == sorted(QUEUES), f"Procfile -Q lists: {consumed}"
    for queue in QUEUES:
        assert importlib.util.find_spec(f"tasks.{queue}"), f"queue {queue} has no tasks/{queue}.py"
    assert [f"tasks.{queue}" for queue in QUEUES] == TASK_MODULES
    assert set(TASK_MODULES) <= set(app.conf.include)


def test_a_task_that_sets_retry_numbers_itself_is_refused():
    app.finalize()
    with pytest.raises(TypeError, match="retry_preset"):

        @app.task(name="quote.probe_own_numbers", max_retries=9)
        def own_numbers():
            return None


def test_an_unknown_retry_preset_is_refused():
    app.finalize()
    with pytest.raises(TypeError, match="unknown retry_preset"):

        @app.task(name="quote.probe_bad_preset", retry_preset="forever")
        def bad_preset():
            return None


def test_a_task_name_without_a_queue_prefix_is_refused_at_publish(redis_client):
    app.finalize()

    @app.task(name="billing.charge_card")
    def charge_card():
        return None

    try:
        with pytest.raises(UnroutableTaskError, match="routes nowhere"):
            charge_card.delay()
    finally:
        app.tasks.pop("billing.charge_card")
    assert all(redis_client.llen(queue) == 0 for queue in [*QUEUES, "celery"])


def test_a_named_preset_sets_the_retry_count():
    app.finalize()

    @app.task(name="email.probe_patient", retry_preset="patient")
    def patient():
        return None

    assert patient.max_retries > app.tasks["quote.probe_flaky"].max_retries


def test_the_client_has_one_handle_per_task_a_web_app_may_queue_named_as_its_function():
    import taskplatform.tasks as client_tasks
    from taskplatform.handles import TaskHandle

    web_queues = {"quote", "email", "crm", "search"}
    registered = {
        task.run.__name__: name
        for name, task in platform_tasks().items()
        if name.split(".", 1)[0] in web_queues and task.run.__module__.startswith("tasks.")
    }
    handles = {
        attribute: handle.name
        for attribute, handle in vars(client_tasks).items()
        if isinstance(handle, TaskHandle)
    }
    assert handles == registered
    assert sorted(client_tasks.__all__) == sorted(handles)
