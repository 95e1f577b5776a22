"""Building a dead letter: what is shown is redacted, the real arguments only sealed."""

import json
from types import SimpleNamespace

import pytest
from billiard.exceptions import WorkerLostError
from celery.app.task import Context
from celery.exceptions import Reject, SoftTimeLimitExceeded, TimeLimitExceeded

from config.delivery import DeliveryBoundExceeded
from config.errors import PermanentError, TransientError
from config.failure_policy import Fail, attach, reason_for
from deadletters import capture, payload
from deadletters.cli import parse_duration
from deadletters.letters import Letter, from_job, from_raw
from deadletters.replay import ReplayError, original_message


def letter(**overrides) -> Letter:
    fields = dict(
        task_id="t-1", task_name="crm.capture_lead", queue="crm", args=["ana@example.com"],
        kwargs={"api_key": "k-123", "source": "web"}, embed={}, headers={"replay_of": "7"},
        properties={"priority": 0}, exception_type="PermanentError",
        exception_message="refused: token=abc123", traceback="Traceback ... token=abc123",
        attempts=2, reason="permanent", hostname="w1",
    )  # fmt: skip
    fields.update(overrides)
    return from_job(**fields)


def test_shown_arguments_and_texts_are_redacted():
    made = letter()
    assert made.kwargs == {"api_key": "[REDACTED]", "source": "web"}
    assert made.redacted is True
    assert "abc123" not in made.exception_message + made.traceback
    assert made.replay_of == 7


def test_the_real_arguments_are_sealed_and_open_again():
    made = letter()
    assert "k-123" not in made.payload_sealed
    assert payload.unseal(made.payload_sealed)["kwargs"]["api_key"] == "k-123"


def test_a_letter_survives_the_spool_format():
    made = letter()
    assert Letter.from_json(made.to_json()) == made


def row_like(made: Letter, letter_id: int = 1, sealed: bool = True) -> SimpleNamespace:
    data = made.row()
    if not sealed:
        data["payload_sealed"] = None
    return SimpleNamespace(id=letter_id, **data)


def test_replay_uses_the_sealed_arguments():
    assert original_message(row_like(letter()))["kwargs"]["api_key"] == "k-123"


def test_replay_refuses_redacted_arguments_that_were_not_sealed():
    with pytest.raises(ReplayError, match="redacted and no DEADLETTER_ENCRYPTION_KEY"):
        original_message(row_like(letter(), sealed=False))


def test_replay_of_unredacted_arguments_needs_no_seal():
    plain = letter(kwargs={"source": "web"}, exception_message="x", traceback=None)
    assert original_message(row_like(plain, sealed=False))["kwargs"] == {"source": "web"}


def test_raw_bytes_are_never_replayable():
    raw = from_raw(task_id="u-1", task_name="(undecodable)", queue="crm", raw=b"\xff hi",
                   headers=None, exception_type="NotAMessage", exception_message="x",
                   reason="undecodable", hostname=None)  # fmt: skip
    assert raw.message["raw_size"] == 4
    with pytest.raises(ReplayError, match="not replayable"):
        original_message(row_like(raw))


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (DeliveryBoundExceeded("x"), "worker_lost"),
        (WorkerLostError("x"), "worker_lost"),
        (TimeLimitExceeded(2), "time_limit"),
        (SoftTimeLimitExceeded(), "time_limit"),
        (Reject("no", requeue=False), "rejected"),
        (TransientError("later"), "exhausted"),
        (ConnectionError(), "exhausted"),
        (PermanentError("bad"), "permanent"),
        (ValueError("bad"), "permanent"),
    ],
)
def test_reasons_of_failures_no_attempt_decided_on(exc, reason):
    assert reason_for(exc) == reason


def test_capture_records_the_decision_the_base_task_was_given():
    request = Context(id="t-1")
    attach(request, Fail("exhausted"))
    assert capture.reason_for(request, "t-1", ValueError("bad")) == "exhausted"  # as decided
    # another job's request, or none: the exception's own reason
    assert capture.reason_for(request, "t-2", ValueError("bad")) == "permanent"
    assert capture.reason_for(None, "t-1", ValueError("bad")) == "permanent"
    assert capture.reason_for(Context(id="t-1"), "t-1", ValueError("bad")) == "permanent"


@pytest.mark.parametrize(("text", "seconds"), [("30d", 2592000), ("2h", 7200), ("0s", 0)])
def test_durations(text, seconds):
    assert parse_duration(text).total_seconds() == seconds


def test_nul_and_lone_surrogates_are_written_out_where_postgres_would_refuse_them():
    # Postgres text and jsonb cannot hold NUL: one such letter must not block the spool
    made = letter(task_id="t-\x00", args=["a\x00b", "\ud800"], kwargs={"k\x00": "v"},
                  exception_message="bad \x00 byte")  # fmt: skip
    assert "\\u0000" not in json.dumps(made.row(), default=str)
    assert made.args == ["a\\x00b", "\\ud800"] and made.task_id == "t-\\x00"
    raw = from_raw(task_id="r", task_name="(undecodable)", queue="q", raw=b"x\x00y",
                   headers={"h": "\x00"}, exception_type="E", exception_message="m",
                   reason="undecodable", hostname=None)  # fmt: skip
    assert raw.message["raw"] == "x\\x00y" and raw.message["headers"] == {"h": "\\x00"}


def test_a_minimal_letter_is_short_plain_and_storable():
    from deadletters.letters import minimal

    letter = minimal(
        task_id="t\x00" + "x" * 400, task_name=None, queue="q" * 300, reason="no-such-reason",
        exception_type="E", note="the full letter could not be built (MemoryError: )",
    )  # fmt: skip
    row = letter.row()
    assert "\x00" not in row["task_id"] and len(row["task_id"]) == 255
    assert row["task_name"] == "(unknown)" and len(row["queue"]) == 255
    assert row["reason"] == "undecodable"  # the table's check accepts it
    assert row["args"] == [] and row["payload_sealed"] is None
    assert row["failure_key"]


def test_a_superseded_letter_is_stored_resolved():
    from deadletters.letters import minimal

    letter = minimal(task_id="t", task_name="n", queue=None, reason="time_limit",
                     exception_type="E", note="n")  # fmt: skip
    letter.superseded = True
    row = letter.row()
    assert row["resolved_by"] == "superseded" and row["resolved_at"] == letter.failed_at
    assert "superseded" not in row
