"""Each housekeeping job does its work against real Redis and Postgres."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from broker import keys
from config import database
from config.redis_client import client as platform_redis
from config.settings import settings
from deadletters import alerts, spool
from deadletters.letters import from_job
from housekeeping import digest, purge, queue_health, task_stats
from mail.render import render
from tests import harness
from tests.probe_tasks import ECHO, attempts, sleep


def test_a_snapshot_reports_waiting_running_and_finished_jobs(worker_process, redis_client):
    # Given two jobs waiting in `quote`, one running on a `search` worker, one finished
    redis_client.delete("quote", keys.TASK_STATS)
    ECHO["quote"].delay(1)
    ECHO["quote"].delay(2)
    worker_process(["search"], pool="prefork", concurrency=1)
    assert sleep.delay(f"k:{uuid.uuid4()}", 0.2).get(timeout=20) == "slept"
    # workers add their counts to Redis once a second
    done = task_stats.field("search.probe_sleep", "done")
    harness.wait_for(lambda: redis_client.hget(keys.TASK_STATS, done), 10)
    k = f"k:{uuid.uuid4()}"
    running = sleep.delay(k, 4)
    harness.wait_for(lambda: attempts(k), 20)

    # When a snapshot is taken
    queue_health.snapshot(database.engine(), platform_redis())

    # Then one query answers per task: pending and in flight now, done and runtime
    rows = {row["task_name"]: row for row in queue_health.summary(database.engine())}
    assert rows["quote.probe_echo"]["pending"] == 2
    assert rows["search.probe_sleep"]["in_flight"] == 1
    assert rows["search.probe_sleep"]["done"] >= 1
    assert rows["search.probe_sleep"]["avg_runtime_ms"] >= 150
    with database.engine().connect() as db:
        quote = db.execute(text(
            "SELECT pending, oldest_age_seconds FROM queue_health WHERE queue = 'quote'"
            " AND task_name = '(queue)' ORDER BY taken_at DESC LIMIT 1")).one()  # fmt: skip
    assert quote.pending == 2 and 0 <= quote.oldest_age_seconds < 60
    running.get(timeout=20)
    redis_client.delete("quote")


def test_the_purge_drops_only_what_is_past_retention(services, redis_client):
    old, new = f"old-{uuid.uuid4()}", f"new-{uuid.uuid4()}"
    with database.engine().begin() as db:
        for key, age in ((old, 400), (new, 1)):
            db.execute(text(
                "INSERT INTO sent_emails (idempotency_key, status, recipients, subject,"
                " claimed_at, sent_at) VALUES (:k, 'sent', ARRAY['a@example.com'], 's',"
                " now() - make_interval(days => :d), now())"), {"k": key, "d": age})  # fmt: skip
    letter = from_job(task_id=f"resolved-{uuid.uuid4()}", task_name="quote.generate_quote",
                      queue="quote", args=[], kwargs={}, embed={}, headers={}, properties={},
                      exception_type="X", exception_message="x", traceback=None, attempts=1,
                      reason="permanent", hostname="h")  # fmt: skip
    spool.keep(letter)
    with database.engine().begin() as db:
        db.execute(text("UPDATE dead_letters SET resolved_at = now() - interval '400 days'"
                        " WHERE task_id = :t"), {"t": letter.task_id})  # fmt: skip
    redis_client.set(keys.QUOTE_PREFIX + "no-ttl", "{}")
    redis_client.set(keys.QUOTE_PREFIX + "with-ttl", "{}", ex=600)
    stale, fresh = f"once-{uuid.uuid4()}", f"once-{uuid.uuid4()}"
    with database.engine().begin() as db:
        db.execute(text("INSERT INTO taskplatform_once (job_id, task, done_at) VALUES"
                        " (:s, 't', now() - interval '40 days'), (:f, 't', now())"),
                   {"s": stale, "f": fresh})  # fmt: skip

    done = purge.purge_expired(database.engine(), platform_redis())

    assert done["sent_emails"] >= 1 and done["dead_letters"] >= 1 and done["cached_quotes"] == 1
    with database.engine().connect() as db:
        sent = set(db.execute(text("SELECT idempotency_key FROM sent_emails")).scalars())
    assert old not in sent and new in sent
    assert harness.letters_for(letter.task_id) == []
    with database.engine().connect() as db:
        left = set(db.execute(text("SELECT job_id FROM taskplatform_once")).scalars())
    assert fresh in left and stale not in left and done["once_records"] >= 1
    assert redis_client.exists(keys.QUOTE_PREFIX + "with-ttl") and not redis_client.exists(
        keys.QUOTE_PREFIX + "no-ttl"
    )


def test_the_threshold_alerts_once_per_crossing(services, redis_client, monkeypatch):
    with_ops = settings.model_copy(update={"ops_email": "ops@example.com"})
    monkeypatch.setattr(alerts, "settings", with_ops)
    mailed: list[tuple[dict, str]] = []
    redis_client.delete(keys.DIGEST_ABOVE_THRESHOLD)
    spool.keep(from_job(task_id=f"t-{uuid.uuid4()}", task_name="crm.capture_lead",
                        queue="crm", args=[], kwargs={}, embed={}, headers={}, properties={},
                        exception_type="X", exception_message="x", traceback=None,
                        attempts=1, reason="permanent", hostname="h"))  # fmt: skip
    engine, client = database.engine(), platform_redis()

    def check(threshold: int) -> bool:
        outcome = digest.check_threshold(
            engine, client, threshold, mail=lambda m, k: mailed.append((m, k))
        )
        return outcome["alerted"]

    assert check(1) is True
    assert check(1) is False
    assert check(10**9) is False
    assert check(1) is True
    # each crossing is mailed once, under its own idempotency key
    assert [m[0]["to"] for m in mailed] == ["ops@example.com"] * 2
    idempotency = [k for _, k in mailed]
    assert all(k.startswith("deadletter-threshold:") for k in idempotency)
    assert idempotency[0] != idempotency[1]


def test_the_weekly_digest_summarises_the_week(services):
    queue_health.snapshot(database.engine(), platform_redis())
    message, key = digest.weekly(database.engine())
    assert key.startswith("ops-digest:") and message["template"] == "ops_digest"
    rendered = render(message["template"], message["context"])
    assert "Dead letters this week" in rendered.text and "done" in rendered.subject
