"""`taskplatform-outbox`: the outbox's tables and its relay, for a web app's Procfile.

    taskplatform-outbox migrate    create the tables (idempotent), in OUTBOX_DATABASE_URL
    taskplatform-outbox relay      publish committed rows until stopped (SIGTERM)
    taskplatform-outbox status     backlog, lag and unfinished rows, as JSON

The broker is the client's (REDIS_URL); a Django project migrates with its own
`migrate` instead (the app `taskplatform.outbox.django`).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from taskplatform.outbox.relay import Relay, RelaySettings, connect, run_relay
from taskplatform.outbox.schema import STATEMENTS


def migrate(settings: RelaySettings) -> None:
    with connect(settings.database_url) as db, db.transaction():
        db.execute("SELECT pg_advisory_xact_lock(hashtext('taskplatform_outbox_migrate'))")
        for statement in STATEMENTS:
            db.execute(statement)


def status(settings: RelaySettings) -> dict[str, float]:
    relay = Relay(settings)
    relay.db = connect(settings.database_url)
    try:
        return relay.stats()
    finally:
        relay.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="taskplatform-outbox", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=("migrate", "relay", "status"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = RelaySettings.from_environment()
    if args.command == "migrate":
        migrate(settings)
        print("outbox tables are in place")
    elif args.command == "status":
        print(json.dumps(status(settings)))
    else:
        run_relay(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
