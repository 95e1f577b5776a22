"""The mail templates as a reader sees them: rendered from plain values, no SMTP server."""

from html.parser import HTMLParser

import pytest

from mail.brand import BRAND
from mail.render import render
from tests.unit.test_quote_mail import mail


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


def test_html_is_escaped_and_text_is_not():
    # Given a name and a body with markup in them
    context = {"subject": "Hello", "body": "<b>bold</b> & more", "name": "<script>x</script>"}
    rendered = render("notice", context)
    # Then the HTML shows the markup as text and the text part keeps it as written
    assert "&lt;script&gt;x&lt;/script&gt;" in rendered.html and "<script" not in rendered.html
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; more" in rendered.html
    assert "<b>bold</b> & more" in rendered.text


class Markup(HTMLParser):
    """The elements of an HTML part with their attributes (conditional comments, which only
    Outlook reads, are comments here as in every other client)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {name: value or "" for name, value in attrs}))


def declarations(style: str) -> dict[str, str]:
    pairs = (part.split(":", 1) for part in style.split(";") if ":" in part)
    return {name.strip(): value.strip() for name, value in pairs}


@pytest.fixture(scope="module")
def quote_html() -> str:
    return mail("5 CSRs for the night shift and a senior accountant, office based").html


def test_the_quote_needs_nothing_a_mail_client_drops_or_blocks(quote_html):
    elements = Markup(quote_html).elements
    tags = {tag for tag, _ in elements}
    # No <style> to be stripped, nothing fetched (images off changes nothing), no script
    assert not tags & {"style", "link", "img", "script", "iframe", "object", "svg"}
    assert "url(" not in quote_html and "http" not in quote_html and "@import" not in quote_html
    # Tables lay it out, each a presentation table to screen readers
    assert all(attrs.get("role") == "presentation" for tag, attrs in elements if tag == "table")
    assert not tags & {"section", "article", "main", "header", "footer", "nav"}


def test_the_quote_is_at_most_600px_wide_and_fixes_no_width(quote_html):
    elements = Markup(quote_html).elements
    styles = [declarations(attrs.get("style", "")) for _, attrs in elements]
    assert [style["max-width"] for style in styles if "max-width" in style] == ["600px"]
    # Every other width is a share of its container, so a phone never scrolls sideways
    assert {attrs["width"] for _, attrs in elements if "width" in attrs} == {"100%"}
    assert {style["width"] for style in styles if "width" in style} == {"100%"}


def test_no_text_colour_is_set_without_its_background(quote_html):
    # A client's dark mode recolours what is left unset: a dark text on a darkened background
    # would vanish, so every element that sets a colour sets its background too
    coloured = 0
    for tag, attrs in Markup(quote_html).elements:
        declared = declarations(attrs.get("style", ""))
        if "color" in declared:
            coloured += 1
            assert "background-color" in declared, (tag, attrs)
    assert coloured > 20


def test_every_amount_is_right_aligned_and_kept_on_one_line(quote_html):
    cells = [attrs for tag, attrs in Markup(quote_html).elements
             if tag == "td" and "amount" in attrs.get("class", "").split()]  # fmt: skip
    # a head, 9 and 8 items, a total and its conversion per line, the monthly total and its
    assert len(cells) == 1 + 9 + 2 + 8 + 2 + 2
    for attrs in cells:
        declared = declarations(attrs["style"])
        assert attrs["align"] == "right" and declared["text-align"] == "right"
        assert declared["white-space"] == "nowrap"


def test_the_brand_colours_are_readable_pairs():
    pairs = [("ink", "paper"), ("muted", "paper"), ("on_band", "band"),
             ("on_band_muted", "band"), ("on_tint", "tint"), ("ink", "canvas")]  # fmt: skip
    for text, background in pairs:
        assert contrast(BRAND[text], BRAND[background]) >= 4.5, (text, background)


def contrast(one: str, other: str) -> float:
    """The WCAG 2 contrast ratio of two #rrggbb colours."""

    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)
