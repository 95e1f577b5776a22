"""Nothing acknowledged is lost: each scenario faults real workers or a private Redis under
load, then checks the ledger in Postgres.

Promise checked by every scenario: each acknowledged publish was executed at least once or
is a dead letter (lost == 0), and no worker process exited except the ones the scenario
killed. Duplicates are allowed (at-least-once) and reported. A publish that raised saying
nothing was queued never runs.
"""

from __future__ import annotations

import time

import pytest

from broker import epoch, inflight
from tests.chaos.conftest import PLAN
from tests.chaos.driver import QUEUE, Report, Scenario, poison_items, poison_outcome
from tests.chaos.ledger import execute

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(PLAN.test_timeout)]

#: Four times the heartbeat TTL (3 s): the frozen worker's jobs are reaped meanwhile.
WORKER_FREEZE_SECONDS = 12
REDIS_FREEZE_SECONDS = 10


def assert_nothing_lost(scenario: Scenario, report: Report) -> None:
    assert report.acknowledged > 0, scenario.diagnostics(report)
    assert report.lost == 0, scenario.diagnostics(report)
    assert not report.unexpected_exits, scenario.diagnostics(report)


def start_under_load(scenario: Scenario, **load: float) -> None:
    scenario.start_redis()
    scenario.start_workers()
    scenario.publish(**load)
    scenario.wait_executions(20)


def test_whole_worker_sigkill_loop_under_load(scenario: Scenario) -> None:
    # Given two Procfile workers on a private Redis, and a publisher at 20 jobs/s
    start_under_load(scenario, rate=20, sleep_min=0.05, sleep_max=0.25)

    # When a worker's whole process group is SIGKILLed and restarted, again and again
    for kill in range(PLAN.worker_kills):
        scenario.kill_worker(scenario.workers[kill % 2])
        scenario.pause(1.5)
    report = scenario.finish()

    # Then every acknowledged job ran or is a dead letter, and no other worker exited
    assert_nothing_lost(scenario, report)


def test_pool_child_sigkill(scenario: Scenario) -> None:
    # Given two prefork workers busy with 0.2-0.5 s jobs
    start_under_load(scenario, rate=8, sleep_min=0.2, sleep_max=0.5)

    # When pool children are SIGKILLed one after another
    kills = 0
    deadline = time.monotonic() + 30 + PLAN.child_kills * 3
    while kills < PLAN.child_kills and time.monotonic() < deadline:
        if scenario.kill_pool_child() is not None:
            kills += 1
        scenario.pause(0.7)
    report = scenario.finish()

    # Then the jobs they held ran again (or are dead letters); only the killed children died
    assert kills == PLAN.child_kills
    assert_nothing_lost(scenario, report)


def test_redis_kill_9_mid_drain(scenario: Scenario) -> None:
    # Given a backlog of 200 jobs being drained, and more arriving at 25 jobs/s
    scenario.start_redis()
    scenario.start_workers()
    scenario.publish(burst=200, rate=25, sleep_min=0.02, sleep_max=0.05)
    scenario.wait_executions(30)

    # When Redis is killed -9 and restarted 3 s later on the same port and data folder
    for _ in range(PLAN.redis_kills):
        scenario.kill_redis(down_for=3)
        scenario.wait_resumed(scenario.faults[-1][1])
        scenario.pause(2)
    report = scenario.finish()

    # Then nothing Redis acknowledged (appendfsync always) went missing
    assert_nothing_lost(scenario, report)


def test_redis_shutdown_then_restart(scenario: Scenario) -> None:
    # Given a backlog being drained and a steady publisher
    scenario.start_redis()
    scenario.start_workers()
    scenario.publish(burst=200, rate=25, sleep_min=0.02, sleep_max=0.05)
    scenario.wait_executions(30)

    # When Redis is shut down cleanly (SHUTDOWN) and started again 3 s later
    scenario.shutdown_redis(down_for=3)
    scenario.wait_resumed(scenario.faults[-1][1])
    scenario.pause(2)
    report = scenario.finish()

    # Then nothing acknowledged is lost and the workers reconnected instead of exiting
    assert_nothing_lost(scenario, report)


def test_redis_frozen_10s(scenario: Scenario) -> None:
    # Given a backlog being drained and a steady publisher
    scenario.start_redis()
    scenario.start_workers()
    scenario.publish(burst=200, rate=25, sleep_min=0.02, sleep_max=0.05)
    scenario.wait_executions(30)

    # When Redis stops answering for 10 s (SIGSTOP, then SIGCONT)
    scenario.freeze_redis(REDIS_FREEZE_SECONDS)
    scenario.wait_resumed(scenario.faults[-1][1])
    scenario.pause(2)
    report = scenario.finish()

    # Then nothing acknowledged is lost and no worker gave up
    assert_nothing_lost(scenario, report)


def test_sigterm_deploy_with_long_jobs(scenario: Scenario) -> None:
    # Given two dyno workers (REMAP_SIGTERM=SIGQUIT) running 5-8 s jobs
    scenario.start_redis()
    scenario.start_workers()
    scenario.publish(burst=4, rate=0.3, sleep_min=5, sleep_max=8)
    scenario.pause(3)

    # When a deploy sends SIGTERM to a worker's group while a replacement starts
    for _ in range(PLAN.deploys):
        old = next(w for w in scenario.workers if not w.expect_exit)
        scenario.deploy(old)
        scenario.pause(4)
    report = scenario.finish()

    # Then the interrupted jobs ran again elsewhere and nothing is lost
    assert_nothing_lost(scenario, report)


def test_frozen_worker(scenario: Scenario) -> None:
    # Given two workers under load
    start_under_load(scenario, rate=20, sleep_min=0.05, sleep_max=0.25)

    # When a whole worker group is stopped for longer than the heartbeat TTL, then resumed
    for freeze in range(PLAN.worker_freezes):
        scenario.freeze_worker(scenario.workers[freeze % 2], WORKER_FREEZE_SECONDS)
        scenario.pause(3)
    report = scenario.finish()

    # Then its jobs were taken over (duplicates are allowed and reported) and none is lost
    assert_nothing_lost(scenario, report)


def test_poison_items_in_the_search_queue(scenario: Scenario) -> None:
    # Given a real published message as the template, then two workers under load
    scenario.start_redis()
    scenario.publish(max=1).wait(60)
    template = scenario.client().lindex(QUEUE, 0)
    assert template, f"no message in the {QUEUE!r} list after a publish"
    scenario.start_workers()
    # (every 10th job's arguments are nested 900 levels deep: `.delay()` must refuse them)
    scenario.publish(first=1, rate=15, sleep_min=0.05, sleep_max=0.2, nested_every=10)
    scenario.wait_executions(10)

    # When items that are not valid messages are pushed straight into the queue's list
    pushed_since = time.time()
    pushed = []
    for round_ in range(PLAN.poison_rounds):
        for poison in poison_items(template, f"r{round_}-{scenario.key}"):
            scenario.push_raw(poison.item)
            pushed.append(poison)
            scenario.pause(0.3)
    scenario.pause(3)
    report = scenario.finish()

    # Then each one is a dead letter (undecodable or rejected), none ran as a job, ...
    deadline = time.monotonic() + 10
    while True:
        outcome = poison_outcome(pushed, pushed_since)
        wanted = {p.marker: sum(q.marker == p.marker for q in pushed) for p in pushed}
        missing = {m: n for m, n in wanted.items() if len(outcome[m]) < n}
        if not missing or time.monotonic() > deadline:
            break
        scenario.pause(1)
    wrong = {m: reasons for m, reasons in outcome.items()
             if set(reasons) - {"undecodable", "rejected"}}  # fmt: skip
    ran = execute(
        "SELECT job_id FROM chaos_executions WHERE job_id = ANY(%s)",
        ([p.marker for p in pushed],),
    )
    kinds = {p.marker: p.kind for p in pushed}
    report.notes.append(
        f"poison: {len(pushed)} pushed, {len(pushed) - sum(missing.values())} dead-lettered;"
        f" missing {sorted(kinds[m] for m in missing)}; wrong reason {wrong}; ran {ran}"
    )
    assert not missing and not wrong and not ran, scenario.diagnostics(report)

    # ... every nested job was refused by the publish guard, and nothing else was ...
    assert set(scenario.errors) == {"PayloadError"}, scenario.errors
    assert scenario.errors["PayloadError"] == report.refused > 0

    # ... and every real job still ran, with no worker exiting
    assert_nothing_lost(scenario, report)


def test_garbage_in_the_brokers_own_keys(scenario: Scenario) -> None:
    # Given two workers under load, and a real message as a template
    start_under_load(scenario, rate=15, sleep_min=0.05, sleep_max=0.25)
    client = scenario.client()

    # When anyone with access to Redis writes garbage into the broker's keys: a registry
    # member that is not UTF-8, an entry naming no list in a live worker's in-flight list,
    # a dead consumer holding garbage around a real job, and a broken kombu unacked entry
    client.sadd(inflight.REGISTRY, b"\xff\xfe-not-a-consumer")
    live = [c for c in client.smembers(inflight.REGISTRY) if b":" in c]  # host:pid:random
    for consumer in live:
        client.rpush(inflight.inflight_key(consumer), b"garbage without a list key")
    marker = f"{scenario.key}garbage-held"
    held = scenario.ledger_message(marker)
    client.sadd(inflight.REGISTRY, "dead-with-garbage")
    client.rpush(inflight.inflight_key("dead-with-garbage"), b"\x00garbage first",
                 f"{QUEUE}\n".encode() + held)  # fmt: skip
    client.hset(inflight.LEGACY_UNACKED, "garbage-tag", b"[not kombu's]")
    client.zadd(inflight.LEGACY_INDEX, {"garbage-tag": time.time() - 3600})
    scenario.record_expected(marker)

    # ... and then one worker is killed and the other replaced by a deploy
    scenario.kill_worker(scenario.workers[0])
    scenario.pause(2)
    scenario.deploy(scenario.workers[1])
    scenario.pause(2)
    report = scenario.finish()

    # Then the held job ran, the garbage is parked and dead-lettered (never retried), and
    # nothing acknowledged is lost
    assert execute("SELECT 1 FROM chaos_executions WHERE job_id = %s", (marker,))
    assert client.llen(inflight.LOST) == 0, client.lrange(inflight.LOST, 0, -1)
    assert not client.hexists(inflight.LEGACY_UNACKED, "garbage-tag")
    assert not client.sismember(inflight.REGISTRY, b"\xff\xfe-not-a-consumer")
    report.notes.append(f"garbage in {len(live)} live in-flight list(s)")
    assert_nothing_lost(scenario, report)


def test_redis_restarted_without_its_data(scenario: Scenario) -> None:
    # Given two workers holding countdown jobs (a Redis with appendonly, restarted empty
    # below, as a failover to a replica that missed everything would look), and ten jobs
    # waiting in a queue no worker of the scenario consumes
    scenario.start_redis()
    scenario.start_workers()
    scenario.publish(rate=10, sleep_min=0.02, sleep_max=0.1, countdown_min=2, countdown_max=5)
    scenario.wait_executions(10)
    scenario.stop_publishers()
    for n in range(10):
        scenario.push_raw(scenario.ledger_message(f"waiting-{n}"), queue="quote")
    scenario.wait_queue_empty(QUEUE)
    held = scenario.in_flight()
    scenario.pause(1.5)  # a keeper looks at least once with the ten waiting

    # When Redis comes back without any of its data
    scenario.restart_redis_empty()
    wiped_at = scenario.faults[-1][1]
    scenario.publish(first=100_000, rate=10, sleep_min=0.02, sleep_max=0.1)
    scenario.wait_resumed(wiped_at)
    scenario.pause(3)
    report = scenario.finish()

    # Then every worker said so within a heartbeat or two, the loss is on record with what
    # was waiting, the jobs the workers held still ran, and no worker exited
    losses = epoch.unacknowledged(scenario.client())
    assert len(losses) == 1, losses
    (loss,) = losses
    assert loss["kind"] == "emptied" and int(loss["waiting_before"]) >= 10, loss
    assert float(loss["detected_at"]) - wiped_at < 3 * 1.0 + 3, loss  # TTL 3: a look a second
    for worker in scenario.workers:
        assert "THE BROKER LOST ITS DATA" in worker.log(), worker.node
    report.notes.append(f"{held} job(s) held at the wipe; loss record: {loss}")
    assert_nothing_lost(scenario, report)


def test_rabbitmq_memory_alarm_while_publishing(scenario: Scenario) -> None:
    # Given two workers on a RabbitMQ of the scenario's own, and a steady publisher
    scenario.start_redis()
    scenario.start_rabbitmq()
    scenario.start_workers()
    scenario.publish(rate=20, sleep_min=0.02, sleep_max=0.1)
    scenario.wait_executions(20)

    # When the broker raises a memory alarm (every publisher blocked), then clears it
    scenario.alarm(PLAN.alarm_seconds)
    scenario.wait_resumed(scenario.faults[-1][1])
    scenario.pause(2)
    report = scenario.finish()

    # Then no publish waited past the bound, none that raised ever ran, and nothing
    # acknowledged is lost
    ran = execute(
        "SELECT r.job_id, r.error FROM chaos_refused r JOIN chaos_executions e USING (job_id)"
        " WHERE r.scenario = %s",
        (scenario.key,),
    )
    report.notes.append(f"slowest publish {scenario.slowest_publish:.1f} s")
    assert report.refused > 0 and set(scenario.errors) == {"BrokerBlockedError"}, scenario.errors
    assert scenario.slowest_publish < 3 * 2, scenario.slowest_publish
    assert ran == [], ran
    assert_nothing_lost(scenario, report)
