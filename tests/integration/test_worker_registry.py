"""Every worker says it is alive, with its queues, where the overview reads it; a worker that
stops says so, and one that went quiet reads as silent."""

from __future__ import annotations

import signal
import time

from broker import keys
from tests import harness
from worker import heartbeat as workers


def entry(redis_client, hostname: str) -> dict | None:
    return next((w for w in workers.known(redis_client) if w["hostname"] == hostname), None)


def test_a_real_worker_reports_its_queues_and_its_stop(worker_process, redis_client):
    worker = worker_process(["search", "crm"])
    found = harness.wait_for(lambda: entry(redis_client, worker.hostname), 30)
    assert found["state"] == "running" and found["queues"] == ["crm", "search"]
    assert found["age_seconds"] < workers.SILENT_AFTER and found["pid"] > 0
    assert "search" not in workers.unconsumed(workers.known(redis_client), ["search", "quote"])
    # A warm shutdown (SIGTERM) marks it stopped: its queues are unconsumed again
    worker.signal(signal.SIGTERM)
    worker.stop()
    stopped = harness.wait_for(
        lambda: (e := entry(redis_client, worker.hostname)) and e["state"] == "stopped" and e, 30
    )
    assert stopped["queues"] == ["crm", "search"]


def test_a_worker_not_heard_from_is_silent_and_old_ones_are_forgotten(redis_client):
    now = time.time()
    workers.heard(redis_client, "quiet@test", {"queues": ["quote"]}, now=now - 60)
    workers.heard(redis_client, "gone@test", {"queues": ["quote"]}, now=now - 2 * 86400)
    workers.heard(redis_client, "live@test", {"queues": ["email"]}, now=now)
    redis_client.hset(keys.WORKERS, "broken@test", "not json")
    known = {w["hostname"]: w for w in workers.known(redis_client, now=now)}
    assert known["quiet@test"]["state"] == "silent" and known["live@test"]["state"] == "running"
    assert "gone@test" not in known and "broken@test" not in known
    assert not redis_client.hexists(keys.WORKERS, "gone@test")
    assert workers.unconsumed(list(known.values()), ["quote", "email"]) == ["quote"]
