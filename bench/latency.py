"""Enqueue-to-start latency of the platform on an idle worker: no added polling delay.

    .venv/bin/python -m bench.latency [--jobs 200]

One solo worker waits idle; jobs are sent one at a time, 20 ms apart, and each reports the
moment it started. Prints p50, p90 and p99 in milliseconds. A tool, not a test.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.harness import claim_redis_db, release_redis_db, with_db  # noqa: E402

SERVER = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")

PROBE = """
import sys, time
from bench.platform_tasks import started_at
started_at.delay().get(timeout=30)  # connected, worker ready
samples = []
for _ in range(int(sys.argv[1])):
    sent = time.time()
    samples.append((started_at.delay().get(timeout=30) - sent) * 1000)
    time.sleep(0.02)
samples.sort()
pick = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))]
print(f"enqueue-to-start ms: p50 {pick(0.5):.2f}  p90 {pick(0.9):.2f}  p99 {pick(0.99):.2f}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=200)
    args = parser.parse_args()
    db = claim_redis_db(SERVER, f"bench-{uuid.uuid4().hex}")
    url = with_db(SERVER, db)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REDIS_URL": url, "APP_ENV": "test",
           "LOG_FORMAT": "text", "WATCHDOG_IDLE_SECONDS": "0"}  # fmt: skip
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "quote", "--pool",
         "solo", "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
         "--include=bench.platform_tasks", "-n", f"bench-{uuid.uuid4().hex[:6]}@%h"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(2)
        out = subprocess.run([sys.executable, "-c", PROBE, str(args.jobs)], env=env, cwd=ROOT,
                             capture_output=True, text=True, check=True)  # fmt: skip
        print(out.stdout.strip())
    finally:
        worker.terminate()
        worker.wait(30)
        release_redis_db(SERVER, db)


if __name__ == "__main__":
    main()
