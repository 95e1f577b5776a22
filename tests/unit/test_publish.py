"""The publish guard's plain decisions (the paths through it run in
tests/integration/test_publish_paths.py)."""

import pytest

from config.publish import prepare
from taskplatform.errors import PayloadError
from taskplatform.guard import ARGS_REPR_LIMIT, job_task_id


def prepared(**options):
    task_id = prepare("quote.x", ["a"], {"password": "p"}, None, None, None, options)
    return task_id, options


def test_the_same_task_and_key_give_the_same_id_and_others_do_not():
    assert job_task_id("quote.x", "req-1") == job_task_id("quote.x", "req-1")
    assert job_task_id("quote.x", "req-1") != job_task_id("quote.x", "req-2")
    assert job_task_id("quote.x", "req-1") != job_task_id("email.x", "req-1")


def test_a_job_key_marks_the_message_publish_once_and_a_given_task_id_wins():
    task_id, options = prepared(job_key="req-1")
    assert task_id == job_task_id("quote.x", "req-1")
    assert options["headers"]["x_publish_once"] > 0
    assert "job_key" not in options
    with pytest.raises(PayloadError, match="cannot go with task_id"):
        prepare("quote.x", [], {}, None, None, "mine", {"job_key": "req-1"})


def test_a_delayed_keyed_job_is_remembered_while_it_waits():
    _, options = prepared(job_key="req-1")
    delayed = {"job_key": "req-1"}
    prepare("quote.x", [], {}, 7200, None, None, delayed)
    assert delayed["headers"]["x_publish_once"] == options["headers"]["x_publish_once"] + 7200


def test_a_caller_cannot_override_the_protocol_headers():
    _, options = prepared(headers={"argsrepr": "password=hunter2", "id": "other", "mine": 1})
    assert options["headers"] == {
        "mine": 1, "enqueued_at": options["headers"]["enqueued_at"]
    }  # fmt: skip
    assert "hunter2" not in options["argsrepr"]


def test_embedded_signatures_count_toward_the_payload_cap():
    with pytest.raises(PayloadError, match="over the cap"):
        prepare("quote.x", [], {}, None, None, None, {"chain": [{"args": ["x" * 300_000]}]})
    with pytest.raises(PayloadError, match="not JSON-serialisable"):
        prepare("quote.x", [], {}, None, None, None, {"link": [{"args": [object()]}]})


def test_stored_headers_never_carry_the_publish_once_mark_on():
    # a retry or a replay passes the stored headers: it is a new publish, not a repeat
    _, options = prepared(headers={"x_publish_once": 86400, "x_correlation_id": "r-1"})
    assert "x_publish_once" not in options["headers"]
    assert options["headers"]["x_correlation_id"] == "r-1"


def test_a_callers_own_argsrepr_is_redacted_and_cut():
    _, options = prepared(argsrepr="('password=hunter2',)" + "x" * 2000)
    assert "hunter2" not in options["argsrepr"]
    assert len(options["argsrepr"]) == ARGS_REPR_LIMIT
    assert options["kwargsrepr"] == "{'password': '[REDACTED]'}"


@pytest.mark.parametrize("serializer", ["pickle", "yaml", "msgpack"])
def test_only_json_is_sent(serializer):
    with pytest.raises(PayloadError, match=f"serializer '{serializer}' refused"):
        prepared(serializer=serializer)
    assert prepared(serializer="json")[1]["serializer"] == "json"


def deep(levels: int) -> list:
    value: list = ["x"]
    for _ in range(levels - 1):
        value = [value]
    return value


@pytest.mark.parametrize("levels", [101, 480, 600, 5000])
def test_arguments_nested_too_deep_are_refused_with_payload_error_at_any_depth(levels):
    # Given arguments nested past TASK_MAX_DEPTH (100), in args, kwargs or a chain's link
    for args, kwargs, options in (
        ([deep(levels)], {}, {}),
        ([], {"q": deep(levels)}, {}),
        ([], {}, {"chain": [{"task": "quote.x", "args": [deep(levels)]}]}),
    ):
        # Then the guard refuses them by name, never with a bare RecursionError
        with pytest.raises(PayloadError, match="nest deeper than 100 levels"):
            prepare("quote.x", args, kwargs, None, None, None, options)


def test_arguments_within_the_depth_limit_are_sent():
    options: dict = {}
    assert prepare("quote.x", [deep(98)], {}, None, None, None, options) is None
    assert options["argsrepr"].startswith("[[[")


def test_arguments_that_contain_themselves_are_refused():
    looped: list = []
    looped.append(looped)
    with pytest.raises(PayloadError, match="contain themselves"):
        prepare("quote.x", [looped], {}, None, None, None, {})


def test_a_callers_own_headers_count_toward_the_cap_and_the_depth_limit():
    # Given 30 kB of custom headers beside small arguments, under a 256 KiB cap: sent
    prepare("quote.x", ["a"], {}, None, None, None, {"headers": {"note": "x" * 30_000}})
    # When the headers alone pass the cap, or nest too deep, or are not a dict
    with pytest.raises(PayloadError, match="over the cap"):
        prepare("quote.x", ["a"], {}, None, None, None, {"headers": {"note": "x" * 270_000}})
    with pytest.raises(PayloadError, match="headers nest deeper"):
        prepare("quote.x", ["a"], {}, None, None, None, {"headers": {"n": deep(200)}})
    with pytest.raises(PayloadError, match="headers must be a dict"):
        prepare("quote.x", ["a"], {}, None, None, None, {"headers": "x"})
    with pytest.raises(PayloadError, match="headers are not JSON"):
        prepare("quote.x", ["a"], {}, None, None, None, {"headers": {"n": object()}})
