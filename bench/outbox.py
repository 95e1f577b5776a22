"""The outbox's cost, measured: `python -m bench.outbox` (make bench runs it after bench.run).

- relay, rows/s: ROWS committed outbox rows (in transactions of 100), then one relay started:
  rows over the time from its start until none is left unpublished.
- latency p50 / p99, ms: probes at a steady rate to one solo platform worker, each carrying
  the time just before its transaction's commit, through the outbox (publish, commit, the
  relay woken by NOTIFY) and, in the same run, straight through the client's `.delay()`.
  "Added" is the difference of the medians.

Everything runs on a Redis (append-only) and a scratch Postgres database of its own, dropped
after; the platform's worker is the bench's (bench/platform_tasks.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.run import RESULTS, Worker, _wait  # noqa: E402
from bench.sides import PLATFORM  # noqa: E402
from devstack.servers import RedisServer  # noqa: E402

ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def scratch_database() -> str:
    name = f"bench_outbox_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Relay:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "taskplatform.outbox.cli", "relay"], env=env, cwd=ROOT,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        _wait(lambda: "started" in log.read_text(), 30, "relay start", 0.01)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(20)


def relay_rate(env: dict[str, str], db_url: str, rows: int, workdir: Path) -> float:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from taskplatform import TaskHandle
    from taskplatform.outbox import publish

    noop = TaskHandle("quote.bench_noop", ignore_result=True)
    engine = create_engine(db_url)
    for start in range(0, rows, 100):
        with Session(engine) as session, session.begin():
            for n in range(start, min(rows, start + 100)):
                publish(session, noop, (n,))
    engine.dispose()
    with psycopg.connect(db_url, autocommit=True) as db:

        def left() -> int:
            return db.execute(
                "SELECT count(*) FROM taskplatform_outbox WHERE published_at IS NULL"
            ).fetchone()[0]

        began = time.perf_counter()
        relay = Relay(env, workdir / "relay-rate.log")
        try:
            _wait(lambda: left() == 0, 300, "relay drain", 0.01)
            return rows / (time.perf_counter() - began)
        finally:
            relay.stop()


def latencies(env, db_url: str, client: redis.Redis, rate: float, seconds: float, workdir: Path):
    """(outbox p50, p99, direct p50, p99) in ms, one solo worker, probes at `rate`/s."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from taskplatform import TaskHandle
    from taskplatform.outbox import publish

    probe = TaskHandle("quote.bench_probe_latency", ignore_result=True)
    engine = create_engine(db_url)
    worker = Worker(PLATFORM.worker(1), env)
    relay = Relay(env, workdir / "relay-latency.log")

    def via_outbox() -> None:
        with Session(engine) as session, session.begin():
            publish(session, probe, (time.time(),))

    def direct() -> None:
        probe.delay(time.time())

    def measure(send) -> list[float]:
        client.delete("bench:latency")
        count = int(rate * seconds)
        start = time.perf_counter()
        for k in range(count):
            pause = start + k / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            send()
        _wait(lambda: client.llen("bench:latency") >= count, 60, "probes", 0.05)
        return sorted(float(x) * 1000 for x in client.lrange("bench:latency", 0, -1))

    try:
        probe.delay(time.time())
        _wait(lambda: client.llen("bench:latency") >= 1, 60, "worker start", 0.05)
        time.sleep(1)
        outbox, straight = measure(via_outbox), measure(direct)
    finally:
        relay.stop()
        worker.stop()
        engine.dispose()

    def pick(samples: list[float], q: float) -> float:
        return samples[min(len(samples) - 1, int(q * len(samples)))]

    return pick(outbox, 0.5), pick(outbox, 0.99), pick(straight, 0.5), pick(straight, 0.99)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    name = scratch_database()
    db_url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        server = RedisServer(workdir / "redis").start()
        env = {**PLATFORM.environment(server.url), "OUTBOX_DATABASE_URL": db_url}
        os.environ.update(REDIS_URL=server.url)
        try:
            from taskplatform.outbox.cli import main as outbox_cli

            os.environ["OUTBOX_DATABASE_URL"] = db_url
            outbox_cli(["migrate"])
            rate = relay_rate(env, db_url, args.rows, workdir)
            client = redis.Redis(port=server.port)
            client.delete("quote")
            p50, p99, direct50, direct99 = latencies(
                env, db_url, client, args.rate, args.seconds, workdir
            )
        finally:
            server.stop()
            drop_database(name)
    measured = {
        "relay_rows_per_s": rate,
        "outbox_latency_p50_ms": p50,
        "outbox_latency_p99_ms": p99,
        "direct_latency_p50_ms": direct50,
        "direct_latency_p99_ms": direct99,
        "added_p50_ms": p50 - direct50,
    }
    print(
        f"\noutbox: one relay publishes {rate:,.0f} rows/s ({args.rows:,} committed rows);"
        f" commit to job start p50 {p50:.1f} ms, p99 {p99:.1f} ms, against {direct50:.1f} /"
        f" {direct99:.1f} ms straight through .delay(): the outbox adds {p50 - direct50:.1f} ms"
        f" at the median ({args.rate:g} probes/s for {args.seconds:g} s)"
    )
    RESULTS.mkdir(exist_ok=True)
    when = datetime.now(UTC)
    path = RESULTS / f"{when:%Y-%m-%d}-outbox.json"
    record = {"when": when.isoformat(timespec="seconds"), "settings": vars(args),
              "measured": measured}  # fmt: skip
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"written: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
