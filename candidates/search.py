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
MAX_QUERY_CHARS = 500
SEARCH_VECTOR = (
    "setweight(to_tsvector('english', coalesce(role, '')), 'A')"
    " || setweight(to_tsvector('english', array_to_string(skills, ' ')), 'B')"
    " || setweight(to_tsvector('english', coalesce(summary, '')), 'C')"
)


class InvalidQuery(PermanentError):
    """A search query with a field of the wrong kind."""


def _validated(query: dict[str, Any]) -> dict[str, Any]:
    """The query as the search runs it; InvalidQuery naming the field otherwise."""
    if not isinstance(query, dict):
        raise InvalidQuery("a search query is an object")
    unknown = set(query) - {"q", "role", "skills", "min_years", "availability", "page",
                            "per_page"}  # fmt: skip
    if unknown:
        raise InvalidQuery(f"unknown search fields: {', '.join(sorted(unknown))}")
    q = _text(query, "q")
    if len(q) > MAX_QUERY_CHARS:
        # Postgres parses every word of it: 10 kB took seconds; the words add nothing.
        raise InvalidQuery(f"q is {len(q)} characters; at most {MAX_QUERY_CHARS}")
    skills = query.get("skills") or []
    availability = query.get("availability") or []
    if isinstance(availability, str):
        availability = [availability]
    if not isinstance(skills, list) or not all(isinstance(s, str) for s in skills):
        raise InvalidQuery("skills must be a list of strings")
    if not isinstance(availability, list) or not all(isinstance(a, str) for a in availability):
        raise InvalidQuery("availability must be a string or a list of strings")
    bad = [a for a in availability if a not in AVAILABILITY]
    if bad:
        raise InvalidQuery(f"availability must be among {', '.join(AVAILABILITY)}; got {bad}")
    return {
        "q": q,
        "role": _text(query, "role").lower(),
        "skills": [s.strip().lower() for s in skills if s.strip()],
        "availability": availability,
        "min_years": _whole(query, "min_years", 0, 0, 80),
        "page": _whole(query, "page", 1, 1, 10_000),
        "per_page": _whole(query, "per_page", 20, 1, MAX_PER_PAGE),
    }


def _text(query: dict[str, Any], name: str) -> str:
    value = query.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidQuery(f"{name} must be text, got {type(value).__name__} {value!r}")
    return value.strip()


def _whole(query: dict[str, Any], name: str, default: int, least: int, most: int) -> int:
    """A whole number in [least, most]; absent means `default`, never a silent substitute."""
    value = query.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidQuery(f"{name} must be a whole number, got {value!r}")
    try:
        number = int(value)
    except ValueError:
        raise InvalidQuery(f"{name} must be a whole number, got {value!r}") from None
    if not least <= number <= most:
        raise InvalidQuery(f"{name} must be between {least} and {most}, got {number}")
    return number


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
