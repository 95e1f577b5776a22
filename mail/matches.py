"""The candidate-matches email: a lead and the candidates picked for them."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Engine, text

from config.errors import PermanentError


class UnknownRecord(PermanentError):
    """A lead or candidate id that does not exist."""


def compose(engine: Engine, lead_id: int, candidate_ids: list[int]) -> tuple[dict, str]:
    """The message and its idempotency key (the same lead and candidates: the same key)."""
    if not candidate_ids:
        raise UnknownRecord("no candidates to send")
    ids = sorted({int(i) for i in candidate_ids})
    with engine.connect() as db:
        lead = (
            db.execute(
                text("SELECT id, email, name, company FROM leads WHERE id = :id"), {"id": lead_id}
            )
            .mappings()
            .first()
        )
        rows = (
            db.execute(
                text(
                    "SELECT id, name, role, skills, years_experience, availability FROM candidates"
                    " WHERE id = ANY(:ids) ORDER BY years_experience DESC, id"
                ),
                {"ids": ids},
            )
            .mappings()
            .all()
        )
    if lead is None:
        raise UnknownRecord(f"no lead {lead_id}")
    missing = sorted(set(ids) - {row["id"] for row in rows})
    if missing:
        raise UnknownRecord(f"no candidates {missing}")
    message: dict[str, Any] = {
        "to": lead["email"],
        "template": "candidate_matches",
        "context": {"lead": dict(lead), "candidates": [dict(row) for row in rows]},
    }
    digest = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:16]
    return message, f"candidate-matches:{lead_id}:{digest}"
