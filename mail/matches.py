"""The candidate-matches email: a lead and the candidates picked for them (read through
the modules that own those tables)."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Engine

from candidates import search as candidates
from config.errors import PermanentError
from leads import capture as leads


class UnknownRecord(PermanentError):
    """A lead or candidate id that does not exist."""


def compose(engine: Engine, lead_id: int, candidate_ids: list[int]) -> tuple[dict, str]:
    """The message and its idempotency key (the same lead and candidates: the same key)."""
    if not candidate_ids:
        raise UnknownRecord("no candidates to send")
    ids = sorted({int(i) for i in candidate_ids})
    lead = leads.contact(engine, lead_id)
    rows = candidates.profiles(engine, ids)
    if lead is None:
        raise UnknownRecord(f"no lead {lead_id}")
    missing = sorted(set(ids) - {row["id"] for row in rows})
    if missing:
        raise UnknownRecord(f"no candidates {missing}")
    message: dict[str, Any] = {
        "to": lead["email"],
        "template": "candidate_matches",
        "context": {"lead": lead, "candidates": rows},
    }
    digest = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:16]
    return message, f"candidate-matches:{lead_id}:{digest}"
