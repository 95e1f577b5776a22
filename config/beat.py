"""Beat with exactly one leader: celery-redbeat's scheduler, which sends only while it holds a
Redis lock. A second beat process waits for the lock and takes over when the leader dies
(within BEAT_LOCK_TIMEOUT + BEAT_MAX_INTERVAL seconds).

A leader that cannot reach Redis (a restart, a Sentinel failover) sends nothing and tries
again every RETRY_SECONDS: it leads on once it can extend its lock on the (new) master, and
stops, so that its process restarts as a standby, when the lock is gone (another beat took it
or it expired). A beat whose first try for the lock failed tries again instead of stopping.

The leader also writes who it is and when it last ticked, for `celery -A config schedule`,
the doctor and the metrics. The leader also runs the broker's reaper (a keeper thread, started
at its first tick; a standby starts it when it takes the lead), so a dead worker's jobs come
back even while no other worker of its queues runs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
from types import SimpleNamespace
from typing import Any

import redis.exceptions
from redbeat import RedBeatScheduler
from redbeat.schedulers import acquire_distributed_beat_lock

from broker import keys
from config import brokers, redis_client

#: Seconds between tries while Redis cannot be reached (redis-py's own retries come first).
RETRY_SECONDS = 1.0
#: What an unreachable or failing-over Redis raises (a Sentinel client's "the previous master
#: is now a replica" and "no master found" included); a lost lock is not among them.
UNREACHABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)

logger = logging.getLogger(__name__)


class PlatformScheduler(RedBeatScheduler):
    _keeper: Any = None
    _reaper_started = False

    def tick(self, *args, **kwargs):
        try:
            if self.lock is None and self.lock_key:
                # The try at start-up failed (Celery logs and swallows beat_init errors).
                acquire_distributed_beat_lock(sender=SimpleNamespace(scheduler=self))
            if not self._reaper_started:  # the leader's; None where the broker needs none
                on_lost = self.app.conf.broker_transport_options.get("on_lost")
                self._keeper = brokers.current().start_reaper(on_lost)
                self._reaper_started = True
            next_in = super().tick(*args, **kwargs)  # extends the lock before sending
        except UNREACHABLE as exc:
            logger.warning(
                "beat: Redis unreachable (%s: %s); nothing sent, trying again in %s s",
                type(exc).__name__, exc, RETRY_SECONDS,
            )  # fmt: skip
            return RETRY_SECONDS
        me = {"hostname": socket.gethostname(), "pid": os.getpid(), "ticked_at": time.time()}
        # The lock lives in the same Redis: if this write fails, redbeat reports that.
        with contextlib.suppress(Exception):
            redis_client.client().set(keys.BEAT_LEADER, json.dumps(me), ex=int(self.lock_timeout))
        return next_in


def leader() -> dict | None:
    """The current leader's hostname, pid and last tick, or None when no beat leads."""
    raw = redis_client.client().get(keys.BEAT_LEADER)
    return json.loads(raw) if raw else None
