"""Candidate search over Postgres full-text search.

A tsvector per candidate (role weighted A, skills B, summary C) with a GIN index; queries
use `websearch_to_tsquery`, so users type as they would in a search box ("xero payroll",
"react -wordpress", "\\"customer service\\""). Ranked by `ts_rank_cd`, then experience.

People search with the words they use, so both the role filter and the query go through
the role catalogue (pricing/catalogue.py): `role=VA` is the virtual assistants,
`role=developer` every developer title; in `q`, a catalogue name outside quotes and
negations also matches the title it means ("VA payroll" finds a virtual assistant with
payroll), never fewer rows than the words alone would match.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Engine, text

from config.errors import InvalidInput
from pricing import catalogue
from pricing.requests import singular
from taskplatform import tasks

# The limits a web app's client checks too: declared once, with the task (taskplatform/tasks.py).
AVAILABILITY = tasks.SEARCH_AVAILABILITY
MAX_PER_PAGE = tasks.SEARCH_MAX_PER_PAGE
MAX_QUERY_CHARS = tasks.SEARCH_MAX_QUERY_CHARS
SEARCH_VECTOR = (
    "setweight(to_tsvector('english', coalesce(role, '')), 'A')"
    " || setweight(to_tsvector('english', array_to_string(skills, ' ')), 'B')"
    " || setweight(to_tsvector('english', coalesce(summary, '')), 'C')"
)


class InvalidQuery(InvalidInput):
    """A search query with a field of the wrong kind."""


def _validated(query: dict[str, Any]) -> dict[str, Any]:
    """The query as the search runs it; InvalidQuery naming the field otherwise."""
    if not isinstance(query, dict):
        raise InvalidQuery("a search query is an object")
    unknown = set(query) - set(tasks.SEARCH_FIELDS)
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
        "roles": _roles(_text(query, "role")),
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


def _roles(role: str) -> list[str]:
    """The catalogue titles a role filter means; a filter that means none is refused."""
    if not role:
        return []
    words = re.sub(r"[-_/.]", " ", role.lower()).split()
    name = " ".join(words[:-1] + [singular(words[-1])])
    titles = catalogue.titles_matching(name)
    if not titles:
        hint = catalogue.suggestions(name)
        raise InvalidQuery(
            f"role {role!r} matches no role in the catalogue"
            + (f"; did you mean {' or '.join(map(repr, hint))}?" if hint else "")
        )
    return titles


_QUOTED = re.compile(r'"[^"]*"?|\S+')


def _query_terms(q: str) -> tuple[str, list[list[str]]]:
    """`q` without the catalogue names found in it, and for each name the phrases it means
    (itself and its titles). Quoted phrases and -negations are left to Postgres as typed."""
    tokens = _QUOTED.findall(q)
    if any(token.lower() == "or" for token in tokens):
        return q, []  # "VA OR bookkeeper": expanding would turn the OR into an AND
    rest: list[str] = []
    synonyms: list[list[str]] = []
    index = 0
    while index < len(tokens):
        found = _name_at(tokens, index)
        if found is None:
            rest.append(tokens[index])
            index += 1
            continue
        name, end = found
        synonyms.append([" ".join(tokens[index:end]), *catalogue.titles_matching(name)])
        index = end
    return " ".join(rest), synonyms


def _name_at(tokens: list[str], start: int) -> tuple[str, int] | None:
    for length in range(min(catalogue.LONGEST_NAME, len(tokens) - start), 0, -1):
        span = tokens[start : start + length]
        if not all(re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", token) for token in span):
            continue
        lowered = [token.lower() for token in span]
        name = " ".join(lowered[:-1] + [singular(lowered[-1])])
        if catalogue.title_for(name) is not None:
            return name, start + length
    return None


def _tsquery(q: str, params: dict[str, Any]) -> str:
    """The SQL tsquery for `q`: websearch syntax for the words, OR-ed phrases for names."""
    rest, synonyms = _query_terms(q)
    parts = []
    if rest.strip():
        params["q_rest"] = rest
        parts.append("websearch_to_tsquery('english', :q_rest)")
    for i, phrases in enumerate(synonyms):
        alternatives = []
        for j, phrase in enumerate(phrases):
            params[f"q_{i}_{j}"] = phrase
            alternatives.append(f"phraseto_tsquery('english', :q_{i}_{j})")
        parts.append("(" + " || ".join(alternatives) + ")")
    return " && ".join(parts) if parts else "websearch_to_tsquery('english', '')"


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
    """One page of matching candidates, best first, with the total count.

    A page past the last one is refused rather than answered empty, so a client paging by
    hand learns it went too far instead of concluding nobody matched.
    """
    q = _validated(query)
    params: dict[str, Any] = {
        "min_years": q["min_years"],
        "roles": q["roles"],
        "skills": q["skills"],
        "availability": q["availability"],
        "limit": q["per_page"],
        "offset": (q["page"] - 1) * q["per_page"],
    }
    conditions = ["years_experience >= :min_years"]
    rank = "0"
    if q["q"]:
        tsquery = _tsquery(q["q"], params)
        conditions.append(f"search_vector @@ ({tsquery})")
        rank = f"ts_rank_cd(search_vector, {tsquery})"
    if q["roles"]:
        conditions.append("role = ANY(CAST(:roles AS text[]))")
    if q["skills"]:
        conditions.append("skills @> CAST(:skills AS text[])")
    if q["availability"]:
        conditions.append("availability = ANY(CAST(:availability AS text[]))")
    where = " AND ".join(conditions)
    with engine.connect() as db:
        total = db.execute(text(f"SELECT count(*) FROM candidates WHERE {where}"), params).scalar()
        pages = -(-total // q["per_page"])
        if total and q["page"] > pages:
            raise InvalidQuery(
                f"page {q['page']} is past the last page, {pages}, of {total} results"
                f" at {q['per_page']} per page"
            )
        rows = db.execute(
            text(
                f"SELECT id, name, role, skills, years_experience, availability, location,"
                f" {rank} AS rank FROM candidates WHERE {where}"
                " ORDER BY rank DESC, years_experience DESC, id LIMIT :limit OFFSET :offset"
            ),
            params,
        ).mappings()
        results = [{**row, "rank": round(float(row["rank"]), 4)} for row in rows]
    return {
        "total": total,
        "page": q["page"],
        "per_page": q["per_page"],
        "pages": pages,
        "roles": q["roles"],
        "results": results,
    }


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
