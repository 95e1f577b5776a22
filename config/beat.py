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

from kombu.utils.imports import symbol_by_name
from redbeat import RedBeatScheduler

from broker import inflight
from broker.keeper import Keeper
from config import redis_client
from config.queues import QUEUES
from config.settings import settings

LEADER_KEY = "taskplatform:beat:leader"


class PlatformScheduler(RedBeatScheduler):
    _keeper: Keeper | None = None

    def tick(self, *args, **kwargs):
        if self._keeper is None and not settings.broker_is_rabbitmq:  # RabbitMQ reaps itself
            self._keeper = start_keeper(self.app.conf.broker_transport_options.get("on_lost"))
        next_in = super().tick(*args, **kwargs)
        me = {"hostname": socket.gethostname(), "pid": os.getpid(), "ticked_at": time.time()}
        # The lock lives in the same Redis: if this write fails, redbeat reports that.
        with contextlib.suppress(Exception):
            redis_client.client().set(LEADER_KEY, json.dumps(me), ex=int(self.lock_timeout))
        return next_in


def leader() -> dict | None:
    """The current leader's hostname, pid and last tick, or None when no beat leads."""
    raw = redis_client.client().get(LEADER_KEY)
    return json.loads(raw) if raw else None


def start_keeper(on_lost: str | None) -> Keeper:
    """The reaper in beat: registered like a consumer, so a lost job it is dead-lettering
    sits in its own in-flight list, safe if beat dies meanwhile."""
    policy = inflight.Policy(settings.worker_heartbeat_ttl, settings.max_deliveries)
    client = redis_client.client()
    consumer = inflight.new_consumer_id()
    keeper = Keeper(
        client, consumer, policy, symbol_by_name(on_lost) if on_lost else None, queues=QUEUES
    )
    keeper.start()
    return keeper
