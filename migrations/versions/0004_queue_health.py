"""Queue-health snapshots, written every minute by beat's housekeeping.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "queue_health",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("task_name", sa.String(255), nullable=False),
        sa.Column("pending", sa.Integer, nullable=False),
        sa.Column("in_flight", sa.Integer, nullable=False),
        sa.Column("oldest_age_seconds", sa.Float),
        sa.Column("done", sa.Integer, nullable=False),
        sa.Column("failed", sa.Integer, nullable=False),
        sa.Column("runtime_ms", sa.BigInteger, nullable=False),
        sa.Column("dead_letters", sa.Integer, nullable=False),
    )
    op.create_index("queue_health_taken_at", "queue_health", ["taken_at"])
    op.create_index("queue_health_task", "queue_health", ["task_name", "taken_at"])


def downgrade() -> None:
    op.drop_table("queue_health")
