"""What a lead capture accepts, and the error that names what it does not (no database: a
lead is checked before it reaches Postgres); the push's Idempotency-Key as plain values."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from leads.capture import InvalidLead, Lead, digest_of, push_key, validate


def lead(**fields) -> dict:
    return {"email": " Ana@Example.com ", "name": " Ana   Cruz ", "company": "Cruz  Co",
            "source": " Web ", **fields}  # fmt: skip


def test_a_lead_is_normalised():
    assert validate(lead(name="Ana\tCruz\r\n")) == Lead(
        email="ana@example.com", name="Ana Cruz", company="Cruz Co", source="web"
    )


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"name": "Ana\x00Cruz"}, "name holds a control character (U+0000)"),
        ({"email": "ana\x00@example.com"}, "email holds a control character (U+0000)"),
        ({"company": "Cruz\x1bCo"}, "company holds a control character (U+001B)"),
        ({"source": "web\x7f"}, "source holds a control character (U+007F)"),
        ({"name": "Ana\x85Cruz"}, "name holds a control character (U+0085)"),
        ({"name": "Ana\ud800"}, "name holds U+D800, which is not text"),
    ],
)
def test_a_control_character_is_refused_naming_the_field(fields, said):
    with pytest.raises(InvalidLead) as raised:
        validate(lead(**fields))
    assert said in str(raised.value)


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"name": 42}, "name must be a string, not int"),
        ({"company": ["Cruz Co"]}, "company must be a string, not list"),
        ({"source": True}, "source must be a string, not bool"),
        ({"name": None}, "lead is missing name"),
        ({"name": "   "}, "lead is missing name"),
        ({"name": 42, "company": ""}, "lead is missing company; name must be a string, not int"),
    ],
)
def test_a_field_of_the_wrong_type_is_not_called_missing(fields, said):
    with pytest.raises(InvalidLead) as raised:
        validate(lead(**fields))
    assert str(raised.value) == said


def test_a_missing_field_is_missing():
    given = lead()
    del given["company"]
    with pytest.raises(InvalidLead, match="^lead is missing company$"):
        validate(given)


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"name": "x" * 5000}, "name is 5000 characters, longer than its limit of 200"),
        ({"company": "x" * 201}, "company is 201 characters, longer than its limit of 200"),
        ({"source": "x" * 101}, "source is 101 characters, longer than its limit of 100"),
        ({"email": "a" * 5000 + "@example.com"}, "email is 5012 characters, longer than its"
         " limit of 320"),
    ],
)  # fmt: skip
def test_a_field_longer_than_its_column_is_refused_not_cut(fields, said):
    with pytest.raises(InvalidLead) as raised:
        validate(lead(**fields))
    assert said in str(raised.value)


def test_the_limit_applies_after_whitespace_is_normalised():
    assert validate(lead(name="  " + "x " * 100 + "   " * 1000)).name == " ".join(["x"] * 100)
    assert len(validate(lead(company="x" * 200)).company) == 200


def test_the_push_key_changes_with_the_details_and_with_each_push():
    # Given the details of a lead and the same lead with another company
    first, other = validate(lead()), validate(lead(company="Other Co"))
    pushed_at = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    # Then a key names the lead, is stable for one push, and differs for other details
    key = push_key(7, digest_of(first), None)
    assert key.startswith("lead-7-") and len(key) == len("lead-7-") + 16
    assert key == push_key(7, digest_of(validate(lead())), None)
    assert push_key(7, digest_of(other), None) != key
    # And details pushed again after another push (A, B, then A again) get a key of their own
    assert push_key(7, digest_of(first), pushed_at) != key
    # The instant counts, not the time zone Postgres reported it in
    manila = pushed_at.astimezone(timezone(timedelta(hours=8)))
    assert push_key(7, digest_of(first), manila) == push_key(7, digest_of(first), pushed_at)
    assert push_key(7, digest_of(first), pushed_at + timedelta(microseconds=1)) != push_key(
        7, digest_of(first), pushed_at
    )
