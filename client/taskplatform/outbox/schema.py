"""The outbox's tables, in the web app's own Postgres: the one definition, which
`taskplatform-outbox migrate` and the Django migration both apply.

- `taskplatform_outbox`: one row per job a transaction published. The row holds the whole
  message as the broker will queue it (built and checked at `publish`), so the relay only
  moves bytes. A row is kept until its job finished (succeeded, or ended as a dead letter),
  not merely until it was published: it is the ledger the relay republishes from when the
  broker lost its data, and finished rows are purged by age.
- `taskplatform_outbox_relays`: what each relay saw of the broker's epoch last (the data-loss
  check survives a relay's restart).
- `taskplatform_once`: the jobs whose effects a task committed (`tasks/once.py` on the
  platform's side): a redelivered job finds its id here and does not write twice.

Every statement is idempotent (IF NOT EXISTS, OR REPLACE): migrating twice changes nothing.
"""

from __future__ import annotations

TABLE = "taskplatform_outbox"
RELAYS = "taskplatform_outbox_relays"
ONCE = "taskplatform_once"
#: The notification channel an insert wakes the relays on (sent at commit, never on rollback).
CHANNEL = "taskplatform_outbox"

STATEMENTS = (
    f"""
    CREATE TABLE IF NOT EXISTS {TABLE} (
        id bigserial PRIMARY KEY,
        job_id text NOT NULL UNIQUE,
        task text NOT NULL,
        queue text NOT NULL,
        message text NOT NULL,
        event text,
        once_window integer NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        published_at timestamptz,
        publishes integer NOT NULL DEFAULT 0,
        finished_at timestamptz
    )
    """,
    f"CREATE INDEX IF NOT EXISTS {TABLE}_unpublished ON {TABLE} (id) WHERE published_at IS NULL",
    f"""
    CREATE INDEX IF NOT EXISTS {TABLE}_unfinished ON {TABLE} (id)
        WHERE published_at IS NOT NULL AND finished_at IS NULL
    """,
    f"CREATE INDEX IF NOT EXISTS {TABLE}_finished ON {TABLE} (finished_at)",
    f"""
    CREATE OR REPLACE FUNCTION {TABLE}_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('{CHANNEL}', '');
        RETURN NULL;
    END
    $$
    """,
    # Made only when missing: a DROP and CREATE at every deploy would lock the table.
    f"""
    DO $$
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = '{TABLE}_notify') THEN
            CREATE TRIGGER {TABLE}_notify AFTER INSERT ON {TABLE}
                FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_notify();
        END IF;
    END
    $$
    """,
    f"""
    CREATE TABLE IF NOT EXISTS {RELAYS} (
        name text PRIMARY KEY,
        epoch text NOT NULL,
        seq bigint NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    f"""
    CREATE TABLE IF NOT EXISTS {ONCE} (
        job_id text PRIMARY KEY,
        task text NOT NULL,
        result text,
        done_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    f"CREATE INDEX IF NOT EXISTS {ONCE}_done_at ON {ONCE} (done_at)",
)

#: Undo, for the Django migration's reverse (and a web app removing the outbox).
DROP = (
    f"DROP TABLE IF EXISTS {TABLE}",
    f"DROP FUNCTION IF EXISTS {TABLE}_notify()",
    f"DROP TABLE IF EXISTS {RELAYS}",
    f"DROP TABLE IF EXISTS {ONCE}",
)

#: A job, as `publish` writes it (psycopg and Django placeholders; SQLAlchemy gets `:name`).
INSERT = (
    f"INSERT INTO {TABLE} (job_id, task, queue, message, event, once_window)"
    " VALUES (%(job_id)s, %(task)s, %(queue)s, %(message)s, %(event)s, %(once_window)s)"
    " ON CONFLICT (job_id) DO NOTHING"
)
