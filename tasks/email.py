"""Queue `email`: outgoing mail, sent once per idempotency key (see mail/send.py)."""

from __future__ import annotations

from datetime import timedelta

from config import app, database, smtp
from config.errors import PermanentError
from config.settings import settings
from mail import matches, quotes
from mail import send as mail
from tasks import quote as quote_tasks


def _connect():
    if not settings.smtp_url:
        raise PermanentError("SMTP_URL is not set: no mail server to send through")
    return smtp.connect(settings.smtp_url)


def _send(message: dict, idempotency_key: str) -> dict:
    # A claim older than the longest a task may run belongs to an attempt that died.
    return mail.send(database.engine(), _connect, message, idempotency_key, settings.smtp_from,
                     stale_after=timedelta(seconds=settings.task_time_limit))  # fmt: skip


@app.task(name="email.send_email", retry_preset="patient", dependency="smtp")
def send_email(message: dict, idempotency_key: str) -> dict:
    """Send `message` ({to, template, context} or {to, subject, body}) once per key."""
    return _send(message, idempotency_key)


@app.task(name="email.send_candidate_matches", retry_preset="patient", dependency="smtp")
def send_candidate_matches(lead_id: int, candidate_ids: list[int]) -> dict:
    """Mail a lead the candidates picked for them, once per (lead, candidates)."""
    message, key = matches.compose(database.engine(), lead_id, candidate_ids)
    return _send(message, key)


@app.task(name="email.send_quote", retry_preset="patient", dependency="smtp")
def send_quote(
    request: dict | str, to: str, name: str | None = None, currency: str | None = None
) -> dict:
    """Price `request` in `currency` (as quote.generate_quote does, from its cache when fresh)
    and mail the quote to `to`, once per quote and recipient."""
    quote = quote_tasks.priced(request, currency)
    message, key = quotes.compose(quote, to, name)
    return {**_send(message, key), "monthly_php": quote["totals"]["monthly_php"]}
