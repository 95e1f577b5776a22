"""The metrics Flower does not give, for Prometheus: `python -m housekeeping.exporter`.

Read fresh from the broker, Redis and Postgres at each scrape: per queue its depth, the age
of its oldest waiting message, its in-flight (held) jobs and, on RabbitMQ, its consumers
(housekeeping/queue_health.py `queue_states`, on either broker); histograms of queue wait
time and task runtime per queue and task (counted by the workers, housekeeping/task_stats.py);
dead letters by reason (unresolved); the dead-letter spool; beat's last tick; the losses of
the broker's data no operator has acknowledged (broker/epoch.py); each outbox relay's
backlog and lag (taskplatform/outbox/relay.py); how far ahead the quote contribution rules
are checked (pricing/rule_sets.py). Runs as its own Procfile process on
METRICS_PORT. Dashboards and alert rules for these names are in deploy/.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import UTC, datetime

from prometheus_client import start_http_server
from prometheus_client.core import (
    REGISTRY,
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from broker import epoch, keys
from config import database, redis_client
from config.beat import leader
from config.settings import settings
from deadletters import repository
from housekeeping import overview, queue_health, queues_cli, task_stats
from housekeeping.queue_health import queue_states
from pricing import rule_sets

logger = logging.getLogger(__name__)


class PlatformCollector(Collector):
    def collect(self):
        client = redis_client.client()
        depth = GaugeMetricFamily("taskplatform_queue_depth", "Jobs waiting", labels=["queue"])
        age = GaugeMetricFamily("taskplatform_queue_oldest_age_seconds",
                                "Age of the oldest waiting job", labels=["queue"])  # fmt: skip
        flight = GaugeMetricFamily("taskplatform_queue_in_flight",
                                   "Jobs delivered and not yet acknowledged",
                                   labels=["queue"])  # fmt: skip
        consumers = GaugeMetricFamily("taskplatform_queue_consumers",
                                      "Consumers the broker sees on the queue",
                                      labels=["queue"])  # fmt: skip
        # An unknown number has no sample, never a 0 (docs/operations.md says which).
        for queue, state in queue_states(client).items():
            depth.add_metric([queue], state.depth)
            if state.depth and state.oldest_age_seconds is not None:
                age.add_metric([queue], state.oldest_age_seconds)
            if state.held is not None:
                flight.add_metric([queue], state.held)
            if state.consumers is not None:
                consumers.add_metric([queue], state.consumers)
        yield from (depth, age, flight, consumers)
        yield from histograms(client)

        done = GaugeMetricFamily(
            "taskplatform_jobs_done_15m",
            "Jobs that succeeded in the last 15 minutes",
            labels=["queue"],
        )
        failed = GaugeMetricFamily("taskplatform_jobs_failed_15m",
                                   "Jobs that finally failed in the last 15 minutes",
                                   labels=["queue"])  # fmt: skip
        letters = GaugeMetricFamily("taskplatform_dead_letters_unresolved",
                                    "Unresolved dead letters", labels=["reason"])  # fmt: skip
        try:
            with database.session() as db:
                by_reason = repository.unresolved_by_reason(db)
            finished = queue_health.finished(database.engine(), minutes=15)
            for reason, count in by_reason.items():
                letters.add_metric([reason], count)
            for queue, ok, bad in finished:
                done.add_metric([queue], ok or 0)
                failed.add_metric([queue], bad or 0)
            up = 1
        except Exception as exc:
            logger.warning("metrics: Postgres unreadable: %s", exc)
            up = 0
        yield from (letters, done, failed)
        yield GaugeMetricFamily("taskplatform_postgres_up", "Postgres answered", value=up)

        spooled = client.llen(keys.SPOOL) + client.llen(keys.SPOOL_DRAINING)
        yield GaugeMetricFamily(
            "taskplatform_deadletter_spool_size", "Dead letters waiting for Postgres", value=spooled
        )
        losses = epoch.unacknowledged(client)
        yield GaugeMetricFamily(
            "taskplatform_broker_data_losses",
            "Times the broker lost its data, not yet acknowledged by an operator",
            value=len(losses),
        )
        yield GaugeMetricFamily(
            "taskplatform_broker_jobs_at_risk",
            "Jobs waiting or held when the broker was last seen before those losses",
            value=sum(epoch.at_risk(loss) for loss in losses),
        )
        yield from outbox_relays(client)
        yield from flow_states()
        yield from quote_rules()
        current = leader()
        yield GaugeMetricFamily(
            "taskplatform_beat_last_tick_age_seconds",
            "Seconds since the beat leader last ticked (absent leader: -1)",
            value=time.time() - current["ticked_at"] if current else -1,
        )


OUTBOX_GAUGES = {
    "backlog": ("taskplatform_outbox_backlog", "Committed outbox rows not yet published"),
    "lag_seconds": ("taskplatform_outbox_lag_seconds",
                    "Age of the oldest unpublished outbox row"),
    "unfinished": ("taskplatform_outbox_unfinished",
                   "Published outbox rows whose job has not finished"),
    "republished": ("taskplatform_outbox_republished",
                    "Rows this relay published again after a data loss"),
}  # fmt: skip


def outbox_relays(client) -> list[GaugeMetricFamily]:
    """What each outbox relay last wrote (taskplatform/outbox/relay.py), kept a week:
    `taskplatform_outbox_relay_seen_age_seconds` grows while a relay is down."""
    families = {field: GaugeMetricFamily(name, text, labels=["relay"])
                for field, (name, text) in OUTBOX_GAUGES.items()}  # fmt: skip
    seen = GaugeMetricFamily("taskplatform_outbox_relay_seen_age_seconds",
                             "Seconds since the relay last wrote its numbers",
                             labels=["relay"])  # fmt: skip
    for relay in overview.outbox_relays(client):
        for field, family in families.items():
            if field in relay:
                family.add_metric([relay["name"]], relay[field])
        if "seen_age_seconds" in relay:
            seen.add_metric([relay["name"]], relay["seen_age_seconds"])
    return [*families.values(), seen]


def flow_states() -> list[GaugeMetricFamily | CounterMetricFamily]:
    """Paused queues, and each dependency's breaker, pause, running jobs and waits
    (config/flow_control.py; the same as `celery -A config queues`)."""
    state = queues_cli.overview()
    paused = GaugeMetricFamily(
        "taskplatform_queue_paused", "1 while an operator has paused the queue", labels=["queue"]
    )
    for queue, q in state["queues"].items():
        paused.add_metric([queue], 1 if q["paused"] else 0)
    per_dependency = ["dependency"]
    breaker = GaugeMetricFamily(
        "taskplatform_dependency_breaker", "1 for the breaker's state (closed, open, half-open)",
        labels=["dependency", "state"],
    )  # fmt: skip
    slowed = GaugeMetricFamily(
        "taskplatform_dependency_slowed_seconds",
        "Seconds left of the pause a dependency asked for (Retry-After)", labels=per_dependency,
    )  # fmt: skip
    running = GaugeMetricFamily(
        "taskplatform_dependency_running", "Jobs holding a concurrency lease",
        labels=per_dependency,
    )  # fmt: skip
    waits = CounterMetricFamily(
        "taskplatform_dependency_waits", "Attempts told to wait, by reason",
        labels=["dependency", "reason"],
    )  # fmt: skip
    waited = CounterMetricFamily(
        "taskplatform_dependency_wait_seconds", "Seconds jobs were told to wait",
        labels=per_dependency,
    )  # fmt: skip
    for name, d in state["dependencies"].items():
        for kind in ("closed", "open", "half-open"):
            breaker.add_metric([name, kind], 1 if d["breaker"] == kind else 0)
        slowed.add_metric([name], d["slowed_for"])
        running.add_metric([name], d["running"])
        for reason in ("slowed", "open", "half-open", "concurrency", "rate"):
            waits.add_metric([name, reason], d["waits"].get(reason, 0))
        waited.add_metric([name], d["waits"].get("seconds", 0))
    return [paused, breaker, slowed, running, waits, waited]


def quote_rules() -> list[GaugeMetricFamily]:
    """The expiry policy's state for today (the doctor's and the overview's), for the alert
    rules: days to the checked horizon (no sample when no rule set is in force) and a 1 for
    the state it is in; the warning threshold stays in pricing/rule_sets.py."""
    found = rule_sets.freshness(datetime.now(UTC).date())
    left = GaugeMetricFamily(
        "taskplatform_quote_rules_days_left",
        "Days until the quote contribution rules are past their checked_until (negative: past)",
    )
    if found.days_left is not None:
        left.add_metric([], found.days_left)
    state = GaugeMetricFamily(
        "taskplatform_quote_rules_state",
        "1 for the rules' state: current, expiring, expired or missing",
        labels=["state"],
    )
    for name in rule_sets.STATES:
        state.add_metric([name], 1 if found.state == name else 0)
    return [left, state]


HISTOGRAM_NAMES = {
    "wait": ("taskplatform_queue_wait_seconds", "From enqueue (or ETA) to the start of a job"),
    "runtime": ("taskplatform_task_runtime_seconds", "How long an attempt of a task ran"),
}


def histograms(client) -> list[HistogramMetricFamily]:
    """The workers' histograms as Prometheus histograms (cumulative buckets)."""
    families = {metric: HistogramMetricFamily(name, text, labels=["queue", "task"])
                for metric, (name, text) in HISTOGRAM_NAMES.items()}  # fmt: skip
    for (metric, queue, task), counts in sorted(task_stats.histograms(client).items()):
        if metric not in families:
            continue
        buckets, running = [], 0
        for bound in task_stats.HISTOGRAMS[metric]:
            running += counts.get(f"{bound:g}", 0)
            buckets.append((floatToGoString(bound), running))
        buckets.append(("+Inf", counts.get("count", running + counts.get("+Inf", 0))))
        families[metric].add_metric(
            [queue, task], buckets, sum_value=counts.get("sum_us", 0) / 1_000_000
        )
    return list(families.values())


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    REGISTRY.register(PlatformCollector())
    # Loopback unless told otherwise (METRICS_ADDRESS): the gauges name queues and tasks.
    start_http_server(settings.metrics_port, addr=settings.metrics_address)
    logger.info("metrics on %s:%s/metrics", settings.metrics_address, settings.metrics_port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()


if __name__ == "__main__":
    main()
