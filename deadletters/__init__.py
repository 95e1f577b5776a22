"""Dead letters: every job that finally failed, kept in Postgres, redacted, replayable.

model       the `dead_letters` table
letters     what one dead letter holds, built from a failure (no Celery, no database)
repository  the only code that reads or writes the table
payload     sealing the real arguments for replay (Fernet), the rest redacted
spool       where a dead letter waits when Postgres cannot take it, and the drain
capture     the signal handlers and worker hooks that turn failures into dead letters
transport   the Redis transport that survives bytes that are not a message at all
replay      re-publishing a dead letter's original message
alerts      telling ops about unresolved dead letters
cli         `celery -A config deadletters ...`
"""
