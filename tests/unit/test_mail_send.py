"""Who a message goes to, checked before any SMTP server is involved: addresses are trimmed
before they are validated, and a value that is not an address is named."""

import pytest

from mail.send import InvalidMessage, build, recipients_of


def test_addresses_are_trimmed_before_they_are_validated():
    assert recipients_of({"to": " Ana@Example.com "}) == ["ana@example.com"]
    assert recipients_of({"to": ["ana@example.com", "\tben@example.com\n"]}) == [
        "ana@example.com",
        "ben@example.com",
    ]


@pytest.mark.parametrize(
    ("to", "said"),
    [
        (None, "at least one recipient"),
        ([], "at least one recipient"),
        ("  ", "not an email address: '  '"),
        ("not-an-address", "not an email address: 'not-an-address'"),
        ("ana @example.com", "not an email address: 'ana @example.com'"),
        (["ana@example.com", 5], "'to' must hold strings, not int: 5"),
        (5, "'to' must be an address or a list of addresses, not int: 5"),
        ({"a": "ana@example.com"}, "'to' must be an address or a list of addresses, not dict"),
    ],
)
def test_a_recipient_that_is_not_an_address_is_named(to, said):
    with pytest.raises(InvalidMessage) as raised:
        recipients_of({"to": to})
    assert said in str(raised.value)


def notice(**extra) -> dict:
    return {"to": "ana@example.com", "subject": "s", "body": "b", **extra}


def test_reply_to_is_trimmed_like_a_recipient():
    mime = build(notice(reply_to=" Desk@Example.com "), "platform@example.com")
    assert mime["Reply-To"] == "desk@example.com"


@pytest.mark.parametrize(
    ("reply_to", "said"),
    [
        ("not an address", "'reply_to' is not an email address: 'not an address'"),
        (5, "'reply_to' must be an address, not int: 5"),
        (["desk@example.com"], "'reply_to' must be an address, not list"),
    ],
)
def test_a_reply_to_that_is_not_an_address_is_refused(reply_to, said):
    with pytest.raises(InvalidMessage) as raised:
        build(notice(reply_to=reply_to), "platform@example.com")
    assert said in str(raised.value)
