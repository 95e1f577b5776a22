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


# -- free text as sales teams write it ------------------------------------------------------
# Each wording with the team it means: (count, level, title, shift, hours a week) per line.

CSR = "customer service representative"
VA = "virtual assistant"
SDR = "sales development representative"


def lines(text: str) -> list[tuple]:
    return sorted(
        (line.count, line.level, line.title, line.shift, line.hours_per_week)
        for line in parse_request(text).roles
    )


READ = [
    # counts after the title, or with a noun: "x5", "x 5", "5x", "×5", "(5)", ": 5", "5 pax"
    ("night-shift customer support x5", [(5, "mid", CSR, "night", 40)]),
    ("data entry x10", [(10, "mid", "data entry specialist", "day", 40)]),
    ("5x CSR", [(5, "mid", CSR, "day", 40)]),
    ("CSR x 5", [(5, "mid", CSR, "day", 40)]),
    ("CSR \u00d75", [(5, "mid", CSR, "day", 40)]),
    ("CSR*5", [(5, "mid", CSR, "day", 40)]),
    ("Customer Service Rep x3 - Night Shift", [(3, "mid", CSR, "night", 40)]),
    ("2x senior full stack devs", [(2, "senior", "full stack developer", "day", 40)]),
    ("3 x data entry specialists", [(3, "mid", "data entry specialist", "day", 40)]),
    ("CSRs (5)", [(5, "mid", CSR, "day", 40)]),
    ("CSR (5 pax)", [(5, "mid", CSR, "day", 40)]),
    ("Accountants: 3\nVAs: 2", [(2, "mid", VA, "day", 40), (3, "mid", "accountant", "day", 40)]),
    ("Data Entry - 4 pax", [(4, "mid", "data entry specialist", "day", 40)]),
    ("CSR 5 pax", [(5, "mid", CSR, "day", 40)]),
    ("10-seat CSR team, night shift", [(10, "mid", CSR, "night", 40)]),
    ("customer support team of 10 for US hours", [(10, "mid", CSR, "night", 40)]),
    ("5 nos. CSR", [(5, "mid", CSR, "day", 40)]),
    ("5 people for customer service, night shift", [(5, "mid", CSR, "night", 40)]),
    ("five (5) CSRs", [(5, "mid", CSR, "day", 40)]),
    ("two (2) bookkeepers, part-time", [(2, "mid", "bookkeeper", "day", 20)]),
    ("two dozen CSRs", [(24, "mid", CSR, "day", 40)]),
    ("- 3 CSRs\n- 2 VAs", [(2, "mid", VA, "day", 40), (3, "mid", CSR, "day", 40)]),
    ("1. 3 CSRs\n2. 2 VAs", [(2, "mid", VA, "day", 40), (3, "mid", CSR, "day", 40)]),
    # levels after the title, in brackets, or said alone for the roles that say none
    ("graphic designer mid-level", [(1, "mid", "graphic designer", "day", 40)]),
    ("Payroll specialist, mid level", [(1, "mid", "payroll specialist", "day", 40)]),
    ("a designer (senior)", [(1, "senior", "graphic designer", "day", 40)]),
    ("bookkeeper (mid level) x2", [(2, "mid", "bookkeeper", "day", 40)]),
    ("Graphic Designer x2 (mid-level)", [(2, "mid", "graphic designer", "day", 40)]),
    ("Admin assistant, junior, part-time", [(1, "junior", "administrative assistant", "day", 20)]),
    ("Snr accountant", [(1, "senior", "accountant", "day", 40)]),
    ("a fresh grad accountant", [(1, "junior", "accountant", "day", 40)]),
    ("2 entry-level data encoders", [(2, "junior", "data entry specialist", "day", 40)]),
    (
        "2 senior accountants and a designer, junior",
        [(1, "junior", "graphic designer", "day", 40), (2, "senior", "accountant", "day", 40)],
    ),
    (
        "Two mid-level accountants and one senior accountant",
        [(1, "senior", "accountant", "day", 40), (2, "mid", "accountant", "day", 40)],
    ),
    # region hours: US and Canada are nights in Manila, Australia and Asia days
    ("5 CSRs for US", [(5, "mid", CSR, "night", 40)]),
    ("10 CSRs for US-based clients", [(10, "mid", CSR, "night", 40)]),
    ("3 CSRs on EST", [(3, "mid", CSR, "night", 40)]),
    ("3 CSRs ET/PT", [(3, "mid", CSR, "night", 40)]),
    ("2 devs PST", [(2, "mid", "software developer", "night", 40)]),
    ("3 customer service agents, Eastern time", [(3, "mid", CSR, "night", 40)]),
    ("3 CSRs, Central Standard Time, premium", [(3, "mid", CSR, "night", 40)]),
    ("We need 5 virtual assistants working PST hours", [(5, "mid", VA, "night", 40)]),
    ("5 CSRS, US HOURS", [(5, "mid", CSR, "night", 40)]),
    ("2 CSRs supporting US customers", [(2, "mid", CSR, "night", 40)]),
    ("5 CSRs, US East Coast hours", [(5, "mid", CSR, "night", 40)]),
    ("2 SDRs for Canadian clients", [(2, "mid", SDR, "night", 40)]),
    ("2 CSRs MST", [(2, "mid", CSR, "night", 40)]),
    ("2 CSRs for our US store", [(2, "mid", CSR, "night", 40)]),
    ("5 CSRs GMT-5", [(5, "mid", CSR, "night", 40)]),
    ("3 CSRs for Aussie hours", [(3, "mid", CSR, "day", 40)]),
    ("4 CSRs, AU hours", [(4, "mid", CSR, "day", 40)]),
    ("2 VAs, Sydney hours", [(2, "mid", VA, "day", 40)]),
    ("2 VAs on AEST", [(2, "mid", VA, "day", 40)]),
    ("3 CSRs, Australian Eastern Standard Time", [(3, "mid", CSR, "day", 40)]),
    ("Est. quote for 5 CSRs", [(5, "mid", CSR, "day", 40)]),  # estimated, not EST
    ("8 call centre agents for Australian customers", [(8, "mid", CSR, "day", 40)]),
    ("2 VAs on GMT+8", [(2, "mid", VA, "day", 40)]),
    ("2 devs, Manila hours", [(2, "mid", "software developer", "day", 40)]),
    ("2 VAs PHT", [(2, "mid", VA, "day", 40)]),
    ("2 VAs for Dubai clients", [(2, "mid", VA, "day", 40)]),
    ("5 CSRs for us", [(5, "mid", CSR, "day", 40)]),  # the pronoun: "a quote for us"
    (
        "3 CSRs for US, 2 CSRs for AU",
        [(2, "mid", CSR, "day", 40), (3, "mid", CSR, "night", 40)],
    ),
    (
        "Hi! Could we get a quote for 2 SDRs and an appointment setter, US night shift? Thanks",
        [(1, "mid", "appointment setter", "night", 40), (2, "mid", SDR, "night", 40)],
    ),
    # hours forms
    ("2 bookkeepers 20hrs/week", [(2, "mid", "bookkeeper", "day", 20)]),
    ("2 VAs 20 h/wk", [(2, "mid", VA, "day", 20)]),
    ("a VA, 25 h/week", [(1, "mid", VA, "day", 25)]),
    ("2 VAs 20 hours a week", [(2, "mid", VA, "day", 20)]),
    ("a bookkeeper for 4 hours a day", [(1, "mid", "bookkeeper", "day", 20)]),
    ("a bookkeeper, 4 hours a day 3 days a week", [(1, "mid", "bookkeeper", "day", 12)]),
    ("a bookkeeper part-time", [(1, "mid", "bookkeeper", "day", 20)]),
    ("2 part time VAs", [(2, "mid", VA, "day", 20)]),
    ("2 FT CSRs", [(2, "mid", CSR, "day", 40)]),
    ("2 VAs, 20 hours/week, Mon-Fri", [(2, "mid", VA, "day", 20)]),
    ("1 video editor for YouTube and TikTok, 30 hrs/week", [(1, "mid", "video editor", "day", 30)]),
    ("3 CSRs GY shift", [(3, "mid", CSR, "night", 40)]),
    ("5 CSRs, night diff", [(5, "mid", CSR, "night", 40)]),
    (
        "6 CSRs day, 4 CSRs night",
        [(4, "mid", CSR, "night", 40), (6, "mid", CSR, "day", 40)],
    ),
    ("2 HR, 20 hrs/week", [(2, "mid", "hr generalist", "day", 20)]),
    ("2 hr recruiters", [(2, "mid", "recruiter", "day", 40)]),
    ("a part-time bookkeeper 15 hrs/week", [(1, "mid", "bookkeeper", "day", 15)]),
    ("2 VAs part time, 15 hours a week", [(2, "mid", VA, "day", 15)]),
    (
        "2 VAs, 30 hours a week, and 3 CSRs part time",
        [(2, "mid", VA, "day", 30), (3, "mid", CSR, "day", 20)],
    ),
    (
        "Pls quote: 3 CSRs (nights), 1 QA tester (days)",
        [(1, "mid", "qa tester", "day", 40), (3, "mid", CSR, "night", 40)],
    ),
    (
        "Night shift: 5 CSRs and 2 VAs",
        [(2, "mid", VA, "night", 40), (5, "mid", CSR, "night", 40)],
    ),
    # what the team works for: read, and it does not change the price
    ("video editor for YouTube, part time", [(1, "mid", "video editor", "day", 20)]),
    ("2 VAs for our Shopify store", [(2, "mid", VA, "day", 40)]),
    ("We're looking for a full-time VA for our Shopify store", [(1, "mid", VA, "day", 40)]),
    ("Need 2 Amazon VAs", [(2, "mid", VA, "day", 40)]),
    ("2 virtual assistants (ecommerce)", [(2, "mid", VA, "day", 40)]),
    (
        "2 lead generation specialists, LinkedIn, US hours",
        [(2, "mid", "lead generation specialist", "night", 40)],
    ),
    ("2 recruiters for tech hiring", [(2, "mid", "recruiter", "day", 40)]),
    ("a VA for our HubSpot CRM", [(1, "mid", VA, "day", 40)]),
    ("For our YouTube channel we need a video editor", [(1, "mid", "video editor", "day", 40)]),
    ("Need a VA to manage our Instagram and Facebook", [(1, "mid", VA, "day", 40)]),
    ("a VA handling our inbox", [(1, "mid", VA, "day", 40)]),
    (
        "1 executive assistant to support our CEO, US hours",
        [(1, "mid", "executive assistant", "night", 40)],
    ),
    (
        "3 junior graphic designers and 2 video editors for social media",
        [(2, "mid", "video editor", "day", 40), (3, "junior", "graphic designer", "day", 40)],
    ),
    ("5 CSRs to start next month", [(5, "mid", CSR, "day", 40)]),
    ("long-term VA, part time", [(1, "mid", VA, "day", 20)]),
    # ...unless it names the catalogue's specialism of that role
    ("a VA for real estate", [(1, "mid", "real estate virtual assistant", "day", 40)]),
    ("A senior web developer for our WordPress site", [(1, "senior", "web developer", "day", 40)]),
    ("a developer for our Shopify store", [(1, "mid", "web developer", "day", 40)]),
    ("a medical VA for our dental clinic", [(1, "mid", "medical virtual assistant", "day", 40)]),
    ("a VA for social media", [(1, "mid", "social media manager", "day", 40)]),
    # roles clients name that are catalogue roles by another name
    ("10 inbound call center agents", [(10, "mid", CSR, "day", 40)]),
    ("6 support agents, night shift", [(6, "mid", CSR, "night", 40)]),
    ("3 CSR agents", [(3, "mid", CSR, "day", 40)]),
    ("4 customer care agents", [(4, "mid", CSR, "day", 40)]),
    ("2 live chat agents", [(2, "mid", "chat support agent", "day", 40)]),
    ("3 outbound SDRs", [(3, "mid", SDR, "day", 40)]),
    ("4 telemarketers, US hours", [(4, "mid", "appointment setter", "night", 40)]),
    ("an accounting clerk", [(1, "mid", "bookkeeper", "day", 40)]),
    ("2 YouTube editors", [(2, "mid", "video editor", "day", 40)]),
    ("3 customer service reps", [(3, "mid", CSR, "day", 40)]),
    # greetings and the words around a request
    ("Hi team, could you send pricing for 3 SDRs? Thanks!", [(3, "mid", SDR, "day", 40)]),
    (
        "Can you quote 2 senior accountants + 1 junior bookkeeper?",
        [(1, "junior", "bookkeeper", "day", 40), (2, "senior", "accountant", "day", 40)],
    ),
    (
        "Good day! Looking to hire 2 Python devs, senior level, US hours",
        [(2, "senior", "software developer", "night", 40)],
    ),
    (
        "Senior accountant and 2 bookkeepers, all part time",
        [(1, "senior", "accountant", "day", 20), (2, "mid", "bookkeeper", "day", 20)],
    ),
]


@pytest.mark.parametrize(("text", "expected"), READ)
def test_wordings_a_sales_team_uses_are_read(text, expected):
    assert lines(text) == sorted(expected)


@pytest.mark.parametrize(
    ("text", "workspace", "tier"),
    [
        ("Quote for 4 customer service reps, EST hours, office based", "office", "standard"),
        ("6 inbound CSRs + 2 QA, premium tier", "wfh", "premium"),
        ("2 VAs, WFO", "office", "standard"),
        ("3 CSRs, Eastern Standard Time, enterprise", "wfh", "enterprise"),
        ("2 CSRs for our enterprise clients", "wfh", "standard"),
        ("2 IT support specialists, night shift, onsite", "office", "standard"),
    ],
)
def test_workspace_and_tier_are_read_beside_the_new_wordings(text, workspace, tier):
    request = parse_request(text)
    assert (request.workspace, request.tier) == (workspace, tier)


def test_a_purpose_does_not_change_the_price_or_the_cache_key():
    assert (
        parse_request("video editor for our YouTube channel, part time").cache_key()
        == parse_request("a video editor, part time").cache_key()
    )


REFUSED = [
    # a place whose business hours fit neither quoted shift
    ("2 VAs, UK hours", "UK hours ('uk hours'): 9 am to 5 pm there is 5 pm to 1 am in Manila"),
    ("5 CSRs, GMT", "asks for UK hours ('gmt')"),
    ("5 CSRs for UK clients", "asks for UK hours"),
    ("2 devs on EU hours", "European hours ('eu hours'): 9 am to 5 pm there is 4 pm to midnight"),
    ("2 devs, NZ hours", "New Zealand hours ('nz hours')"),
    ("2 VAs, London hours", "UK hours ('london hours')"),
    ("2 VAs CET", "European hours ('cet')"),
    ("2 VAs on GMT+1", "UTC+1 hours"),
    # words that could mean two things
    ("5 CSRS FOR US", "in capitals, so 'US' may be 'us' or the United States"),
    ("2 VAs PT", "'PT', which may be part time or Pacific time"),
    ("2 VAs for our store and SEO", "is 'seo' in '2 VAs for our store and SEO' another role"),
    # contradictions and conditions no role takes
    ("5 CSRs on US hours on the day shift", "two different shifts: day ('day shift') and night"),
    ("5 CSRs US hours, day shift", "says 'day shift' for no role"),
    ("2 senior accountants, junior", "says 'junior' for no role"),
    ("2 CSRs x 3", "gives two counts for 'customer service representative': 2 and 3"),
    ("2 senior junior accountants", "two levels for 'accountant': senior and junior"),
    ("mid to senior accountant", "two levels for 'accountant': mid and senior"),
    # shifts and schedules a quote has no price for
    ("3 CSRs on the mid shift", "cannot read 'mid shift'"),
    ("3 CSRs, evening shift", "cannot read 'evening shift'"),
    ("5 CSRs 24/7", "round-the-clock cover ('24/7')"),
    ("5 CSRs round the clock", "round-the-clock cover"),
    ("2 VAs 9am-5pm EST", "clock times ('9am-5pm')"),
    ("2 VAs 9-5", "clock times ('9-5')"),
    ("CSRs from 8 pm", "clock times ('from 8 pm')"),
    ("a bookkeeper, 3 days a week", "3 days a week without the hours"),
    ("2 VAs 20 hours", "gives hours ('20 hours') without saying per week or per day"),
    ("1 graphic designer, part-time (20 hrs)", "gives hours ('20 hours') without saying per"),
    ("2 hr", "gives hours ('2 hours')"),
    ("2 devs 9 hours a day", "is 45; it must be from 4 to 40"),
    # roles that are not the catalogue's, and words that change what a person costs
    ("5 outbound call center agents", "'outbound' customer service representatives"),
    ("5 outbound agents", "outbound calling is sales work"),
    ("2 team leads", "no role 'team lead'"),
    ("2 VAs for our Spanish-speaking customers", "cannot read 'spanish'"),
    ("a bilingual CSR", "cannot read 'bilingual' before 'customer service representative'"),
    ("an accountant for our CPA firm", "names 'cpa', a role of its own"),
    ("a VA for data entry", "cannot read 'data entry'"),
    ("2 VAs with Shopify experience", "cannot read 'experience'"),
    ("Salesforce admin", "cannot read 'salesforce' before 'administrative assistant'"),
    ("2 Amazon developers", "cannot read 'amazon' before 'software developer'"),
    ("2 accountants plus a lead", "cannot read 'a lead'"),
    ("Need quote: 5 x CSR, 2 x TL", "no role 'tl'"),
    ("2 VAs for a few months", "cannot read 'few months'"),
    ("5 CSRs, budget $2000", "cannot read 'budget 2000'"),
    ("2 VAs part time, full time", "says 'full time' for no role"),
    ("2 VAs part time 40 hours a week", "two different weekly hours: part time"),
    # numbers
    ("10,000 CSRs", "is 10000; it must be from 1 to 500"),
    ("a thousand CSRs", "is 1000; it must be from 1 to 500"),
    ("2,5 VAs", "has a fraction ('2,5')"),
    ("CSRs for US", "how many 'csrs'?"),
    ("2 2 VAs", "gives two counts for 'virtual assistant': 2 and 2"),
]


@pytest.mark.parametrize(("text", "named"), REFUSED)
def test_wordings_that_could_be_misread_are_refused_by_name(text, named):
    with pytest.raises(InvalidQuoteRequest) as refused:
        parse_request(text)
    assert named in str(refused.value)


# -- characters nobody types ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "named"),
    [
        ("2 accountants\x00", "a control character (U+0000) at position 13"),
        ("2 accountants\x1b[0m", "a control character (U+001B)"),
        ("2 accountants\x7f", "a control character (U+007F)"),
        ("2 accountants\x85", "a control character (U+0085)"),
        ("2 accountants\ud800", "an unpaired surrogate (U+D800) at position 13"),
        ("\udc00 2 accountants", "an unpaired surrogate (U+DC00) at position 0"),
        ({"text": "2 accountants\x00"}, "a control character (U+0000)"),
        (structured({"title": "accountant\x00", "count": 1}), "a role title has a control"),
        (structured({"title": "accountant", "level": "sr\x1f", "count": 1}), "a level has a"),
        (structured({"title": "accountant", "count": 1, "shift": "night\x1c"}), "the shift"),
        (structured({"title": "accountant", "count": 1}, tier="premium\x1c"), "tier has a"),
        (structured({"title": "accountant", "count": 1}, workspace="\ud83d"), "workspace has an"),
    ],
)
def test_control_characters_and_lone_surrogates_are_refused_by_name(request_, named):
    with pytest.raises(InvalidQuoteRequest) as refused:
        parse_request(request_)
    assert named in str(refused.value)


def test_tabs_line_breaks_and_emoji_are_text():
    assert lines("2 accountants,\t1 VA\r\n\U0001f44d") == [
        (1, "mid", VA, "day", 40),
        (2, "mid", "accountant", "day", 40),
    ]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("4 CSRs, quote in AUD", "AUD"),
        ("2 accountants in GBP", "GBP"),
        ("3 VAs (EUR)", "EUR"),
        ("5 CSRs priced in pounds", "GBP"),
        ("2 CSRs in US dollars", "USD"),
        ("3 VAs for Aussie hours, in Australian dollars", "AUD"),
        ("a senior accountant, office based, prices in euros please", "EUR"),
        ("4 CSRs", None),
    ],
)
def test_a_request_may_name_its_currency(text, code):
    assert parse_request(text).currency == code


def test_the_currency_named_does_not_change_the_team_or_its_key():
    named, plain = parse_request("4 CSRs, quote in GBP"), parse_request("4 CSRs")
    assert named.roles == plain.roles and named.cache_key() == plain.cache_key()
    assert parse_request(named.to_dict()) == named  # the structured form keeps it
    assert parse_request(structured({"title": "csr", "count": 4}, currency=" gbp ")) == named


@pytest.mark.parametrize(
    ("request_", "refusal"),
    [
        ("2 CSRs in dollars", "say which, USD or AUD"),
        ("2 CSRs in GBP and EUR", "more than one currency: ['EUR', 'GBP']"),
        (structured({"title": "csr", "count": 2}, currency="JPY"), "USD, AUD, GBP, EUR, not 'JPY'"),
        (structured({"title": "csr", "count": 2}, currency=5), "not 5"),
        ("2 CSRs in yen", "cannot read 'yen'"),
    ],
)
def test_a_currency_a_quote_cannot_be_in_is_refused_by_name(request_, refusal):
    with pytest.raises(InvalidQuoteRequest) as refused:
        parse_request(request_)
    assert refusal in str(refused.value)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("3 VAs (euros)", "EUR"),
        ("3 VAs, euros", "EUR"),
        ("2 CSRs in sterling", "GBP"),
        ("2 CSRs (pounds sterling)", "GBP"),
        # a word that is a currency only when said as one: here it is what the team works for
        ("2 VAs for our pound shop", None),
        ("2 VAs for our euro store", None),
    ],
)
def test_pounds_and_euros_name_a_currency_only_when_said_as_one(text, code):
    assert parse_request(text).currency == code


@pytest.mark.parametrize(
    ("text", "refused"),
    [
        ("2 CSRs to cover our weekend calls", "'weekend'"),
        ("2 CSRs on weekends", "'weekends'"),
        ("2 CSRs on call", "'on call'"),
        ("2 VAs to work on call", "'on call'"),
        ("2 CSRs for after-hours support", "'after hours'"),
        ("5 CSRs incl. holidays", "'holidays'"),
        ("2 CSRs to answer our late calls", "'late'"),
        ("a VA for early morning emails", "'early'"),
    ],
)
def test_work_outside_the_priced_week_is_refused_even_in_a_purpose(text, refused):
    with pytest.raises(InvalidQuoteRequest) as raised:
        parse_request(text)
    assert f"cannot read {refused}" in str(raised.value)


def test_a_purpose_that_looks_after_something_is_still_read():
    assert lines("a VA to look after our inbox") == [(1, "mid", VA, "day", 40)]
    assert lines("2 CSRs, Mon-Fri") == [(2, "mid", "customer service representative", "day", 40)]


def test_the_team_is_the_request_without_its_currency():
    named = parse_request("4 CSRs, quote in GBP")
    assert "currency" not in named.team() and named.to_dict()["currency"] == "GBP"
    assert named.team() == parse_request("4 CSRs").to_dict()
