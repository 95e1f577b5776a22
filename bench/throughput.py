"""Enqueue and drain throughput of the platform against bare Celery, measured in one run.

    .venv/bin/python -m bench.throughput [--jobs 2000]

For each side: how fast one process can `.delay()` a no-op, and how fast one solo worker
drains them. Prints jobs/s and the platform/bare ratio (above 1 is faster). Uses an empty
Redis database of its own on the local Redis, flushed afterwards.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from broker import inflight  # noqa: E402
from tests.harness import claim_redis_db, release_redis_db, with_db  # noqa: E402

SERVER = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")

ENQUEUE = """
import sys, time
n = int(sys.argv[1])
from {module} import noop
noop.delay(0)  # connect first
started = time.perf_counter()
for i in range(n):
    noop.delay(i)
print(n / (time.perf_counter() - started))
"""


def enqueue_rate(module: str, env: dict, jobs: int) -> float:
    out = subprocess.run([sys.executable, "-c", ENQUEUE.format(module=module), str(jobs)],
                         env=env, cwd=ROOT, capture_output=True, text=True, check=True)  # fmt: skip
    return float(out.stdout.strip().splitlines()[-1])


def drain_rate(app: str, queue: str, env: dict, client: redis.Redis, extra: list[str]) -> float:
    jobs = client.llen(queue)
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", app, "worker", "-Q", queue, "--pool", "solo",
         "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "-n",
         f"bench-{uuid.uuid4().hex[:6]}@%h", *extra],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        while client.llen(queue) == jobs:  # wait for the worker to start taking
            time.sleep(0.005)
        started = time.perf_counter()
        while client.llen(queue) or client.hlen("unacked") or held_jobs(client):
            time.sleep(0.005)
        return jobs / (time.perf_counter() - started)
    finally:
        worker.terminate()
        worker.wait(30)


def held_jobs(client: redis.Redis) -> int:
    """Jobs still in flight on the platform's transport (broker/inflight.py)."""
    return sum(client.llen(k) for k in client.scan_iter(inflight.inflight_key("*")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=2000)
    args = parser.parse_args()
    db = claim_redis_db(SERVER, f"bench-{uuid.uuid4().hex}")
    url = with_db(SERVER, db)
    client = redis.Redis.from_url(url)
    base = {**os.environ, "PYTHONPATH": str(ROOT), "LOG_FORMAT": "text"}
    bare_env = {**base, "BENCH_BROKER_URL": url}
    platform_env = {**base, "REDIS_URL": url, "APP_ENV": "test", "WATCHDOG_IDLE_SECONDS": "0"}
    try:
        rows = []
        bare_enqueue = enqueue_rate("bench.bare_app", bare_env, args.jobs)
        bare_drain = drain_rate("bench.bare_app", "celery", bare_env, client, [])
        platform_enqueue = enqueue_rate("bench.platform_tasks", platform_env, args.jobs)
        platform_drain = drain_rate("config", "quote", platform_env, client,
                                    ["--include=bench.platform_tasks"])  # fmt: skip
        rows.append(("enqueue (.delay, one process)", bare_enqueue, platform_enqueue))
        rows.append(("drain (one solo worker)", bare_drain, platform_drain))
        print(f"{'measure':32} {'bare jobs/s':>12} {'platform jobs/s':>16} {'ratio':>7}")
        for name, bare, plat in rows:
            print(f"{name:32} {bare:12.0f} {plat:16.0f} {plat / bare:7.2f}")
    finally:
        release_redis_db(SERVER, db)


if __name__ == "__main__":
    main()
