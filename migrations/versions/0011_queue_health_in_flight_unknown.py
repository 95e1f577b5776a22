"""Queue-health snapshots may say a queue's jobs in flight are unknown (NULL): RabbitMQ tells
them only through its management API, and an unknown count must not read as 0.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("queue_health", "in_flight", nullable=True)


def downgrade() -> None:
    op.execute("UPDATE queue_health SET in_flight = 0 WHERE in_flight IS NULL")
    op.alter_column("queue_health", "in_flight", nullable=False)
