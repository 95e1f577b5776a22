"""One dead-letter row per failure, not per task id: a reused task id that fails again is
another row. Existing rows keep their task id as their failure key.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("dead_letters", sa.Column("failure_key", sa.String(255), nullable=True))
    op.execute("UPDATE dead_letters SET failure_key = task_id")
    op.alter_column("dead_letters", "failure_key", nullable=False)
    op.create_unique_constraint("dead_letters_failure_key_key", "dead_letters", ["failure_key"])
    op.drop_constraint("dead_letters_task_id_key", "dead_letters", type_="unique")
    op.create_index("dead_letters_task_id", "dead_letters", ["task_id"])


def downgrade() -> None:
    op.drop_index("dead_letters_task_id", "dead_letters")
    op.create_unique_constraint("dead_letters_task_id_key", "dead_letters", ["task_id"])
    op.drop_constraint("dead_letters_failure_key_key", "dead_letters", type_="unique")
    op.drop_column("dead_letters", "failure_key")
