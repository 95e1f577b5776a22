"""Every Redis key the platform keeps, named once: what an operator finds in Redis, and the
only place a module learns a key's name.

The broker's own machinery (queues' in-flight lists, consumers, wake tokens, the epoch) is
named in broker/inflight.py and taskplatform/wire.py, since the transport and the client
write it; the rest is here. Each key says what writes it. On a RabbitMQ deployment the same
Redis keeps all of these but the broker's own.
"""

from __future__ import annotations

from taskplatform.wire import OUTBOX_DONE_PREFIX, OUTBOX_RELAY_PREFIX, RESULT_PREFIX

__all__ = [
    "BEAT_LEADER",
    "BULK_REPLAY_LOCK",
    "DIGEST_ABOVE_THRESHOLD",
    "FIRST_SEEN_PREFIX",
    "OUTBOX_DONE_PREFIX",
    "OUTBOX_RELAY_PREFIX",
    "QUOTE_PREFIX",
    "REDBEAT_PREFIX",
    "RESULT_PREFIX",
    "SPOOL",
    "SPOOL_DRAINING",
    "SPOOL_QUARANTINE",
    "SPOOL_UNREADABLE",
    "TASK_HISTOGRAMS",
    "TASK_STATS",
    "WORKERS",
    "flow",
    "published_hours",
    "published_second",
    "published_since",
    "quote",
    "task_stats_taken",
]

# Dead letters (deadletters/spool.py): letters spooled while Postgres was away, the one being
# drained, those that could not be read back, and those Postgres refused.
SPOOL = "taskplatform:deadletters:spool"
SPOOL_DRAINING = "taskplatform:deadletters:draining"
SPOOL_UNREADABLE = "taskplatform:deadletters:unreadable"
SPOOL_QUARANTINE = "taskplatform:deadletters:quarantine"
#: The one bulk replay running (deadletters/replay.py).
BULK_REPLAY_LOCK = "taskplatform:deadletters:bulk-replay"
#: When open dead letters crossed the alert threshold (housekeeping/digest.py).
DIGEST_ABOVE_THRESHOLD = "taskplatform:deadletters:above-threshold"

#: One field per worker, its last heartbeat (worker/heartbeat.py).
WORKERS = "taskplatform:workers"
#: Who holds beat's lock, for people (config/beat.py); redbeat's own keys start with
#: REDBEAT_PREFIX (config/celery_app.py).
BEAT_LEADER = "taskplatform:beat:leader"
REDBEAT_PREFIX = "taskplatform:redbeat"

#: Per-task counters and duration histograms since the last snapshot (housekeeping/task_stats.py).
TASK_STATS = "taskplatform:task-stats"
TASK_HISTOGRAMS = "taskplatform:task-histograms"

#: When the platform first saw a message without `enqueued_at` at its queue's head, for its
#: age (config/brokers/redis.py).
FIRST_SEEN_PREFIX = "taskplatform:first-seen:"

#: Cached quotes by their key (pricing/cache.py).
QUOTE_PREFIX = "taskplatform:quote:"

_FLOW = "taskplatform:flow:"
_FLOW_PARTS = ("slowed", "open", "probe", "failures", "tat", "leases", "stats", "calls")
_PUBLISHED = "taskplatform:published:"


def task_stats_taken(token: str) -> str:
    """The counters a snapshot took (renamed away from TASK_STATS, then read)."""
    return f"{TASK_STATS}:taken:{token}"


def flow(dependency: str) -> list[str]:
    """A dependency's flow-control keys (config/flow_control.py), in the order its Lua takes
    them: slowed, open, probe, failures, tat, leases, stats, calls."""
    return [f"{_FLOW}{dependency}:{part}" for part in _FLOW_PARTS]


def published_second(queue: str, hour: int) -> str:
    """Publishes per second within one hour, for a queue (config/publish_log.py)."""
    return f"{_PUBLISHED}{queue}:{hour}"


def published_hours(queue: str) -> str:
    """Publishes per hour, for a queue."""
    return f"{_PUBLISHED}{queue}:hours"


def published_since(queue: str) -> str:
    """The second a queue's publish counts began."""
    return f"{_PUBLISHED}{queue}:since"


def quote(cache_key: str) -> str:
    """A cached quote."""
    return QUOTE_PREFIX + cache_key
