"""The keeper: one thread per consuming channel that keeps its heartbeat and runs the reaper.

It runs beside the event loop, so a long job in a solo worker, or a busy loop, never lets
the heartbeat lapse. A frozen process (SIGSTOP) freezes its keeper too: its jobs then come
back to the queue after the heartbeat TTL, which is what a frozen worker should cause.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

import redis

from broker import epoch, inflight

logger = logging.getLogger(__name__)

#: Consumers this process stopped without managing to put their jobs back (Redis was down),
#: with the entries they held: the next keeper of this process puts them back, uncounted
#: (nothing crashed), at once; from memory if Redis lost its data meanwhile.
abandoned: dict[str, list[bytes]] = {}
_abandoned_lock = threading.Lock()


def abandon(consumer: str, held: list[bytes] | None = None) -> None:
    with _abandoned_lock:
        abandoned[consumer] = list(held or ())


class Keeper(threading.Thread):
    def __init__(
        self,
        client: redis.Redis,
        consumer: str,
        policy: inflight.Policy,
        on_lost: Callable[[str, bytes, int], None] | None,
        *,
        queues: Iterable[str] = (),
        held: Callable[[], list[bytes]] = list,
    ) -> None:
        super().__init__(name=f"broker-keeper-{consumer}", daemon=True)
        self.client = client
        self.consumer = consumer
        self.policy = policy
        self.on_lost = on_lost
        self.held = held
        self.scripts = inflight.Scripts(client)
        self.epoch = epoch.Watch(client, queues, policy.keys)
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self._was_failing = False

    def run(self) -> None:
        while not self.stopping.is_set():
            self.tick()
            self.wake.wait(self.policy.heartbeat_every)
            self.wake.clear()

    def tick(self) -> None:
        """One round: heartbeat, then reaping and dead-lettering within the time left.

        Each step is tried on its own: one failing (Redis away, a malformed entry) never
        keeps the others, least of all the heartbeat, from running."""
        deadline = time.monotonic() + self.policy.heartbeat_every / 2
        steps = (
            lambda: inflight.beat(self.client, self.consumer, self.policy),
            self._watch_epoch,
            self._put_back_abandoned,
            lambda: inflight.reap(
                self.client, self.scripts, self.policy, alive=frozenset({self.consumer})
            ),
            lambda: inflight.restore_legacy_unacked(self.client, keys=self.policy.keys),
            lambda: self.on_lost is not None and inflight.settle_lost(
                self.client, self.consumer, self.on_lost,
                lambda: time.monotonic() < deadline and not self.stopping.is_set(),
                self.policy.keys,
            ),
        )  # fmt: skip
        failed = None
        for step in steps:
            try:
                step()
            except Exception as exc:  # never let the keeper die: Redis comes back
                failed = exc
        if failed is not None and not self._was_failing:
            logger.warning("broker keeper of %s: %s", self.consumer, failed)
        elif failed is None and self._was_failing:
            logger.warning("broker keeper of %s: Redis answers again", self.consumer)
        self._was_failing = failed is not None

    def _watch_epoch(self) -> None:
        """Notice a Redis that lost its data (broker/epoch.py): say so loudly, write back
        what this consumer holds and what this process's stopped consumers held, and record
        the loss for operators."""
        loss = self.epoch.tick()
        if loss is None:
            return
        reprotected = epoch.reprotect(self.client, self.consumer, self.held(), self.policy.keys)
        reprotected += self._put_back_abandoned(from_memory=True)
        epoch.record(self.client, loss, self.consumer, reprotected, self.policy.keys)
        logger.critical(
            "THE BROKER LOST ITS DATA (%s): Redis no longer holds what it held %.0f s ago"
            " (epoch %s, %d looks, run id %s; now epoch %s, %d looks, run id %s). Up to %d"
            " waiting and %d held job(s) may be gone; %d held in this process were written"
            " back. Acknowledge with `celery -A config doctor --acknowledge-data-loss`.",
            loss.kind, loss.now.at - loss.before.at, loss.before.epoch[:8], loss.before.seq,
            loss.before.run_id[:8], loss.now.epoch[:8], loss.now.seq, loss.now.run_id[:8],
            loss.before.waiting, loss.before.in_flight, reprotected,
        )  # fmt: skip

    def _put_back_abandoned(self, from_memory: bool = False) -> int:
        """Put back what this process's stopped consumers held: what their in-flight lists
        hold, and (`from_memory`, after a loss) the entries they remembered as well."""
        with _abandoned_lock:
            dead = dict(abandoned)
        total = 0
        for consumer, held in dead.items():
            restored, _parked = inflight.restore_all(
                self.client, self.scripts, consumer, policy=self.policy,
                also=held if from_memory else (),
            )  # fmt: skip
            with _abandoned_lock:
                abandoned.pop(consumer, None)
            if restored:
                logger.warning("returned %d job(s) held before a reconnect", restored)
            total += restored
        return total

    def stop(self, timeout: float = 5) -> None:
        """Stop, and wait for a round in progress (it may hold a lost job in flight)."""
        self.stopping.set()
        self.wake.set()
        if self.is_alive() and self is not threading.current_thread():
            self.join(timeout)
