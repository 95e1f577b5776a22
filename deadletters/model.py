"""The `dead_letters` table (created by migration 0002)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from deadletters.causes import cause_sql, fingerprint_sql
from deadletters.letters import REASONS


class Base(DeclarativeBase):
    pass


class DeadLetter(Base):
    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    task_id: Mapped[str] = mapped_column(String(255))
    failure_key: Mapped[str] = mapped_column(String(255), unique=True)
    task_name: Mapped[str] = mapped_column(String(255))
    queue: Mapped[str | None] = mapped_column(String(255))
    args: Mapped[Any] = mapped_column(JSONB)
    kwargs: Mapped[Any] = mapped_column(JSONB)
    message: Mapped[dict] = mapped_column(JSONB)
    payload_sealed: Mapped[str | None] = mapped_column(Text)
    redacted: Mapped[bool] = mapped_column(Boolean)
    exception_type: Mapped[str | None] = mapped_column(String(255))
    exception_message: Mapped[str | None] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(32))
    hostname: Mapped[str | None] = mapped_column(String(255))
    failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[str | None] = mapped_column(String(255))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    replayed_as: Mapped[str | None] = mapped_column(String(255))
    replayed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    replayed_by: Mapped[str | None] = mapped_column(String(255))
    replay_of: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("dead_letters.id", ondelete="SET NULL")
    )
    #: Computed by Postgres from the row (deadletters/causes.py); never written.
    cause: Mapped[str] = mapped_column(Text, Computed(cause_sql(), persisted=True))
    fingerprint: Mapped[str] = mapped_column(Text, Computed(fingerprint_sql(), persisted=True))

    __table_args__ = (
        CheckConstraint(
            "reason IN (" + ", ".join(f"'{r}'" for r in REASONS) + ")",
            name="dead_letters_reason_known",
        ),
        Index("dead_letters_failed_at", "failed_at"),
        Index("dead_letters_task_name", "task_name"),
        Index("dead_letters_task_id", "task_id"),
        Index("dead_letters_unresolved", "failed_at", postgresql_where=text("resolved_at IS NULL")),
        Index("dead_letters_fingerprint", "fingerprint", "failed_at"),
    )
