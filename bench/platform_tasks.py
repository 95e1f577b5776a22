"""A no-op on the platform's app: every guard, counter and signal of a real task."""

import os
import time

import redis

from config import app

_latencies = redis.Redis.from_url(os.environ["REDIS_URL"])


@app.task(name="quote.bench_noop", ignore_result=True)
def noop(n: int) -> None:
    return None


@app.task(name="quote.bench_probe_latency", ignore_result=True)
def probe_latency(sent_at: float) -> None:
    _latencies.rpush("bench:latency", time.time() - sent_at)
