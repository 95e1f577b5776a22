"""The stuck-worker watchdog.

Celery workers have been seen to stop consuming after a Redis reconnect while still
answering pings (Celery issues 8030, 8091, 10205). A worker whose queues hold waiting
messages, but which has received nothing for WATCHDOG_IDLE_SECONDS while idle, logs an
error and exits non-zero, so the process manager restarts it. Loaded by every worker (the
app's `imports`); WATCHDOG_IDLE_SECONDS=0 turns it off.

With WORKER_ALIVE_FILE set, the worker's own event loop touches that file every
ALIVE_INTERVAL seconds from `worker_ready` on: a liveness probe reading its age (`python -m
housekeeping.alive`) fails for a worker not started yet, or whose loop (which consumes,
acknowledges and answers the broker) froze; one that stopped consuming is exited by the
watchdog above. Under the solo pool a job runs inside that loop: there the probe's max age
must exceed the longest job (the Procfile's workers use the prefork pool).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from celery.signals import task_received, worker_init, worker_ready
from celery.worker import state

from config import brokers
from config.settings import settings

logger = logging.getLogger(__name__)

EXIT_STUCK = 3
_last_received = time.monotonic()


@task_received.connect
def _received(**_: Any) -> None:
    global _last_received
    _last_received = time.monotonic()


def stuck(queues: list[str], idle_for: float, waiting: dict[str, int], busy: bool) -> bool:
    """Waiting messages, nothing received for too long, nothing running: not consuming."""
    return not busy and idle_for >= settings.watchdog_idle_seconds and any(waiting.values())


#: How often the worker's loop touches its alive file (probes allow 90 s).
ALIVE_INTERVAL = 10.0


def touch_alive() -> None:
    if not settings.worker_alive_file:
        return
    try:
        Path(settings.worker_alive_file).touch()
    except OSError as exc:
        logger.warning("could not touch WORKER_ALIVE_FILE %s: %s", settings.worker_alive_file, exc)


def _watch(queues: list[str]) -> None:
    interval = max(1.0, settings.watchdog_idle_seconds / 4)
    while True:
        time.sleep(interval)
        try:
            waiting = brokers.current().waiting(queues)
        except Exception as exc:  # broker away: the consumer's own reconnect handles that
            logger.warning("watchdog could not read queue lengths: %s", exc)
            continue
        busy = bool(state.active_requests or state.reserved_requests)
        idle_for = time.monotonic() - _last_received
        if stuck(queues, idle_for, waiting, busy):
            logger.error(
                "watchdog: queues %s hold %s waiting messages but this worker has received"
                " nothing for %.0f s while idle; exiting so it is restarted",
                ",".join(queues), sum(waiting.values()), idle_for,
            )  # fmt: skip
            logging.shutdown()
            os._exit(EXIT_STUCK)


@worker_init.connect
def _forget_earlier_life(**_: Any) -> None:
    """A restarted container keeps its files: a fresh file from before must not pass the
    probe before this worker is ready."""
    if settings.worker_alive_file:
        Path(settings.worker_alive_file).unlink(missing_ok=True)


@worker_ready.connect
def start_alive_file(sender: Any = None, **_: Any) -> None:
    if sender is None or not settings.worker_alive_file:
        return
    touch_alive()
    sender.timer.call_repeatedly(ALIVE_INTERVAL, touch_alive)


@worker_ready.connect
def start_watchdog(sender: Any = None, **_: Any) -> None:
    if not settings.watchdog_idle_seconds or sender is None:
        return
    queues = [queue.name for queue in sender.task_consumer.queues]
    global _last_received
    _last_received = time.monotonic()
    threading.Thread(target=_watch, args=(queues,), name="watchdog", daemon=True).start()
