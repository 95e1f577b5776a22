"""The mail templates as a reader sees them: rendered from plain values, no SMTP server."""

import pytest

from mail.render import render


def candidates(n: int) -> list[dict]:
    return [
        {"name": f"C{i}", "role": "bookkeeper", "years_experience": 3, "skills": ["xero"],
         "availability": "full_time"}
        for i in range(n)
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("n", "subject", "sentence"),
    [
        (1, "1 candidate for Ong Logistics", "Here is 1 candidate who matches what"),
        (3, "3 candidates for Ong Logistics", "Here are 3 candidates who match what"),
    ],
)
def test_candidate_matches_agree_in_number(n, subject, sentence):
    # Given a lead and n candidates
    context = {"lead": {"name": "Ben", "company": "Ong Logistics"}, "candidates": candidates(n)}
    # When the candidate-matches mail is rendered
    rendered = render("candidate_matches", context)
    # Then the subject, the text and the HTML agree with the number of candidates
    assert rendered.subject == subject
    assert sentence in rendered.text and sentence in rendered.html
