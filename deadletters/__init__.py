"""Dead letters: every job that finally failed, kept in Postgres, redacted, replayable.

model       the `dead_letters` table
letters     what one dead letter holds, built from a failure (no Celery, no database)
repository  the only code that reads or writes the table
causes      a letter's cause and fingerprint (computed by Postgres), for triage
payload     sealing the real arguments for replay (Fernet), the rest redacted
spool       where a dead letter waits when Postgres cannot take it, and the drain
capture     the signal handlers that turn failures into dead letters (worker/ calls it)
intake      dead letters for what the Redis transport refuses or loses (broker/)
exchange    RabbitMQ's delivery bound and dead-letter exchange, as dead letters
replay      re-publishing a dead letter's original message
alerts      telling ops about unresolved dead letters
views       what a letter shows, redacted, for the CLI and the web app (webapp/)
cli         `celery -A config deadletters ...`
"""
