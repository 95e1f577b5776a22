"""The overview: the whole platform on one page, the first one an operator opens.

Per queue: jobs waiting, the oldest one's age, jobs in flight, consumers, jobs done and
failed per minute over the last hour, and whether it is paused; per dependency its limits
and breaker; the workers with their queues and last heartbeat (worker/heartbeat.py);
open dead letters by cause; the outbox relays' backlog; beat's last tick; how far ahead the
quote contribution rules are checked (pricing/rule_sets.py). Plain data from
the same sources as the exporter and `doctor`, the same on Redis and RabbitMQ
(housekeeping/queue_health.py says where each number comes from on each broker).

Each part is read on its own: a source that does not answer (Postgres away, a management
API refusing) makes that part say so, and the rest of the page still shows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from broker import keys
from config import brokers, database, flow_control, redis_client
from config.beat import leader
from config.queues import QUEUES
from deadletters import repository, views
from housekeeping import queue_health, queues_cli
from pricing import rule_sets
from worker import heartbeat as workers

logger = logging.getLogger(__name__)

#: Minutes of the throughput chart.
CHART_MINUTES = 60
#: Open causes shown (the dead-letter pages show them all).
TOP_CAUSES = 8


def outbox_relays(client: Any, now: float | None = None) -> list[dict[str, Any]]:
    """What each outbox relay last wrote (taskplatform/outbox/relay.py), with its age."""
    now = time.time() if now is None else now
    relays = []
    for key in client.scan_iter(match=keys.OUTBOX_RELAY_PREFIX + "*", count=100):
        values = {k.decode(): v.decode() for k, v in client.hgetall(key).items()}
        relay: dict[str, Any] = {"name": key.decode().removeprefix(keys.OUTBOX_RELAY_PREFIX)}
        relay.update({k: float(v) for k, v in values.items() if k not in ("at", "host")})
        if "at" in values:
            relay["seen_age_seconds"] = max(0.0, now - float(values["at"]))
        relays.append(relay)
    return sorted(relays, key=lambda r: r["name"])


def queues(heard: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Per queue; consumers as the broker counts them, else (where it cannot say) the running
    workers that report consuming it (`heard`, worker/heartbeat.py)."""
    client = redis_client.client()
    paused = brokers.current().paused()
    rows = []
    for name, state in queue_health.queue_states(client).items():
        consumers, source = state.consumers, "counted by the broker"
        if consumers is None and heard is not None:
            consumers = sum(1 for w in heard if w["state"] == "running" and name in w["queues"])
            source = "running workers that report consuming it"
        rows.append({
            "queue": name,
            "waiting": state.depth,
            "oldest_age_seconds": state.oldest_age_seconds,
            "in_flight": state.held,
            "source": state.source,
            "consumers": consumers,
            "consumers_from": source,
            "paused": name in paused,
        })  # fmt: skip
    return rows


def dependencies() -> list[dict[str, Any]]:
    gate = flow_control.gate()
    rows = []
    for name in queues_cli.dependencies():
        limits = gate.limits.get(name)
        rate = limits.rate if limits else None
        rows.append({
            "name": name,
            "rate": f"{rate[0]} per {rate[1]:g} s" if rate else None,
            "concurrency": limits.concurrency if limits else None,
            **gate.state(name),
        })  # fmt: skip
    return rows


def causes() -> dict[str, Any]:
    with database.session() as db:
        found = [views.cause(row) for row in
                 repository.causes(db, repository.Filters(unresolved=True), limit=500)]  # fmt: skip
    paging = [c for c in found if c["paging"]]
    refused = [c for c in found if not c["paging"]]
    return {
        "open": sum(c["open"] for c in paging),
        "causes": len(paging),
        "top": paging[:TOP_CAUSES],
        "refused_open": sum(c["open"] for c in refused),
        "refused_causes": len(refused),
    }


def beat() -> dict[str, Any] | None:
    current = leader()
    if current is None:
        return None
    return {**current, "tick_age_seconds": max(0.0, time.time() - float(current["ticked_at"]))}


def quote_rules() -> dict[str, Any]:
    """The expiry policy's answer for today (the doctor's line, as data)."""
    return rule_sets.freshness(datetime.now(UTC).date()).as_dict()


def _part(name: str, read: Callable[[], Any]) -> tuple[Any, str | None]:
    try:
        return read(), None
    except Exception as exc:
        logger.warning("overview: %s unreadable: %s", name, exc)
        return None, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def gather() -> dict[str, Any]:
    """Everything the overview shows; `errors` names each part that could not be read."""
    client = redis_client.client()
    heard, error = _part("workers", lambda: workers.known(client))
    parts: dict[str, Callable[[], Any]] = {
        "queues": lambda: queues(heard),
        "throughput": lambda: queue_health.per_minute(database.engine(), CHART_MINUTES),
        "dependencies": dependencies,
        "dead_letters": causes,
        "outbox": lambda: outbox_relays(client),
        "beat": beat,
        "quote_rules": quote_rules,
    }
    found: dict[str, Any] = {"broker": brokers.current().name}
    found["workers"] = heard
    errors = {"workers": error} if error else {}
    for name, read in parts.items():
        found[name], error = _part(name, read)
        if error:
            errors[name] = error
    if found["workers"] is not None:
        found["unconsumed"] = workers.unconsumed(found["workers"], list(QUEUES))
    found["errors"] = errors
    return found
