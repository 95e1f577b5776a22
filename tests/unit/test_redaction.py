"""Secrets are masked before anything leaves the process."""

import time

import pytest

from taskplatform.redaction import MASK, SCAN_LIMIT, redact, redact_text


def test_sensitive_keys_are_masked_at_any_depth():
    value = {
        "email": "ana@example.com",
        "password": "hunter2",
        "profile": {"API-Key": "k-123", "cards": [{"card_number": "4111111111111111"}]},
        "headers": [{"Authorization": "Bearer abc"}],
    }
    assert redact(value) == {
        "email": "ana@example.com",
        "password": MASK,
        "profile": {"API-Key": MASK, "cards": MASK},
        "headers": [{"Authorization": MASK}],
    }


def test_the_original_is_left_untouched():
    value = {"token": "t"}
    redact(value)
    assert value == {"token": "t"}


def test_secrets_inside_text_are_masked():
    text = (
        "login failed for ana: password=hunter2; "
        'payload {"api_key": "k-9"} Authorization: Bearer eyJhbGciOi '
        "card 4111 1111 1111 1111 via redis://user:s3cret@cache:6379/0"
    )
    masked = redact_text(text)
    for secret in ("hunter2", "k-9", "eyJhbGciOi", "4111 1111", "s3cret"):
        assert secret not in masked
    assert "login failed for ana" in masked
    assert "redis://user:[REDACTED]@cache:6379/0" in masked


def test_ordinary_text_and_numbers_pass_unchanged():
    text = "quote 2024-0012 for 3 seats at 45000 PHP, order 12345"
    assert redact_text(text) == text


def test_long_numbers_that_are_not_card_numbers_pass_unchanged():
    text = "message <179543673591.19038.17114400851840456868@taskplatform> id 1234567890123"
    assert redact_text(text) == text
    assert redact_text("card 4111-1111-1111-1111") == f"card {MASK}"


def test_token_and_bearer_forms_are_masked():
    text = "auth failed: token abc123def, header Bearer eyJhbGciOiJIUzI1NiJ9 then password hunter22"
    masked = redact_text(text)
    for secret in ("abc123def", "eyJhbGciOiJIUzI1NiJ9", "hunter22"):
        assert secret not in masked
    assert masked.count(MASK) == 3


def test_a_word_after_token_that_is_no_secret_stays():
    text = "the token expired; password reset requested"
    assert redact_text(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "a" * 20_000,
        "password" * 3_000,
        "token" * 4_000,
        "a=" * 10_000,
        '"password":"' * 2_000,
        "redis://" * 3_000,
        "ab://cd:" * 3_000,
        "1 " * 10_000,
        "token " * 4_000,
        "4111-" * 5_000,
    ],
    ids=lambda text: repr(text[:10]),
)
def test_redaction_is_linear_on_long_unbroken_text(text):
    # A quadratic pattern took 49 s on 20 kB; this bound has a margin of about 50x
    started = time.perf_counter()
    redact_text(text)
    assert time.perf_counter() - started < 0.5


def test_text_past_the_scan_limit_is_cut_and_its_length_noted():
    text = "password=hunter2 " + "x" * (SCAN_LIMIT * 80)  # 5 MB
    started = time.perf_counter()
    masked = redact_text(text)
    assert time.perf_counter() - started < 0.5
    assert masked.startswith(f"password={MASK} ")
    assert masked.endswith(f"[{len(text) - SCAN_LIMIT} more characters cut]")
    assert len(masked) < SCAN_LIMIT + 100


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("X-Api-Key: sk_live_abc", f"X-Api-Key: {MASK}"),
        ("api-key=abc123", f"api-key={MASK}"),
        ('{"password": "x\\"y z"}', f'{{"password": {MASK}}}'),
        ("redis://:p@ss@cache/0", f"redis://:{MASK}@cache/0"),
        ("access_token abc123", f"access_token {MASK}"),
        ("tokenizer v2 loaded; tokens 42", "tokenizer v2 loaded; tokens 42"),
    ],
)
def test_more_forms_of_secrets(text, masked):
    assert redact_text(text) == masked


def test_redacting_twice_changes_nothing_more():
    text = "password=hunter2 token abc123 redis://u:pw@h/0 Bearer x 4111 1111 1111 1111"
    once = redact_text(text)
    assert redact_text(once) == once


def test_bytes_and_card_numbers_given_as_numbers_are_masked_too():
    assert redact([b"password=hunter2", 4111111111111111, 1234567890123456, 42, True]) == [
        f"password={MASK}",
        MASK,
        1234567890123456,
        42,
        True,
    ]
