"""In-flight lists, heartbeats and the reaper: how a dead consumer's jobs come back.

Each consuming channel registers a consumer id, keeps a heartbeat key with a TTL, and owns
an in-flight list that its fetches move messages into. The reaper (run by every worker's
keeper thread and by beat) finds registered consumers whose heartbeat expired and puts
their in-flight messages back at the front of their queues, counting one delivery each;
past MAX_DELIVERIES a message goes to the lost list, and whoever takes it from there
writes a dead letter (reason `worker_lost`).

No visibility timeout decides redelivery: a job held by a live consumer stays held, however
long it runs or waits for its ETA.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import redis

from broker import scripts
from taskplatform.wire import ONCE_PREFIX, PREFIX, WAKE_PREFIX

logger = logging.getLogger(__name__)

REGISTRY = PREFIX + "consumers"
LOST = PREFIX + "lost"
COUNT_PREFIX = PREFIX + "deliveries:"
#: Queues paused by `celery -A config queues pause` (housekeeping/queues_cli.py).
PAUSED = PREFIX + "paused"
#: A list nobody pushes to: what a consumer whose every queue is paused waits on.
PAUSED_WAIT = PREFIX + "paused:wait"
#: kombu's separator between a queue name and its priority step in list keys.
SEP = "\x06\x16"
#: A delivery count outlives any crash loop it has to bound.
COUNT_TTL = 7 * 24 * 3600


#: Messages put back since they were last fetched: the next fetch marks them redelivered.
REDELIVERED = PREFIX + "redelivered"


@dataclass(frozen=True)
class Keys:
    """Every key of reliable fetch, under kombu's `global_keyprefix` (none for the platform;
    a kombu user may set one, and then every key, its own and kombu's, carries it)."""

    prefix: str = ""

    @property
    def registry(self) -> str:
        return self.prefix + REGISTRY

    @property
    def lost(self) -> str:
        return self.prefix + LOST

    @property
    def wake_prefix(self) -> str:
        return self.prefix + WAKE_PREFIX

    @property
    def count_prefix(self) -> str:
        return self.prefix + COUNT_PREFIX

    @property
    def paused(self) -> str:
        """The set of queues an operator paused: consumers fetch nothing from them."""
        return self.prefix + PAUSED

    @property
    def redelivered(self) -> str:
        return self.prefix + REDELIVERED

    @property
    def legacy_unacked(self) -> tuple[str, str]:
        return self.prefix + LEGACY_UNACKED, self.prefix + LEGACY_INDEX

    def inflight(self, consumer: str | bytes) -> str | bytes:
        """A consumer's in-flight list. Registry members are read as bytes: a member that is
        not UTF-8 (written by anyone with access to Redis) still names its keys, and is
        reaped."""
        if isinstance(consumer, bytes):
            return f"{self.prefix}{PREFIX}inflight:".encode() + consumer
        return f"{self.prefix}{PREFIX}inflight:{consumer}"

    def heartbeat(self, consumer: str | bytes) -> str | bytes:
        if isinstance(consumer, bytes):
            return f"{self.prefix}{PREFIX}heartbeat:".encode() + consumer
        return f"{self.prefix}{PREFIX}heartbeat:{consumer}"

    def wake(self, queue: str) -> str:
        return self.prefix + WAKE_PREFIX + queue

    def once(self, task_id: str) -> str:
        return self.prefix + ONCE_PREFIX + task_id

    def list(self, name: str) -> str:
        """A queue's (or a priority step's) list, as it is named in Redis."""
        return self.prefix + name

    def queue(self, list_key: str) -> str:
        """The queue a list belongs to (a priority list is `<queue><SEP><step>`)."""
        if self.prefix and list_key.startswith(self.prefix):
            list_key = list_key[len(self.prefix) :]
        return list_key.split(SEP, 1)[0]

    def place_args(self) -> list[str]:
        """What the scripts need to derive the keys of a message they put back."""
        return [self.count_prefix, str(COUNT_TTL), self.wake_prefix, SEP, self.prefix,
                self.redelivered]  # fmt: skip


#: The platform's own keys: no prefix.
KEYS = Keys()


def inflight_key(consumer: str | bytes) -> str | bytes:
    return KEYS.inflight(consumer)


def heartbeat_key(consumer: str | bytes) -> str | bytes:
    return KEYS.heartbeat(consumer)


def wake_key(queue: str) -> str:
    return KEYS.wake(queue)


def new_consumer_id() -> str:
    """Host, pid and a random part: readable in ops output, unique across restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def split_entry(entry: bytes) -> tuple[str, bytes]:
    """(list key, message bytes) of an in-flight entry; ("", the whole entry) for one that is
    not `<list key>\\n<bytes>` (the scripts park such an entry, bytes intact, as lost)."""
    head, sep, item = entry.partition(b"\n")
    if not sep or not head:
        return "", entry
    return head.decode(errors="replace"), item


def queue_of(list_key: str) -> str:
    """The queue a list belongs to (a priority list is `<queue><SEP><step>`)."""
    return KEYS.queue(list_key)


@dataclass(frozen=True)
class Policy:
    """How long a silent consumer is trusted, how many crashes a job is allowed (0: any
    number, for a consumer with nowhere to dead-letter a job), and under which keys."""

    heartbeat_ttl: float
    max_deliveries: int
    keys: Keys = KEYS

    @property
    def heartbeat_every(self) -> float:
        return max(self.heartbeat_ttl / 3, 0.2)


class Scripts:
    """The scripts registered on one client (redis-py reloads them after a Redis restart)."""

    def __init__(self, client: redis.Redis) -> None:
        self.fetch = client.register_script(scripts.FETCH)
        self.requeue = client.register_script(scripts.REQUEUE)
        self.reap_one = client.register_script(scripts.REAP_ONE)
        self.restore_all = client.register_script(scripts.RESTORE_ALL)


def beat(client: redis.Redis, consumer: str, policy: Policy) -> None:
    """Say this consumer is alive (and registered) for another heartbeat TTL."""
    pipe = client.pipeline(transaction=False)
    pipe.set(policy.keys.heartbeat(consumer), time.time(), px=int(policy.heartbeat_ttl * 1000))
    pipe.sadd(policy.keys.registry, consumer)
    pipe.execute()


def requeue(client: redis.Redis, s: Scripts, consumer: str, entry: bytes, policy: Policy) -> int:
    """Put one held message back (a rejected or crashed job), counting a delivery."""
    keys = policy.keys
    return int(
        s.requeue(
            keys=[keys.inflight(consumer), keys.lost],
            args=[entry, policy.max_deliveries, *keys.place_args()],
            client=client,
        )
    )


def restore_all(
    client: redis.Redis,
    s: Scripts,
    consumer: str | bytes,
    *,
    counted: bool = False,
    policy: Policy | None = None,
    also: Sequence[bytes] = (),
) -> tuple[int, int]:
    """A consumer stops: everything held goes back to the front of its queue, uncounted on a
    clean stop, counting a delivery (`counted`, with the policy's bound) on a stop after an
    error; with it the entries in `also`, which the consumer knows it held although Redis
    lost them. Entries that cannot go back are parked as lost. Returns (put back, parked)."""
    keys = policy.keys if policy is not None else KEYS
    bound = policy.max_deliveries if policy is not None else 1
    back, parked = s.restore_all(
        keys=[keys.inflight(consumer), keys.heartbeat(consumer), keys.registry, keys.lost],
        args=[consumer, "1" if counted else "0", bound, *keys.place_args(), *also],
        client=client,
    )
    if parked:
        logger.error(
            "%d held entr%s of %s could not go back to a queue: parked in %s for a dead letter",
            parked, "y" if parked == 1 else "ies", _shown(consumer), keys.lost,
        )  # fmt: skip
    return int(back), int(parked)


def reap(
    client: redis.Redis, s: Scripts, policy: Policy, *, alive: frozenset[str] = frozenset()
) -> int:
    """Return the in-flight messages of every consumer whose heartbeat expired.

    `alive` are this process's own consumers (never reaped). Returns how many messages were
    put back or parked as lost. Members are handled as bytes, and each consumer on its own:
    a malformed member is reaped like any other (its heartbeat is missing), and one that
    fails never keeps the reaper from the rest.
    """
    keys = policy.keys
    own = {consumer.encode() for consumer in alive}
    candidates = [c for c in client.smembers(keys.registry) if c not in own]
    if not candidates:
        return 0
    pipe = client.pipeline(transaction=False)
    for consumer in candidates:
        pipe.exists(keys.heartbeat(consumer))
    beating = pipe.execute()
    moved, failed = 0, []
    for consumer, is_beating in zip(candidates, beating, strict=True):
        if is_beating:
            continue
        try:
            moved += _reap_consumer(client, s, consumer, policy)
        except redis.ConnectionError:
            raise
        except Exception as exc:
            failed.append(f"{_shown(consumer)} ({exc})")
    if failed:
        raise ReapError(f"could not reap {len(failed)} consumer(s): {'; '.join(failed)[:500]}")
    return moved


class ReapError(RuntimeError):
    """Some consumers could not be reaped (the others were)."""


def _shown(consumer: str | bytes) -> str:
    """A consumer id for a log line, whatever bytes it holds."""
    if isinstance(consumer, bytes):
        return repr(consumer)[2:-1] if not consumer.isascii() else consumer.decode()
    return consumer


def _reap_consumer(client: redis.Redis, s: Scripts, consumer: str | bytes, policy: Policy) -> int:
    keys, moved = policy.keys, 0
    while True:
        outcome = int(
            s.reap_one(
                keys=[keys.inflight(consumer), keys.heartbeat(consumer), keys.lost, keys.registry],
                args=[consumer, policy.max_deliveries, *keys.place_args()],
                client=client,
            )  # fmt: skip
        )
        if outcome <= 0:
            break
        moved += 1
    if moved:
        logger.warning("consumer %s is gone: %d in-flight job(s) returned", _shown(consumer), moved)
    return moved


#: kombu's own Redis transport keeps unacked messages here (used by the platform before
#: reliable fetch); a worker that died holding them left them behind.
LEGACY_UNACKED, LEGACY_INDEX = "unacked", "unacked_index"
#: The visibility timeout the platform ran kombu's transport with.
LEGACY_VISIBILITY = 900


def restore_legacy_unacked(client: redis.Redis, limit: int = 100, keys: Keys = KEYS) -> int:
    """Return messages kombu's transport left unacked, once older than its visibility timeout.

    Until every worker runs this transport, old workers may still hold messages there: only
    those past the timeout they ran with come back, as kombu's own sweep would have done.
    An entry that cannot be restored (not kombu's `[message, exchange, routing key]`) is
    parked in the lost list, bytes intact, for a dead letter: logged once, never retried.
    """
    unacked, index = keys.legacy_unacked
    ceiling = time.time() - LEGACY_VISIBILITY
    restored = 0
    for tag in client.zrangebyscore(index, "-inf", ceiling, start=0, num=limit):
        with client.pipeline() as pipe:
            try:
                pipe.watch(unacked)
                raw = pipe.hget(unacked, tag)
                restore = _legacy_restore(raw) if raw else None
                pipe.multi()
                pipe.zrem(index, tag)
                pipe.hdel(unacked, tag)
                if restore is not None:
                    routing_key, message = restore
                    pipe.rpush(keys.list(routing_key), message)
                    pipe.lpush(keys.wake(routing_key), "1")
                elif raw:
                    pipe.lpush(keys.lost, LEGACY_UNACKED.encode() + b"\n" + raw)
                pipe.execute()
            except redis.WatchError:
                continue
            if restore is not None:
                restored += 1
            elif raw:
                logger.error(
                    "kombu's unacked entry %r cannot be restored: parked in %s for a dead"
                    " letter", tag, keys.lost,
                )  # fmt: skip
    if restored:
        logger.warning("returned %d job(s) left unacked by kombu's transport", restored)
    return restored


def _legacy_restore(raw: bytes) -> tuple[str, str] | None:
    """(routing key, message) of a kombu unacked entry, or None for one that is not."""
    try:
        message, _exchange, routing_key = json.loads(raw)
    except (ValueError, TypeError):
        return None
    if not isinstance(message, dict) or not isinstance(routing_key, str) or not routing_key:
        return None
    return routing_key, json.dumps(message)


LostHandler = Callable[[str, bytes, int], None]


def settle_lost(
    client: redis.Redis,
    consumer: str,
    on_lost: LostHandler,
    keep_going: Callable[[], bool],
    keys: Keys = KEYS,
) -> int:
    """Hand each parked message (past MAX_DELIVERIES) to `on_lost`, which dead-letters it.

    A message is first moved into this consumer's in-flight list, so a crash while handling
    it leaves it where the reaper finds it again (and parks it again): never lost. Stops as
    soon as `keep_going()` is false (the keeper must beat again, or is stopping).
    """
    settled = 0
    own = keys.inflight(consumer)
    while keep_going():
        entry = client.lmove(keys.lost, own, "RIGHT", "LEFT")
        if entry is None:
            break
        list_key, item = split_entry(entry)
        deliveries = int(client.get(keys.count_prefix + _sha1(item)) or 0)
        try:
            on_lost(keys.queue(list_key), item, deliveries)
        except Exception:
            logger.critical("DEAD LETTER CAPTURE FAILED for a lost job in %r", list_key,
                            exc_info=True)  # fmt: skip
            client.lpush(keys.lost, entry)  # back first, then out of flight: in a list throughout
            client.lrem(own, 1, entry)
            break
        client.lrem(own, 1, entry)
        settled += 1
    return settled


def _sha1(item: bytes) -> str:
    import hashlib

    return hashlib.sha1(item).hexdigest()  # noqa: S324 - a key name, not security


def held_messages(client: redis.Redis) -> Iterator[tuple[str, bytes]]:
    """(queue, message bytes) of every job held in flight right now, by any consumer."""
    for consumer in client.smembers(REGISTRY):
        for entry in client.lrange(inflight_key(consumer), 0, -1):
            list_key, item = split_entry(entry)
            yield queue_of(list_key), item
