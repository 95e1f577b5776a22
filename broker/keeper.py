"""The keeper: one thread per consuming channel that keeps its heartbeat and runs the reaper.

It runs beside the event loop, so a long job in a solo worker, or a busy loop, never lets
the heartbeat lapse. A frozen process (SIGSTOP) freezes its keeper too: its jobs then come
back to the queue after the heartbeat TTL, which is what a frozen worker should cause.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis

from broker import inflight

logger = logging.getLogger(__name__)

#: Consumers this process stopped without managing to put their jobs back (Redis was down):
#: the next keeper of this process puts them back, uncounted (nothing crashed), at once.
abandoned: set[str] = set()
_abandoned_lock = threading.Lock()


def abandon(consumer: str) -> None:
    with _abandoned_lock:
        abandoned.add(consumer)


class Keeper(threading.Thread):
    def __init__(
        self,
        client: redis.Redis,
        consumer: str,
        policy: inflight.Policy,
        on_lost: Callable[[str, bytes, int], None] | None,
    ) -> None:
        super().__init__(name=f"broker-keeper-{consumer}", daemon=True)
        self.client = client
        self.consumer = consumer
        self.policy = policy
        self.on_lost = on_lost
        self.scripts = inflight.Scripts(client)
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
            self._put_back_abandoned,
            lambda: inflight.reap(
                self.client, self.scripts, self.policy, alive=frozenset({self.consumer})
            ),
            lambda: inflight.restore_legacy_unacked(self.client),
            lambda: self.on_lost is not None and inflight.settle_lost(
                self.client, self.consumer, self.on_lost,
                lambda: time.monotonic() < deadline and not self.stopping.is_set(),
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

    def _put_back_abandoned(self) -> None:
        with _abandoned_lock:
            dead = list(abandoned)
        for consumer in dead:
            restored = inflight.restore_all(self.client, self.scripts, consumer)
            with _abandoned_lock:
                abandoned.discard(consumer)
            if restored:
                logger.warning("returned %d job(s) held before a reconnect", restored)

    def stop(self, timeout: float = 5) -> None:
        """Stop, and wait for a round in progress (it may hold a lost job in flight)."""
        self.stopping.set()
        self.wake.set()
        if self.is_alive() and self is not threading.current_thread():
            self.join(timeout)
