"""Dead letters of refused user input: reason `invalid_input` (counted, never paging).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

The reasons are written out, frozen here as a migration must be.
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BEFORE = ("exhausted", "permanent", "time_limit", "worker_lost", "unknown_task", "rejected",
          "undecodable")  # fmt: skip
AFTER = (*BEFORE, "invalid_input")


def _allow(reasons: tuple[str, ...]) -> None:
    op.drop_constraint("dead_letters_reason_known", "dead_letters", type_="check")
    op.create_check_constraint(
        "dead_letters_reason_known",
        "dead_letters",
        "reason IN (" + ", ".join(f"'{r}'" for r in reasons) + ")",
    )


def upgrade() -> None:
    _allow(AFTER)


def downgrade() -> None:
    op.execute("UPDATE dead_letters SET reason = 'permanent' WHERE reason = 'invalid_input'")
    _allow(BEFORE)
