"""The real-service test harness: per-run isolation on shared Redis and Postgres, and real
`celery worker` subprocesses.

Nothing here fakes a service. A run claims a Redis database number of its own (flushed at
the end) and creates a Postgres database of its own (dropped at the end), so runs never see
each other's keys or rows and never touch other users of the shared servers.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
CLAIM_KEY = "taskplatform:test-run"
T = TypeVar("T")


def decode_body(message: dict) -> str:
    """The JSON body of a kombu message as it sits in a Redis list."""
    body = message["body"]
    if message.get("properties", {}).get("body_encoding") == "base64":
        body = base64.b64decode(body).decode()
    return body


class ServiceMissing(RuntimeError):
    """A shared service the tests need does not answer."""


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def wait_for(predicate: Callable[[], T], timeout: float, interval: float = 0.05) -> T:
    """Poll until `predicate()` is truthy; return it, or fail with the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        time.sleep(interval)


def never(predicate: Callable[[], object], window: float, interval: float = 0.05) -> None:
    """Watch `predicate()` for `window` seconds and fail the moment it is truthy.

    For what must not happen (a second delivery, a second event): a wait-until cannot prove
    an absence, so the window is the claim, and a breach fails at once instead of at the end."""
    deadline = time.monotonic() + window
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            raise AssertionError(f"happened within {window} s, and must not: {value!r}")
        time.sleep(interval)
    value = predicate()
    if value:
        raise AssertionError(f"happened within {window} s, and must not: {value!r}")


def with_db(url: str, db: int | str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


def claim_redis_db(server_url: str, run_id: str) -> int:
    """Claim an empty Redis database number for this run (1..15; 0 is left to users)."""
    for db in range(1, 16):
        client = redis.Redis.from_url(with_db(server_url, db), socket_connect_timeout=2)
        try:
            if client.dbsize() == 0 and client.set(CLAIM_KEY, run_id, nx=True, ex=6 * 3600):
                return db
        except redis.exceptions.ConnectionError as exc:
            raise ServiceMissing(f"Redis at {server_url} does not answer: {exc}") from exc
        finally:
            client.close()
    raise ServiceMissing(f"no empty Redis database left on {server_url} for this run")


def release_redis_db(server_url: str, db: int) -> None:
    client = redis.Redis.from_url(with_db(server_url, db))
    try:
        client.flushdb()
    finally:
        client.close()


RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672"


def create_vhost(name: str) -> str:
    """A RabbitMQ virtual host of this run's own (its queues, exchanges and messages), made
    with rabbitmqctl; returns its BROKER_URL."""
    base = os.environ.get("TEST_RABBITMQ_URL", RABBITMQ_URL).rstrip("/")
    user = urlsplit(base).username or "guest"
    if not shutil.which("rabbitmqctl"):
        raise ServiceMissing("no rabbitmqctl to make this run's RabbitMQ virtual host")
    for command in (["add_vhost", name], ["set_permissions", "-p", name, user, ".*", ".*", ".*"]):
        done = subprocess.run(["rabbitmqctl", "-q", *command], capture_output=True, text=True,
                              timeout=60)  # fmt: skip
        if done.returncode:
            raise ServiceMissing(f"rabbitmqctl {command[0]} failed: {done.stderr.strip()}")
    return f"{base}/{name}"


PUBLISH_ONE = """
import json, time
from tests.probe_tasks import ECHO
started = time.monotonic()
try:
    ECHO["quote"].delay("x")
    outcome = {"raised": None}
except Exception as exc:
    outcome = {"raised": type(exc).__name__, "message": str(exc)}
outcome["seconds"] = time.monotonic() - started
print(json.dumps(outcome))
"""


def publish_in_a_new_process(env: dict[str, str], code: str | None = None) -> dict:
    """One `.delay()` from a fresh process (a web app's first publish) with `env` on top of
    this run's: what it raised, if anything, and how long it took. `code` publishes
    something else instead (its own lines, indented into the try)."""
    script = PUBLISH_ONE
    if code is not None:
        script = script.replace(
            '    ECHO["quote"].delay("x")\n', textwrap.indent(code, "    ") + "\n"
        )
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def celery_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`celery -A config ARGS` as an operator runs it, with `env` on top of this run's."""
    return subprocess.run(
        [sys.executable, "-m", "celery", "-A", "config", *args], cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def queue_depth(queue: str) -> int:
    """Messages waiting in a queue, on whichever broker this run uses (RabbitMQ counts the
    ready ones; Redis, the length of the queue's list)."""
    from config import app
    from config.settings import settings

    if settings.broker_kind != "rabbitmq":
        client = redis.Redis.from_url(settings.redis_service_url)
        try:
            return int(client.llen(queue))
        finally:
            client.close()
    with app.connection_for_read() as connection:
        return connection.default_channel.queue_declare(queue, passive=True).message_count


def delete_vhost(name: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", "delete_vhost", name], capture_output=True, timeout=60)


def create_database(admin_url: str, name: str) -> None:
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        raise ServiceMissing(f"Postgres at {admin_url} does not answer: {exc}") from exc


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_url(admin_url: str, name: str) -> str:
    parts = urlsplit(admin_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def migrate(database_url: str) -> None:
    """Bring a database to the head revision, as the Procfile's release line does."""
    subprocess.run(
        [str(Path(sys.executable).parent / "alembic"), "-c",
         str(ROOT / "migrations" / "alembic.ini"), "upgrade", "head"],
        env={**os.environ, "DATABASE_URL": database_url}, cwd=ROOT, check=True,
        capture_output=True, timeout=120,
    )  # fmt: skip


class SilentServer:
    """A TCP server that accepts connections and never answers: a hung Redis."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.connections: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(connection)

    def __enter__(self) -> int:
        self.thread.start()
        return self.sock.getsockname()[1]

    def __exit__(self, *exc_info: object) -> None:
        self.sock.close()
        for connection in self.connections:
            connection.close()


class WorkerProcess:
    """A real `celery -A config worker` in its own process group, killed by PID at the end."""

    ready_marker = " ready."

    def __init__(
        self,
        queues: list[str],
        *,
        env: dict[str, str] | None = None,
        pool: str = "solo",
        concurrency: int = 1,
        include: list[str] | None = None,
        extra_args: list[str] | None = None,
    ) -> None:
        self.name = f"w{uuid.uuid4().hex[:8]}@%h"
        self.queues = queues
        handle, path = tempfile.mkstemp(prefix="worker-", suffix=".log")
        os.close(handle)
        self.log_path = Path(path)
        self.args = [
            sys.executable, "-m", "celery", "-A", "config", "worker",
            "-Q", ",".join(queues), "-n", self.name, "--pool", pool,
            "--concurrency", str(concurrency), "--loglevel", "INFO",
            "--without-gossip", "--without-mingle",
            *(f"--include={module}" for module in include or ["tests.probe_tasks"]),
            *(extra_args or []),
        ]  # fmt: skip
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def hostname(self) -> str:
        return self.name.replace("%h", socket.gethostname())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def start(self, timeout: float = 30) -> WorkerProcess:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        try:
            wait_for(
                lambda: self.ready_marker in self.log() or self.process.poll() is not None,
                timeout,
            )
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"worker did not start:\n{self.log()}") from None
        if self.process.poll() is not None:
            raise RuntimeError(f"worker exited with {self.process.returncode}:\n{self.log()}")
        return self

    def signal(self, signum: int) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signum)

    def stop(self, timeout: float = 15) -> int | None:
        """SIGTERM the main process (warm shutdown: acks complete), then SIGKILL the group."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout)
        with contextlib.suppress(ProcessLookupError):
            self.signal(signal.SIGKILL)  # pool children or anything else left behind
        return self.process.wait(5)

    def __enter__(self) -> WorkerProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        self.log_path.unlink(missing_ok=True)


class BeatProcess(WorkerProcess):
    """A real `celery -A config beat` (redbeat, one leader), with a fast test schedule."""

    ready_marker = "beat: Starting..."
    FAST = {"BEAT_TEST_INTERVAL": "1", "BEAT_MAX_INTERVAL": "1", "BEAT_LOCK_TIMEOUT": "3"}

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__([], env={**self.FAST, **(env or {})})
        self.args = [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel",
                     "INFO"]  # fmt: skip

    def leads(self) -> bool:
        return "beat: Acquired lock" in self.log()

    def sent(self, task: str = "") -> int:
        return sum(1 for line in self.log().splitlines()
                   if "Sending due task" in line and task in line)  # fmt: skip


def letters_for(task_id: str) -> list:
    """Dead-letter rows of a task id, straight from Postgres."""
    from sqlalchemy import select

    from config import database
    from deadletters.model import DeadLetter

    with database.session() as db:
        return list(db.scalars(select(DeadLetter).where(DeadLetter.task_id == task_id)))


def wait_for_letter(task_id: str, timeout: float = 30):
    """The dead letter of a task id, once it has been written (capture runs after FAILURE)."""
    return wait_for(lambda: letters_for(task_id), timeout)[0]


def letters_where(**conditions) -> list:
    from sqlalchemy import select

    from config import database
    from deadletters.model import DeadLetter

    query = select(DeadLetter)
    for column, value in conditions.items():
        query = query.where(getattr(DeadLetter, column) == value)
    with database.session() as db:
        return list(db.scalars(query.order_by(DeadLetter.id)))
