"""Capturing a lead: validate, upsert on the normalised email, push to the CRM webhook once.

The push is idempotent twice over: the request carries an `Idempotency-Key` stable for the
lead, and a `pushed_at` marker set only after the CRM accepted it, so a redelivered job
does not push again. 429, 5xx and timeouts are transient (a `Retry-After` is honoured by
the base task); other 4xx are permanent.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import httpx
from sqlalchemy import Engine, text

from config.errors import PermanentError

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")
FIELDS = ("email", "name", "company", "source")


class InvalidLead(PermanentError):
    """A lead missing a field, or with an email address that is not one."""


@dataclass(frozen=True)
class Lead:
    email: str
    name: str
    company: str
    source: str


def validate(lead: dict[str, Any]) -> Lead:
    if not isinstance(lead, dict):
        raise InvalidLead(f"a lead is an object with {', '.join(FIELDS)}")
    missing = [f for f in FIELDS if not isinstance(lead.get(f), str) or not lead[f].strip()]
    if missing:
        raise InvalidLead(f"lead is missing {', '.join(missing)}")
    email = lead["email"].strip().lower()
    if not EMAIL.match(email) or len(email) > 320:
        raise InvalidLead(f"not an email address: {lead['email']!r}")
    return Lead(
        email=email,
        name=" ".join(lead["name"].split())[:200],
        company=" ".join(lead["company"].split())[:200],
        source=lead["source"].strip().lower()[:100],
    )


def upsert(engine: Engine, lead: Lead) -> tuple[int, bool, bool]:
    """Store the lead; (id, whether it is new, whether it was already pushed)."""
    with engine.begin() as db:
        row = db.execute(
            text(
                "INSERT INTO leads (email, name, company, source) VALUES"
                " (:email, :name, :company, :source)"
                " ON CONFLICT (email) DO UPDATE SET name = excluded.name,"
                " company = excluded.company, source = excluded.source, updated_at = now()"
                " RETURNING id, (xmax = 0) AS created, pushed_at IS NOT NULL AS pushed"
            ),
            asdict(lead),
        ).one()
    return row.id, row.created, row.pushed


def push(engine: Engine, client: httpx.Client, url: str, lead_id: int, lead: Lead) -> None:
    """POST the lead to the CRM webhook and mark it pushed once the CRM accepted it.

    A refused or failed call raises httpx's own error (HTTPStatusError with the status and
    Retry-After, or a network error); the failure policy decides whether it is retried."""
    response = client.post(
        url,
        json={"id": lead_id, **asdict(lead)},
        headers={"Idempotency-Key": f"lead-{lead_id}"},
    )
    response.raise_for_status()
    with engine.begin() as db:
        db.execute(text("UPDATE leads SET pushed_at = now() WHERE id = :id"), {"id": lead_id})


def capture(
    engine: Engine, client: httpx.Client | None, webhook_url: str | None, lead: dict[str, Any]
) -> dict[str, Any]:
    """Validate, upsert, push (when a webhook is configured and not yet pushed)."""
    valid = validate(lead)
    lead_id, created, pushed = upsert(engine, valid)
    if webhook_url and client is not None and not pushed:
        push(engine, client, webhook_url, lead_id, valid)
        pushed = True
    return {"lead_id": lead_id, "email": valid.email, "created": created, "pushed": pushed}


def contact(engine: Engine, lead_id: int) -> dict[str, Any] | None:
    """A lead's id, email, name and company, or None: what other domains may read of it."""
    with engine.connect() as db:
        row = (
            db.execute(
                text("SELECT id, email, name, company FROM leads WHERE id = :id"), {"id": lead_id}
            )
            .mappings()
            .first()
        )
    return dict(row) if row is not None else None
