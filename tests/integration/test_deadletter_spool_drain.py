"""A worker drains its own spool file while it runs, not only when it starts: on Kubernetes
the file sits on the worker pod's own volume (deploy/kubernetes), which no other process
reaches, so a letter filed there must not wait for the pod's next restart."""

from __future__ import annotations

import uuid

from deadletters import capture, spool
from deadletters.letters import from_job
from tests import harness


def test_a_running_worker_drains_letters_filed_on_its_disk(worker_process, tmp_path):
    # Given a worker that has started (its start-up drain found nothing)
    spool_file = tmp_path / "volume" / "deadletter-spool.jsonl"
    worker_process(["search"], env={"DEADLETTER_SPOOL_FILE": str(spool_file)})

    # When a letter lands in its file (written while Postgres and Redis were both away)
    task_id = f"filed-{uuid.uuid4()}"
    letter = from_job(task_id=task_id, task_name="search.search_candidates", queue="search",
                      args=[], kwargs={}, embed={}, headers={}, properties={},
                      exception_type="X", exception_message="x", traceback=None, attempts=1,
                      reason="permanent", hostname="h")  # fmt: skip
    spool.append_to_file(spool_file, letter)

    # Then the worker itself moves it into Postgres, and the file is gone
    harness.wait_for(lambda: harness.letters_for(task_id), capture.LOCAL_DRAIN_SECONDS + 20)
    harness.wait_for(lambda: not spool.filed(spool_file), 10)
