"""Queue `search`: candidate search and reindexing (see candidates/search.py)."""

from __future__ import annotations

from candidates import search
from config import app, database


@app.task(name="search.search_candidates")
def search_candidates(query: dict) -> dict:
    """One page of candidates matching {q, role, skills, min_years, availability, page}."""
    return search.search(database.engine(), query)


@app.task(name="search.reindex_candidates")
def reindex_candidates() -> dict:
    """Rebuild every candidate's search vector, in batches."""
    return {"reindexed": search.reindex(database.engine())}
