"""Secrets are masked before anything leaves the process."""

from config.redaction import MASK, redact, redact_text


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
