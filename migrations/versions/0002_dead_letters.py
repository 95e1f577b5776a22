"""Dead letters: one row per job that finally failed.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

REASONS = (
    "exhausted",
    "permanent",
    "time_limit",
    "worker_lost",
    "unknown_task",
    "rejected",
    "undecodable",
)


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("task_id", sa.String(255), nullable=False, unique=True),
        sa.Column("task_name", sa.String(255), nullable=False),
        sa.Column("queue", sa.String(255)),
        sa.Column("args", JSONB, nullable=False),
        sa.Column("kwargs", JSONB, nullable=False),
        sa.Column("message", JSONB, nullable=False),
        sa.Column("payload_sealed", sa.Text),
        sa.Column("redacted", sa.Boolean, nullable=False),
        sa.Column("exception_type", sa.String(255)),
        sa.Column("exception_message", sa.Text),
        sa.Column("traceback", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("hostname", sa.String(255)),
        sa.Column(
            "failed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.Column("resolved_by", sa.String(255)),
        sa.Column("resolution_note", sa.Text),
        sa.Column("replayed_as", sa.String(255)),
        sa.Column("replayed_at", sa.DateTime(timezone=True)),
        sa.Column("replayed_by", sa.String(255)),
        sa.Column(
            "replay_of", sa.BigInteger, sa.ForeignKey("dead_letters.id", ondelete="SET NULL")
        ),
        sa.CheckConstraint(
            "reason IN (" + ", ".join(f"'{r}'" for r in REASONS) + ")",
            name="dead_letters_reason_known",
        ),
    )
    op.create_index("dead_letters_failed_at", "dead_letters", ["failed_at"])
    op.create_index("dead_letters_task_name", "dead_letters", ["task_name"])
    op.create_index(
        "dead_letters_unresolved",
        "dead_letters",
        ["failed_at"],
        postgresql_where=sa.text("resolved_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("dead_letters")
