"""The chaos ledger suite: every acknowledged publish runs at least once or is a dead letter.

Each scenario runs real `celery worker` processes (started from the Procfile's `worker` line)
against a private Redis it kills, stops or freezes, while a publisher subprocess records each
acknowledged publish in Postgres and the ledger task records each execution there too.
`CHAOS=full` runs the full fault counts (`make chaos`); anything else runs the light pass.
"""
