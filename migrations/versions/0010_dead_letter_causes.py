"""Dead letters grouped by cause: `cause` (the message with numbers, ids and e-mail
addresses masked) and `fingerprint` (task, reason, exception type and cause, hashed),
both computed by Postgres from the row (deadletters/causes.py says why).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

The expressions are written out, frozen here as a migration must be; adding the columns
computes them for every letter already stored.
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

CAUSE = r"""left(
  regexp_replace(
    regexp_replace(
      regexp_replace(
        regexp_replace(
          regexp_replace(
            coalesce(exception_message, ''),
            '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<id>', 'gi'),
          '\m(?=[0-9a-f]*[0-9])[0-9a-f]{12,}\M', '<id>', 'gi'),
        '[^[:space:]@''"<>]+@[^[:space:]@''"<>]+', '<email>', 'g'),
      '(^|[^[:alnum:]_.#-])-?[0-9]+([.,][0-9]+)*', '\1#', 'g'),
    '[[:space:]]+', ' ', 'g'),
  300)"""
FINGERPRINT = (
    "left(md5(task_name || chr(10) || reason || chr(10) || coalesce(exception_type, '')"
    f" || chr(10) || {CAUSE}), 16)"
)


def upgrade() -> None:
    op.execute(
        f"ALTER TABLE dead_letters ADD COLUMN cause text GENERATED ALWAYS AS ({CAUSE}) STORED"
    )
    op.execute(
        "ALTER TABLE dead_letters ADD COLUMN fingerprint text"
        f" GENERATED ALWAYS AS ({FINGERPRINT}) STORED"
    )
    op.create_index("dead_letters_fingerprint", "dead_letters", ["fingerprint", "failed_at"])


def downgrade() -> None:
    op.drop_index("dead_letters_fingerprint", table_name="dead_letters")
    op.drop_column("dead_letters", "fingerprint")
    op.drop_column("dead_letters", "cause")
