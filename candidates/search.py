"""Candidate search over Postgres full-text search.

A tsvector per candidate (role weighted A, skills B, summary C) with a GIN index; queries
use `websearch_to_tsquery`, so users type as they would in a search box ("xero payroll",
"react -wordpress", "\\"customer service\\""). Ranked by `ts_rank_cd`, then experience.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text

from config.errors import PermanentError

AVAILABILITY = ("immediate", "two_weeks", "one_month", "unavailable")
MAX_PER_PAGE = 100
SEARCH_VECTOR = (
    "setweight(to_tsvector('english', coalesce(role, '')), 'A')"
    " || setweight(to_tsvector('english', array_to_string(skills, ' ')), 'B')"
    " || setweight(to_tsvector('english', coalesce(summary, '')), 'C')"
)


class InvalidQuery(PermanentError):
    """A search query with a field of the wrong kind."""


def _validated(query: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(query, dict):
        raise InvalidQuery("a search query is an object")
    unknown = set(query) - {"q", "role", "skills", "min_years", "availability", "page",
                            "per_page"}  # fmt: skip
    if unknown:
        raise InvalidQuery(f"unknown search fields: {', '.join(sorted(unknown))}")
    skills = query.get("skills") or []
    availability = query.get("availability") or []
    if isinstance(availability, str):
        availability = [availability]
    if not isinstance(skills, list) or not all(isinstance(s, str) for s in skills):
        raise InvalidQuery("skills must be a list of strings")
    bad = [a for a in availability if a not in AVAILABILITY]
    if bad:
        raise InvalidQuery(f"availability must be among {', '.join(AVAILABILITY)}; got {bad}")
    try:
        page = int(query.get("page") or 1)
        per_page = int(query.get("per_page") or 20)
        min_years = int(query.get("min_years") or 0)
    except (TypeError, ValueError):
        raise InvalidQuery("page, per_page and min_years must be whole numbers") from None
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE or min_years < 0:
        raise InvalidQuery(f"page >= 1, 1 <= per_page <= {MAX_PER_PAGE}, min_years >= 0")
    return {
        "q": (query.get("q") or "").strip(),
        "role": (query.get("role") or "").strip().lower(),
        "skills": [s.strip().lower() for s in skills if s.strip()],
        "availability": availability,
        "min_years": min_years,
        "page": page,
        "per_page": per_page,
    }


def search(engine: Engine, query: dict[str, Any]) -> dict[str, Any]:
    """One page of matching candidates, best first, with the total count."""
    q = _validated(query)
    conditions = ["years_experience >= :min_years"]
    if q["q"]:
        conditions.append("search_vector @@ websearch_to_tsquery('english', :q)")
    if q["role"]:
        conditions.append("role = :role")
    if q["skills"]:
        conditions.append("skills @> CAST(:skills AS text[])")
    if q["availability"]:
        conditions.append("availability = ANY(CAST(:availability AS text[]))")
    where = " AND ".join(conditions)
    rank = "ts_rank_cd(search_vector, websearch_to_tsquery('english', :q))" if q["q"] else "0"
    params = {**q, "limit": q["per_page"], "offset": (q["page"] - 1) * q["per_page"]}
    with engine.connect() as db:
        total = db.execute(text(f"SELECT count(*) FROM candidates WHERE {where}"), params).scalar()
        rows = db.execute(
            text(
                f"SELECT id, name, role, skills, years_experience, availability, location,"
                f" {rank} AS rank FROM candidates WHERE {where}"
                " ORDER BY rank DESC, years_experience DESC, id LIMIT :limit OFFSET :offset"
            ),
            params,
        ).mappings()
        results = [{**row, "rank": round(float(row["rank"]), 4)} for row in rows]
    return {"total": total, "page": q["page"], "per_page": q["per_page"], "results": results}


def reindex(engine: Engine, batch_size: int = 500) -> int:
    """Rebuild every search vector, one batch per transaction; the number of rows done."""
    done, last_id = 0, 0
    while True:
        with engine.begin() as db:
            ids = (
                db.execute(
                    text("SELECT id FROM candidates WHERE id > :last ORDER BY id LIMIT :n"),
                    {"last": last_id, "n": batch_size},
                )
                .scalars()
                .all()
            )
            if not ids:
                return done
            db.execute(
                text(
                    f"UPDATE candidates SET search_vector = {SEARCH_VECTOR}, updated_at = now()"
                    " WHERE id = ANY(:ids)"
                ),
                {"ids": list(ids)},
            )
        done, last_id = done + len(ids), ids[-1]


def profiles(engine: Engine, ids: list[int]) -> list[dict[str, Any]]:
    """The candidates with these ids, most experienced first: what other domains may read."""
    with engine.connect() as db:
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
    return [dict(row) for row in rows]
