"""Sending one message exactly once per idempotency key.

At-least-once delivery means a job can run twice; a customer must not get two emails. Each
send first claims its key in `sent_emails` (UNIQUE), in a transaction of its own, then talks
to SMTP, then marks the row sent. A second run of the same key finds the claim:
- `sent`: nothing to do, it answers `already_sent`;
- `sending`, claimed recently: another attempt is at it; retry later (transient);
- `sending`, claimed longer ago than a task may run: an attempt died mid-send and the mail
  may or may not have left; rather than risk a duplicate it fails permanently, so the job
  becomes a dead letter for a person to decide.
A failed send releases its claim, so the retry can claim again, and raises smtplib's (or
the socket's) own error: whether it is retried (a timeout, a 4xx) or not (a 5xx, a feature
the server lacks) is the failure policy's decision (config/failure_policy.py).

Addresses (`to`, `reply_to`) are trimmed before they are checked, so " ana@example.com " is
taken. An address that is not ASCII (josé@example.com) goes only through a server that
advertises SMTPUTF8; any other server refuses it on every attempt, so that is `NeedsSmtpUtf8`,
a permanent error naming the addresses, raised before anything is sent.
"""

from __future__ import annotations

import re
import smtplib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr
from typing import Any

from sqlalchemy import Engine, text

from config.errors import InvalidInput, PermanentError, TransientError
from mail.render import render

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class InvalidMessage(InvalidInput):
    """A message that cannot be sent as given."""


class NeedsSmtpUtf8(PermanentError):
    """An address that is not ASCII, and a mail server that does not advertise SMTPUTF8."""


def recipients_of(message: dict[str, Any]) -> list[str]:
    """The `to` addresses, trimmed and lowercased; each is checked once trimmed."""
    to = message.get("to")
    if isinstance(to, str):
        values = [to]
    elif isinstance(to, list | tuple) or to is None:
        values = list(to or [])
    else:
        raise InvalidMessage(
            f"'to' must be an address or a list of addresses, not {_described(to)}"
        )
    if not values:
        raise InvalidMessage("a message needs at least one recipient in 'to'")
    for value in values:
        if not isinstance(value, str):
            raise InvalidMessage(f"'to' must hold strings, not {_described(value)}")
    bad = [value for value in values if not EMAIL.match(value.strip())]
    if bad:
        raise InvalidMessage(f"not an email address: {', '.join(map(repr, bad))}")
    return [value.strip().lower() for value in values]


def reply_to_of(message: dict[str, Any]) -> str | None:
    """The `reply_to` address, trimmed and lowercased like a recipient; None when absent or
    blank."""
    value = message.get("reply_to")
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidMessage(f"'reply_to' must be an address, not {_described(value)}")
    if not value.strip():
        return None
    if not EMAIL.match(value.strip()):
        raise InvalidMessage(f"'reply_to' is not an email address: {value!r}")
    return value.strip().lower()


def _described(value: object) -> str:
    return f"{type(value).__name__}: {value!r:.80}"


def build(message: dict[str, Any], sender: str) -> EmailMessage:
    """The MIME message: a template (`template` + `context`) or a plain `subject` + `body`."""
    recipients = recipients_of(message)
    if "template" in message:
        rendered = render(message["template"], dict(message.get("context") or {}))
    elif "subject" in message and "body" in message:
        rendered = render("notice", {"subject": message["subject"], "body": message["body"],
                                     "name": message.get("name")})  # fmt: skip
    else:
        raise InvalidMessage("a message needs 'template' (and 'context'), or 'subject' and 'body'")
    mime = EmailMessage()
    mime["Subject"] = rendered.subject
    mime["From"] = sender
    mime["To"] = ", ".join(recipients)
    reply_to = reply_to_of(message)
    if reply_to:
        mime["Reply-To"] = reply_to
    mime["Message-ID"] = make_msgid(domain="taskplatform")
    mime.set_content(rendered.text)
    mime.add_alternative(rendered.html, subtype="html")
    return mime


def send(
    engine: Engine,
    connect: Callable[[], smtplib.SMTP],
    message: dict[str, Any],
    idempotency_key: str,
    sender: str,
    stale_after: timedelta,
) -> dict[str, Any]:
    """Send `message` once for `idempotency_key`; what happened, as a JSON-ready dict."""
    if not idempotency_key or len(idempotency_key) > 255:
        raise InvalidMessage("an idempotency key of 1 to 255 characters is required")
    mime = build(message, sender)
    recipients = recipients_of(message)
    claim = _claim(engine, idempotency_key, recipients, str(mime["Subject"]), stale_after)
    if claim == "sent":
        return {"status": "already_sent", "idempotency_key": idempotency_key}
    if claim == "in_progress":
        raise TransientError(f"mail {idempotency_key} is being sent by another attempt",
                             retry_after=30)  # fmt: skip
    if claim == "unknown":
        raise PermanentError(
            f"mail {idempotency_key}: an earlier attempt died while sending and may have"
            " delivered it; not sending again (check the mail log, then resolve or replay)"
        )
    try:
        with connect() as client:
            _deliver(client, mime, sender, recipients)
    except Exception:
        _release(engine, idempotency_key)
        raise
    _mark_sent(engine, idempotency_key, str(mime["Message-ID"]))
    return {"status": "sent", "idempotency_key": idempotency_key,
            "message_id": str(mime["Message-ID"]), "recipients": recipients}  # fmt: skip


def _deliver(client: smtplib.SMTP, mime: EmailMessage, sender: str, recipients: list[str]) -> None:
    """Hand `mime` to the server. An address that is not ASCII needs SMTPUTF8 (RFC 6531): a
    server without it refuses the mail on every attempt, so say so permanently, naming the
    addresses, rather than let smtplib raise its generic SMTPNotSupportedError. smtplib asks
    for SMTPUTF8 only when the envelope is not ASCII and would mangle a Reply-To alone into
    an encoded word, so such a mail is flattened as UTF-8 and sent with the option here."""
    envelope_from = parseaddr(sender)[1]
    reply_to = [str(mime["Reply-To"])] if mime["Reply-To"] else []
    wide = [address for address in (envelope_from, *recipients, *reply_to) if not address.isascii()]
    if not wide:
        client.send_message(mime)
        return
    client.ehlo_or_helo_if_needed()
    if not client.has_extn("smtputf8"):
        raise NeedsSmtpUtf8(
            f"the mail server does not advertise SMTPUTF8, which an address that is not ASCII"
            f" needs: {', '.join(wide)}"
        )
    data = mime.as_bytes(policy=mime.policy.clone(utf8=True, linesep="\r\n"))
    client.sendmail(envelope_from, recipients, data, mail_options=["SMTPUTF8", "BODY=8BITMIME"])


def _claim(engine: Engine, key: str, recipients: list[str], subject: str,
           stale_after: timedelta) -> str:  # fmt: skip
    with engine.begin() as db:
        claimed = db.execute(
            text(
                "INSERT INTO sent_emails (idempotency_key, status, recipients, subject)"
                " VALUES (:key, 'sending', :recipients, :subject)"
                " ON CONFLICT (idempotency_key) DO NOTHING RETURNING id"
            ),
            {"key": key, "recipients": recipients, "subject": subject},
        ).first()
        if claimed:
            return "claimed"
        status, claimed_at = db.execute(
            text("SELECT status, claimed_at FROM sent_emails WHERE idempotency_key = :key"),
            {"key": key},
        ).one()
    if status == "sent":
        return "sent"
    if datetime.now(UTC) - claimed_at < stale_after:
        return "in_progress"
    return "unknown"


def _release(engine: Engine, key: str) -> None:
    with engine.begin() as db:
        db.execute(
            text("DELETE FROM sent_emails WHERE idempotency_key = :key AND status = 'sending'"),
            {"key": key},
        )


def _mark_sent(engine: Engine, key: str, message_id: str) -> None:
    with engine.begin() as db:
        db.execute(
            text(
                "UPDATE sent_emails SET status = 'sent', sent_at = now(), message_id = :mid"
                " WHERE idempotency_key = :key"
            ),
            {"key": key, "mid": message_id},
        )


def purge_records(engine: Engine, older_than_days: int) -> int:
    """Forget send claims older than the retention: the idempotency window for a key."""
    with engine.begin() as db:
        return db.execute(
            text("DELETE FROM sent_emails WHERE claimed_at < now() - make_interval(days => :d)"),
            {"d": older_than_days},
        ).rowcount
