"""search: full-text search over the seeded candidates, with ranking, filters and pages."""

from __future__ import annotations

import time

import pytest

from tasks.search import reindex_candidates, search_candidates
from tests import harness
from tests.conftest import module_worker


@pytest.fixture(scope="module")
def search_worker():
    with module_worker(["search"]) as worker:
        yield worker


def run(query: dict) -> dict:
    return search_candidates.delay(query).get(timeout=20)


def test_matches_are_ranked_best_first(search_worker):
    found = run({"q": "xero payroll"})
    assert found["total"] > 0
    ranks = [r["rank"] for r in found["results"]]
    assert ranks == sorted(ranks, reverse=True) and ranks[0] > 0
    assert found["results"][0]["role"] in ("accountant", "bookkeeper")


def test_filters_narrow_the_matches(search_worker):
    found = run({"role": "software developer", "skills": ["python"], "min_years": 5,
                 "availability": ["immediate", "two_weeks"], "per_page": 100})  # fmt: skip
    assert found["results"]
    for person in found["results"]:
        assert person["role"] == "software developer" and "python" in person["skills"]
        assert person["years_experience"] >= 5
        assert person["availability"] in ("immediate", "two_weeks")


def test_pages_do_not_overlap(search_worker):
    first = run({"q": "developer", "per_page": 5, "page": 1})
    second = run({"q": "developer", "per_page": 5, "page": 2})
    assert first["total"] == second["total"] > 10
    assert not {r["id"] for r in first["results"]} & {r["id"] for r in second["results"]}


def test_an_invalid_query_is_a_dead_letter(search_worker):
    result = search_candidates.delay({"availability": ["tomorrow"]})
    letter = harness.wait_for_letter(result.id)
    assert (
        letter.reason == "invalid_input"
        and "query.availability[0]: must be one of" in letter.exception_message
    )


def test_an_oversized_query_fails_at_once_without_reaching_postgres(search_worker):
    started = time.monotonic()
    result = search_candidates.delay({"q": "payroll " * 2000})
    letter = harness.wait_for_letter(result.id)
    assert (letter.reason, letter.attempts) == ("invalid_input", 1)
    assert "characters; at most 500" in letter.exception_message
    assert time.monotonic() - started < 10


def test_reindex_rebuilds_every_vector(search_worker):
    assert reindex_candidates.delay().get(timeout=60) == {"reindexed": 240}
    assert run({"q": "figma"})["total"] > 0


def test_an_abbreviation_finds_the_role_it_means(search_worker):
    found = run({"q": "VA", "per_page": 100})
    roles = {person["role"] for person in found["results"]}
    assert "virtual assistant" in roles
    assert roles <= {"virtual assistant", "medical virtual assistant"}  # a medical VA is a VA
    by_filter = run({"role": "VA", "per_page": 100})
    assert 0 < by_filter["total"] <= found["total"]
    assert {person["role"] for person in by_filter["results"]} == {"virtual assistant"}


def test_a_role_filter_matches_every_title_holding_the_word(search_worker):
    found = run({"role": "developer", "per_page": 100})
    assert {person["role"] for person in found["results"]} == {
        "software developer",
        "web developer",
    }  # the seeded pool has no full stack or mobile developers
    assert found["roles"][:2] == ["software developer", "web developer"]


def test_a_query_with_a_synonym_never_matches_fewer_than_its_words(search_worker):
    # Quoted, "seo" is searched as typed: the skill of marketers and writers
    plain = run({"q": '"seo"', "per_page": 100})
    assert plain["total"] > 0
    expanded = run({"q": "seo", "per_page": 100})
    assert {r["id"] for r in plain["results"]} <= {r["id"] for r in expanded["results"]}


def test_a_page_past_the_last_is_refused_by_name(search_worker):
    last = run({"q": "developer", "per_page": 100})
    assert last["pages"] == 1
    result = search_candidates.delay({"q": "developer", "per_page": 100, "page": 2})
    letter = harness.wait_for_letter(result.id)
    assert letter.reason == "invalid_input"
    assert "page 2 is past the last page, 1" in letter.exception_message
