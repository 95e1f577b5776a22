"""The at-least-once floor of a Redis: the least a reliable queue can do per job.

A producer LPUSHes a small JSON body; a consumer BLMOVEs it into its in-flight list, decodes
it, runs nothing, and LREMs it. No framework: what is left is the Redis round trips and
the JSON. A worker for `make bench`:

    python -m bench.floor produce N | consume [--processes 2]
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time

import redis

QUEUE = "floor"


def client() -> redis.Redis:
    return redis.Redis.from_url(os.environ["BENCH_BROKER_URL"])


def produce(jobs: int, task: str = "noop") -> None:
    r = client()
    for i in range(jobs):
        r.lpush(QUEUE, json.dumps({"task": task, "args": [i], "sent_at": time.time()}))


def send_latency_probe(r: redis.Redis) -> None:
    r.lpush(QUEUE, json.dumps({"task": "probe_latency", "args": [], "sent_at": time.time()}))


def consume(index: int) -> None:
    r = client()
    inflight = f"floor:inflight:{os.getpid()}:{index}"
    while True:
        item = r.blmove(QUEUE, inflight, 1, "RIGHT", "LEFT")
        if item is None:
            continue
        job = json.loads(item)
        if job["task"] == "probe_latency":
            r.rpush("bench:latency", time.time() - job["sent_at"])
        r.lrem(inflight, 1, item)


def main() -> None:
    command = sys.argv[1]
    if command == "produce":
        produce(int(sys.argv[2]))
    elif command == "consume":
        processes = int(sys.argv[3]) if len(sys.argv) > 3 else 1
        if processes == 1:
            consume(0)
        children = [multiprocessing.Process(target=consume, args=(i,)) for i in range(processes)]
        for child in children:
            child.start()
        for child in children:
            child.join()


if __name__ == "__main__":
    main()
