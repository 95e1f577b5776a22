"""What a candidate search accepts, and the error that names what it does not (no database:
the query is checked before it reaches Postgres)."""

import pytest

from candidates.search import MAX_QUERY_CHARS, InvalidQuery, _query_terms, _validated


def test_a_plain_query_is_trimmed_and_defaulted():
    assert _validated({"q": "  xero payroll ", "role": " Bookkeeper"}) == {
        "q": "xero payroll", "roles": ["bookkeeper"], "skills": [], "availability": [],
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
        ({"role": "astronaut"}, "role 'astronaut' matches no role in the catalogue"),
        ({"role": "acountant"}, "did you mean 'accountant'"),
    ],
)
def test_a_bad_field_is_refused_by_name(query, said):
    with pytest.raises(InvalidQuery) as refused:
        _validated(query)
    assert said in str(refused.value)


@pytest.mark.parametrize(
    ("role", "titles"),
    [
        ("VA", ["virtual assistant"]),
        ("VAs", ["virtual assistant"]),
        ("virtual assistant", ["virtual assistant", "real estate virtual assistant",
                               "medical virtual assistant"]),
        ("developer", ["software developer", "web developer", "full stack developer",
                       "mobile app developer"]),
        ("Python devs", ["software developer"]),
        ("CSR", ["customer service representative"]),
    ],
)  # fmt: skip
def test_a_role_filter_means_the_catalogue_titles(role, titles):
    assert _validated({"role": role})["roles"] == titles


@pytest.mark.parametrize(
    ("q", "rest", "synonyms"),
    [
        ("VA xero", "xero", [["VA", "virtual assistant"]]),
        ("VA payroll", "", [["VA", "virtual assistant"], ["payroll", "payroll specialist"]]),
        ("xero payroll", "xero", [["payroll", "payroll specialist"]]),
        ('"customer service" -wordpress', '"customer service" -wordpress', []),
        ("VA OR bookkeeper", "VA OR bookkeeper", []),
        ("medical VAs hipaa", "hipaa", [["medical VAs", "medical virtual assistant"]]),
        ("-qa selenium", "-qa selenium", []),
    ],
)
def test_catalogue_names_in_q_also_match_their_titles(q, rest, synonyms):
    assert _query_terms(q) == (rest, synonyms)
