"""Flow control per dependency against real Redis, real workers and a CRM that rate-limits
and goes down (config/flow_control.py, tasks/base.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid

import pytest
import redis

from broker import keys
from config.flow_control import Gate, Limits
from config.flow_limits import FlowConfigError, parse_counts, parse_rates
from tests import harness
from tests.fakes import RateLimitedCrm

pytestmark = pytest.mark.redis_broker

#: Leads captured through the rate-limited CRM (docs/flow-control.md's proof: FLOW_LEADS=500),
#: and how long the CRM is down afterwards (FLOW_OUTAGE_SECONDS=60 for the full proof).
LEADS = int(os.environ.get("FLOW_LEADS", "100"))
OUTAGE = float(os.environ.get("FLOW_OUTAGE_SECONDS", "8"))
COOLDOWN = 5.0


def test_the_tables_parse_and_refuse_what_they_cannot_read():
    assert parse_rates("crm=10/s, smtp=300/m") == {"crm": (10, 1.0), "smtp": (300, 60.0)}
    assert parse_rates("slow=2.5/s") == {"slow": (2, 0.8)}
    assert parse_counts("crm=4") == {"crm": 4} and parse_rates("") == {}
    for bad in ("crm=10", "crm=0/s", "crm", "CRM=1/s"):
        with pytest.raises(FlowConfigError, match="RATE_LIMITS"):
            parse_rates(bad)
    with pytest.raises(FlowConfigError, match="CONCURRENCY_LIMITS"):
        parse_counts("crm=0")


@pytest.fixture
def gate(services):
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    name = f"dep{uuid.uuid4().hex[:8]}"
    made = Gate(client, {name: Limits(rate=(10, 1.0), concurrency=2)}, failures=3, cooldown=1.0)
    yield made, name
    client.delete(*keys.flow(name))


def test_the_gate_reserves_rate_slots_and_bounds_concurrency(gate):
    gate, dep = gate
    waits = [gate.admit(dep, f"job-{n}", lease=60) for n in range(4)]
    # the first goes, the next ones own the slots 0.1 s apart (never the same slot twice)
    assert waits[0] == (0, "go") and waits[1][1] == "rate"
    expected = [0.11, 0.22, 0.33]  # 0.1 s apart, with RATE_MARGIN
    assert [w for w, _ in waits[1:]] == pytest.approx(expected, abs=0.005)
    # the owner of a reserved slot is let through without asking the rate again
    assert gate.admit(dep, "job-1", lease=60, slot=True) == (0, "go")
    # two run (job-0, job-1): a third waits for one of them, whatever the rate says
    assert gate.admit(dep, "job-2", lease=60, slot=True)[1] == "concurrency"
    gate.release(dep, "job-0")
    assert gate.admit(dep, "job-2", lease=60, slot=True) == (0, "go")
    assert gate.state(dep)["running"] == 2
    assert gate.state(dep)["waits"]["rate"] == 3


def test_slot_owners_that_come_back_together_cannot_pass_the_cap(gate):
    """Jobs whose worker was busy come back late, together: the log of the last second's
    calls still holds them to 10 in any second."""
    gate, dep = gate
    gate.limits[dep] = Limits(rate=(3, 1.0), concurrency=None)
    assert gate.admit(dep, "a", lease=60) == (0, "go")
    assert gate.admit(dep, "b", lease=60)[1] == gate.admit(dep, "c", lease=60)[1] == "rate"
    assert gate.admit(dep, "b", lease=60, slot=True) == (0, "go")  # back at once, together
    assert gate.admit(dep, "c", lease=60, slot=True) == (0, "go")
    wait, why = gate.admit(dep, "d", lease=60, slot=True)
    assert why == "rate" and 0.5 < wait <= 1.1  # the fourth in one second (+ margin) waits


def test_the_breaker_opens_probes_once_and_closes_and_a_slow_down_pauses_everyone(gate):
    gate, dep = gate
    gate.limits.clear()  # no rate or concurrency: the breaker alone
    for n in range(3):
        assert gate.admit(dep, f"f{n}", lease=60) == (0, "go")
        gate.outcome(dep, f"f{n}", "failed")
    wait, why = gate.admit(dep, "next", lease=60)
    assert why == "open" and 0.5 < wait <= 1.0 and gate.state(dep)["breaker"] == "open"
    time.sleep(wait + 0.05)
    assert gate.admit(dep, "probe", lease=60) == (0, "go")  # one probe
    assert gate.admit(dep, "other", lease=60)[1] == "half-open"  # the others wait
    gate.outcome(dep, "probe", "ok")
    assert gate.admit(dep, "other", lease=60) == (0, "go")
    assert gate.state(dep)["breaker"] == "closed"
    gate.outcome(dep, "other", "slowed", 2.0)
    wait, why = gate.admit(dep, "third", lease=60)
    assert why == "slowed" and 1.5 < wait <= 2.0


def lead(tag: str, n: int) -> dict:
    return {"email": f"{tag}-{n}@example.com", "name": f"Lead {n}", "company": "Acme",
            "source": "web"}  # fmt: skip


def accepted(crm: RateLimitedCrm, tag: str) -> list[str]:
    return [c["body"] for c in crm.calls if c["status"] == 200 and tag in c["body"]]


@pytest.mark.timeout(LEADS / 8 + OUTAGE + 150)
def test_a_rate_limited_crm_that_goes_down_is_called_within_its_limits(worker_process):
    from tasks.crm import capture_lead

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    client.delete(*keys.flow("crm"))
    with RateLimitedCrm(per_second=10) as crm:
        env = {"CRM_WEBHOOK_URL": crm.url, "RATE_LIMITS": "crm=10/s",
               "BREAKER_COOLDOWN_SECONDS": str(COOLDOWN)}  # fmt: skip
        workers = [worker_process(["crm"], env=env, pool="prefork", concurrency=4)
                   for _ in range(2)]  # fmt: skip
        tag = f"flow{uuid.uuid4().hex[:6]}"

        # Given LEADS leads captured by two workers of four processes each
        jobs = [capture_lead.delay(lead(tag, n)) for n in range(LEADS)]
        harness.wait_for(lambda: len(accepted(crm, tag)) >= LEADS, timeout=LEADS / 10 + 60)

        # Then the CRM saw at most 11 calls in any second, at most 1% of 429s, every lead
        # once, no dead letter and no retry
        time.sleep(1)
        calls = len(crm.calls)
        refused = sum(c["status"] == 429 for c in crm.calls)
        print(f"flow: {LEADS} leads, {calls} calls, {refused} answered 429, at most"
              f" {crm.most_in_one_second()} in one second")  # fmt: skip
        busiest = crm.busiest_second()
        shown = [(round(c["at"] - busiest[0]["at"], 3), c["status"]) for c in busiest]
        assert len(busiest) <= 11, shown
        assert refused <= LEADS // 100, refused
        assert len(accepted(crm, tag)) == len(set(accepted(crm, tag))) == LEADS
        assert all(job.get(timeout=30)["pushed"] for job in jobs[:20])
        assert not [j for j in jobs if harness.letters_for(j.id)]
        logs = "".join(w.log() for w in workers)
        assert not re.search(r"crm\.capture_lead\[[^\]]+\] retry", logs), "a job was retried"

        # When the CRM goes down while more leads come in
        crm.down = True
        down_at = time.monotonic()
        later = [capture_lead.delay(lead(tag + "b", n)) for n in range(20)]
        time.sleep(OUTAGE)
        during = len(crm.calls) - calls
        print(f"flow: {during} calls reached the CRM in its {OUTAGE:g} s down")
        crm.down = False
        back = time.monotonic()

        # Then only a handful of calls reached it (the failures that opened the breaker,
        # then one probe per cool-down), capture resumed within a probe interval of its
        # return, and nothing was dead-lettered
        assert during <= 5 + 8 + OUTAGE / COOLDOWN + 2, during
        harness.wait_for(lambda: len(accepted(crm, tag + "b")) >= 20, timeout=COOLDOWN + 30)
        first_after = min(c["at"] for c in crm.calls if c["status"] == 200 and c["at"] > back)
        assert first_after - back <= COOLDOWN + 2, first_after - back
        assert not [j for j in later if harness.letters_for(j.id)]
        assert time.monotonic() - down_at < OUTAGE + COOLDOWN + 60
    client.delete(*keys.flow("crm"))


def test_a_paused_queue_takes_publishes_fetches_nothing_and_resumes(worker_process):
    from tests.probe_tasks import ECHO

    def cli(*args: str) -> str:
        done = harness.celery_cli("queues", *args)
        assert done.returncode == 0, done.stderr
        return done.stdout

    worker_process(["quote"])
    assert ECHO["quote"].delay(0).get(timeout=20)["value"] == 0  # the worker is fetching
    try:
        assert "quote paused" in cli("pause", "quote")
        time.sleep(1.5)  # every consumer has looked the pause up
        job = ECHO["quote"].delay(1)
        time.sleep(3)
        assert job.state == "PENDING" and harness.queue_depth("quote") == 1
        assert "queue quote: PAUSED, 1 waiting" in cli()
    finally:
        cli("resume", "quote")
    assert job.get(timeout=20)["value"] == 1
    refused = harness.celery_cli("queues", "pause", "nope")
    assert refused.returncode != 0 and "no queue 'nope'" in refused.stderr


def test_a_queue_at_its_bound_refuses_publishes_at_once(tmp_path):
    """QUEUE_MAX_DEPTH through the client (one script: all or none) and through the
    platform's own `.delay()` (a depth check), on a Redis of the test's own."""
    from devstack import servers

    server = servers.RedisServer(tmp_path / "redis").start()
    try:
        code = r"""
import json, time
import taskplatform
from taskplatform import BulkPublishError, QueueFullError, TaskHandle
echo = TaskHandle("quote.probe_echo")
out = {}
echo.delay_many([(n,) for n in range(3)])
started = time.monotonic()
try:
    echo.delay(4)
except QueueFullError as exc:
    out["client"] = [str(exc), time.monotonic() - started]
try:
    echo.apply_async((5,), job_key="k-5")
except QueueFullError as exc:
    out["keyed"] = str(exc)
try:
    echo.delay_many([(6,), (7,)])
except BulkPublishError as exc:
    out["bulk"] = [str(exc), list(exc.unsent)]
from tests.probe_tasks import ECHO
try:
    ECHO["quote"].delay(8)
except QueueFullError as exc:
    out["platform"] = str(exc)
ECHO["crm"].delay(9)  # another queue, unbounded
print(json.dumps(out))
"""
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=harness.ROOT, capture_output=True, text=True,
            env={**os.environ, "PYTHONPATH": str(harness.ROOT), "REDIS_URL": server.url,
                 "QUEUE_MAX_DEPTH": "quote=3"},
            timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        out = json.loads(done.stdout.strip().splitlines()[-1])
        assert "nothing was queued" in out["client"][0] and out["client"][1] < 1
        assert "QUEUEFULL" not in out["client"][0] and "quote" in out["client"][0]
        assert "nothing was queued" in out["keyed"]
        assert "QUEUEFULL" in out["bulk"][0] and out["bulk"][1] == [0, 1]
        assert "QUEUE_MAX_DEPTH" in out["platform"]
        client = redis.Redis.from_url(server.url)
        assert client.llen("quote") == 3 and client.llen("crm") == 1
        assert not client.keys("taskplatform:broker:once:*")  # the refused keyed job took no mark
    finally:
        server.stop()


def test_a_deferred_job_keeps_its_chain_and_a_retry_after_of_0_is_a_plain_retry(
    worker_process,
):
    """A job that waited for the rate still hands its result on to the rest of its chain;
    a 429 with `Retry-After: 0` is retried at once (the pause would be no pause)."""
    from celery import chain

    from tasks.crm import capture_lead
    from tests.fakes import FakeCrm
    from tests.probe_tasks import ECHO

    with FakeCrm(statuses=[429], headers={"Retry-After": "0"}) as crm:
        env = {"CRM_WEBHOOK_URL": crm.url, "RATE_LIMITS": "crm=2/s"}
        worker_process(["crm"], env=env, pool="prefork", concurrency=2)
        tag = f"chain{uuid.uuid4().hex[:6]}"
        results = [chain(capture_lead.s(lead(tag, n)), ECHO["crm"].s()).delay() for n in range(4)]
        for n, result in enumerate(results):
            value = result.get(timeout=30)["value"]
            assert value["pushed"] is True, (n, value)
        assert [r["status"] for r in crm.requests].count(429) == 1
        assert len([r for r in crm.requests if r["status"] == 200]) == 4
