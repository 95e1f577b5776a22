"""Quote requests: structured and free text reach one canonical form, or a clear error."""

import re

import pytest

from config.errors import PermanentError
from pricing.requests import (
    MAX_TEXT_LENGTH,
    InvalidQuoteRequest,
    QuoteParser,
    QuoteRequest,
    RoleLine,
    RuleBasedParser,
    parse_request,
)

TEAM = QuoteRequest(
    roles=(RoleLine("accountant", "senior", 2), RoleLine("graphic designer", "junior", 1)),
    workspace="office",
    tier="standard",
)


def structured(*roles: dict, **rest) -> dict:
    return {"roles": list(roles), **rest}


def only_role(text: str) -> RoleLine:
    (line,) = parse_request(text).roles
    return line


# -- structured form ------------------------------------------------------------------------


def test_structured_request_with_defaults():
    request = parse_request(structured({"title": "accountant", "level": "senior", "count": 2}))
    assert request == QuoteRequest(
        roles=(RoleLine("accountant", "senior", 2),), workspace="wfh", tier="standard"
    )


def test_structured_values_are_normalised_like_text():
    request = parse_request(
        structured(
            {"title": "  Accountants ", "level": "Sr", "count": 2},
            {"title": "Graphic-Designer", "level": "jr", "count": 1},
            workspace="Onsite",
            tier="STANDARD",
        )
    )
    assert request == TEAM


def test_missing_level_is_mid():
    request = parse_request(structured({"title": "bookkeeper", "count": 1}))
    assert request.roles == (RoleLine("bookkeeper", "mid", 1),)


def test_duplicate_lines_are_merged_and_lines_sorted():
    request = parse_request(
        structured(
            {"title": "virtual assistant", "level": "mid", "count": 1},
            {"title": "accountant", "level": "senior", "count": 1},
            {"title": "VAs", "level": "intermediate", "count": 2},
        )
    )
    assert request.roles == (
        RoleLine("accountant", "senior", 1),
        RoleLine("virtual assistant", "mid", 3),
    )


def test_to_dict_round_trips():
    assert parse_request(TEAM.to_dict()) == TEAM


def test_text_may_come_in_a_dict():
    text = "2 senior accountants and a junior graphic designer, office based"
    assert parse_request({"text": text}) == TEAM


# -- cache key ------------------------------------------------------------------------------


def test_cache_key_is_a_sha256_hex_digest():
    assert re.fullmatch(r"[0-9a-f]{64}", TEAM.cache_key())


@pytest.mark.parametrize(
    "request_",
    [
        "2 senior accountants and a junior graphic designer, office based",
        "A Jr. graphic designer plus two Sr accountants; onsite",
        "We need 2 senior accountants & 1 junior graphic designer in the office, standard tier",
        "a senior accountant, a junior graphic designer and one more senior accountant, in office",
        "1 junior-level graphic designer\n2 senior-level Accountants\nwork on-site",
        {"text": "two senior accountants and 1 jr graphic designer. Office-based please"},
        {
            "roles": [
                {"title": "Graphic Designers", "level": "Junior", "count": 1},
                {"title": "accountant", "level": "senior", "count": 2},
            ],
            "workspace": "office based",
        },
    ],
)
def test_phrasings_of_one_team_share_a_cache_key(request_):
    assert parse_request(request_).cache_key() == TEAM.cache_key()


def test_a_different_count_changes_the_cache_key():
    other = parse_request("3 senior accountants and a junior graphic designer, office based")
    assert other.cache_key() != TEAM.cache_key()


@pytest.mark.parametrize("change", [{"workspace": "hybrid"}, {"tier": "premium"}])
def test_workspace_and_tier_change_the_cache_key(change):
    assert parse_request({**TEAM.to_dict(), **change}).cache_key() != TEAM.cache_key()


# -- free text: titles ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("2 accountants", "accountant"),
        ("3 virtual assistants", "virtual assistant"),
        ("a VA", "virtual assistant"),
        ("4 VAs", "virtual assistant"),
        ("a dev", "software developer"),
        ("2 developers", "software developer"),
        ("2 software developers", "software developer"),
        ("2 bookkeepers", "bookkeeper"),
        ("2 payroll specialists", "payroll specialist"),
        ("2 accounts payable clerks", "accounts payable specialist"),
        ("2 devops engineers", "devops engineer"),
        ("3 bi analysts", "data analyst"),
    ],
)
def test_titles_are_singular_and_synonyms_mapped(text, title):
    assert only_role(text).title == title


def test_a_trailing_clause_of_filler_is_read_and_anything_else_refused_by_name():
    assert only_role("2 accountants for our firm, please").title == "accountant"
    with pytest.raises(InvalidQuoteRequest, match="cannot read 'cpa licences'"):
        parse_request("2 accountants for our firm with CPA licences")


# -- free text: counts and levels -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("a bookkeeper", 1),
        ("an accountant", 1),
        ("one accountant", 1),
        ("seven accountants", 7),
        ("twelve accountants", 12),
        ("12 accountants", 12),
        ("500 accountants", 500),
    ],
)
def test_counts_in_digits_or_words(text, count):
    assert only_role(text).count == count


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("2 jr accountants", "junior"),
        ("2 junior accountants", "junior"),
        ("2 sr. accountants", "senior"),
        ("2 intermediate accountants", "mid"),
        ("2 mid-level accountants", "mid"),
        ("2 accountants", "mid"),
        ("a lead accountant", "lead"),
        ("senior accountant", "senior"),
    ],
)
def test_levels_and_their_synonyms(text, level):
    assert only_role(text).level == level


def test_a_level_without_a_count_means_one():
    assert parse_request("a bookkeeper and senior accountant").roles == (
        RoleLine("accountant", "senior", 1),
        RoleLine("bookkeeper", "mid", 1),
    )


def test_filler_around_roles_is_ignored():
    request = parse_request("Hi! We need a team of 3 VAs on the premium plan. Thanks")
    assert request == QuoteRequest(
        roles=(RoleLine("virtual assistant", "mid", 3),), workspace="wfh", tier="premium"
    )


# -- free text: workspace and tier ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "workspace"),
    [
        ("2 accountants, office based", "office"),
        ("2 accountants, onsite", "office"),
        ("2 accountants in office", "office"),
        ("2 accountants, office", "office"),
        ("2 accountants, hybrid setup", "hybrid"),
        ("2 remote accountants", "wfh"),
        ("2 accountants working from home", "wfh"),
        ("2 accountants, WFH", "wfh"),
        ("2 accountants", "wfh"),
    ],
)
def test_workspace_words(text, workspace):
    assert parse_request(text).workspace == workspace


def test_office_in_a_title_is_not_a_workspace():
    request = parse_request("2 office assistants")
    assert request.workspace == "wfh"
    assert request.roles == (RoleLine("administrative assistant", "mid", 2),)


@pytest.mark.parametrize(
    ("text", "tier"),
    [
        ("2 accountants", "standard"),
        ("2 accountants, standard", "standard"),
        ("2 accountants on the premium tier", "premium"),
        ("enterprise: 2 accountants", "enterprise"),
    ],
)
def test_tier_words(text, tier):
    assert parse_request(text).tier == tier


# -- another parser behind the protocol -----------------------------------------------------


class CannedParser:
    """Stands in for a future LLM parser: returns whatever it was given, unnormalised."""

    def __init__(self, answer: QuoteRequest) -> None:
        self.answer = answer
        self.seen: list[str] = []

    def parse(self, text: str) -> QuoteRequest:
        self.seen.append(text)
        return self.answer


def test_rule_based_parser_satisfies_the_protocol():
    parser: QuoteParser = RuleBasedParser()
    assert parser.parse("2 senior accountants and a junior graphic designer, onsite") == TEAM


def test_another_parser_is_used_and_its_answer_normalised():
    # Given a parser that answers with raw titles, unsorted, duplicated
    sloppy = QuoteRequest(
        roles=(
            RoleLine("Graphic Designers", "jr", 1),
            RoleLine("accountants", "Senior", 1),
            RoleLine("accountant", "sr", 1),
        ),
        workspace="onsite",
        tier="Standard",
    )
    parser = CannedParser(sloppy)
    # When a text request goes through it
    request = parse_request("anything at all", parser=parser)
    # Then it saw the text and its answer came out canonical
    assert parser.seen == ["anything at all"]
    assert request == TEAM


def test_another_parsers_invalid_answer_is_rejected():
    parser = CannedParser(QuoteRequest(roles=(), workspace="wfh", tier="standard"))
    with pytest.raises(InvalidQuoteRequest, match="no roles"):
        parse_request("2 accountants", parser=parser)


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "hello", "office based, premium", "please, thanks"])
def test_text_without_roles_is_an_error(text):
    with pytest.raises(InvalidQuoteRequest, match="no roles found"):
        parse_request(text)


def test_empty_roles_is_an_error():
    with pytest.raises(InvalidQuoteRequest, match="no roles found"):
        parse_request(structured())


def test_an_unreadable_fragment_is_an_error_not_skipped():
    with pytest.raises(InvalidQuoteRequest, match="cannot read 'there'"):
        parse_request("2 accountants and there")
    with pytest.raises(InvalidQuoteRequest, match="cannot read 'twenty'"):
        parse_request("twenty")


def test_a_plural_title_without_a_count_asks_how_many():
    with pytest.raises(InvalidQuoteRequest, match="how many 'bookkeepers'"):
        parse_request("2 accountants and bookkeepers")


def test_roles_run_together_are_an_error():
    with pytest.raises(InvalidQuoteRequest, match="2 accountants 3 designers"):
        parse_request("2 accountants 3 designers")


@pytest.mark.parametrize("count", [0, -1, 501])
def test_structured_count_out_of_range(count):
    with pytest.raises(InvalidQuoteRequest, match=f"is {count}; it must be from 1 to 500"):
        parse_request(structured({"title": "accountant", "count": count}))


@pytest.mark.parametrize("text", ["0 accountants", "501 accountants"])
def test_text_count_out_of_range(text):
    with pytest.raises(InvalidQuoteRequest, match="must be from 1 to 500"):
        parse_request(text)


def test_merged_count_over_the_limit_is_an_error():
    with pytest.raises(InvalidQuoteRequest, match="501 x mid accountant"):
        parse_request("300 accountants and 201 accountants")


@pytest.mark.parametrize(
    ("field", "value"),
    [("workspace", "beach"), ("tier", "gold")],
)
def test_unknown_workspace_or_tier(field, value):
    request = structured({"title": "accountant", "count": 1}, **{field: value})
    with pytest.raises(InvalidQuoteRequest, match=f"unknown {field} '{value}'"):
        parse_request(request)


def test_unknown_level():
    with pytest.raises(InvalidQuoteRequest, match="unknown level 'principal'"):
        parse_request(structured({"title": "accountant", "level": "principal", "count": 1}))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2 accountants, office based, remote", "more than one workspace"),
        ("2 accountants, premium, enterprise", "more than one tier"),
    ],
)
def test_contradictions_in_text_are_errors(text, message):
    with pytest.raises(InvalidQuoteRequest, match=message):
        parse_request(text)


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (42, "must be a dict or a string, not int"),
        (["2 accountants"], "must be a dict or a string, not list"),
        ({"text": 42}, "'text' must be a string"),
        ({"roles": "accountant"}, "'roles' must be a list"),
        ({"roles": None}, "'roles' must be a list"),
        ({"roles": ["accountant"]}, r"roles\[0\] must be a dict"),
        (structured({"title": 7, "count": 1}), "title must be a string"),
        (structured({"title": " ", "count": 1}), "title is empty"),
        (structured({"title": "accountant", "count": "2"}), "must be an integer, not '2'"),
        (structured({"title": "accountant", "count": 2.0}), "must be an integer, not 2.0"),
        (structured({"title": "accountant", "count": True}), "must be an integer, not True"),
        (structured({"title": "accountant"}), "must be an integer, not None"),
        (structured({"title": "accountant", "count": 1, "level": 3}), "level must be a string"),
        (structured({"title": "accountant", "count": 1}, workspace=1), "workspace must be"),
        (structured({"title": "accountant", "count": 1}, tier=["premium"]), "tier must be"),
    ],
)
def test_wrong_types_are_errors(request_, message):
    with pytest.raises(InvalidQuoteRequest, match=message):
        parse_request(request_)


@pytest.mark.parametrize(
    ("request_", "unknown"),
    [
        (structured({"title": "accountant", "count": 1}, workpsace="office"), "workpsace"),
        (structured({"title": "accountant", "count": 1, "seniority": "sr"}), "seniority"),
        ({"text": "2 accountants", "tier": "premium"}, "tier"),
    ],
)
def test_unknown_keys_are_errors_not_defaults(request_, unknown):
    with pytest.raises(InvalidQuoteRequest, match=f"unknown keys \\['{unknown}'\\]"):
        parse_request(request_)


def test_overlong_text_is_an_error():
    with pytest.raises(InvalidQuoteRequest, match="at most"):
        parse_request("2 accountants " + "x" * MAX_TEXT_LENGTH)


def test_overlong_title_is_an_error():
    with pytest.raises(InvalidQuoteRequest, match="longer than"):
        parse_request(structured({"title": "accountant " * 10, "count": 1}))


def test_request_errors_are_permanent():
    assert issubclass(InvalidQuoteRequest, PermanentError)
