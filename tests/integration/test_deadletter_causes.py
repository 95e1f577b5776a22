"""Dead letters grouped by cause: what Postgres computes from each row, the grouping ops
triage with, and acting on one cause from the CLI."""

from __future__ import annotations

import json
import uuid

from click.testing import CliRunner
from sqlalchemy import text

from config import database
from deadletters import causes, cli, repository
from deadletters.letters import Letter


def store(task: str, error: str | None, reason: str = "permanent", kind: str = "ValueError"):
    letter = Letter(
        task_id=uuid.uuid4().hex, task_name=task, queue=task.split(".")[0], args=[], kwargs={},
        message={"headers": {}}, payload_sealed=None, redacted=False, exception_type=kind,
        exception_message=error, traceback=None, attempts=1, reason=reason, hostname="test",
    )  # fmt: skip
    with database.session() as db:
        assert repository.insert(db, letter)
    with database.session() as db:
        return db.scalars(repository.select(repository.DeadLetter).where(
            repository.DeadLetter.task_id == letter.task_id)).one()  # fmt: skip


def test_the_stored_columns_are_what_causes_py_computes(services):
    # Given letters with numbers, ids, addresses and odd whitespace in their messages
    task = f"search.t_{uuid.uuid4().hex[:8]}"
    messages = [
        "per_page must be between 1 and 100, got 1000",
        "job 3f2a1c9e-1b2c-4d5e-8f90-123456789abc failed for ana@example.com after 12.5 s",
        "id deadbeef1234cafe:\n  count 10,000 of -3",
        "it's \\1 and 'quoted' \"text\"",
        None,
    ]
    rows = [store(task, message) for message in messages]
    # Then the columns the migration made hold exactly what deadletters/causes.py says, so
    # the model and the migration cannot drift apart
    with database.session() as db:
        query = (
            f"SELECT cause, fingerprint, {causes.cause_sql()} AS c, {causes.fingerprint_sql()}"
            " AS f FROM dead_letters WHERE task_name = :t ORDER BY id"
        )
        found = db.execute(text(query), {"t": task}).all()
    assert [(r.cause, r.fingerprint) for r in found] == [(r.c, r.f) for r in found]
    assert [r.cause for r in found] == [
        "per_page must be between # and #, got #",
        "job <id> failed for <email> after # s",
        "id <id>: count # of #",
        "it's \\# and 'quoted' \"text\"",  # a backslash is no letter: \1 is a number
        "",
    ]
    assert all(len(row.fingerprint) == causes.FINGERPRINT_LENGTH for row in rows)


def test_one_cause_per_task_reason_error_and_masked_message(services):
    task = f"search.t_{uuid.uuid4().hex[:8]}"
    other = f"crm.t_{uuid.uuid4().hex[:8]}"
    same = [store(task, f"per_page must be between 1 and 100, got {n}") for n in (1000, 500, 101)]
    astronaut = store(task, "no role 'astronaut'")
    pilot = store(task, "no role 'pilot'")
    other_task = store(other, "per_page must be between 1 and 100, got 1000")
    refused = store(task, "per_page must be between 1 and 100, got 7", reason="invalid_input")
    other_type = store(task, "per_page must be between 1 and 100, got 9", kind="TypeError")

    assert len({x.fingerprint for x in same}) == 1
    # Quoted words are kept (different roles may be different fixes); task, reason and
    # exception type each make a cause of their own
    others = [astronaut, pilot, other_task, refused, other_type]
    assert len({x.fingerprint for x in [same[0], *others]}) == 6

    with database.session() as db:
        repository.resolve(db, [same[0].id], by="test", note="fixed")
    with database.session() as db:
        grouped = repository.causes(db, repository.Filters(task=task))
    by_print = {row["fingerprint"]: row for row in grouped}
    row = by_print[same[0].fingerprint]
    assert (row["letters"], row["open"]) == (3, 2)
    assert row["first_seen"] == same[0].failed_at and row["last_seen"] == same[-1].failed_at
    assert row["cause"] == "per_page must be between # and #, got #"
    assert row["queues"] == ["search"]
    assert row["latest_id"] == same[-1].id
    # Causes with open letters first, then the newest
    assert grouped[0]["open"] > 0
    # Only the open ones when asked
    with database.session() as db:
        unresolved = repository.causes(db, repository.Filters(task=task, unresolved=True))
    assert {r["fingerprint"]: r["open"] for r in unresolved}[same[0].fingerprint] == 2


def test_the_cli_lists_causes_and_resolves_one_whole_cause(services):
    task = f"search.t_{uuid.uuid4().hex[:8]}"
    letters = [store(task, f"no page {n}") for n in range(3)]
    keep = store(task, "no role 'astronaut'")
    fingerprint = letters[0].fingerprint
    runner = CliRunner()

    listed = runner.invoke(cli.deadletters, ["causes", "--task", task, "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert {(r["cause"], r["open"], r["message"]) for r in rows} == {
        (fingerprint, 3, "no page #"), (keep.fingerprint, 1, "no role 'astronaut'")}  # fmt: skip
    human = runner.invoke(cli.deadletters, ["causes", "--task", task])
    assert fingerprint in human.output and "2 cause(s)" in human.output

    resolved = runner.invoke(
        cli.deadletters, ["resolve", "--cause", fingerprint, "--note", "page links fixed",
                          "--by", "ops", "--json"])  # fmt: skip
    assert resolved.exit_code == 0, resolved.output
    with database.session() as db:
        after = {x.id: x.resolved_at is not None for x in
                 repository.find(db, repository.Filters(task=task), limit=10)}  # fmt: skip
    assert after == {**{x.id: True for x in letters}, keep.id: False}
