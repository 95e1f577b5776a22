"""Redis as the broker: the platform's own transport (broker/transport.py), which fetches
reliably, bounds deliveries and dead-letters what it refuses or loses; beat runs the reaper
that returns a dead worker's jobs; queues are lists the platform can read in place.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import redis
from kombu.exceptions import BatchPublishError
from kombu.utils.imports import symbol_by_name
from kombu.utils.url import parse_url

from broker import inflight, keys
from broker.keeper import Keeper
from config import publish, redis_client
from config.brokers.base import NOT_SAMPLED, Broker, Job, QueueState, Sending
from config.queues import QUEUES, task_queues
from config.settings import settings
from taskplatform.producer import refused

#: At most this many waiting messages per queue are read to attribute them to tasks.
SAMPLE = 5_000
FIRST_SEEN_TTL = 7 * 24 * 3600


def redis_transport_options() -> dict[str, Any]:
    """Options shared by the broker's and the result backend's Redis connections."""
    return {
        # kombu's defaults are None: a hung Redis would hang `.delay()` forever
        # (Celery issues 4296, 4556).
        "socket_timeout": settings.redis_socket_timeout,
        "socket_connect_timeout": settings.redis_socket_connect_timeout,
    }


def sentinel_options() -> dict[str, Any]:
    return {"master_name": settings.redis_sentinel_master} if settings.redis_sentinel_master else {}


def headers(raw: bytes | str) -> dict[str, Any]:
    """A queued message's headers ({} for one that is not the platform's JSON)."""
    try:
        message = json.loads(raw)
    except ValueError:
        return {}
    return message.get("headers") or {} if isinstance(message, dict) else {}


def oldest_age(client: redis.Redis, raw: bytes, now: float) -> float:
    """Seconds the oldest message has waited: from its `enqueued_at`; for a message without
    one (a foreign producer, a broken header), from when this platform first saw it at the
    head of its queue, and at least one second: a waiting job never reads as 0 s old."""
    try:
        return max(0.0, now - float(headers(raw)["enqueued_at"]))
    except (KeyError, TypeError, ValueError):
        pass
    key = keys.FIRST_SEEN_PREFIX + hashlib.sha1(raw).hexdigest()  # noqa: S324 - a name, not a hash
    client.set(key, now, nx=True, ex=FIRST_SEEN_TTL)
    first_seen = float(client.get(key) or now)
    return max(1.0, now - first_seen)


def _anonymous(kwargs: dict[str, Any]) -> bool:
    """Whether Celery will send it to the default exchange (routed by queue name)."""
    return not (kwargs.get("exchange") and kwargs.get("routing_key"))


class RedisBroker(Broker):
    name = "Redis"

    def transport_options(self) -> dict[str, Any]:
        """The platform transport's own options (broker/transport.py): reliable fetch, the
        delivery bound, and where refused items and lost jobs go (named, so config/ never
        imports the dead-letter package)."""
        return {
            **redis_transport_options(),
            "heartbeat_ttl": settings.worker_heartbeat_ttl,
            "max_deliveries": settings.max_deliveries,
            "task_queues": tuple(QUEUES),
            "on_refused": "deadletters.intake:keep_refused",
            "on_lost": "deadletters.intake:keep_lost",
            "max_item_bytes": settings.intake_max_bytes,
            "max_depth": settings.task_max_depth,
            **sentinel_options(),
        }

    def use_ssl(self) -> dict | bool:
        """The TLS options in REDIS_URL's query, for Flower: it rebuilds its Redis client
        from Connection.as_uri() (which drops the query) plus broker_use_ssl."""
        return parse_url(settings.broker_url).get("ssl") or False

    def task_queues(self) -> list:
        return task_queues(rabbitmq=False)

    def publish(self, app: Any, job: Job, send: Callable[[Job], Any]) -> Any:
        """Refused at once when the job's queue is full (QUEUE_MAX_DEPTH), else sent."""
        publish.refuse_when_full(job.name, job.options, redis_client.client)
        return send(job)

    def send_message(
        self, send: Callable[..., Any], producer: Any, sending: Sending, args: tuple, kwargs: dict
    ) -> Any:
        """The message and its event in one pipeline (kombu's producer batch), sent once;
        sent again only when the connection could not be made, so nothing was written."""
        if kwargs.get("declare") is None and _anonymous(kwargs):
            # Redis needs no declared queue to take a message for the default exchange
            # (kombu routes it by name), and declaring costs a copy of the queue per
            # publish; a named exchange keeps it.
            kwargs["declare"] = []
        for attempt in range(sending.retries + 1):
            try:
                with producer.batch():
                    return send(producer, *args, **kwargs)
            except BatchPublishError as exc:
                if attempt == sending.retries or not refused(exc):
                    raise
            time.sleep(sending.pause(attempt))
        raise AssertionError("unreachable")  # the loop returns or raises

    def start_reaper(self, on_lost: str | None) -> Keeper:
        """The reaper in beat: registered like a consumer, so a lost job it is dead-lettering
        sits in its own in-flight list, safe if beat dies meanwhile."""
        policy = inflight.Policy(settings.worker_heartbeat_ttl, settings.max_deliveries)
        keeper = Keeper(
            redis_client.client(), inflight.new_consumer_id(), policy,
            symbol_by_name(on_lost) if on_lost else None, queues=QUEUES,
        )  # fmt: skip
        keeper.start()
        return keeper

    def queue_states(self, client: Any, now: float) -> dict[str, QueueState]:
        """Read in place: each queue's length, a sample of what waits by task, the oldest
        message's age, and the jobs workers hold (broker/inflight.py). Consumers: None (the
        transport registers consumers, not the queues they read)."""
        in_flight: dict[str, Counter] = defaultdict(Counter)
        for queue, raw in inflight.held_messages(client):
            in_flight[queue][headers(raw).get("task", "(unknown)")] += 1
        states = {}
        for queue in QUEUES:
            depth = client.llen(queue)
            pending = Counter(headers(raw).get("task", "(unknown)")
                              for raw in client.lrange(queue, -SAMPLE, -1))  # fmt: skip
            if depth > sum(pending.values()):
                pending[NOT_SAMPLED] += depth - sum(pending.values())
            oldest = client.lindex(queue, -1)
            age = oldest_age(client, oldest, now) if oldest is not None else None
            held = sum(in_flight[queue].values())
            states[queue] = QueueState(depth, age, pending, in_flight[queue], held, None, "redis")
        return states

    def waiting(self, queues: list[str]) -> dict[str, int]:
        client = redis_client.client()
        return {queue: int(client.llen(queue)) for queue in queues}

    def pause(self, queue: str) -> None:
        redis_client.client().sadd(inflight.KEYS.paused, queue)

    def resume(self, queue: str) -> None:
        redis_client.client().srem(inflight.KEYS.paused, queue)

    def paused(self) -> set[str]:
        """The paused set, which every consumer looks up once a second (broker/transport.py)."""
        return {m.decode() for m in redis_client.client().smembers(inflight.KEYS.paused)}

    def doctor(self, app: Any) -> list[str]:
        """The queues live in Redis: without an append-only file a restart loses them."""
        try:
            appendonly = redis_client.client().config_get("appendonly").get("appendonly")
        except redis.ConnectionError:
            return []  # the doctor's Redis check says it is unreachable
        if appendonly in (b"no", "no"):
            return ["redis: appendonly is off; a Redis restart loses every queued job"
                    " (set appendonly yes)"]  # fmt: skip
        return []
