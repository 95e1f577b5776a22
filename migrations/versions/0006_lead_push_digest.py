"""What was pushed to the CRM: a digest of the lead details last accepted by the CRM webhook.

A returning lead whose name, company or source changed is pushed again under an
Idempotency-Key derived from this digest (see leads/capture.py). Rows pushed before this
revision keep NULL: pushed under the original key `lead-{id}`, details unknown, so their next
capture pushes once more.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("leads", sa.Column("pushed_digest", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("leads", "pushed_digest")
