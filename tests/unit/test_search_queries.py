"""What a candidate search accepts, and the error that names what it does not (no database:
the query is checked before it reaches Postgres)."""

import pytest

from candidates.search import MAX_QUERY_CHARS, InvalidQuery, _validated


def test_a_plain_query_is_trimmed_and_defaulted():
    assert _validated({"q": "  xero payroll ", "role": " Bookkeeper"}) == {
        "q": "xero payroll", "role": "bookkeeper", "skills": [], "availability": [],
        "min_years": 0, "page": 1, "per_page": 20,
    }  # fmt: skip
    assert _validated({"page": "2", "per_page": 50})["per_page"] == 50


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ({"q": 42}, "q must be text, got int 42"),
        ({"role": 5}, "role must be text, got int 5"),
        ({"q": "x" * (MAX_QUERY_CHARS + 1)}, f"q is {MAX_QUERY_CHARS + 1} characters"),
        ({"per_page": 0}, "per_page must be between 1 and 100, got 0"),
        ({"per_page": 101}, "per_page must be between 1 and 100, got 101"),
        ({"page": 0}, "page must be between 1 and 10000, got 0"),
        ({"page": "two"}, "page must be a whole number, got 'two'"),
        ({"page": True}, "page must be a whole number, got True"),
        ({"min_years": -1}, "min_years must be between 0 and 80, got -1"),
        ({"min_years": 2.5}, "min_years must be a whole number, got 2.5"),
        ({"availability": 3}, "availability must be a string or a list of strings"),
        ({"skills": "python"}, "skills must be a list of strings"),
        ({"colour": "red"}, "unknown search fields: colour"),
        ([], "a search query is an object"),
    ],
)
def test_a_bad_field_is_refused_by_name(query, said):
    with pytest.raises(InvalidQuery) as refused:
        _validated(query)
    assert said in str(refused.value)
