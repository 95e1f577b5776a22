"""The outbox against real Postgres, Redis, relays and workers: what a transaction leaves, what
the relay queues (once), what it does with the broker away and after Redis lost its data,
and once-only effects under redelivery.

The relays are real `taskplatform-outbox relay` processes; the tables come from the real
`taskplatform-outbox migrate`, in this run's database (which plays the web app's).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

import taskplatform
from devstack import servers
from taskplatform import InvalidArguments, TaskHandle
from taskplatform.outbox import publish
from taskplatform.outbox.relay import _plain_url
from tests import harness
from tests.probe_tasks import EFFECTS_TABLE

pytestmark = pytest.mark.redis_broker

EFFECT = TaskHandle("quote.probe_effect")
ECHO = TaskHandle("quote.probe_echo")
ROOT = Path(__file__).resolve().parents[2]
OUTBOX_CLI = [sys.executable, "-m", "taskplatform.outbox.cli"]


def outbox_env(redis_url: str | None = None, **more: str) -> dict[str, str]:
    return {
        **os.environ,
        "OUTBOX_DATABASE_URL": os.environ["DATABASE_URL"],
        "REDIS_URL": redis_url or os.environ["REDIS_URL"],
        "PYTHONPATH": str(ROOT),
        **more,
    }


class RelayProcess:
    """A real `taskplatform-outbox relay`, stopped (or killed) by PID."""

    def __init__(self, redis_url: str | None = None, name: str | None = None) -> None:
        self.name = name or f"test-{uuid.uuid4().hex[:8]}"
        self.env = outbox_env(redis_url, OUTBOX_RELAY_NAME=self.name)
        handle, path = tempfile.mkstemp(prefix="relay-", suffix=".log")
        os.close(handle)
        self.log_path = Path(path)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RelayProcess:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [*OUTBOX_CLI, "relay"], cwd=ROOT, env=self.env, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        harness.wait_for(lambda: "started" in self.log(), 20)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)

    def stop(self) -> int | None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode if self.process else None


@pytest.fixture(scope="module")
def engine():
    harness_env_ready = os.environ.get("DATABASE_URL")
    if not harness_env_ready:
        pytest.skip("no database for this run")
    completed = subprocess.run(
        [*OUTBOX_CLI, "migrate"], cwd=ROOT, env=outbox_env(), capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert "outbox tables are in place" in completed.stdout
    made = create_engine(os.environ["DATABASE_URL"])
    with made.begin() as db:
        db.execute(text(EFFECTS_TABLE))
    yield made
    made.dispose()


@pytest.fixture
def relays(services, engine):
    """Start relays on a clean outbox: rows other tests left would go to this test's broker."""
    with engine.begin() as db:
        db.execute(text("DELETE FROM taskplatform_outbox"))
    started: list[RelayProcess] = []

    def start(redis_url: str | None = None, name: str | None = None) -> RelayProcess:
        relay = RelayProcess(redis_url, name).start()
        started.append(relay)
        return relay

    yield start
    for relay in started:
        relay.stop()


def row(engine, job_id: str) -> dict | None:
    with engine.connect() as db:
        found = db.execute(
            text("SELECT * FROM taskplatform_outbox WHERE job_id = :id"), {"id": job_id}
        ).mappings().first()  # fmt: skip
    return dict(found) if found else None


def effects(engine, order_id: int) -> list[str]:
    with engine.connect() as db:
        return list(
            db.execute(
                text("SELECT job_id FROM probe_effects WHERE order_id = :o"), {"o": order_id}
            ).scalars()
        )


def new_order() -> int:
    return uuid.uuid4().int % 10**12


def test_a_worker_killed_after_the_commit_does_not_write_twice(engine, relays, worker_process):
    """The job commits its effect and its record, then its worker is killed before the ack:
    the redelivered job finds its record and skips the body; the row is closed once it did.
    (First in the module: the embedded worker, once a test starts it, takes quote jobs.)"""
    relays()
    short_heartbeat = {"WORKER_HEARTBEAT_TTL": "3"}  # the killed worker's job comes back soon
    worker = worker_process(["quote"], env=short_heartbeat)
    order = new_order()
    with Session(engine) as session, session.begin():
        job_id = publish(session, EFFECT, (order, 30.0))
    harness.wait_for(lambda: effects(engine, order), timeout=20)
    worker.process.kill()
    worker.process.wait(5)
    worker_process(["quote"], env=short_heartbeat)
    harness.wait_for(lambda: row(engine, job_id)["finished_at"], timeout=60)
    assert effects(engine, order) == [job_id]


def test_a_rollback_leaves_nothing_and_a_commit_runs_once_and_is_closed(
    engine, relays, embedded_worker
):
    relays()
    rolled_back, committed = new_order(), new_order()
    with Session(engine) as session:
        with session.begin():
            lost_id = publish(session, EFFECT, (rolled_back,))
            session.rollback()
        with session.begin():
            job_id = publish(session, EFFECT, (committed,))
    assert row(engine, lost_id) is None
    harness.wait_for(lambda: effects(engine, committed), timeout=15)
    finished = harness.wait_for(lambda: (r := row(engine, job_id))["finished_at"] and r, 15)
    assert finished["publishes"] == 1 and finished["published_at"] >= finished["created_at"]
    harness.never(lambda: len(effects(engine, committed)) > 1, window=1.0)
    assert effects(engine, rolled_back) == []


def test_a_sqlalchemy_connection_and_a_psycopg_connection_publish_too(
    engine, relays, embedded_worker
):
    relays()
    first, second = new_order(), new_order()
    with engine.begin() as connection:
        publish(connection, EFFECT, (first,))
    with psycopg.connect(_plain_url(os.environ["DATABASE_URL"])) as connection:
        publish(connection, EFFECT, (second,))
    for order in (first, second):
        assert harness.wait_for(lambda o=order: effects(engine, o), timeout=15)
    with pytest.raises(TypeError, match="SQLAlchemy Session or Connection"):
        publish(object(), EFFECT, (1,))


def test_bad_arguments_raise_before_anything_is_written(engine):
    from taskplatform.tasks import generate_quote

    with Session(engine) as session, session.begin():
        before = session.execute(text("SELECT count(*) FROM taskplatform_outbox")).scalar()
        with pytest.raises(InvalidArguments, match="count"):
            publish(session, generate_quote, ({"roles": [{"title": "qa", "count": 0}]},))
        with pytest.raises(taskplatform.PayloadError, match="over the cap"):
            publish(session, ECHO, ("x" * 300_000,))
        after = session.execute(text("SELECT count(*) FROM taskplatform_outbox")).scalar()
    assert after == before


def test_the_same_job_key_is_one_row_and_one_job(engine):
    key = f"order-{uuid.uuid4().hex}"
    with Session(engine) as session, session.begin():
        first = publish(session, ECHO, (1,), job_key=key)
        again = publish(session, ECHO, (1,), job_key=key)
    assert first == again == ECHO.apply_async((1,), job_key=key).id
    with engine.connect() as db:
        count = db.execute(
            text("SELECT count(*) FROM taskplatform_outbox WHERE job_id = :id"), {"id": first}
        ).scalar()
    assert count == 1


@pytest.fixture
def own_redis(tmp_path):
    """A Redis of the test's own, which it stops and empties; never the shared one."""
    server = servers.RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


def publish_rows(engine, count: int) -> list[str]:
    with Session(engine) as session, session.begin():
        return [publish(session, ECHO, (n,)) for n in range(count)]


def published(engine, ids: list[str]) -> list[dict]:
    with engine.connect() as db:
        rows = db.execute(
            text(
                "SELECT job_id, published_at, publishes FROM taskplatform_outbox"
                " WHERE job_id = ANY(:ids)"
            ),  # fmt: skip
            {"ids": ids},
        ).mappings()
        return [dict(r) for r in rows]


def queued_ids(client: redis.Redis, queue: str = "quote") -> list[str]:
    return [json.loads(m)["headers"]["id"] for m in client.lrange(queue, 0, -1)]


def test_with_the_broker_away_rows_wait_and_go_when_it_is_back(engine, relays, own_redis):
    client = redis.Redis.from_url(own_redis.url)
    relay = relays(own_redis.url)
    own_redis.stop()
    ids = publish_rows(engine, 20)
    time.sleep(2)
    assert all(r["published_at"] is None for r in published(engine, ids))
    assert "trying again" in relay.log()
    status = subprocess.run(
        [*OUTBOX_CLI, "status"], cwd=ROOT, env=relay.env, capture_output=True, text=True,
        timeout=30,
    )  # fmt: skip
    assert json.loads(status.stdout)["backlog"] >= 20
    own_redis.start()
    harness.wait_for(lambda: all(r["publishes"] == 1 for r in published(engine, ids)), 20)
    assert sorted(queued_ids(client)) == sorted(ids)
    assert "working again" in relay.log()


def test_a_row_published_again_is_not_queued_twice(engine, relays, own_redis):
    """A relay that died after queuing and before marking: the row goes out again under its
    key, and the broker keeps one copy."""
    client = redis.Redis.from_url(own_redis.url)
    relays(own_redis.url)
    ids = publish_rows(engine, 10)
    harness.wait_for(lambda: all(r["published_at"] for r in published(engine, ids)), 15)
    with engine.begin() as db:
        db.execute(
            text("UPDATE taskplatform_outbox SET published_at = NULL WHERE job_id = ANY(:ids)"),
            {"ids": ids},
        )
    harness.wait_for(lambda: all(r["publishes"] == 2 for r in published(engine, ids)), 15)
    assert sorted(queued_ids(client)) == sorted(ids)


def test_after_redis_lost_its_data_unfinished_rows_are_published_again(engine, relays, own_redis):
    client = redis.Redis.from_url(own_redis.url)
    relay = relays(own_redis.url)
    ids = publish_rows(engine, 10)
    harness.wait_for(lambda: set(ids) <= set(queued_ids(client)), timeout=15)
    done = ids[0]  # finished by a worker: its row is closed and stays closed
    client.set(f"taskplatform:outbox:done:{done}", "1")
    harness.wait_for(lambda: row(engine, done)["finished_at"], timeout=10)
    time.sleep(1.5)  # the relay has looked at the epoch since
    own_redis.kill()
    shutil.rmtree(own_redis.data_dir)
    own_redis.start()
    client = redis.Redis.from_url(own_redis.url)
    harness.wait_for(lambda: set(ids[1:]) <= set(queued_ids(client)), timeout=20)
    assert done not in queued_ids(client)
    assert sorted(queued_ids(client)) == sorted(ids[1:])
    assert "the broker lost data" in relay.log()
    assert {r["publishes"] for r in published(engine, ids[1:])} == {2}


def test_several_relays_share_the_rows_without_queuing_one_twice(engine, relays, own_redis):
    client = redis.Redis.from_url(own_redis.url)
    for _ in range(3):
        relays(own_redis.url)
    ids = publish_rows(engine, 600)
    harness.wait_for(lambda: len(set(queued_ids(client)) & set(ids)) == 600, timeout=30)
    assert len(queued_ids(client)) == 600
    assert {r["publishes"] for r in published(engine, ids)} == {1}


def test_once_lets_one_of_two_concurrent_deliveries_write(engine):
    """Two deliveries of one job at once: the second waits for the first's transaction and
    then skips the body with the stored result; after a rollback the next one writes."""
    from tasks.once import once

    job_id, order = str(uuid.uuid4()), new_order()
    inside, results = threading.Event(), []

    def deliver(pause: float) -> None:
        with Session(engine) as session, session.begin(), once(session, job_id) as effect:
            inside.set()
            if effect.done:
                results.append(("skipped", effect.result))
                return
            session.execute(
                text("INSERT INTO probe_effects (order_id, job_id) VALUES (:o, :j)"),
                {"o": order, "j": job_id},
            )
            effect.keep({"order": order})
            time.sleep(pause)
            results.append(("wrote", None))

    first = threading.Thread(target=deliver, args=(1.0,))
    first.start()
    inside.wait(5)
    deliver(0)
    first.join()
    assert results == [("wrote", None), ("skipped", {"order": order})]
    assert effects(engine, order) == [job_id]

    rolled_back = str(uuid.uuid4())
    with (
        pytest.raises(RuntimeError),
        Session(engine) as session,
        session.begin(),
        once(session, rolled_back),
    ):
        raise RuntimeError("the job failed before its commit")
    with Session(engine) as session, session.begin(), once(session, rolled_back) as effect:
        assert not effect.done


def test_the_exporter_shows_each_relays_numbers_and_how_old_they_are(engine, relays):
    from tests.integration.test_ops_tools import exporter_scrape, sample

    relay = relays()
    ids = publish_rows(engine, 5)
    harness.wait_for(lambda: all(r["publishes"] == 1 for r in published(engine, ids)), 15)
    labels = f'{{relay="{relay.name}"}}'
    with exporter_scrape() as (scrape, _port):
        # (the unfinished count depends on whether a worker took the jobs: not checked)
        metrics = harness.wait_for(
            lambda: (
                (m := scrape()) and sample(m, "taskplatform_outbox_backlog" + labels) == 0 and m
            ),
            timeout=15,
        )
        assert sample(metrics, "taskplatform_outbox_unfinished" + labels) is not None
        assert sample(metrics, "taskplatform_outbox_lag_seconds" + labels) == 0
        assert sample(metrics, "taskplatform_outbox_relay_seen_age_seconds" + labels) < 5
        relay.kill()
        time.sleep(3)
        age = sample(scrape(), "taskplatform_outbox_relay_seen_age_seconds" + labels)
        assert age is not None and age >= 2
    redis.Redis.from_url(os.environ["REDIS_URL"]).delete(f"taskplatform:outbox:relay:{relay.name}")


def test_publish_refuses_a_connection_outside_a_transaction_and_async_ones(engine):
    url = _plain_url(os.environ["DATABASE_URL"])
    with psycopg.connect(url, autocommit=True) as connection:
        rows = "SELECT count(*) FROM taskplatform_outbox"
        before = connection.execute(rows).fetchone()[0]
        with pytest.raises(TypeError, match="autocommit off"):
            publish(connection, ECHO, (1,))
        assert connection.execute(rows).fetchone()[0] == before

    async def from_async_code() -> None:
        connection = await psycopg.AsyncConnection.connect(url)
        try:
            with pytest.raises(TypeError, match="not async ones"):
                publish(connection, ECHO, (1,))
        finally:
            await connection.close()

    import asyncio

    asyncio.run(from_async_code())


def test_a_job_that_expired_before_it_ran_is_finished_too(engine, relays, embedded_worker):
    with Session(engine) as session, session.begin():
        job_id = publish(session, ECHO, (1,), expires=0.5)
    time.sleep(1)
    relays()
    harness.wait_for(lambda: row(engine, job_id)["finished_at"], timeout=15)


def test_relays_sharing_a_name_see_no_loss_and_a_loss_while_stopped_is_seen(
    engine, relays, own_redis
):
    client = redis.Redis.from_url(own_redis.url)
    name = f"shared-{uuid.uuid4().hex[:6]}"
    first, second = relays(own_redis.url, name), relays(own_redis.url, name)
    ids = publish_rows(engine, 5)
    harness.wait_for(lambda: set(ids) <= set(queued_ids(client)), timeout=15)
    time.sleep(4)  # several looks each, interleaved
    assert "lost data" not in first.log() + second.log()
    first.stop()
    second.stop()
    own_redis.kill()
    shutil.rmtree(own_redis.data_dir)
    own_redis.start()
    again = relays(own_redis.url, name)
    client = redis.Redis.from_url(own_redis.url)
    harness.wait_for(lambda: sorted(queued_ids(client)) == sorted(ids), timeout=20)
    assert "the broker lost data" in again.log()
