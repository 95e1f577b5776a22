"""Never lost: with Postgres unreachable, dead letters wait in a spool and the drain moves
them in once it is back; with Redis unreachable too, they wait in a local file."""

from __future__ import annotations

import fcntl
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select

from broker import keys
from config.database import make_engine
from deadletters import spool
from deadletters.letters import Letter, from_job
from deadletters.model import DeadLetter
from devstack.servers import PostgresServer, free_port
from tests import harness
from tests.probe_tasks import ECHO, permanent


@pytest.fixture
def private_postgres(services):
    """A Postgres of this test's own, migrated, that the test may stop and start."""
    folder = Path(tempfile.mkdtemp(prefix="deadletter-pg-"))
    folder.chmod(0o755)
    server = PostgresServer(folder).start()
    harness.create_database(server.url(), "platform")
    url = server.url("platform")
    harness.migrate(url)
    yield server, url
    server.stop(mode="immediate")


def count_rows(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return connection.scalar(select(func.count(DeadLetter.id)))
    finally:
        engine.dispose()


def test_failures_while_postgres_is_down_are_spooled_then_drained(
    private_postgres, worker_process, redis_client
):
    server, url = private_postgres
    redis_client.delete(keys.SPOOL, keys.SPOOL_DRAINING)

    # Given a worker whose Postgres goes away
    worker = worker_process(["quote"], pool="prefork", concurrency=2, env={"DATABASE_URL": url})
    server.stop(mode="immediate")

    # When M jobs fail for good
    results = [permanent.delay(f"k{n}", message=f"failure {n}") for n in range(5)]
    harness.wait_for(lambda: all(r.ready() for r in results), 30)
    harness.wait_for(lambda: redis_client.llen(keys.SPOOL) == 5, 30)

    # Then no worker crashed: it still runs jobs
    assert worker.process.poll() is None
    assert ECHO["quote"].delay("still here").get(timeout=20)["value"] == "still here"
    assert "not written to Postgres" in worker.log()

    # When Postgres is back and the drain runs, exactly M rows exist, even if it runs twice
    server.start()
    engine = make_engine(url)
    try:
        first = spool.drain(engine=engine)
        second = spool.drain(engine=engine)
    finally:
        engine.dispose()
    assert (first.stored, first.left, second.stored) == (5, 0, 0)
    assert count_rows(url) == 5
    assert redis_client.llen(keys.SPOOL) == 0


KEEP_WITHOUT_SERVICES = """
import sys
from deadletters import spool
from deadletters.letters import from_job
letter = from_job(task_id=sys.argv[1], task_name="email.send_email", queue="email", args=[],
    kwargs={"token": "t0ps3cret"}, embed={}, headers={}, properties={},
    exception_type="SMTPDataError", exception_message="550", traceback=None, attempts=1,
    reason="permanent", hostname="h")
print(spool.keep(letter))
"""


def test_with_postgres_and_redis_down_a_dead_letter_goes_to_the_local_file(services):
    # Given a process whose Postgres and Redis both do not answer
    spool_file = Path(tempfile.mkdtemp()) / "spool.jsonl"
    task_id = str(uuid.uuid4())
    env = {
        **harness.os.environ,
        "PYTHONPATH": str(harness.ROOT),
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/x",
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "DEADLETTER_SPOOL_FILE": str(spool_file),
    }
    completed = subprocess.run(
        [sys.executable, "-c", KEEP_WITHOUT_SERVICES, task_id], env=env, cwd=harness.ROOT,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    # Then the letter is appended to the file, loudly, and redacted
    assert completed.stdout.strip() == "filed", completed.stderr
    assert "not spooled to Redis either" in completed.stderr
    (line,) = spool_file.read_text().splitlines()
    assert Letter.from_json(line).task_id == task_id
    assert "t0ps3cret" not in line

    # And the drain moves it into Postgres once that answers
    report = spool.drain(spool_file=spool_file)
    assert report.stored == 1
    assert len(harness.letters_for(task_id)) == 1
    assert not spool_file.exists()


def test_a_spool_file_has_one_drainer_at_a_time_and_drains_with_redis_away(services):
    # Given a letter filed locally, and another process draining that file (it holds its lock)
    spool_file = Path(tempfile.mkdtemp()) / "spool.jsonl"
    letter = from_job(task_id=str(uuid.uuid4()), task_name="crm.capture_lead", queue="crm",
                      args=[], kwargs={}, embed={}, headers={}, properties={},
                      exception_type="ValueError", exception_message="bad", traceback=None,
                      attempts=1, reason="permanent", hostname="h")  # fmt: skip
    spool_file.write_text(letter.to_json() + "\n")
    with open(spool_file.with_name("spool.jsonl.lock"), "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)

        # When this process drains (its Redis away, as when the file was written)
        away = redis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_timeout=1)
        with pytest.raises(redis.ConnectionError):
            spool.drain(client=away, spool_file=spool_file)

        # Then it leaves the file to the other drainer, untouched
        assert spool_file.exists() and harness.letters_for(letter.task_id) == []

    # And once the file is free, a drain stores it, although Redis is still away
    with pytest.raises(redis.ConnectionError):
        spool.drain(client=away, spool_file=spool_file)
    assert len(harness.letters_for(letter.task_id)) == 1
    assert not spool_file.exists()
