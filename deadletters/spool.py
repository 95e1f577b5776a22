"""Never lost: where a dead letter goes when Postgres cannot take it, and the drain back.

`keep` tries, in order: Postgres (short timeouts), a Redis list, an append-only local file,
and, if even that fails, the log (the whole redacted letter, at CRITICAL). Each step that
fails is logged loudly: Celery swallows exceptions in signal handlers, so silence would
mean loss. `drain` moves spooled letters into Postgres; it is safe to run often and
concurrently, because a crash mid-drain leaves the letter in a `draining` list or file that
the next drain replays, and the insert ignores a failure already stored.

The drain tells two failures apart. Postgres unavailable (a connection or a timeout): it
stops and leaves the rest for the next run. Postgres refusing one letter (a value it will
not take): it stores the letter's minimal copy instead, keeps the original in quarantine
(`celery -A config deadletters quarantine` shows it) and goes on, so one bad letter never
holds up the letters behind it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import redis
import sqlalchemy.exc
from sqlalchemy import Engine

from broker import keys
from config import database, redis_client
from config.settings import settings
from deadletters import repository
from deadletters.letters import Letter

logger = logging.getLogger(__name__)

#: Spooled items that are not a dead letter at all (hand-edited, truncated): kept aside.
#: Letters Postgres refused, as spooled, each with the refusal: their minimal copies are rows.


def keep(letter: Letter, engine: Engine | None = None) -> str:
    """Store a dead letter somewhere durable; say where: stored, spooled, filed or logged."""
    try:
        written = repository.insert_quickly(
            engine or database.engine(), letter, settings.deadletter_write_timeout
        )
        return "stored" if written else "already stored"
    except Exception as exc:
        logger.error(
            "dead letter for %s[%s] not written to Postgres (%s: %s); spooling it",
            letter.task_name, letter.task_id, type(exc).__name__, exc,
        )  # fmt: skip
    try:
        redis_client.client().rpush(keys.SPOOL, letter.to_json())
        return "spooled"
    except Exception as exc:
        logger.critical(
            "dead letter for %s[%s] not spooled to Redis either (%s); appending to %s",
            letter.task_name, letter.task_id, exc, settings.deadletter_spool_file,
        )  # fmt: skip
    try:
        append_to_file(Path(settings.deadletter_spool_file), letter)
        return "filed"
    except Exception as exc:
        logger.critical(
            "DEAD LETTER NOT STORED ANYWHERE (%s); its content follows so it is not lost: %s",
            exc, letter.to_json(),
        )  # fmt: skip
        return "logged"


def append_to_file(path: Path, letter: Letter) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as spool:
        spool.write(letter.to_json() + "\n")
        spool.flush()
        os.fsync(spool.fileno())


def filed(path: Path | None = None) -> bool:
    """Whether letters wait in the local file (or a drain of it was cut short)."""
    path = path or Path(settings.deadletter_spool_file)
    return path.exists() or path.with_name(path.name + ".draining").exists()


@dataclass
class DrainReport:
    stored: int = 0
    already_stored: int = 0
    quarantined: int = 0
    left: int = 0

    def __str__(self) -> str:
        return (
            f"stored {self.stored}, already stored {self.already_stored},"
            f" quarantined {self.quarantined}, left {self.left}"
        )


def unavailable(exc: BaseException) -> bool:
    """Postgres could not be reached or did not answer in time (retry later), as opposed to
    Postgres refusing this letter's values (it never will take them)."""
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sqlalchemy.exc.InterfaceError | sqlalchemy.exc.TimeoutError):
        return True
    if isinstance(exc, sqlalchemy.exc.OperationalError):
        # Connection failures, timeouts and shutdowns; not a refused value.
        return True
    return isinstance(exc, OSError | ConnectionError | TimeoutError)


def drain(
    engine: Engine | None = None,
    client: redis.Redis | None = None,
    spool_file: Path | None = None,
    limit: int = 10_000,
) -> DrainReport:
    """Move spooled dead letters into Postgres. Stops at the first insert that fails."""
    engine = engine or database.engine()
    client = client or redis_client.client()
    report = DrainReport()
    # The file first: it needs only Postgres and this disk, and it exists because Redis was
    # away too (which it may still be: then Redis's part raises, after the file's).
    _drain_file(engine, spool_file or Path(settings.deadletter_spool_file), report)
    _drain_redis(engine, client, report, limit)
    report.left += client.llen(keys.SPOOL) + client.llen(keys.SPOOL_DRAINING)
    if report.stored or report.left:
        logger.info("dead-letter spool drain: %s", report)
    return report


def _insert(engine: Engine, letter: Letter, report: DrainReport) -> str | None:
    """Store one spooled letter; the refusal to quarantine it with, when Postgres refused it.
    Raises when Postgres is unavailable."""
    try:
        written = repository.insert_quickly(engine, letter, settings.deadletter_write_timeout)
    except Exception as exc:
        if unavailable(exc):
            raise
        refusal = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        note = (
            f"stored without its payload: Postgres refused the full letter ({refusal});"
            " the original is in quarantine (celery -A config deadletters quarantine)"
        )
        minimal = letter.minimal_copy(note)
        repository.insert_quickly(engine, minimal, settings.deadletter_write_timeout)
        report.quarantined += 1
        return refusal
    if written:
        report.stored += 1
    else:
        report.already_stored += 1
    return None


def quarantined(client: redis.Redis | None = None, limit: int = 100) -> list[dict]:
    """The letters Postgres refused, newest last: the refusal and the letter as spooled."""
    client = client or redis_client.client()
    return [json.loads(item) for item in client.lrange(keys.SPOOL_QUARANTINE, -limit, -1)]


def _quarantine_entry(item: str | bytes, refusal: str) -> str:
    text = item.decode("utf-8", "replace") if isinstance(item, bytes) else item
    return json.dumps({"refusal": refusal, "letter": text, "at": time.time()})


def _drain_redis(engine: Engine, client: redis.Redis, report: DrainReport, limit: int) -> None:
    for _ in range(limit):
        # A letter left in DRAINING by a drain that died is retried first.
        item = client.lindex(keys.SPOOL_DRAINING, 0) or client.lmove(
            keys.SPOOL, keys.SPOOL_DRAINING, "LEFT", "RIGHT"
        )
        if item is None:
            return
        try:
            letter = Letter.from_json(item)
        except (ValueError, TypeError, KeyError) as exc:
            logger.critical(
                "unreadable item in the dead-letter spool (%s); kept aside in %s",
                exc,
                keys.SPOOL_UNREADABLE,
            )
            client.lmove(keys.SPOOL_DRAINING, keys.SPOOL_UNREADABLE, "LEFT", "RIGHT")
            continue
        try:
            refusal = _insert(engine, letter, report)
        except Exception as exc:
            logger.error("dead-letter drain stopped: Postgres unavailable (%s)", exc)
            client.lmove(keys.SPOOL_DRAINING, keys.SPOOL, "LEFT", "LEFT")
            return
        if refusal is not None:
            logger.error(
                "dead letter for %s[%s] refused by Postgres (%s): stored its minimal copy,"
                " the original kept in quarantine",
                letter.task_name, letter.task_id, refusal,
            )  # fmt: skip
            client.rpush(keys.SPOOL_QUARANTINE, _quarantine_entry(item, refusal))
        client.lrem(keys.SPOOL_DRAINING, 1, item)


def _drain_file(engine: Engine, path: Path, report: DrainReport) -> None:
    """One drainer at a time per file (a worker's own drain thread and the maintenance job in
    its pool, or units sharing a directory): a second one could otherwise remove the
    .draining file the first has just renamed in, unread. A busy file is left to its drainer."""
    if not filed(path):
        return
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.info("dead-letter spool file %s: another process drains it", path)
            return
        _drain_file_locked(engine, path, report)


def _drain_file_locked(engine: Engine, path: Path, report: DrainReport) -> None:
    draining = path.with_name(path.name + ".draining")
    if path.exists() and not draining.exists():
        path.rename(draining)  # atomic: writers from now on start a new file
    if not draining.exists():
        return
    lines = [line for line in draining.read_text(encoding="utf-8").splitlines() if line]
    for index, line in enumerate(lines):
        try:
            letter = Letter.from_json(line)
        except (ValueError, TypeError, KeyError) as exc:
            logger.critical("unreadable line in %s (%s); kept aside in .unreadable", draining, exc)
            with open(path.with_name(path.name + ".unreadable"), "a", encoding="utf-8") as bad:
                bad.write(line + "\n")
            continue
        try:
            refusal = _insert(engine, letter, report)
        except Exception as exc:
            logger.error("dead-letter drain stopped on %s: Postgres unavailable (%s)",
                         draining, exc)  # fmt: skip
            with open(path, "a", encoding="utf-8") as spool:
                spool.writelines(rest + "\n" for rest in lines[index:])
            report.left += len(lines) - index
            break
        if refusal is not None:
            logger.error("a letter in %s refused by Postgres (%s): quarantined", draining, refusal)
            with open(path.with_name(path.name + ".quarantine"), "a", encoding="utf-8") as bad:
                bad.write(_quarantine_entry(line, refusal) + "\n")
    draining.unlink()
