"""The only code that reads or writes the `dead_letters` table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Select, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from deadletters.letters import NOT_PAGING, Letter
from deadletters.model import DeadLetter


@dataclass(frozen=True)
class Filters:
    """Which dead letters an ops command means. Empty filters mean all of them."""

    task: str | None = None
    queue: str | None = None
    reason: str | None = None
    exception_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    unresolved: bool = False
    resolved: bool = False
    #: Only the reasons that page (not refused user input: letters.NOT_PAGING).
    paging: bool = False
    #: One cause (deadletters/causes.py).
    fingerprint: str | None = None

    def apply(self, query: Select) -> Select:
        conditions = {
            DeadLetter.task_name: self.task,
            DeadLetter.queue: self.queue,
            DeadLetter.reason: self.reason,
            DeadLetter.exception_type: self.exception_type,
            DeadLetter.fingerprint: self.fingerprint,
        }
        for column, value in conditions.items():
            if value is not None:
                query = query.where(column == value)
        if self.since is not None:
            query = query.where(DeadLetter.failed_at >= self.since)
        if self.until is not None:
            query = query.where(DeadLetter.failed_at < self.until)
        if self.unresolved:
            query = query.where(DeadLetter.resolved_at.is_(None))
        if self.resolved:
            query = query.where(DeadLetter.resolved_at.is_not(None))
        if self.paging:
            query = query.where(DeadLetter.reason.not_in(NOT_PAGING))
        return query


def insert(db: Session, letter: Letter) -> bool:
    """Store a dead letter once per failure (its `failure_key`): a letter captured or
    drained twice writes one row, a second failure under a reused task id writes its own.
    True when a row was written."""
    row = letter.row()
    statement = (
        pg_insert(DeadLetter)
        .values(**row)
        .on_conflict_do_nothing(index_elements=[DeadLetter.failure_key])
        .returning(DeadLetter.id)
    )
    return db.execute(statement).first() is not None


def insert_quickly(engine: Engine, letter: Letter, timeout: float) -> bool:
    """`insert` that gives up after `timeout` seconds of statement time (a hung server)."""
    with Session(engine) as db, db.begin():
        db.execute(text(f"SET LOCAL statement_timeout = {int(timeout * 1000)}"))
        return insert(db, letter)


def get(db: Session, letter_id: int) -> DeadLetter | None:
    return db.get(DeadLetter, letter_id)


def get_many(db: Session, ids: list[int]) -> list[DeadLetter]:
    query = select(DeadLetter).where(DeadLetter.id.in_(ids)).order_by(DeadLetter.id)
    return list(db.scalars(query))


def find(db: Session, filters: Filters, limit: int = 50, offset: int = 0) -> list[DeadLetter]:
    """Newest first."""
    query = filters.apply(select(DeadLetter))
    query = query.order_by(DeadLetter.failed_at.desc(), DeadLetter.id.desc())
    return list(db.scalars(query.limit(limit).offset(offset)))


def latest_for_task(db: Session, task_id: str) -> DeadLetter | None:
    """The newest letter of a task id (a job can fail more than once under one id)."""
    query = select(DeadLetter).where(DeadLetter.task_id == task_id)
    return db.scalars(query.order_by(DeadLetter.failed_at.desc()).limit(1)).first()


def lineage(
    db: Session, letter: DeadLetter, limit: int = 50, descendants: bool = True
) -> dict[str, list[DeadLetter]]:
    """The letters this one is a replay of (oldest first), and the replays of it that
    failed again (breadth first): a failure's whole history of replays."""
    ancestors: list[DeadLetter] = []
    seen = {letter.id}
    current = letter
    while current.replay_of and current.replay_of not in seen and len(ancestors) < limit:
        parent = db.get(DeadLetter, current.replay_of)
        if parent is None:
            break
        ancestors.insert(0, parent)
        seen.add(parent.id)
        current = parent
    found: list[DeadLetter] = []
    frontier = [letter.id] if descendants else []
    while frontier and len(found) < limit:
        query = select(DeadLetter).where(DeadLetter.replay_of.in_(frontier))
        children = [c for c in db.scalars(query.order_by(DeadLetter.id)) if c.id not in seen]
        seen.update(c.id for c in children)
        found += children
        frontier = [c.id for c in children]
    return {"ancestors": ancestors, "descendants": found[:limit]}


def count(db: Session, filters: Filters) -> int:
    return db.scalar(filters.apply(select(func.count(DeadLetter.id)))) or 0


def lock_for_replay(db: Session, letter_id: int) -> DeadLetter | None:
    """The row, locked until the transaction ends, so two replays cannot race."""
    query = select(DeadLetter).where(DeadLetter.id == letter_id).with_for_update()
    return db.scalars(query).first()


def mark_replayed(db: Session, letter_id: int, new_task_id: str, by: str) -> None:
    db.execute(
        update(DeadLetter)
        .where(DeadLetter.id == letter_id)
        .values(replayed_as=new_task_id, replayed_at=func.now(), replayed_by=by)
    )


def resolve(db: Session, ids: list[int], by: str, note: str | None) -> int:
    """Mark unresolved letters resolved; the number changed."""
    result = db.execute(
        update(DeadLetter)
        .where(DeadLetter.id.in_(ids), DeadLetter.resolved_at.is_(None))
        .values(resolved_at=func.now(), resolved_by=by, resolution_note=note)
    )
    return result.rowcount or 0


def ids_matching(db: Session, filters: Filters) -> list[int]:
    query = filters.apply(select(DeadLetter.id)).order_by(DeadLetter.failed_at, DeadLetter.id)
    return list(db.scalars(query))


def purge_resolved(db: Session, older_than: timedelta) -> int:
    """Delete resolved letters resolved longer ago than `older_than`; the number deleted."""
    cutoff = datetime.now(UTC) - older_than
    result = db.execute(
        delete(DeadLetter).where(
            DeadLetter.resolved_at.is_not(None), DeadLetter.resolved_at < cutoff
        )
    )
    return result.rowcount or 0


def stats(db: Session, filters: Filters) -> dict[str, Any]:
    """Counts by task, by reason and by day (UTC), and how many are unresolved."""

    def grouped(column) -> dict[str, int]:
        query = filters.apply(select(column, func.count(DeadLetter.id))).group_by(column)
        return {str(key): n for key, n in db.execute(query.order_by(column))}

    day = func.to_char(func.timezone("UTC", DeadLetter.failed_at), "YYYY-MM-DD")
    unresolved = Filters(**{**filters.__dict__, "unresolved": True})
    return {
        "total": count(db, filters),
        "unresolved": count(db, unresolved),
        "by_task": grouped(DeadLetter.task_name),
        "by_reason": grouped(DeadLetter.reason),
        "by_day": grouped(day),
    }


def causes(db: Session, filters: Filters, limit: int = 200) -> list[dict[str, Any]]:
    """The letters `filters` match, one row per cause: its letters, how many are open, when
    it was first and last seen, and its queues; causes with open letters first, then the
    most recent."""
    open_letters = func.count(DeadLetter.id).filter(DeadLetter.resolved_at.is_(None))
    query = filters.apply(
        select(
            DeadLetter.fingerprint,
            DeadLetter.task_name,
            DeadLetter.reason,
            DeadLetter.exception_type,
            DeadLetter.cause,
            func.count(DeadLetter.id).label("letters"),
            open_letters.label("open"),
            func.min(DeadLetter.failed_at).label("first_seen"),
            func.max(DeadLetter.failed_at).label("last_seen"),
            func.array_agg(func.distinct(DeadLetter.queue)).label("queues"),
            func.max(DeadLetter.id).label("latest_id"),
        )
    )
    query = query.group_by(
        DeadLetter.fingerprint,
        DeadLetter.task_name,
        DeadLetter.reason,
        DeadLetter.exception_type,
        DeadLetter.cause,
    )
    query = query.order_by((open_letters > 0).desc(), func.max(DeadLetter.failed_at).desc())
    rows = db.execute(query.limit(limit)).mappings()
    return [{**row, "queues": sorted(q for q in row["queues"] if q)} for row in rows]


def unresolved_older_than(db: Session, age: timedelta) -> list[DeadLetter]:
    cutoff = datetime.now(UTC) - age
    query = (
        select(DeadLetter)
        .where(DeadLetter.resolved_at.is_(None), DeadLetter.failed_at < cutoff)
        .order_by(DeadLetter.failed_at)
    )
    return list(db.scalars(query))


def unresolved_by_queue(db: Session) -> dict[str, int]:
    query = (
        select(DeadLetter.queue, func.count(DeadLetter.id))
        .where(DeadLetter.resolved_at.is_(None))
        .group_by(DeadLetter.queue)
    )
    return {queue: n for queue, n in db.execute(query) if queue is not None}


def unresolved_by_reason(db: Session) -> dict[str, int]:
    query = (
        select(DeadLetter.reason, func.count(DeadLetter.id))
        .where(DeadLetter.resolved_at.is_(None))
        .group_by(DeadLetter.reason)
    )
    return {reason: n for reason, n in db.execute(query)}
