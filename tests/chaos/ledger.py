"""The ledger task and its tables: what ran where, kept in Postgres (Redis is what we kill).

Loaded by the chaos workers (`--include=tests.chaos.ledger`), by the publisher subprocess and
by the test process. A job counts as executed once its row in `chaos_executions` exists; the
row is written before the task returns, so a job killed mid-run has no row and must run again.
The task keeps the platform's defaults (results stored, STARTED tracked, acks late), so a
publish crosses the same path a web app's `.apply_async()` does.
"""

from __future__ import annotations

import os
import socket
import time

import psycopg

from config import app
from config.settings import settings

SCHEMA = """
CREATE TABLE IF NOT EXISTS chaos_executions (
    id bigserial PRIMARY KEY,
    job_id text NOT NULL,
    hostname text NOT NULL,
    pid integer NOT NULL,
    started_at double precision NOT NULL,
    executed_at double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS chaos_executions_job_id ON chaos_executions (job_id);
CREATE TABLE IF NOT EXISTS chaos_published (
    job_id text PRIMARY KEY,
    scenario text NOT NULL,
    published_at double precision NOT NULL
);
CREATE TABLE IF NOT EXISTS chaos_refused (
    job_id text PRIMARY KEY,
    scenario text NOT NULL,
    error text NOT NULL,
    seconds double precision NOT NULL
);
"""

#: One connection per process id. A connection inherited across a fork is kept referenced
#: and never used: closing (or collecting) it in the child would end the parent's session.
_connections: dict[int, psycopg.Connection] = {}


def libpq_url(url: str) -> str:
    """The settings' SQLAlchemy URL in the form libpq (psycopg.connect) takes."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def connection() -> psycopg.Connection:
    """This process's own autocommit connection to the run's database."""
    pid = os.getpid()
    current = _connections.get(pid)
    if current is None or current.closed:
        current = psycopg.connect(
            libpq_url(settings.sqlalchemy_url), autocommit=True, connect_timeout=5
        )
        _connections[pid] = current
    return current


def execute(sql: str, params: tuple | dict = ()) -> list[tuple]:
    """Run one statement, reconnecting once if the connection broke; the rows, if any."""
    for attempt in (1, 2):
        try:
            cursor = connection().execute(sql, params)
            return cursor.fetchall() if cursor.description else []
        except psycopg.OperationalError:
            _connections.pop(os.getpid(), None)
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def create_tables() -> None:
    execute(SCHEMA)


def record_execution(job_id: str, hostname: str, started_at: float) -> None:
    execute(
        "INSERT INTO chaos_executions (job_id, hostname, pid, started_at, executed_at)"
        " VALUES (%s, %s, %s, %s, %s)",
        (job_id, hostname, os.getpid(), started_at, time.time()),
    )


def record_publish(job_id: str, scenario: str) -> None:
    execute(
        "INSERT INTO chaos_published (job_id, scenario, published_at) VALUES (%s, %s, %s)",
        (job_id, scenario, time.time()),
    )


def record_refusal(job_id: str, scenario: str, error: str, seconds: float) -> None:
    """A publish that raised: what it raised and how long the caller waited."""
    execute(
        "INSERT INTO chaos_refused (job_id, scenario, error, seconds) VALUES (%s, %s, %s, %s)",
        (job_id, scenario, error, seconds),
    )


@app.task(name="search.chaos_ledger", bind=True)
def chaos_ledger(self, job_id: str, sleep_seconds: float) -> str:
    """Sleep (a job in flight), then record this execution; at-least-once, never deduplicated."""
    started_at = time.time()
    time.sleep(sleep_seconds)
    record_execution(job_id, self.request.hostname or socket.gethostname(), started_at)
    return job_id


# --- The outbox's ledger (tests/chaos/test_outbox_ledger.py) -------------------------------

OUTBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS chaos_orders (id bigint PRIMARY KEY, scenario text NOT NULL);
CREATE TABLE IF NOT EXISTS chaos_rolled_back (id bigint PRIMARY KEY, scenario text NOT NULL);
CREATE TABLE IF NOT EXISTS chaos_order_effects (
    order_id bigint NOT NULL, job_id text NOT NULL, hostname text NOT NULL
);
CREATE INDEX IF NOT EXISTS chaos_order_effects_order ON chaos_order_effects (order_id);
CREATE TABLE IF NOT EXISTS chaos_order_skips (order_id bigint NOT NULL, job_id text NOT NULL);
"""


@app.task(name="search.chaos_order_effect", bind=True)
def chaos_order_effect(self, order_id: int, sleep_seconds: float) -> dict:
    """The business effect of a committed order: one row, written once per job with
    tasks/once.py (a redelivery after the commit skips it). Sleeps before its commit and as
    long again after it: a kill in either half is a redelivery, of a job without its effect
    or of one with it."""
    from sqlalchemy import text

    from config import database
    from tasks.once import once

    time.sleep(sleep_seconds)
    with database.session() as db, once(db) as effect:
        if effect.done:  # counted, to show the runs that once() turned away
            record = "INSERT INTO chaos_order_skips (order_id, job_id) VALUES (%s, %s)"
            execute(record, (order_id, self.request.id))
            return effect.result
        db.execute(
            text(
                "INSERT INTO chaos_order_effects (order_id, job_id, hostname)"
                " VALUES (:order, :job, :host)"
            ),  # fmt: skip
            {"order": order_id, "job": self.request.id, "host": socket.gethostname()},
        )
        result = effect.keep({"order": order_id})
    time.sleep(sleep_seconds)
    return result
