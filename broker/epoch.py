"""Is this still the Redis we were talking to? Noticing a broker that lost its data.

A Redis restarted from an empty dataset, or a failover to a replica that missed the last
writes, answers like any other: the queued jobs and in-flight lists in the lost part are
simply gone, and no command fails. So every keeper (broker/keeper.py) writes and watches an
epoch: a hash with a random id, made once, and a counter each keeper increments at every
heartbeat. A keeper remembers what it saw last. A different id (the hash was lost and made
anew) or a counter that went back (a replica without the latest increments) means data it
saw is gone; so does a server run id that changed while the counter went back.

What a keeper does then (`Watch.tick` returns the `Loss`, the keeper acts on it):
- logs CRITICAL, once per loss and process;
- records the loss in Redis (`LOSSES`, one hash per loss, shared by every process that
  noticed it), where `doctor`, the metrics and the dead-letter page read it until an operator
  acknowledges it (`celery -A config doctor --acknowledge-data-loss`);
- writes the jobs its consumer still holds back into its in-flight list, so they stay safe
  if the worker dies later (they are running, not lost).

What it cannot do is name the jobs that were waiting: Redis kept them and lost them. The
record says how many were waiting and held at the keeper's last look (at most one
heartbeat earlier), an estimate of what was lost, and the outbox can republish them.
A loss while no platform process was running is not seen: nothing had looked before it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import redis

from broker.inflight import KEYS, PREFIX, Keys
from broker.scripts import REPROTECT
from taskplatform.wire import EPOCH_KEY
from taskplatform.wire import EPOCH_RENEW as RENEW
from taskplatform.wire import EPOCH_TICK as TICK

logger = logging.getLogger(__name__)

#: The ids of the losses no operator has acknowledged yet; each loss is a hash LOSS_PREFIX+id.
LOSSES = PREFIX + "data-losses"
LOSS_PREFIX = PREFIX + "data-loss:"
ACKNOWLEDGED = PREFIX + "data-losses:acknowledged"


@dataclass(frozen=True)
class Sight:
    """What a keeper saw at one look."""

    epoch: str
    seq: int
    run_id: str
    at: float
    waiting: int  # jobs in the queues it watches
    in_flight: int  # jobs in every registered consumer's in-flight list


@dataclass(frozen=True)
class Loss:
    """A loss one keeper noticed: what it saw last, and what it sees now. `kind` is
    "emptied" (the epoch itself was gone: a restart or failover without the data) or
    "rolled back" (the counter went back: a replica that missed the latest writes)."""

    before: Sight
    now: Sight
    kind: str

    @property
    def id(self) -> str:
        return self.now.epoch


#: What this process saw last, per Redis server: kept across keepers, since a lost
#: connection ends a consumer's keeper and the next one must still know what came before.
_LAST: dict[tuple, Sight] = {}
_LAST_LOCK = threading.Lock()


def _server_of(client: redis.Redis) -> tuple:
    pool = client.connection_pool
    kwargs = pool.connection_kwargs
    return (getattr(pool, "service_name", None), kwargs.get("host"), kwargs.get("port"),
            kwargs.get("path"), kwargs.get("db"))  # fmt: skip


class Watch:
    """A keeper's look at the epoch, once per heartbeat; the memory is the process's."""

    def __init__(self, client: redis.Redis, queues: Iterable[str] = (), keys: Keys = KEYS) -> None:
        self.client = client
        self.queues = tuple(keys.list(queue) for queue in queues)
        self.keys = keys
        self.epoch_key = keys.prefix + EPOCH_KEY
        self.server = (*_server_of(client), keys.prefix)
        self._tick = client.register_script(TICK)
        self._renew = client.register_script(RENEW)

    @property
    def last(self) -> Sight | None:
        return _LAST.get(self.server)

    def tick(self) -> Loss | None:
        """Look once; the loss, if this look shows one."""
        with _LAST_LOCK:  # one look at a time per process: one notices a loss, not each
            return self._look()

    def _look(self) -> Loss | None:
        epoch, seq, _made = self._tick(keys=[self.epoch_key], args=[uuid.uuid4().hex, time.time()])
        epoch, seq = _text(epoch), int(seq)
        run_id = self._run_id()
        now = Sight(epoch, seq, run_id, time.time(), *self._counts())
        before = _LAST.get(self.server)
        _LAST[self.server] = now
        if before is None:
            return None
        if epoch == before.epoch and seq > before.seq:
            if run_id != before.run_id:
                logger.warning("Redis restarted (run id %s, was %s) and kept its data",
                               run_id[:8], before.run_id[:8])  # fmt: skip
            return None
        if epoch != before.epoch:
            return Loss(before, now, "emptied")
        # The counter went back: a new id, so that every other process notices it too.
        renewed = _text(
            self._renew(keys=[self.epoch_key], args=[epoch, uuid.uuid4().hex, time.time()])
        )
        now = _LAST[self.server] = Sight(renewed, seq, run_id, now.at, now.waiting, now.in_flight)
        return Loss(before, now, "rolled back")

    def _run_id(self) -> str:
        """The server's run id (new at every start); "" where INFO is not allowed."""
        try:
            return _text(self.client.info("server").get("run_id", ""))
        except redis.ResponseError:
            return ""

    def _counts(self) -> tuple[int, int]:
        pipe = self.client.pipeline(transaction=False)
        for queue in self.queues:
            pipe.llen(queue)
        consumers = list(self.client.smembers(self.keys.registry))
        for consumer in consumers:
            pipe.llen(self.keys.inflight(consumer))
        counts = pipe.execute()
        return sum(counts[: len(self.queues)]), sum(counts[len(self.queues) :])


def record(
    client: redis.Redis, loss: Loss, consumer: str, reprotected: int, keys: Keys = KEYS
) -> None:
    """Add what this process saw of `loss` to its shared record (the first writer sets the
    fields; every one adds its re-protected jobs)."""
    key = keys.prefix + LOSS_PREFIX + loss.id
    first = {
        "id": loss.id,
        "kind": loss.kind,
        "detected_at": loss.now.at,
        "detected_by": consumer,
        "last_seen_at": loss.before.at,
        "before": json.dumps(asdict(loss.before)),
        "after": json.dumps(asdict(loss.now)),
        "waiting_before": loss.before.waiting,
        "in_flight_before": loss.before.in_flight,
    }
    pipe = client.pipeline(transaction=False)
    for field, value in first.items():
        pipe.hsetnx(key, field, value)
    pipe.hincrby(key, "reprotected", reprotected)
    pipe.hincrby(key, "processes", 1)
    pipe.sadd(keys.prefix + LOSSES, loss.id)
    pipe.execute()


def reprotect(client: redis.Redis, consumer: str, entries: list[bytes], keys: Keys = KEYS) -> int:
    """Write the entries a live consumer holds back into its in-flight list (and register
    it again); how many were missing."""
    if not entries:
        client.sadd(keys.registry, consumer)
        return 0
    script = client.register_script(REPROTECT)
    return int(script(keys=[keys.inflight(consumer), keys.registry], args=[consumer, *entries]))


def unacknowledged(client: redis.Redis) -> list[dict]:
    """The losses no operator has acknowledged, oldest first, as their records."""
    losses = []
    for loss_id in client.smembers(LOSSES):
        raw = client.hgetall(LOSS_PREFIX + _text(loss_id))
        if not raw:
            continue
        losses.append({_text(k): _text(v) for k, v in raw.items()})
    return sorted(losses, key=lambda loss: float(loss.get("detected_at") or 0))


def at_risk(loss: dict) -> int:
    """At most how many jobs a loss took: those waiting and held at the last look before it,
    less the held ones that live workers wrote back."""
    waiting = int(loss.get("waiting_before") or 0)
    held = int(loss.get("in_flight_before") or 0) - int(loss.get("reprotected") or 0)
    return waiting + max(held, 0)


def describe(loss: dict) -> str:
    """One line for an operator."""
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(loss["detected_at"])))
    return (
        f"the broker lost its data ({loss.get('kind')}) at {when}: up to {at_risk(loss)}"
        f" job(s) may be gone ({loss.get('waiting_before')} waiting and"
        f" {loss.get('in_flight_before')} held at the last look, {loss.get('reprotected') or 0}"
        " of those held written back by live workers)"
    )


def acknowledge(client: redis.Redis) -> int:
    """Mark every loss acknowledged (its record is kept); how many."""
    ids = list(client.smembers(LOSSES))
    if ids:
        pipe = client.pipeline(transaction=True)
        pipe.sadd(ACKNOWLEDGED, *ids)
        pipe.srem(LOSSES, *ids)
        pipe.execute()
    return len(ids)


def _text(value: bytes | str | int) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
