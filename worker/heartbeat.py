"""Which workers run, which queues each consumes, and when each was last heard from.

The overview page shows workers as an on-call engineer needs them: a worker group that went
away is a red line naming the queues nobody consumes now, not a missing row. Flower knows
workers only while it watches events, and `inspect` only those that answer now; so every
worker writes a line of its own to one Redis hash (`keys.WORKERS`, field = its hostname) every
`HEARD_EVERY` seconds, from a thread of its own (a Redis that hangs must not stall the
worker's consumer loop), and marks it stopped on a warm shutdown. A worker killed outright
keeps its line, which ages: past `SILENT_AFTER` it reads as silent. Lines older than
`FORGET_AFTER` are dropped when read.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import Any

from celery.signals import worker_ready, worker_shutdown

from broker import keys
from config import redis_client

logger = logging.getLogger(__name__)

HEARD_EVERY = 10.0
#: Three missed beats: the worker is gone or frozen.
SILENT_AFTER = 3 * HEARD_EVERY
FORGET_AFTER = 24 * 3600

_stop = threading.Event()
_beating: threading.Thread | None = None


def heard(client: Any, hostname: str, facts: dict[str, Any], now: float | None = None) -> None:
    """Record that `hostname` is alive now, with its queues and pool."""
    client.hset(keys.WORKERS, hostname, json.dumps({**facts, "heard_at": now or time.time()}))


def stopped(client: Any, hostname: str, now: float | None = None) -> None:
    raw = client.hget(keys.WORKERS, hostname)
    facts = json.loads(raw) if raw else {}
    client.hset(keys.WORKERS, hostname, json.dumps({**facts, "stopped_at": now or time.time()}))


def known(client: Any, now: float | None = None) -> list[dict[str, Any]]:
    """Every worker heard from within a day: hostname, queues, pid, concurrency, heard_at,
    age_seconds and state (`running`, `silent` or `stopped`), newest first."""
    now = time.time() if now is None else now
    workers, forgotten = [], []
    for hostname, raw in client.hgetall(keys.WORKERS).items():
        hostname = hostname.decode() if isinstance(hostname, bytes) else hostname
        try:
            facts = json.loads(raw)
            age = max(0.0, now - float(facts["heard_at"]))
        except (ValueError, KeyError, TypeError):
            forgotten.append(hostname)
            continue
        if age > FORGET_AFTER:
            forgotten.append(hostname)
            continue
        if facts.get("stopped_at"):
            state = "stopped"
        else:
            state = "silent" if age > SILENT_AFTER else "running"
        workers.append({"hostname": hostname, **facts, "age_seconds": age, "state": state})
    if forgotten:
        client.hdel(keys.WORKERS, *forgotten)
    return sorted(workers, key=lambda w: (w["state"] != "running", w["hostname"]))


def unconsumed(workers: list[dict[str, Any]], queues: list[str]) -> list[str]:
    """The queues no running worker consumes."""
    consumed = {q for w in workers if w["state"] == "running" for q in w.get("queues", [])}
    return [queue for queue in queues if queue not in consumed]


def _beat(hostname: str, facts: dict[str, Any]) -> None:
    while not _stop.is_set():
        try:
            heard(redis_client.client(), hostname, facts)
        except Exception as exc:  # Redis away: the line ages, which is what it should do
            logger.warning("could not record this worker's heartbeat: %s", exc)
        _stop.wait(HEARD_EVERY)


@worker_ready.connect
def start(sender: Any = None, **_: Any) -> None:
    if sender is None:
        return
    facts = {
        "queues": sorted(queue.name for queue in sender.task_consumer.queues),
        "pid": os.getpid(),
        "concurrency": getattr(sender.controller, "concurrency", None),
        "started_at": time.time(),
    }
    global _beating
    _stop.clear()
    _beating = threading.Thread(
        target=_beat, args=(sender.hostname, facts), name="heartbeat", daemon=True
    )
    _beating.start()


@worker_shutdown.connect
def stop(sender: Any = None, **_: Any) -> None:
    _stop.set()
    if _beating is not None:  # a beat being written must not overwrite the stop
        _beating.join(timeout=10)
    hostname = getattr(sender, "hostname", None)
    if not hostname:
        return
    try:
        stopped(redis_client.client(), hostname)
    except Exception as exc:
        logger.warning("could not record this worker's stop: %s", exc)
