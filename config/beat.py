"""Beat with exactly one leader: celery-redbeat's scheduler, which sends only while it holds a
Redis lock. A second beat process waits for the lock and takes over when the leader dies
(within BEAT_LOCK_TIMEOUT + BEAT_MAX_INTERVAL seconds).

The leader also writes who it is and when it last ticked, for `celery -A config schedule`,
the doctor and the metrics. Every beat process also runs the broker's reaper (a keeper
thread), so a dead worker's jobs come back even while no other worker of its queues runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from typing import Any

from redbeat import RedBeatScheduler

from broker import keys
from config import brokers, redis_client


class PlatformScheduler(RedBeatScheduler):
    _keeper: Any = None
    _reaper_started = False

    def tick(self, *args, **kwargs):
        if not self._reaper_started:  # None where the broker returns a dead worker's jobs
            on_lost = self.app.conf.broker_transport_options.get("on_lost")
            self._keeper = brokers.current().start_reaper(on_lost)
            self._reaper_started = True
        next_in = super().tick(*args, **kwargs)
        me = {"hostname": socket.gethostname(), "pid": os.getpid(), "ticked_at": time.time()}
        # The lock lives in the same Redis: if this write fails, redbeat reports that.
        with contextlib.suppress(Exception):
            redis_client.client().set(keys.BEAT_LEADER, json.dumps(me), ex=int(self.lock_timeout))
        return next_in


def leader() -> dict | None:
    """The current leader's hostname, pid and last tick, or None when no beat leads."""
    raw = redis_client.client().get(keys.BEAT_LEADER)
    return json.loads(raw) if raw else None
