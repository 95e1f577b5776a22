"""The chaos outbox scenario's web app: business rows and their jobs in one transaction each.

    python -m tests.chaos.outbox_writer SCENARIO FIRST COUNT SECONDS

Writes COUNT orders (ids FIRST, FIRST+1, ...) spread over SECONDS, each in its own
transaction with `taskplatform.outbox.publish`; every third transaction is rolled back on
purpose, after its publish, and its id recorded apart (in a transaction of its own). Talks
to Postgres only, as a web app's request does with the outbox: the broker's faults cannot
touch it. Prints a JSON summary.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from taskplatform import TaskHandle
from taskplatform.outbox import publish

EFFECT = TaskHandle("search.chaos_order_effect")


class RolledBack(Exception):
    pass


def main(scenario: str, first: int, count: int, seconds: float) -> dict:
    engine = create_engine(os.environ["DATABASE_URL"])
    rng = random.Random(scenario)
    committed = rolled_back = 0
    started = time.monotonic()
    for n in range(count):
        order = first + n
        pause = started + n * seconds / count - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        try:
            with Session(engine) as session, session.begin():
                session.execute(
                    text("INSERT INTO chaos_orders (id, scenario) VALUES (:id, :s)"),
                    {"id": order, "s": scenario},
                )
                publish(session, EFFECT, (order, rng.uniform(0.02, 0.2)))
                if n % 3 == 2:
                    raise RolledBack
            committed += 1
        except RolledBack:
            with engine.begin() as db:
                db.execute(
                    text("INSERT INTO chaos_rolled_back (id, scenario) VALUES (:id, :s)"),
                    {"id": order, "s": scenario},
                )
            rolled_back += 1
    return {"committed": committed, "rolled_back": rolled_back}


if __name__ == "__main__":
    name, first, count, seconds = sys.argv[1:5]
    print(json.dumps(main(name, int(first), int(count), float(seconds))))
