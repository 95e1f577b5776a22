"""Test session set-up: isolate this run on the shared Redis and Postgres, then load the app.

The environment is set in `pytest_configure`, before any test module imports `config`,
because the app reads its settings once, as it does in production; worker subprocesses
inherit the same environment. A run of `tests/unit` alone claims no service at all: unit
tests need neither Redis nor Postgres. Otherwise, where no Redis or Postgres answers (a
fresh machine), the run starts embedded servers of its own (devstack/servers.py) on free
ports; TEST_SERVICES=embedded forces that. Missing infrastructure (no server and no binary)
skips the tests that need it locally, and fails the run under CI=true.
"""

from __future__ import annotations

import contextlib
import gc
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

from devstack import servers
from tests import harness

RUN_ID = uuid.uuid4().hex[:12]
EMBEDDED_DIR = Path(tempfile.mkdtemp(prefix="taskplatform-test-"))
EMBEDDED_DIR.chmod(0o755)  # as root, Postgres runs as an unprivileged user who must reach it
EMBEDDED_SERVERS: list = []


def _redis_server_url() -> str:
    """TEST_REDIS_URL, else the local Redis when it answers, else an embedded one."""
    if os.environ.get("TEST_REDIS_URL"):
        return os.environ["TEST_REDIS_URL"]
    if os.environ.get("TEST_SERVICES") != "embedded" and servers.port_answers(6379):
        return "redis://127.0.0.1:6379/0"
    server = servers.RedisServer(EMBEDDED_DIR / "redis").start()
    EMBEDDED_SERVERS.append(server)
    return server.url


def _postgres_admin_url() -> str:
    """TEST_POSTGRES_ADMIN_URL, else the local Postgres when it answers, else an embedded one."""
    if os.environ.get("TEST_POSTGRES_ADMIN_URL"):
        return os.environ["TEST_POSTGRES_ADMIN_URL"]
    if os.environ.get("TEST_SERVICES") != "embedded" and servers.port_answers(5432):
        return "postgresql://postgres@127.0.0.1:5432/postgres"
    server = servers.PostgresServer(EMBEDDED_DIR / "postgres").start()
    EMBEDDED_SERVERS.append(server)
    return server.url()


_missing: list[str] = []
REDIS_SERVER_URL = "redis://127.0.0.1:6379/0"
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE_NAME = f"taskplatform_test_{RUN_ID}"
REDIS_DB: int | None = None
POSTGRES_READY = False
#: TEST_RABBITMQ=1: the broker is a RabbitMQ virtual host of this run's own; Redis
#: keeps results, beat's lock and the spool, as in production on RabbitMQ.
ON_RABBITMQ = os.environ.get("TEST_RABBITMQ") == "1"
VHOST = f"taskplatform_test_{RUN_ID}"
VHOST_READY = False
UNIT_TESTS = Path(__file__).parent / "unit"


def _only_unit_tests(config: pytest.Config) -> bool:
    """Whether every path this run was given lies in tests/unit."""
    base = Path(config.invocation_params.dir)
    given = config.args or config.getini("testpaths") or ["."]
    paths = [(base / arg.split("::", 1)[0]).resolve() for arg in given]
    return all(path == UNIT_TESTS or UNIT_TESTS in path.parents for path in paths)


def pytest_configure(config: pytest.Config) -> None:
    for stray in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "RESULT_BACKEND_URL"):
        os.environ.pop(stray, None)
    os.environ.update(
        APP_ENV="test",
        # Dead letters seal the real arguments, so replays can be tested.
        DEADLETTER_ENCRYPTION_KEY="q1Rb2i9Lq6wW2Kk4d1I0tEJ7QxG6PZ2N3q8j0R4Z7mI=",
        DEADLETTER_SPOOL_FILE=str(EMBEDDED_DIR / "deadletter-spool.jsonl"),
        # Retries go through the broker at once: backoff is made fast by configuration.
        RETRY_BACKOFF_MAX="0",
        RETRY_MAX_RETRIES="3",
        # The stuck-worker watchdog exits its process: only the test of it turns it on.
        WATCHDOG_IDLE_SECONDS="0",
    )
    if _only_unit_tests(config):
        return
    _claim_services()
    os.environ.update(
        REDIS_URL=harness.with_db(REDIS_SERVER_URL, REDIS_DB or 0),
        DATABASE_URL=harness.database_url(POSTGRES_ADMIN_URL, DATABASE_NAME),
    )
    os.environ.pop("BROKER_URL", None)
    if ON_RABBITMQ:
        _claim_rabbitmq()
    from tests import probe_tasks  # registers the probe tasks on the app

    probe_tasks.IN_TEST_RUNNER = True
    if POSTGRES_READY:
        harness.migrate(os.environ["DATABASE_URL"])


def _claim_services() -> None:
    global REDIS_SERVER_URL, POSTGRES_ADMIN_URL, REDIS_DB, POSTGRES_READY
    try:
        REDIS_SERVER_URL = _redis_server_url()
    except Exception as exc:  # no server and no binary: reported per test below
        _missing.append(f"no Redis: {exc}")
    try:
        POSTGRES_ADMIN_URL = _postgres_admin_url()
    except Exception as exc:
        _missing.append(f"no Postgres: {exc}")
    try:
        REDIS_DB = harness.claim_redis_db(REDIS_SERVER_URL, RUN_ID)
    except harness.ServiceMissing as exc:
        _missing.append(str(exc))
    try:
        harness.create_database(POSTGRES_ADMIN_URL, DATABASE_NAME)
        POSTGRES_READY = True
    except harness.ServiceMissing as exc:
        _missing.append(str(exc))


def _claim_rabbitmq() -> None:
    global VHOST_READY
    try:
        os.environ["BROKER_URL"] = harness.create_vhost(VHOST)
        VHOST_READY = True
    except harness.ServiceMissing as exc:
        _missing.append(f"no RabbitMQ: {exc}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests of the Redis transport's own machinery (its lists, in-flight keys, reaper)
    have no RabbitMQ counterpart to run; tests of RabbitMQ's run only on it."""
    for item in items:
        if ON_RABBITMQ and item.get_closest_marker("redis_broker"):
            item.add_marker(pytest.mark.skip(reason="Redis transport only (TEST_RABBITMQ=1)"))
        if not ON_RABBITMQ and item.get_closest_marker("rabbitmq_broker"):
            item.add_marker(pytest.mark.skip(reason="RabbitMQ only: run with TEST_RABBITMQ=1"))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if REDIS_DB is not None:
        harness.release_redis_db(REDIS_SERVER_URL, REDIS_DB)
    if POSTGRES_READY:
        harness.drop_database(POSTGRES_ADMIN_URL, DATABASE_NAME)
    if VHOST_READY:
        harness.delete_vhost(VHOST)
    gc.collect()  # AsyncResult.__del__ unsubscribes: let it while the server still answers
    for server in reversed(EMBEDDED_SERVERS):
        server.stop()
    shutil.rmtree(EMBEDDED_DIR, ignore_errors=True)


def _require_services() -> None:
    if _missing:
        message = "; ".join(_missing)
        if harness.in_ci():
            pytest.fail(f"required service missing under CI: {message}")
        pytest.skip(message)


@pytest.fixture
def services() -> None:
    """Real Redis and Postgres for this run; skip (or fail under CI) without them. Each test
    starts with every dependency's flow state clear (config/flow_control.py): a breaker one
    test opened must not hold another's jobs."""
    _require_services()
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    stale = list(client.scan_iter(match="taskplatform:flow:*", count=1000))
    if stale:
        client.delete(*stale)
    client.close()


@pytest.fixture
def redis_client(services: None):
    """A client on this run's own Redis database (the broker and result backend)."""
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)
    yield client
    client.close()


@pytest.fixture(scope="session")
def celery_session_app():
    """Celery's session fixtures (celery.contrib.pytest, loaded by pytest-celery) run on the
    platform's own app, on this run's real Redis, not on a TestApp of their own."""
    _require_services()
    from config import app

    return app


@pytest.fixture(scope="session")
def celery_worker_parameters() -> dict:
    # No ping check: it needs `celery.ping` and the `celery` queue, which the platform lacks.
    return {"perform_ping_check": False, "shutdown_timeout": 30}


@pytest.fixture(scope="module")
def embedded_worker(celery_session_worker):
    """Celery's session worker (a thread, solo pool), consuming every queue while a module
    that asks for it runs, and none in between: other modules start worker processes of
    their own on the same queues, and an idle thread must not take their jobs.

    Queues are emptied first: a job another module left behind is not this module's.
    """
    from config.queues import QUEUES

    consumer = celery_session_worker.consumer
    with celery_session_worker.app.connection_for_write() as connection:
        for queue in celery_session_worker.app.amqp.queues.values():
            bound = queue.bind(connection.default_channel)
            bound.declare()  # RabbitMQ purges only a queue that exists
            bound.purge()
    for queue in QUEUES:
        _on_worker_loop(consumer, consumer.add_task_queue, queue)
    yield celery_session_worker
    for queue in QUEUES:
        _on_worker_loop(consumer, consumer.cancel_task_queue, queue)


def _on_worker_loop(consumer, call, *args) -> None:
    """Run `call` in the worker thread's event loop and wait for it: an AMQP connection is
    not thread-safe (a cancel sent from this thread garbles the worker's frames)."""
    import threading

    hub = getattr(consumer, "hub", None)
    if hub is None:
        call(*args)
        return
    done = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            call(*args)
        except BaseException as exc:  # handed to the test thread
            failure.append(exc)
        finally:
            done.set()

    hub.call_soon(run)
    if not done.wait(30):
        raise TimeoutError(f"the worker's loop did not run {call.__name__} within 30 s")
    if failure:
        raise failure[0]


@contextlib.contextmanager
def module_worker(queues: list[str], **kwargs):
    """A real worker subprocess for a whole test module (use inside a module fixture)."""
    _require_services()
    with harness.WorkerProcess(queues, **kwargs) as worker:
        yield worker


@pytest.fixture
def worker_process(services: None):
    """Start real `celery -A config worker` subprocesses; all are stopped by PID at the end."""
    started: list[harness.WorkerProcess] = []

    def start(queues: list[str], **kwargs) -> harness.WorkerProcess:
        worker = harness.WorkerProcess(queues, **kwargs)
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.__exit__(None, None, None)
