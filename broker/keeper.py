"""The keeper: one thread per consuming channel that keeps its heartbeat and runs the reaper.

It runs beside the event loop, so a long job in a solo worker, or a busy loop, never lets
the heartbeat lapse. A frozen process (SIGSTOP) freezes its keeper too: its jobs then come
back to the queue after the heartbeat TTL, which is what a frozen worker should cause.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import redis

from broker import inflight

logger = logging.getLogger(__name__)

#: Consumers this process stopped without managing to put their jobs back (Redis was down):
#: the next keeper of this process reaps them at once instead of waiting out their TTL.
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
        """One round: heartbeat, reap the dead, dead-letter what is past the bound."""
        try:
            inflight.beat(self.client, self.consumer, self.policy)
            with _abandoned_lock:
                dead = frozenset(abandoned)
            inflight.reap(
                self.client, self.scripts, self.policy,
                alive=frozenset({self.consumer}), dead=dead,
            )  # fmt: skip
            with _abandoned_lock:
                abandoned.difference_update(dead)
            inflight.restore_legacy_unacked(self.client)
            if self.on_lost is not None:
                inflight.settle_lost(self.client, self.consumer, self.on_lost)
            if self._was_failing:
                logger.warning("broker keeper of %s: Redis answers again", self.consumer)
            self._was_failing = False
        except Exception as exc:  # never let the keeper die: Redis comes back
            if not self._was_failing:
                logger.warning("broker keeper of %s: %s", self.consumer, exc)
            self._was_failing = True

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
