"""The outbox relay: moves committed outbox rows to the broker, and keeps them until their
jobs finished.

Run beside the web app (`taskplatform-outbox relay`, a Procfile line or a deployment); any
number may run against one database:

- **Publishing**: rows not yet published, oldest first (by id, which is insert order: a
  transaction that commits late publishes late), `FOR UPDATE SKIP LOCKED` so two relays never
  take the same rows, a few hundred per round trip. Each message is publish-once under its
  job id, so a relay that dies after queuing and before marking queues nothing twice when
  the row is published again. An insert wakes the relay by NOTIFY (sent at commit), so a row
  is queued within milliseconds; without one it looks every POLL_SECONDS.
- **With the broker away** the rows not queued stay unpublished (those Redis took before it
  went are marked) and the relay tries again, waiting up to MAX_PAUSE between attempts:
  nothing is lost, and the backlog shows in the metrics.
- **Finishing**: a worker marks each outbox job that succeeded or ended as a dead letter
  (`wire.OUTBOX_DONE_PREFIX` + id, housekeeping/outbox.py); the relay reads the marks of
  published rows and closes them. Closed rows are purged after OUTBOX_KEEP_DAYS.
- **Data loss**: the relay watches the broker's epoch as the workers do (broker/epoch.py).
  When Redis comes back empty or rolled back, every published row that is not finished is
  published again under its same key: a job Redis still has is not queued twice (its
  publish-once mark survived with it), a lost one runs. What it remembers of the epoch is
  kept in the database, so a loss while the relay was stopped is still seen.
- **Metrics**: backlog, lag (the age of the oldest unpublished row) and unfinished rows go
  to Redis every look (`wire.OUTBOX_RELAY_PREFIX` + relay name, kept a week), where the platform's
  exporter reads them (`taskplatform_outbox_*`, housekeeping/exporter.py).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from taskplatform import producer, wire
from taskplatform.errors import BrokerUnavailableError, BulkPublishError
from taskplatform.outbox.schema import CHANNEL, ONCE, RELAYS, TABLE
from taskplatform.settings import check_redis_url, current

logger = logging.getLogger("taskplatform.outbox.relay")

BATCH = 500
POLL_SECONDS = 1.0
#: How often the relay closes finished rows, checks the epoch and writes its metrics.
LOOK_SECONDS = 1.0
PURGE_SECONDS = 300.0
#: Rows whose finish marks are read per look: the unfinished backlog is swept in pages.
SWEEP = 2000
MAX_PAUSE = 5.0
#: A relay's numbers are kept a week after its last look: a relay that died shows as one
#: whose numbers grow old (the OutboxRelayNotReporting alert), not as one that never was.
STATS_TTL = 7 * 24 * 3600


@dataclass(frozen=True)
class RelaySettings:
    database_url: str
    name: str = "default"
    keep_days: float = 7.0
    batch: int = BATCH
    poll_seconds: float = POLL_SECONDS

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> RelaySettings:
        env = os.environ if environ is None else environ
        url = env.get("OUTBOX_DATABASE_URL", "").strip()
        if not url:
            raise SystemExit("OUTBOX_DATABASE_URL must name the web app's Postgres database")
        return cls(
            database_url=url,
            name=env.get("OUTBOX_RELAY_NAME", "").strip() or "default",
            keep_days=float(env.get("OUTBOX_KEEP_DAYS", "").strip() or 7),
        )


#: A half-open connection (a database failover) is noticed within about a minute, and no
#: statement or lock wait holds the relay longer than these.
CONNECTION_OPTIONS = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "options": "-c statement_timeout=60000 -c lock_timeout=30000",
}
#: Publishing holds this advisory lock shared; the republish after a data loss takes it
#: alone, so it waits for every batch that was being queued to be marked first, and then
#: republishes those rows too (a batch queued into the Redis that was then lost).
PUBLISHING_LOCK = 7_305_541_127


def connect(url: str, autocommit: bool = False) -> Any:
    """A psycopg 3 connection (the relay's one database dependency, imported here)."""
    import psycopg

    return psycopg.connect(_plain_url(url), autocommit=autocommit, **CONNECTION_OPTIONS)


def _plain_url(url: str) -> str:
    """SQLAlchemy's driver-qualified URLs (postgresql+psycopg://) as libpq takes them."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+')[0]}{sep}{rest}" if sep else url


class Relay:
    """One relay process's loop. `stop` ends it after the current step."""

    def __init__(self, settings: RelaySettings) -> None:
        self.settings = settings
        self.stop = threading.Event()
        self.db: Any = None
        self.listener: Any = None
        self.published = 0
        self.republished = 0
        self._next_look = 0.0
        self._next_purge = 0.0
        self._sweep_after = 0
        self._pause = 0.0
        self._failing: str | None = None

    # -- the loop ---------------------------------------------------------------------------

    def run(self) -> None:
        logger.info("outbox relay %s started (pid %s)", self.settings.name, os.getpid())
        while not self.stop.is_set():
            try:
                self._connect()
                # Looked at first, and even when publishing fails: a data loss must be seen
                # while the broker refuses a batch.
                if time.monotonic() >= self._next_look:
                    self._next_look = time.monotonic() + LOOK_SECONDS
                    self.look()
                sent = self.publish_batch()
                self._recovered()
                if sent < self.settings.batch:
                    self.wait(self.settings.poll_seconds)
            except Exception as exc:  # the broker, the database: wait, then try again
                self._failed(exc)
        self.close()

    def _connect(self) -> None:
        if self.db is None or self.db.closed:
            self.db = connect(self.settings.database_url)
        if self.listener is None or self.listener.closed:
            self.listener = connect(self.settings.database_url, autocommit=True)
            self.listener.execute(f"LISTEN {CHANNEL}")

    def wait(self, seconds: float) -> None:
        """Until an insert's NOTIFY (or `seconds`)."""
        for _ in self.listener.notifies(timeout=seconds, stop_after=1):
            pass

    def _failed(self, exc: Exception) -> None:
        reason = f"{type(exc).__name__}: {exc}".strip()
        if reason != self._failing:
            logger.warning("outbox relay %s: %s; trying again", self.settings.name, reason)
            self._failing = reason
        for connection in (self.db, self.listener):
            if connection is not None and not connection.closed and _broken(connection):
                connection.close()
        self._pause = min(MAX_PAUSE, max(0.1, self._pause * 2))
        self.stop.wait(self._pause)

    def _recovered(self) -> None:
        if self._failing is not None:
            logger.warning("outbox relay %s: working again", self.settings.name)
        self._failing, self._pause = None, 0.0

    def close(self) -> None:
        for connection in (self.db, self.listener):
            if connection is not None and not connection.closed:
                connection.close()

    # -- publishing -------------------------------------------------------------------------

    def publish_batch(self) -> int:
        """Queue the oldest unpublished rows this relay can lock; how many were queued."""
        failure: Exception | None = None
        with self.db.transaction():
            self.db.execute("SELECT pg_advisory_xact_lock_shared(%s)", (PUBLISHING_LOCK,))
            rows = self.db.execute(
                f"SELECT id, job_id, queue, message, event, once_window FROM {TABLE}"
                " WHERE published_at IS NULL ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
                (self.settings.batch,),
            ).fetchall()
            if not rows:
                return 0
            outgoing = [
                producer.Outgoing(queue, job_id, message, window, event)
                for _id, job_id, queue, message, event, window in rows
            ]
            try:
                producer.send_many(outgoing)
                queued = [row[0] for row in rows]
            except BulkPublishError as exc:  # what was queued is marked; the rest waits
                queued, failure = [rows[i][0] for i in exc.queued], exc
            self.db.execute(
                f"UPDATE {TABLE} SET published_at = now(), publishes = publishes + 1"
                " WHERE id = ANY(%s)",
                (queued,),
            )
        self.published += len(queued)
        if failure is not None:
            raise failure
        return len(queued)

    # -- every LOOK_SECONDS: finished rows, the epoch, metrics, the purge ---------------------

    def look(self) -> None:
        client = producer.redis_client(check_redis_url("REDIS_URL", current().broker_url))
        self.check_epoch(client)
        self.close_finished(client)
        if time.monotonic() >= self._next_purge:
            self.purge()
            self._next_purge = time.monotonic() + PURGE_SECONDS
        self.write_stats(client)

    def close_finished(self, client: Any) -> int:
        """Close the published rows whose jobs a worker marked finished (a page per look)."""
        with self.db.transaction():
            rows = self.db.execute(
                f"SELECT id, job_id FROM {TABLE} WHERE published_at IS NOT NULL"
                " AND finished_at IS NULL AND id > %s ORDER BY id LIMIT %s",
                (self._sweep_after, SWEEP),
            ).fetchall()
            if not rows:
                self._sweep_after = 0
                return 0
            self._sweep_after = 0 if len(rows) < SWEEP else rows[-1][0]
            marks = client.mget([wire.OUTBOX_DONE_PREFIX + job_id for _id, job_id in rows])
            done = [row[0] for row, mark in zip(rows, marks, strict=True) if mark is not None]
            if done:
                self.db.execute(
                    f"UPDATE {TABLE} SET finished_at = now() WHERE id = ANY(%s)", (done,)
                )
        return len(done)

    def check_epoch(self, client: Any) -> bool:
        """Take a look at the broker's epoch; after a loss, publish every unfinished row
        again (under its same key). Whether a loss was seen."""
        with self.db.transaction():
            # Locked first: relays sharing a name look one at a time, so none takes another's
            # newer count for a counter that went back.
            last = self.db.execute(
                f"SELECT epoch, seq FROM {RELAYS} WHERE name = %s FOR UPDATE",
                (self.settings.name,),
            ).fetchone()
            epoch, seq, _made = client.eval(
                wire.EPOCH_TICK, 1, wire.EPOCH_KEY, str(uuid.uuid4()), time.time()
            )
            epoch, seq = _text(epoch), int(seq)
            lost = last is not None and (last[0] != epoch or seq <= last[1])
            if lost and last[0] == epoch:  # rolled back: a new id, so that workers see it too
                epoch = _text(
                    client.eval(
                        wire.EPOCH_RENEW, 1, wire.EPOCH_KEY, epoch, str(uuid.uuid4()), time.time()
                    )  # fmt: skip
                )
            if lost:
                self.db.execute("SELECT pg_advisory_xact_lock(%s)", (PUBLISHING_LOCK,))
                count = self.db.execute(
                    f"UPDATE {TABLE} SET published_at = NULL"
                    " WHERE published_at IS NOT NULL AND finished_at IS NULL"
                ).rowcount
                self.republished += count
                logger.critical(
                    "outbox relay %s: the broker lost data (epoch %s seq %s, now %s seq %s);"
                    " publishing %d unfinished jobs again under their keys",
                    self.settings.name, last[0], last[1], epoch, seq, count,
                )  # fmt: skip
            self.db.execute(
                f"INSERT INTO {RELAYS} (name, epoch, seq) VALUES (%s, %s, %s)"
                " ON CONFLICT (name) DO UPDATE SET epoch = excluded.epoch, seq = excluded.seq,"
                " updated_at = now()",
                (self.settings.name, epoch, seq),
            )
        return lost

    def purge(self) -> int:
        keep = f"{self.settings.keep_days} days"
        with self.db.transaction():
            count = self.db.execute(
                f"DELETE FROM {TABLE} WHERE finished_at < now() - %s::interval", (keep,)
            ).rowcount
            # A record outlives its row's purge, never an open row: a job republished after
            # a data loss must still find the record of its effect.
            self.db.execute(
                f"DELETE FROM {ONCE} WHERE done_at < now() - %s::interval AND NOT EXISTS"
                f" (SELECT 1 FROM {TABLE} WHERE {TABLE}.job_id = {ONCE}.job_id"
                "  AND finished_at IS NULL)",
                (keep,),
            )
        return count

    def stats(self) -> dict[str, float]:
        with self.db.transaction():
            backlog, lag = self.db.execute(
                f"SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)"
                f" FROM {TABLE} WHERE published_at IS NULL"
            ).fetchone()
            (unfinished,) = self.db.execute(
                f"SELECT count(*) FROM {TABLE}"
                " WHERE published_at IS NOT NULL AND finished_at IS NULL"
            ).fetchone()
        return {
            "backlog": int(backlog),
            "lag_seconds": float(lag),
            "unfinished": int(unfinished),
            "published": self.published,
            "republished": self.republished,
        }

    def write_stats(self, client: Any) -> None:
        key = wire.OUTBOX_RELAY_PREFIX + self.settings.name
        values = {**self.stats(), "at": time.time(), "host": socket.gethostname()}
        pipe = client.pipeline(transaction=False)
        pipe.hset(key, mapping=values)
        pipe.expire(key, STATS_TTL)
        pipe.execute()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _broken(connection: Any) -> bool:
    """A connection that failed is dropped and made anew."""
    return bool(getattr(connection, "broken", False))


def run_relay(settings: RelaySettings) -> None:
    """Run until SIGTERM or SIGINT (a Procfile's stop), finishing the current step."""
    import signal

    relay = Relay(settings)

    def stop(*_: Any) -> None:
        relay.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    relay.run()


__all__ = ["BrokerUnavailableError", "Relay", "RelaySettings", "run_relay"]
