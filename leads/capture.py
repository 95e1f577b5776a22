"""Capturing a lead: validate, upsert on the normalised email, push to the CRM webhook when
the CRM does not have these details yet.

A lead is refused (`InvalidLead`, naming the field) rather than stored altered or left for
Postgres to reject: a field of the wrong type, a control character (a NUL would reach
Postgres as a raw DataError; tab and line breaks are whitespace, normalised away), or a
value longer than its column once whitespace is normalised (it used to be cut silently).

The push is idempotent twice over. `pushed_digest` records a digest of the details the CRM
accepted (set with `pushed_at`, only after it accepted them), so a redelivered job, or the
same lead posted again, does not push again; a returning lead whose name, company or source
changed is pushed again. Each push carries an `Idempotency-Key` derived from the lead id, the
digest of the details it sends and the time of the previous push: the same push retried
(a 503, a redelivered job) sends the same key, and different details, or details pushed
again after others (A, B, then A again), send a new key, so the CRM does not discard them
as a replay of an earlier push.

The key of a first push changed from `lead-{id}` to this form too: keeping `lead-{id}` would
let the CRM discard a first push of newer details as a replay of an earlier attempt that it
accepted but the worker never recorded. The cost, once, at deploy: a first push accepted
and not yet recorded then is sent again under the new key, the same details twice. Rows
pushed before `pushed_digest` existed keep NULL there, meaning "pushed under `lead-{id}`,
details unknown": their next capture pushes once more (under a new key), which also carries
any change the CRM missed before.

429, 5xx and timeouts are transient (a `Retry-After` is honoured by the base task); other
4xx are permanent.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import Engine, text

from config.errors import InvalidInput

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")
FIELDS = ("email", "name", "company", "source")
#: The column lengths (migrations/versions/0003_domain_tables.py), after normalisation.
LIMITS = {"email": 320, "name": 200, "company": 200, "source": 100}
#: C0 and C1 control characters other than tab and line breaks (whitespace, normalised).
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
#: Lone surrogates: a JSON string can carry them, UTF-8 (and so Postgres) cannot.
SURROGATE = re.compile(r"[\ud800-\udfff]")


class InvalidLead(InvalidInput):
    """A lead missing a field, with a field that is not acceptable text, or with an email
    address that is not one."""


@dataclass(frozen=True)
class Lead:
    email: str
    name: str
    company: str
    source: str


@dataclass(frozen=True)
class Stored:
    """A lead's row after the upsert: what decides whether to push."""

    id: int
    created: bool
    pushed_digest: str | None
    pushed_at: datetime | None


def validate(lead: dict[str, Any]) -> Lead:
    """The lead normalised (emails and sources lowercased, runs of whitespace made one
    space), or InvalidLead naming every field that is missing or of the wrong type."""
    if not isinstance(lead, dict):
        raise InvalidLead(f"a lead is an object with {', '.join(FIELDS)}")
    missing = [f for f in FIELDS if lead.get(f) is None or _blank(lead[f])]
    wrong = [
        f"{f} must be a string, not {type(lead[f]).__name__}"
        for f in FIELDS
        if f not in missing and not isinstance(lead[f], str)
    ]
    problems = ([f"lead is missing {', '.join(missing)}"] if missing else []) + wrong
    if problems:
        raise InvalidLead("; ".join(problems))
    for field in FIELDS:
        _check_characters(field, lead[field])
    valid = Lead(
        email=lead["email"].strip().lower(),
        name=" ".join(lead["name"].split()),
        company=" ".join(lead["company"].split()),
        source=lead["source"].strip().lower(),
    )
    for field, limit in LIMITS.items():
        length = len(getattr(valid, field))
        if length > limit:
            raise InvalidLead(f"{field} is {length} characters, longer than its limit of {limit}")
    if not EMAIL.match(valid.email):  # after the length check: no regex over 5,000 characters
        raise InvalidLead(f"not an email address: {lead['email']!r}")
    return valid


def _blank(value: Any) -> bool:
    return isinstance(value, str) and not value.strip()


def _check_characters(field: str, value: str) -> None:
    control = CONTROL.search(value)
    if control:
        raise InvalidLead(f"{field} holds a control character (U+{ord(control[0]):04X})")
    surrogate = SURROGATE.search(value)
    if surrogate:
        raise InvalidLead(f"{field} holds U+{ord(surrogate[0]):04X}, which is not text")


def digest_of(lead: Lead) -> str:
    """A digest of the details a push sends (64 hex characters, `leads.pushed_digest`)."""
    canonical = json.dumps(asdict(lead), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def push_key(lead_id: int, digest: str, previous_push: datetime | None) -> str:
    """The Idempotency-Key of pushing details `digest` after the push at `previous_push`:
    the same for a retry of that push, new for other details or for the same details after
    another push (see the module docstring)."""
    after = previous_push.astimezone(UTC).isoformat() if previous_push else "none"
    version = hashlib.sha256(f"{digest}:{after}".encode()).hexdigest()
    return f"lead-{lead_id}-{version[:16]}"


def upsert(engine: Engine, lead: Lead) -> Stored:
    """Store the lead; its id, whether it is new, and what was last pushed of it."""
    with engine.begin() as db:
        row = db.execute(
            text(
                "INSERT INTO leads (email, name, company, source) VALUES"
                " (:email, :name, :company, :source)"
                " ON CONFLICT (email) DO UPDATE SET name = excluded.name,"
                " company = excluded.company, source = excluded.source, updated_at = now()"
                " RETURNING id, (xmax = 0) AS created, pushed_digest, pushed_at"
            ),
            asdict(lead),
        ).one()
    return Stored(row.id, row.created, row.pushed_digest, row.pushed_at)


def push(engine: Engine, client: httpx.Client, url: str, stored: Stored, lead: Lead) -> None:
    """POST the lead to the CRM webhook and record what was pushed once the CRM accepted it.

    A refused or failed call raises httpx's own error (HTTPStatusError with the status and
    Retry-After, or a network error); the failure policy decides whether it is retried."""
    digest = digest_of(lead)
    response = client.post(
        url,
        json={"id": stored.id, **asdict(lead)},
        headers={"Idempotency-Key": push_key(stored.id, digest, stored.pushed_at)},
    )
    response.raise_for_status()
    with engine.begin() as db:
        db.execute(
            text("UPDATE leads SET pushed_at = now(), pushed_digest = :digest WHERE id = :id"),
            {"id": stored.id, "digest": digest},
        )


def capture(
    engine: Engine, client: httpx.Client | None, webhook_url: str | None, lead: dict[str, Any]
) -> dict[str, Any]:
    """Validate, upsert, and push when a webhook is configured and the CRM was not yet sent
    these details. `pushed` in the result says whether this capture pushed."""
    valid = validate(lead)
    stored = upsert(engine, valid)
    pushed = False
    if webhook_url and client is not None and stored.pushed_digest != digest_of(valid):
        push(engine, client, webhook_url, stored, valid)
        pushed = True
    return {"lead_id": stored.id, "email": valid.email, "created": stored.created, "pushed": pushed}


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
