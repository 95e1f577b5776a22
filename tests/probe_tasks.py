"""Small tasks for the tests, one set per behaviour, registered on the platform's app.

They live in tests/ (workers load them with `--include=tests.probe_tasks`), record what
happened to them in this run's Redis database, and are never part of tasks/.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import time
from functools import cache

import httpx
import redis
from celery.exceptions import Reject, SoftTimeLimitExceeded
from celery.utils.log import get_task_logger

from config import app
from config.errors import PermanentError, TransientError
from config.queues import QUEUES
from config.settings import settings

logger = get_task_logger(__name__)

#: Set by conftest in the pytest process: a probe that kills its process must never kill
#: the test runner itself (the embedded worker runs jobs in-process).
IN_TEST_RUNNER = False


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.redis_service_url, decode_responses=True)


def _record(key: str, task) -> int:
    """Append this attempt to the list at `key`; return the attempt number (1-based)."""
    entry = {
        "at": time.time(),
        "retries": task.request.retries,
        "eta": task.request.eta,
        "hostname": task.request.hostname,
        "pid": os.getpid(),
    }
    return _redis().rpush(key, json.dumps(entry))


def attempts(key: str) -> list[dict]:
    return [json.loads(item) for item in _redis().lrange(key, 0, -1)]


def _make_echo(queue: str):
    @app.task(name=f"{queue}.probe_echo", bind=True)
    def echo(self, value):
        """Report where it ran: the routing key it came by and the worker's name."""
        return {
            "value": value,
            "routing_key": self.request.delivery_info.get("routing_key"),
            "hostname": self.request.hostname,
            "pid_host": socket.gethostname(),
        }

    return echo


ECHO = {queue: _make_echo(queue) for queue in QUEUES}


@app.task(name="quote.probe_flaky", bind=True)
def flaky(self, key: str, failures: int, retry_after: float | None = None) -> int:
    """Fail transiently `failures` times, then return the number of attempts."""
    attempt = _record(key, self)
    logger.info("flaky attempt %s of %s", attempt, key)
    if attempt <= failures:
        raise TransientError(f"flaky attempt {attempt}", retry_after=retry_after)
    return attempt


@app.task(name="quote.probe_spawn", bind=True)
def spawn(self, key: str) -> str:
    """Queue a child job (a flaky one that succeeds at once) and return its id."""
    logger.info("spawning a child for %s", key)
    return flaky.delay(f"{key}:child", failures=0).id


@app.task(name="quote.probe_permanent", bind=True)
def permanent(self, key: str, message: str = "bad input") -> None:
    _record(key, self)
    raise PermanentError(message)


@app.task(name="crm.probe_http_status", bind=True)
def http_status(self, key: str, status: int) -> None:
    """Raise what httpx raises for an answer with `status`, as a webhook client would."""
    _record(key, self)
    request = httpx.Request("POST", "http://crm.invalid/hook")
    response = httpx.Response(status, request=request)
    response.raise_for_status()


@app.task(name="search.probe_sleep", bind=True)
def sleep(self, key: str, seconds: float) -> str:
    """Record the start, sleep, then record the completion under `<key>:done`."""
    _record(key, self)
    time.sleep(seconds)
    _record(f"{key}:done", self)
    return "slept"


@app.task(name="quote.probe_kill_own_worker", bind=True)
def kill_own_worker(self, key: str) -> None:
    """A job that kills the process running it, every time (but never the test runner)."""
    _record(key, self)
    if IN_TEST_RUNNER:
        raise PermanentError("refusing to kill the test runner; run me on a worker process")
    os.kill(os.getpid(), signal.SIGKILL)


@app.task(name="search.probe_stubborn_sleep", bind=True)
def stubborn_sleep(self, key: str, seconds: float) -> str:
    """Ignore the soft time limit and sleep on, so the hard limit has to stop it."""
    _record(key, self)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            time.sleep(0.05)
        except SoftTimeLimitExceeded:
            continue
    return "slept"


@app.task(name="crm.probe_reject", bind=True)
def reject(self, key: str) -> None:
    _record(key, self)
    raise Reject("not for us", requeue=False)


@app.task(name="crm.probe_login", bind=True)
def login(self, key: str, user: str, password: str) -> str:
    """Fail while `<key>:fail` is set, with the password in the error as careless code would;
    on success record a hash of the password it was given."""
    _record(key, self)
    if _redis().get(f"{key}:fail"):
        raise PermanentError(f"login refused for {user}: password={password}")
    _redis().set(f"{key}:password_sha", hashlib.sha256(password.encode()).hexdigest())
    return "logged in"


#: Where probe_effect writes: one row per effect, no unique key, so duplicates are counted.
EFFECTS_TABLE = """
CREATE TABLE IF NOT EXISTS probe_effects (
    order_id bigint NOT NULL, job_id text NOT NULL, at timestamptz NOT NULL DEFAULT now()
)
"""


@app.task(name="quote.probe_effect", bind=True)
def probe_effect(self, order_id: int, hold: float = 0.0) -> dict:
    """Write one effect row for `order_id` once per job (tasks/once.py); `hold` seconds
    after the commit and before the ack, a kill there makes a redelivery of a committed job."""
    from sqlalchemy import text

    from config import database
    from tasks.once import once

    with database.session() as db, once(db) as effect:
        if effect.done:
            return {**effect.result, "skipped": True}
        db.execute(
            text("INSERT INTO probe_effects (order_id, job_id) VALUES (:order, :job)"),
            {"order": order_id, "job": self.request.id},
        )
        result = effect.keep({"order": order_id, "job": self.request.id})
    if hold:
        time.sleep(hold)
    return result
