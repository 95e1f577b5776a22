"""Free-text requests as a sales team writes them: each read to the team it means, or
refused with a message naming the words it could not use. Nothing is priced silently wrong."""

import pytest

from pricing import catalogue
from pricing.requests import InvalidQuoteRequest, parse_request


def lines(text: str) -> list[tuple]:
    request = parse_request(text)
    return [
        (line.count, line.level, line.title, line.shift, line.hours_per_week)
        for line in request.roles
    ]


CSR = "customer service representative"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5 CSRs for the night shift", [(5, "mid", CSR, "night", 40)]),
        ("3 CSRs, night shift", [(3, "mid", CSR, "night", 40)]),
        ("3 CSRs on the graveyard shift", [(3, "mid", CSR, "night", 40)]),
        ("2 VAs to work part time", [(2, "mid", "virtual assistant", "day", 20)]),
        ("3 bookkeepers at 20 hours a week", [(3, "mid", "bookkeeper", "day", 20)]),
        ("a bookkeeper, 4 hrs/day", [(1, "mid", "bookkeeper", "day", 20)]),
        ("2 QAs", [(2, "mid", "qa tester", "day", 40)]),
        ("QA", [(1, "mid", "qa tester", "day", 40)]),
        ("an SEO specialist", [(1, "mid", "seo specialist", "day", 40)]),
        ("3 Python devs", [(3, "mid", "software developer", "day", 40)]),
        ("2 medical VAs", [(2, "mid", "medical virtual assistant", "day", 40)]),
        ("2 full-stack developers", [(2, "mid", "full stack developer", "day", 40)]),
        ("an executive assistant", [(1, "mid", "executive assistant", "day", 40)]),
        ("a social media manager", [(1, "mid", "social media manager", "day", 40)]),
        ("VA", [(1, "mid", "virtual assistant", "day", 40)]),
        ("accountant", [(1, "mid", "accountant", "day", 40)]),
        ("twenty customer service representatives", [(20, "mid", CSR, "day", 40)]),
        ("twenty-five CSRs", [(25, "mid", CSR, "day", 40)]),
        ("a dozen chat support agents", [(12, "mid", "chat support agent", "day", 40)]),
        ("3 accountants (CPA)", [(3, "mid", "certified public accountant", "day", 40)]),
        ("2 lead gen specialists", [(2, "mid", "lead generation specialist", "day", 40)]),
        ("2 lead developers", [(2, "lead", "software developer", "day", 40)]),
        ("3 data entry clerks", [(3, "mid", "data entry specialist", "day", 40)]),
        ("2 UI/UX designers", [(2, "mid", "ui ux designer", "day", 40)]),
        ("a .NET developer", [(1, "mid", "software developer", "day", 40)]),
        ("1 sr. medical coder", [(1, "senior", "medical coder", "day", 40)]),
        ("2 entry level medical billers", [(2, "junior", "medical biller", "day", 40)]),
        (
            "We need 4 senior full stack devs working nights, 30 hours/week",
            [(4, "senior", "full stack developer", "night", 30)],
        ),
        (
            "Hi! Could we get a quote for 2 SDRs and an appointment setter, US night shift? Thanks",
            [
                (2, "mid", "sales development representative", "night", 40),
                (1, "mid", "appointment setter", "night", 40),
            ],
        ),
        (
            "10 CSRs (night shift) and 2 team leads",
            None,
        ),
        (
            "2 senior accountants and a junior graphic designer, office based",
            [(2, "senior", "accountant", "day", 40), (1, "junior", "graphic designer", "day", 40)],
        ),
        (
            "5 CSRs for the night shift and 2 VAs part time",
            [(5, "mid", CSR, "night", 40), (2, "mid", "virtual assistant", "day", 20)],
        ),
        (
            "a team of 6 developers and 2 QA engineers, night shift, hybrid",
            [(6, "mid", "software developer", "night", 40), (2, "mid", "qa tester", "night", 40)],
        ),
        (
            "one devops engineer plus a sysadmin",
            [
                (1, "mid", "devops engineer", "day", 40),
                (1, "mid", "system administrator", "day", 40),
            ],
        ),
    ],
)
def test_realistic_requests(text, expected):
    if expected is None:
        with pytest.raises(InvalidQuoteRequest):
            parse_request(text)
        return
    assert sorted(lines(text)) == sorted(expected)


def test_an_alias_and_its_title_merge_into_one_line():
    assert lines("2 CSRs and 3 customer service agents") == [(5, "mid", CSR, "day", 40)]


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("-2 developers", "negative number ('-2')"),
        ("need \u22123 VAs", "negative number"),
        ("1.5 developers", "fraction ('1.5')"),
        ("2 1/2 VAs", "fraction"),
        ("half a developer", "fraction"),
        ("2-3 developers", "range ('2-3')"),
        ("3 or 4 CSRs", "range"),
        ("3 bookkeepers at 7.5 hours a day", "fraction ('7.5')"),
        ("2 devs at 20 hours", "without saying per week or per day"),
        ("2 devs at 50 hours a week", "from 4 to 40 (overtime is not quoted)"),
        ("2 devs, part time, 40 hours a week", "two different weekly hours"),
        ("2 developers, night shift, day shift", "two different shifts"),
        ("3 quantum physicists", "no role 'quantum physicist'"),
        ("2 acountants", "did you mean 'accountant'"),
        ("2 experienced devs", "cannot read 'experienced' before 'software developer'"),
        ("2 developers for 6 months", "cannot read '6 months'"),
        ("2 accountants with CPA licences", "cannot read 'cpa licences'"),
        ("accountants", "how many 'accountants'"),
        ("0 developers", "it must be from 1 to 500"),
        ("501 CSRs", "is 501; it must be from 1 to 500"),
        ("300 CSRs and 201 customer service reps", "501 x mid customer service representative"),
        ("3 CSRs on the mid shift", "cannot read 'mid shift'"),
        ("Hi! Could we get a quote for 2 SDRs, US hours, day shift", "two different shifts"),
    ],
)
def test_words_not_used_are_refused(text, named):
    with pytest.raises(InvalidQuoteRequest, match=named.replace("(", r"\(").replace(")", r"\)")):
        parse_request(text)


def test_every_family_is_staffed_and_aliases_resolve_through_the_parser():
    assert {role.family for role in catalogue.ROLES} == set(catalogue.FAMILIES)
    for name, title in catalogue.BY_NAME.items():
        # "2 hr" is two hours; HR people are written in capitals
        for text in (f"2 {name}" if name != "hr" else "2 HR", f"{name} x2"):
            (line,) = parse_request(text).roles
            assert (line.title, line.count) == (title, 2), text


def test_structured_titles_take_aliases_and_refuse_the_unknown():
    request = parse_request({"roles": [{"title": "Python Devs", "count": 2}]})
    assert request.roles[0].title == "software developer"
    with pytest.raises(InvalidQuoteRequest, match="no role 'astronaut'"):
        parse_request({"roles": [{"title": "astronaut", "count": 1}]})


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("shift", "evening", "shift for 'software developer' must be one of"),
        ("shift", 1, "shift for 'software developer' must be one of"),
        ("hours_per_week", 41, "from 4 to 40"),
        ("hours_per_week", "20", "must be a whole number"),
        ("hours_per_week", 20.5, "must be a whole number"),
        ("count", 1.5, "must be an integer"),
        ("count", -2, "it must be from 1 to 500"),
    ],
)
def test_structured_conditions_are_checked(field, value, named):
    role = {"title": "developer", "count": 1, field: value}
    with pytest.raises(InvalidQuoteRequest, match=named):
        parse_request({"roles": [role]})
