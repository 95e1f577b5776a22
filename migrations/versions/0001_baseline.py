"""Baseline: an empty schema, so `release` has a head to reach before any table exists.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
