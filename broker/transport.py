"""The platform's Redis transport: reliable fetch and an intake that no message can kill.

kombu's Redis channel pops a message with BRPOP and only afterwards records it as unacked,
in a second round trip; a Redis crash between the two loses the message, and a visibility
timeout decides redelivery, so long jobs and long countdowns run twice. Here:

* A fetch is one Lua script that moves the next message from its queue into this
  consumer's in-flight list (broker/scripts.py). Ack removes it (LREM); reject with
  requeue puts it back, counting a delivery; a clean stop puts everything back.
* An ack made on the event loop rides with the next fetch, in the same script: one round
  trip per job instead of two. It waits at most ACK_GRACE (a loop timer sends what is
  still waiting), and never across a blocking wait, a cancel or a stop: those send first.
  It is deferred only while the loop runs and the channel consumes (a worker draining its
  pool at shutdown acks at once), and counts as sent only once Redis answered the fetch
  that carried it: a fetch lost with its connection leaves its acks to be sent again.
  A worker killed in that moment runs the job again: at least once, as any late ack.
* An idle consumer blocks on BRPOP over the queues' wake lists, which producers fill with
  one token per message (in the same round trip as the message, for every queue). A token
  wakes the consumer, which fetches at once; a message without a token (pushed by a
  foreign producer) is still found within the 1 s BRPOP timeout, as with kombu. Either
  way one command is out at a time, as kombu's BRPOP.
* A keeper thread per consumer keeps a heartbeat and runs the reaper (broker/keeper.py).
* Every item is checked before kombu or Celery sees it (broker/intake.py): what the worker
  cannot run becomes a dead letter with its raw bytes, and is acked. An item that passes the
  intake and still makes kombu or Celery raise while taking it is dead-lettered the same
  way, and the consumer goes on.
* Nothing a consumer took is put back uncounted unless the consumer stops cleanly: an item
  whose dead letter could not be written, and everything held when the worker stops on an
  unrecoverable error, go back counting a delivery, so no item can loop a worker forever.

What it keeps from kombu: URL parsing, TLS and Sentinel connection handling, priorities
(a queue's priority lists are fetched in kombu's order), the fair queue cycle, fanout
(pub/sub) for `inspect`/`control`/events, purge and queue lengths, `global_keyprefix` on
every key, `basic_get` with an in-flight copy, `redelivered` on what is put back, and the
consumer's `accept` on queues other than the platform's task queues. Where it differs from
kombu's transport, and why: docs/guarantees.md ("Against kombu's own transport"), measured
by `make conformance`. It serves the platform app's connections (config/amqp.py), and any
kombu connection that names it.
Every private kombu name it relies on is pinned, with the library code that defines it,
in config/private_api.py (the list: docs/private-api.md).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from queue import Empty
from time import monotonic
from typing import Any

import redis
from kombu.transport import redis as kombu_redis
from kombu.utils.encoding import bytes_to_str
from kombu.utils.imports import symbol_by_name
from kombu.utils.json import dumps

from broker import inflight, intake, keeper, scripts
from taskplatform.wire import ONCE_HEADER, PUT_ONCE, WAKE_BOUND

logger = logging.getLogger(__name__)

FETCH, WAIT = "fetch", "wait"
#: How often a consumer looks up the paused queues (seconds).
PAUSED_LOOK = 1

#: The longest an ack waits for a fetch to ride with, in seconds.
ACK_GRACE = 0.05


class QoS(kombu_redis.QoS):
    """Acks and rejects against the consumer's in-flight list; no visibility timeout."""

    def append(self, message, delivery_tag) -> None:
        # Nothing to write: the fetch script already put the message in flight.
        super(kombu_redis.QoS, self).append(message, delivery_tag)

    def ack(self, delivery_tag) -> None:
        self.channel._settle(delivery_tag)
        super(kombu_redis.QoS, self).ack(delivery_tag)

    def reject(self, delivery_tag, requeue: bool = False) -> None:
        if requeue:
            self.channel._requeue(delivery_tag)
        else:
            self.channel._settle(delivery_tag)
        super(kombu_redis.QoS, self).ack(delivery_tag)

    def restore_unacked(self, client=None) -> list:
        # The channel puts its whole in-flight list back when it closes (Channel.close).
        self._delivered.clear()
        return []

    def restore_visible(self, *args: Any, **kwargs: Any) -> None:
        """No visibility-timeout sweep: the reaper returns a dead consumer's jobs."""


class Channel(kombu_redis.Channel):
    QoS = QoS

    from_transport_options = kombu_redis.Channel.from_transport_options + (
        "heartbeat_ttl",
        "max_deliveries",
        "task_queues",
        "on_refused",
        "on_lost",
        "max_item_bytes",
        "max_depth",
    )
    heartbeat_ttl: float = 30.0
    max_deliveries: int = 3
    #: Items larger or deeper than these are refused at the intake (broker/intake.py); the
    #: platform sets both, kombu's transport has neither.
    max_item_bytes: int | None = None
    max_depth: int | None = None
    #: Queues whose messages must be Celery task messages (others: any kombu message).
    task_queues: tuple[str, ...] = ()
    #: "module:function" called with (queue, raw bytes, intake.Refusal) to dead-letter an
    #: item the worker cannot run, and with (queue, raw bytes, deliveries) for a lost job.
    on_refused: str | None = None
    on_lost: str | None = None

    consumer_id: str | None = None
    _keeper: keeper.Keeper | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._acked_queues: set[str] = set()
        self._entries: dict[str, deque[bytes]] = {}
        self._next = FETCH
        self._woken = ""
        self._pending: str | None = None
        # Every key under kombu's global_keyprefix, if one is set. Without a handler for lost
        # jobs (a plain kombu user) nothing is parked: a job comes back however often.
        self._keys = inflight.Keys(self.global_keyprefix or "")
        bound = int(self.max_deliveries) if self.on_lost else 0
        self._policy = inflight.Policy(float(self.heartbeat_ttl), bound, self._keys)
        self._task_queues = frozenset(self.task_queues)
        # Entries of jobs acked on the event loop, removed by the next fetch (or the timer).
        self._acks: list[bytes] = []
        self._acks_since = 0.0
        self._acks_riding: list[bytes] = []
        # Entries of items refused whose dead letter could not be written: they go back
        # counting a delivery when this consumer stops, never uncounted.
        self._unsettled: list[bytes] = []
        self._paused: frozenset[str] = frozenset()
        self._paused_until = 0.0

    # -- consuming -------------------------------------------------------------------------

    @property
    def reliable(self) -> bool:
        """True once this channel consumes a queue with acks (a worker's task consumer)."""
        return bool(self._acked_queues)

    def basic_consume(self, queue, no_ack, *args: Any, **kwargs: Any):
        if not no_ack and queue not in self._fanout_queues:
            self._acked_queues.add(queue)
            self._register_consumer()
        return super().basic_consume(queue, no_ack, *args, **kwargs)

    def _register_consumer(self) -> None:
        if self.consumer_id is not None:
            return
        # Its own client on its own pool: acks of jobs that outlive this channel (a reconnect
        # closes it while the pool still runs them) must not rebuild kombu's pools.
        # A plain client: the keys it uses carry kombu's global_keyprefix already (inflight.Keys).
        manager = self.__dict__.get("_sentinel_manager")  # _get_pool sets it under Sentinel
        client = self._inflight_client = redis.Redis(connection_pool=self._get_pool())
        self._sentinel_manager = manager
        self.consumer_id = inflight.new_consumer_id()
        inflight.beat(client, self.consumer_id, self._policy)  # registered before any fetch
        self._scripts = inflight.Scripts(client)
        # Loaded now: the fetch is sent as EVALSHA, and an unknown script would cost the
        # first one a round trip.
        self._scripts.fetch.sha = client.script_load(self._scripts.fetch.script)
        queues = [self._q_for_pri(q, pri) for q in self.task_queues for pri in self.priority_steps]
        self._keeper = keeper.Keeper(
            client, self.consumer_id, self._policy, self._hook(self.on_lost),
            queues=dict.fromkeys(queues), held=self._held_entries,
        )  # fmt: skip
        self._keeper.start()

    def _brpop_start(self, timeout=None) -> None:
        if not self.reliable:
            return super()._brpop_start(timeout)
        self._send_next(timeout)

    def _send_next(self, timeout=None) -> None:
        """Send the protocol's next command: a fetch, or (after a fetch found nothing) a
        blocking wait on the queues' wake lists. Paused queues are left out; with every
        queue paused the consumer waits on a list nobody fills, and looks again."""
        queues = self._queue_cycle.consume(len(self.active_queues))
        if not queues:
            return
        paused = self._paused_queues()
        if paused:
            queues = [q for q in queues if q not in paused]
            if not queues:
                self._next = WAIT
                self._pending = "BRPOP"
                self._in_poll = self.client.connection
                self._brpop_sent_at = monotonic()
                self.client.connection.send_command(
                    "BRPOP", self._keys.prefix + inflight.PAUSED_WAIT, PAUSED_LOOK
                )
                return
        if self._next == WAIT:
            self.flush_acks()  # a blocking wait may last a second: acks go first
            command = [
                "BRPOP",
                *(self._keys.wake(q) for q in queues),
                timeout or self.brpop_timeout or 1,
            ]
        else:
            keys = self._fetch_keys(queues)
            # acks of a fetch that got no answer (its connection dropped) go again
            self._acks_riding, self._acks = self._acks_riding + self._acks, []
            command = [
                "EVALSHA", self._scripts.fetch.sha, len(keys), *keys, self._woken,
                self.consumer_id, *self._acks_riding,
            ]  # fmt: skip
        self._pending = command[0]
        self._in_poll = self.client.connection
        self._brpop_sent_at = monotonic()
        self.client.connection.send_command(*command)

    def _paused_queues(self) -> frozenset[str]:
        """The paused queues, looked up at most once per PAUSED_LOOK seconds (a consumer
        that cannot read them keeps what it knew)."""
        now = monotonic()
        if now >= self._paused_until:
            self._paused_until = now + PAUSED_LOOK
            try:
                members = self._raw_client().smembers(self._keys.paused)
                self._paused = frozenset(bytes_to_str(m) for m in members)
            except Exception as exc:
                logger.debug("paused queues unreadable: %s", exc)
        return self._paused

    def _fetch_keys(self, queues: list[str]) -> list[str]:
        """The fetch script's keys: this consumer's, then each queue's lists (priority steps
        in kombu's order) with its wake list."""
        keys = [
            self._keys.inflight(self.consumer_id), self._keys.registry, self._keys.redelivered,
        ]  # fmt: skip
        for pri in self.priority_steps:
            for queue in queues:
                keys += [self._keys.list(self._q_for_pri(queue, pri)), self._keys.wake(queue)]
        return keys

    def _brpop_read(self, **options: Any) -> bool:
        if not self.reliable or self._pending is None:
            return super()._brpop_read(**options)
        command, self._pending = self._pending, None
        try:
            try:
                reply = self.client.parse_response(self.client.connection, command, **options)
                self._acks_riding = []  # Redis ran the script: those acks are recorded
            finally:
                self._in_poll = None
        except self.connection_errors:
            self.client.connection.disconnect()
            self._flush_brpop_reauth()
            raise
        except redis.exceptions.NoScriptError:
            self._load_fetch_script()  # Redis restarted without its script cache
            self._flush_brpop_reauth()
            raise Empty() from None
        except redis.exceptions.ResponseError as exc:
            # A Redis that refuses (read-only after a failover, OOM, busy script): treat
            # it as a lost connection, so the consumer reconnects with its backoff.
            self.client.connection.disconnect()
            self._flush_brpop_reauth()
            raise redis.exceptions.ConnectionError(f"fetch refused by Redis: {exc}") from exc
        try:
            if command == "BRPOP":
                self._next = FETCH
                woken = bytes_to_str(reply[0]) if reply else ""
                if woken and self._keys.prefix:
                    # kombu's prefixing client takes the prefix off the key it answers with
                    # (always: the key left may start with the prefix all the same)
                    woken = self._keys.prefix + woken
                self._woken = woken
                if not woken:
                    raise Empty()  # the wait ran out, as kombu's BRPOP does
            else:
                self._woken = ""
                if reply:
                    self._next = FETCH
                    if self._closing:
                        return True  # left in flight: _retire puts it back with the rest
                    list_key, item, again = bytes_to_str(reply[0]), reply[1], bool(reply[2])
                    queue = self._keys.queue(list_key)
                    self._queue_cycle.rotate(queue)
                    self._take(queue, list_key, item, redelivered=again)
                    return True
                self._next = WAIT
        finally:
            self._flush_brpop_reauth()
        # A wake-up, or a fetch that found nothing: the next step goes at once, so the
        # consumer keeps a command out as kombu's one BRPOP would (and kombu, seeing it out,
        # starts none of its own).
        if self.active_queues and self.qos.can_consume() and not self._closing:
            self._send_next()
        raise Empty()

    def _load_fetch_script(self) -> None:
        try:
            self._scripts.fetch.sha = self.client.script_load(self._scripts.fetch.script)
        except redis.exceptions.ResponseError as exc:
            self.client.connection.disconnect()
            raise redis.exceptions.ConnectionError(f"script refused by Redis: {exc}") from exc

    def _take(self, queue: str, list_key: str, item: bytes, redelivered: bool = False) -> None:
        """Check one fetched item and hand it to kombu, or dead-letter it."""
        taken = self._checked(queue, list_key, item, redelivered)
        if taken is None:
            return
        checked, entry = taken
        tag = checked["properties"]["delivery_tag"]
        if queue not in self._acked_queues:  # a no-ack consumer on a reliable channel
            self._drop(entry)
        else:
            self._entries.setdefault(tag, deque()).append(entry)
        try:
            self.connection._deliver(checked, queue)
        except Exception as exc:
            self._not_taken(queue, tag, entry, item, checked, exc)

    def _checked(
        self, queue: str, list_key: str, item: bytes, redelivered: bool, held: bool = True
    ) -> tuple[dict, bytes] | None:
        """The envelope kombu will read and the item's in-flight entry, or None once a
        refused item is dead-lettered (dropped from flight, if `held` there)."""
        entry = list_key.encode() + b"\n" + item
        checked = intake.check(
            item,
            task_message=queue in self._task_queues,
            max_bytes=self.max_item_bytes,
            max_depth=self.max_depth,
        )
        if isinstance(checked, intake.Refusal):
            self._refuse(queue, entry, item, checked, held=held)
            return None
        headers = checked.get("headers")
        if isinstance(headers, dict):
            # The publish-once mark belongs to the first publish: whoever republishes what
            # it received (`celery migrate`, a move) must not have it dropped as a repeat.
            headers.pop(ONCE_HEADER, None)
        if redelivered:  # put back since it was last fetched: said as kombu says it
            if isinstance(headers, dict):
                headers["redelivered"] = True
            checked["properties"]["delivery_info"]["redelivered"] = True
        return checked, entry

    def basic_get(self, queue, no_ack=False, **kwargs: Any):
        """A message taken on demand. With acks, it is moved into this consumer's in-flight
        list like a consumed one (acked, rejected, requeued and restored on close the same
        way), where kombu keeps an unacknowledged copy; without, it is taken outright. Either
        way it says whether it was put back since it was last fetched (`redelivered`)."""
        if not no_ack:
            self._register_consumer()
            self.flush_acks()
        for _ in range(100):  # refused items are dead-lettered: take the next one
            if no_ack:
                reply = self._raw_client().eval(
                    scripts.TAKE, *self._take_keys(queue)
                )  # fmt: skip
            else:
                reply = self._scripts.fetch(
                    keys=self._fetch_keys([queue]), args=["", self.consumer_id],
                    client=self._inflight_client,
                )  # fmt: skip
            if not reply:
                return None
            list_key, item, again = bytes_to_str(reply[0]), reply[1], bool(reply[2])
            taken = self._checked(queue, list_key, item, again, held=not no_ack)
            if taken is None:
                continue
            checked, entry = taken
            message = self.Message(checked, channel=self)
            if not no_ack:
                self._entries.setdefault(message.delivery_tag, deque()).append(entry)
                self.qos.append(message, message.delivery_tag)
            return message
        return None

    def _take_keys(self, queue: str) -> list:
        keys = [self._keys.redelivered]
        for pri in self.priority_steps:
            keys += [self._keys.list(self._q_for_pri(queue, pri)), self._keys.wake(queue)]
        return [len(keys), *keys]

    def _raw_client(self) -> redis.Redis:
        """A client that leaves key names alone (inflight.Keys carries the prefix)."""
        client = self.__dict__.get("_raw")
        if client is None or client.connection_pool is not self.pool:
            client = self._raw = redis.Redis(connection_pool=self.pool)
        return client

    def _not_taken(
        self, queue: str, tag: str, entry: bytes, item: bytes, checked: dict, exc: Exception
    ) -> None:
        """kombu or Celery raised while taking an item the intake passed (Celery's prefork
        parent could not pickle it for the pool, say). Left alone, the error would end the
        worker and the clean stop would put the item back for the next worker to die on: it
        is dead-lettered instead, and the consumer goes on."""
        logger.critical(
            "an item in %r passed the intake but the worker could not take it (%s: %s)",
            queue, type(exc).__name__, exc, exc_info=True,
        )  # fmt: skip
        entries = self._entries.get(tag)
        if entries and entry in entries:
            entries.remove(entry)
            if not entries:
                del self._entries[tag]
        elif queue in self._acked_queues:
            return  # settled meanwhile (Celery acked or rejected it before raising)
        headers = checked.get("headers") if isinstance(checked.get("headers"), dict) else {}
        refusal = intake.Refusal(
            intake.REJECTED,
            "NotTaken",
            f"the worker could not take it ({type(exc).__name__}: {str(exc)[:200]})",
            task_id=intake.label(headers.get("id")),
            task_name=intake.label(headers.get("task")),
            headers=headers,
        )
        self._refuse(queue, entry, item, refusal)
        # kombu recorded the delivery before Celery raised: forget it, or it would count
        # against the prefetch window forever.
        super(kombu_redis.QoS, self.qos).ack(tag)

    def _refuse(
        self, queue: str, entry: bytes, item: bytes, refusal: intake.Refusal, held: bool = True
    ) -> None:
        handler = self._hook(self.on_refused)
        kept = False
        try:
            if handler is None:
                # No place for dead letters (a plain kombu user): kept for an operator.
                kept = self._park(queue, entry, refusal)
            else:
                handler(queue, item, refusal)
                kept = True
        except Exception:
            logger.critical("DEAD LETTER CAPTURE FAILED for an item in %r", queue, exc_info=True)
            if not held:
                kept = self._park(queue, entry, refusal)  # taken outright (a no-ack get)
        if not held:
            return
        if kept:
            self._drop(entry)
        else:
            # Left in flight, and counted when this consumer stops (or is reaped): past
            # MAX_DELIVERIES it is parked for a dead letter again. Never lost, never fatal.
            self._unsettled.append(entry)

    def _park(self, queue: str, entry: bytes, refusal: intake.Refusal) -> bool:
        """Keep a refused item in the lost list (whose keeper, where there is one, writes it as
        a dead letter); whether Redis took it. Never raises: the consumer goes on."""
        try:
            self._raw_client().lpush(self._keys.lost, entry)
        except Exception:
            logger.critical("could not park an item in %r: %s", queue, refusal.message,
                            exc_info=True)  # fmt: skip
            return False
        logger.error("parked an item in %r in %s: %s", queue, self._keys.lost, refusal.message)
        return True

    def _hook(self, path: str | None):
        return symbol_by_name(path) if path else None

    # -- settling --------------------------------------------------------------------------

    def _held_entries(self) -> list[bytes]:
        """The in-flight entries of the jobs this consumer holds (read from the keeper's
        thread: copied, and tried again if the loop changed them meanwhile)."""
        for _ in range(10):
            try:
                held = [e for entries in list(self._entries.values()) for e in list(entries)]
                return held + list(self._unsettled)
            except RuntimeError:  # changed while copied
                continue
        return []

    def _entry_for(self, delivery_tag: str) -> bytes | None:
        entries = self._entries.get(delivery_tag)
        if not entries:
            return None
        entry = entries.popleft()
        if not entries:
            del self._entries[delivery_tag]
        return entry

    def _drop(self, entry: bytes) -> None:
        try:
            self._inflight_client.lrem(self._keys.inflight(self.consumer_id), 1, entry)
        except Exception as exc:
            # Still in flight: it comes back when this consumer stops or is reaped, and runs
            # again (at least once). An ack must never end the worker.
            logger.warning("ack not recorded (%s): the job may run again", exc)

    def _settle(self, delivery_tag: str) -> None:
        entry = self._entry_for(delivery_tag)
        if entry is None:
            return
        if self._can_defer_ack():
            if not self._acks:
                self._acks_since = monotonic()
            self._acks.append(entry)
        else:
            self._drop(entry)

    def _can_defer_ack(self) -> bool:
        """Only on the event loop's thread (the list is the loop's alone), and only while no
        blocking wait is out: the next fetch, or the loop's timer, then takes the ack."""
        transport = self.connection
        return (
            getattr(transport, "loop_thread", None) == threading.get_ident()
            and monotonic() - getattr(transport, "loop_seen_at", 0.0) < 2 * ACK_GRACE
            and self._pending != "BRPOP"
            and not self._closing
            and self._keeper is not None
            and bool(self.active_queues)
        )

    def flush_acks(self, older_than: float = 0.0) -> None:
        """Send the acks still waiting (those waiting at least `older_than` seconds), with
        those of a fetch that got no answer (none is out when this runs on the loop)."""
        unconfirmed = self._acks_riding if self._pending is None else []
        if not (self._acks or unconfirmed):
            return
        if self._acks and not unconfirmed and monotonic() - self._acks_since < older_than:
            return
        acks, self._acks = unconfirmed + self._acks, []
        if unconfirmed:
            self._acks_riding = []
        key = self._keys.inflight(self.consumer_id)
        try:
            pipe = self._inflight_client.pipeline(transaction=False)
            for entry in acks:
                pipe.lrem(key, 1, entry)
            pipe.execute()
        except Exception as exc:
            # Still in flight: it comes back when this consumer stops or is reaped, and runs
            # again (at least once). An ack must never end the worker.
            logger.warning("%d ack(s) not recorded (%s): the jobs may run again", len(acks), exc)

    def _on_connection_disconnect(self, connection) -> None:
        # A fetch whose connection dropped gets no answer: its acks stay unconfirmed
        # (_acks_riding) and go with the next fetch, the timer or the stop.
        if self._in_poll is connection:
            self._pending = None
        super()._on_connection_disconnect(connection)

    def basic_cancel(self, consumer_tag):
        self.flush_acks()  # no fetch may follow
        return super().basic_cancel(consumer_tag)

    def _requeue(self, delivery_tag: str) -> None:
        entry = self._entry_for(delivery_tag)
        if entry is None:
            return
        try:
            outcome = inflight.requeue(
                self._inflight_client, self._scripts, self.consumer_id, entry, self._policy
            )
        except Exception as exc:
            logger.warning("requeue not recorded (%s): the reaper returns the job", exc)
            return
        if outcome == 2 and self._keeper is not None:
            self._keeper.wake.set()  # past MAX_DELIVERIES: dead-letter it now

    # -- producing -------------------------------------------------------------------------

    def _create_client(self, asynchronous: bool = False):
        """kombu builds a new redis client for every publish (redis-py 8 spends ~0.2 ms
        filling its response callbacks); the channel's pool is fixed, so keep one."""
        if asynchronous:
            return super()._create_client(asynchronous=True)
        client = self.__dict__.get("_sync_client")
        if client is None or client.connection_pool is not self.pool:
            client = self._sync_client = super()._create_client()
        return client

    def _put(self, queue, message, **kwargs: Any) -> None:
        """LPUSH the message and its wake token, in one round trip (inside a producer's
        batch, with the rest of the batch).

        Every queue gets a token, so a reliable consumer of any queue starts at once; the
        wake list is trimmed to WAKE_BOUND, since a queue read without reliable fetch (kombu's
        BRPOP, an `inspect` reply queue) never takes its tokens."""
        batch = kwargs.pop("_publish_batch", None)
        pri = self._get_message_priority(message, reverse=False)
        window = (message.get("headers") or {}).get(ONCE_HEADER)
        if window:
            self._put_once(self._q_for_pri(queue, pri), queue, message, int(window), batch)
            return
        # kombu's client prefixes LPUSH and PEXPIRE keys with its global_keyprefix, not
        # LTRIM's (tests/unit/test_private_api.py pins both).
        commands = [
            ("lpush", self._q_for_pri(queue, pri), dumps(message)),
            ("lpush", inflight.wake_key(queue), "1"),
            ("ltrim", self._keys.wake(queue), 0, WAKE_BOUND - 1),
        ]
        if self._expires and queue in self._expires:
            commands += [
                ("pexpire", self._q_for_pri(queue, step), self._expires[queue])
                for step in self.priority_steps
            ]
            commands.append(("pexpire", inflight.wake_key(queue), self._expires[queue]))
        if batch is not None:
            for name, *args in commands:
                batch.add(name, *args)
            return
        with self.conn_or_acquire() as client:
            pipe = client.pipeline(transaction=False)
            for name, *args in commands:
                getattr(pipe, name)(*args)
            pipe.execute()

    def _put_once(
        self, list_key: str, queue: str, message: dict, window: int, batch: Any = None
    ) -> None:
        """Queue a message at most once per task id within `window` seconds (its producer
        gave a job key): one Lua call, so a publish retried after a timeout cannot double."""
        task_id = message["headers"].get("id") or message["properties"].get("correlation_id")
        keys = [self._keys.once(str(task_id)), self._keys.list(list_key), self._keys.wake(queue)]
        # EVAL, not EVALSHA: a publish that timed out must have sent the whole script, so
        # that it runs when a frozen Redis resumes instead of failing on NOSCRIPT. (kombu's
        # prefixing client leaves EVAL's keys alone: they carry the prefix already.)
        command = (PUT_ONCE, 3, *keys, dumps(message), window, WAKE_BOUND)
        if batch is not None:
            batch.add("eval", *command)
            return
        with self.conn_or_acquire() as client:
            client.eval(*command)

    def _purge(self, queue) -> int:
        purged = super()._purge(queue)
        with self.conn_or_acquire() as client:
            client.delete(inflight.wake_key(queue))
        return purged

    # -- stopping --------------------------------------------------------------------------

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._retire()

    def _retire(self) -> None:
        """Put back whatever this consumer still holds; never raise (we may be reconnecting).

        Uncounted on a clean stop or a reconnect; counting a delivery for what it could not
        dead-letter, and for everything after an unrecoverable error (`stopping_on_error`)."""
        self._pending = None  # no answer will come on a closed channel
        self.flush_acks()  # before putting back what is held: acked jobs must not return
        keeper_, self._keeper = self._keeper, None
        if keeper_ is None:
            return
        keeper_.stop()
        unsettled, self._unsettled = self._unsettled, []
        counted = STOPPING_ON_ERROR.is_set()
        try:
            for entry in unsettled:
                inflight.requeue(
                    keeper_.client, keeper_.scripts, self.consumer_id, entry, self._policy
                )
            back, _parked = inflight.restore_all(
                keeper_.client, keeper_.scripts, self.consumer_id,
                counted=counted, policy=self._policy,
            )  # fmt: skip
            if back:
                logger.info(
                    "returned %d held job(s) to their queues%s",
                    back, ", each counting a delivery" if counted else "",
                )  # fmt: skip
            keeper_.client.connection_pool.disconnect()  # reconnects if a late ack comes
        except Exception as exc:
            keeper.abandon(self.consumer_id, self._held_entries() + unsettled)
            logger.warning(
                "could not return held jobs of %s now (%s): the reaper will",
                self.consumer_id, exc,
            )  # fmt: skip


#: Set when the worker stops on an unrecoverable error: what its consumers still hold goes
#: back counting a delivery, as if the worker had died, since one of those jobs may be the
#: cause. Without it a job that ends its worker in a way no check foresaw would come back
#: uncounted and end the next worker too, for ever.
STOPPING_ON_ERROR = threading.Event()


def stopping_on_error() -> None:
    """Called by the worker when an error it cannot recover from ends it."""
    STOPPING_ON_ERROR.set()


class Transport(kombu_redis.Transport):
    Channel = Channel

    #: The thread running the worker's event loop (acks made there may be deferred), and
    #: when its timer last ran (a loop that stopped turning defers nothing).
    loop_thread: int | None = None
    loop_seen_at: float = 0.0
    _acks_tref: Any = None

    def register_with_event_loop(self, connection, loop) -> None:
        super().register_with_event_loop(connection, loop)
        self.loop_thread = threading.get_ident()
        self.loop_seen_at = monotonic()
        if self._acks_tref is not None:
            self._acks_tref.cancel()
        self._acks_tref = loop.call_repeatedly(ACK_GRACE, self._flush_waiting_acks)

    def _flush_waiting_acks(self) -> None:
        self.loop_seen_at = monotonic()
        for channel in list(self.channels):
            if isinstance(channel, Channel):
                channel.flush_acks(older_than=ACK_GRACE)


class SentinelChannel(Channel, kombu_redis.SentinelChannel):
    """Reliable fetch over kombu's Sentinel master discovery (kombu's SentinelChannel
    supplies the pool and connection classes; this project's Channel the read paths)."""

    # Both parents extend kombu's option list; the first parent's would hide master_name.
    from_transport_options = Channel.from_transport_options + tuple(
        name
        for name in kombu_redis.SentinelChannel.from_transport_options
        if name not in Channel.from_transport_options
    )


class SentinelTransport(Transport):
    default_port = kombu_redis.SentinelTransport.default_port
    Channel = SentinelChannel


#: The platform's transports for kombu's Redis URL schemes. The scheme stays the transport's
#: name (kombu's rediss handling, and `Connection.as_uri()` for Flower and the logs, read it).
ALIASES = {
    "redis": "broker.transport:Transport",
    "rediss": "broker.transport:Transport",
    "sentinel": "broker.transport:SentinelTransport",
}
