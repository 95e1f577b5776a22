"""From the web app's commit to the task's effect, exactly once in effect, under faults.

A web-app process writes orders with `taskplatform.outbox.publish` in the same transactions
(a third rolled back on purpose) while the broker is killed and restarted, Redis restarts
from an empty dataset once, the relay is killed twice and workers are killed. Then the
ledger of business rows against task effects: every committed order got exactly one effect,
every rolled-back one none (lost 0, duplicates 0).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from tests.chaos.conftest import PLAN
from tests.chaos.driver import ROOT, Report, Scenario
from tests.chaos.ledger import OUTBOX_SCHEMA, execute

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(PLAN.test_timeout)]

#: Orders the web app writes, and over how long (the faults fall inside).
ORDERS = 1000 if PLAN.mode == "full" else 300
WRITE_SECONDS = 40 if PLAN.mode == "full" else 24


class Relay:
    """`taskplatform-outbox relay` for the scenario's Redis; killed with SIGKILL by PID."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.log_path = scenario.workdir / "relay.log"
        self.process: subprocess.Popen[bytes] | None = None

    def launch(self) -> None:
        env = {**self.scenario.env(), "OUTBOX_DATABASE_URL": os.environ["DATABASE_URL"],
               "OUTBOX_RELAY_NAME": self.scenario.key}  # fmt: skip
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "taskplatform.outbox.cli", "relay"], cwd=ROOT, env=env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def kill(self) -> None:
        self.scenario.fault("SIGKILL the outbox relay")
        assert self.process is not None
        self.process.kill()
        self.process.wait(5)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def ledger(scenario: str) -> dict[str, int]:
    ((committed, rolled_back, effected, effects, rolled_back_effects, lost, skipped),) = execute(
        """
        WITH orders AS (SELECT id FROM chaos_orders WHERE scenario = %(s)s),
        undone AS (SELECT id FROM chaos_rolled_back WHERE scenario = %(s)s),
        effects AS (SELECT order_id FROM chaos_order_effects
                    WHERE order_id IN (SELECT id FROM orders UNION ALL SELECT id FROM undone))
        SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM undone),
               (SELECT count(DISTINCT order_id) FROM effects), (SELECT count(*) FROM effects),
               (SELECT count(*) FROM effects WHERE order_id IN (SELECT id FROM undone)),
               (SELECT count(*) FROM orders o
                WHERE NOT EXISTS (SELECT 1 FROM effects e WHERE e.order_id = o.id)),
               (SELECT count(*) FROM chaos_order_skips WHERE order_id IN (SELECT id FROM orders))
        """,
        {"s": scenario},
    )
    return {
        "committed": committed,
        "rolled_back": rolled_back,
        "effects": effects,
        "duplicates": effects - effected,
        "lost": lost,
        "effects_of_rolled_back": rolled_back_effects,
        "runs_skipped_by_once": skipped,
    }


def test_outbox_commit_to_effect_exactly_once(scenario: Scenario) -> None:
    # Given workers, a relay and a web app writing orders with their jobs in one transaction
    execute(OUTBOX_SCHEMA)
    migrated = subprocess.run(
        [sys.executable, "-m", "taskplatform.outbox.cli", "migrate"], cwd=ROOT,
        env={**os.environ, "OUTBOX_DATABASE_URL": os.environ["DATABASE_URL"]},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert migrated.returncode == 0, migrated.stderr
    execute("DELETE FROM taskplatform_outbox")  # rows other tests left are not this run's
    scenario.start_redis()
    scenario.start_workers()
    relay = Relay(scenario)
    relay.launch()
    first = uuid.uuid4().int % 10**15
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.chaos.outbox_writer", scenario.key, str(first),
         str(ORDERS), str(WRITE_SECONDS)],
        cwd=ROOT, env=scenario.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    step = WRITE_SECONDS / 8

    # When, while it writes: a worker is killed, the relay is killed, Redis is killed -9
    # and restarted, the relay is killed again, Redis restarts without its data, and
    # another worker is killed
    scenario.pause(step)
    scenario.kill_worker(scenario.workers[0])
    scenario.pause(step)
    relay.kill()
    scenario.pause(1)
    relay.launch()
    scenario.pause(step)
    scenario.kill_redis(down_for=2)
    scenario.pause(step)
    relay.kill()
    scenario.pause(1)
    relay.launch()
    scenario.pause(step)
    scenario.restart_redis_empty(down_for=1)
    scenario.pause(step)
    scenario.kill_worker(scenario.workers[-1])
    out, err = writer.communicate(timeout=WRITE_SECONDS * 3)
    assert writer.returncode == 0, err.decode()[-3000:]
    written = json.loads(out.decode().strip().splitlines()[-1])

    # Then, once the relay and workers caught up: every committed order has exactly one
    # effect, no rolled-back order has any
    deadline = time.monotonic() + PLAN.drain_deadline
    counts = ledger(scenario.key)
    while counts["lost"] and time.monotonic() < deadline:
        scenario.pause(1)
        counts = ledger(scenario.key)
    scenario.pause(3)  # late duplicates still count
    counts = ledger(scenario.key)
    ((backlog, unfinished, republished),) = execute(
        "SELECT count(*) FILTER (WHERE published_at IS NULL),"
        " count(*) FILTER (WHERE published_at IS NOT NULL AND finished_at IS NULL),"
        " coalesce(sum(publishes - 1), 0) FROM taskplatform_outbox"
    )
    relay.stop()
    summary = (
        f"committed={counts['committed']} rolled_back={counts['rolled_back']}"
        f" effects={counts['effects']} duplicates={counts['duplicates']} lost={counts['lost']}"
        f" effects_of_rolled_back={counts['effects_of_rolled_back']}"
        f" runs_skipped_by_once={counts['runs_skipped_by_once']}"
        f" rows_published_again={republished} backlog={backlog} unfinished={unfinished}"
    )
    print(summary)
    scenario.report = Report(
        scenario=scenario.name, mode=PLAN.mode, transport="redis (outbox)",
        published=counts["committed"] + counts["rolled_back"], acknowledged=counts["committed"],
        refused=counts["rolled_back"], executed=counts["effects"] - counts["duplicates"],
        lost=counts["lost"], duplicates=counts["duplicates"], dead_letters=0,
        dead_and_executed=0, recovery_s=None, drain_s=None, faults=len(scenario.faults),
        unexpected_exits=scenario.unexpected_exits(), seconds=time.time() - scenario.began,
        notes=[summary],
    )  # fmt: skip
    diagnostics = f"{summary}\nrelay log:\n{relay.log()[-4000:]}"
    assert written == {"committed": counts["committed"], "rolled_back": counts["rolled_back"]}
    assert counts["committed"] + counts["rolled_back"] == ORDERS
    assert counts["lost"] == 0, diagnostics
    assert counts["duplicates"] == 0, diagnostics
    assert counts["effects_of_rolled_back"] == 0, diagnostics
    assert "the broker lost data" in relay.log(), diagnostics
    assert not scenario.unexpected_exits(), diagnostics
