"""Once-only effects: `taskplatform_once`, the jobs whose writes a task committed
(tasks/once.py), in the platform's own database.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

Written out here, frozen as a migration must be; web apps get the same table from
`taskplatform-outbox migrate` (taskplatform/outbox/schema.py).
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS taskplatform_once (
            job_id text PRIMARY KEY,
            task text NOT NULL,
            result text,
            done_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        "CREATE INDEX IF NOT EXISTS taskplatform_once_done_at ON taskplatform_once (done_at)"
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS taskplatform_once")
