"""The quote email as a customer sees it: mailed by a real worker through a real SMTP server,
its HTML part opened in headless Chromium as a desktop client shows it (600px) and as a
phone does (375px), with the colours a client's dark mode forces; the screenshots are kept
in test-artifacts/ and the layout is checked through the DOM."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from tests.browser import ARTIFACTS, headless_chromium, screenshot
from tests.conftest import module_worker
from tests.fakes import SmtpSink
from tests.integration.test_quote_mail import REQUEST, mailed_quote

NAME = '<script>document.body.dataset.ran = "yes"</script> Ana'

#: What the page shows, measured by the browser that laid it out.
FACTS = """
const card = document.querySelector('table[style*="max-width"]');
const edge = card.getBoundingClientRect().right;
const money = /^(PHP|USD|AUD|GBP|EUR) [0-9,]+\\.[0-9]{2}$/;
const textBox = (element) => {
  const range = document.createRange();
  range.selectNodeContents(element);
  return range.getClientRects();
};
const amount = (td) => {
  const style = getComputedStyle(td), boxes = textBox(td), cell = td.getBoundingClientRect();
  return {
    text: td.innerText.trim(),
    align: style.textAlign,
    lines: boxes.length,
    textRight: boxes[boxes.length - 1].right,
    contentRight: cell.right - parseFloat(style.paddingRight),
    inTotal: td.closest('table.total') !== null,
  };
};
const rgb = (colour) => colour.match(/[0-9.]+/g).map(Number);
const luminance = (colour) => {
  const [r, g, b] = rgb(colour).slice(0, 3).map((c) => c / 255)
    .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
const backgroundOf = (element) => {
  for (let e = element; e; e = e.parentElement) {
    const colour = getComputedStyle(e).backgroundColor, parts = rgb(colour);
    if (parts.length === 3 || parts[3] > 0) return colour;
  }
  return 'rgb(255, 255, 255)';
};
const worded = [...document.body.querySelectorAll('*')].filter((e) =>
  e.offsetParent !== null && [...e.childNodes].some((n) => n.nodeType === 3 && n.data.trim()));
const contrast = (e) => {
  const [a, b] = [luminance(getComputedStyle(e).color), luminance(backgroundOf(e))];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
};
const total = document.querySelector('table.total');
const totalBox = total.getBoundingClientRect();
const totalAmount = total.querySelector('td.amount');
const centre = totalAmount.getBoundingClientRect();
return {
  scrollWidth: document.scrollingElement.scrollWidth,
  innerWidth: innerWidth,
  cardWidth: card.getBoundingClientRect().width,
  overflowing: [...card.querySelectorAll('*')]
    .filter((e) => e.getBoundingClientRect().right > edge + 0.5)
    .map((e) => e.outerHTML.slice(0, 120)),
  amounts: [...document.querySelectorAll('td.amount')].map(amount),
  unmarked: [...document.querySelectorAll('td')]
    .filter((td) => money.test(td.innerText.trim()) && !td.classList.contains('amount'))
    .map((td) => td.innerText),
  lowContrast: worded.filter((e) => contrast(e) < 4.5)
    .map((e) => [e.innerText.slice(0, 40), contrast(e)]),
  colourAlone: [...document.querySelectorAll('[style]')]
    .filter((e) => e.style.color && !e.style.backgroundColor)
    .map((e) => e.outerHTML.slice(0, 120)),
  total: total.innerText,
  totalInView: totalBox.width > 0 && totalBox.left >= 0 && totalBox.right <= innerWidth,
  totalOnTop: document.elementFromPoint(centre.left + centre.width / 2,
                                        centre.top + centre.height / 2) === totalAmount,
  greeting: [...document.querySelectorAll('td')]
    .filter((td) => td.innerText.startsWith('Hi ')).at(-1).innerText,
  band: card.querySelector('td').innerText,
  scripts: document.scripts.length,
  ran: document.body.dataset.ran || null,
  images: document.images.length,
  fetched: performance.getEntriesByType('resource').map((r) => r.name),
};
"""


@pytest.fixture(scope="module")
def mailed():
    """One quote in euros, mailed as a web app asks for it; the message as it arrived is kept
    beside the screenshots (quote-email.eml opens in any mail client)."""
    customer = f"ana-{uuid.uuid4().hex[:8]}@example.com"
    with SmtpSink() as mail, module_worker(["email"], env={"SMTP_URL": mail.url}):
        result, received, parts = mailed_quote(mail, REQUEST, customer, NAME, "EUR")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "quote-email.eml").write_text(received["data"])
    page = ARTIFACTS / "quote-email.html"
    page.write_text(parts["text/html"])
    return result, page


@pytest.fixture(scope="module")
def browser():
    with headless_chromium() as browser:
        yield browser


def show_at(browser, width: int) -> dict:
    """Lay the page out `width` CSS pixels wide (a phone's viewport below 600) and as tall as
    it is, so one screenshot holds all of it; what the page then shows."""
    metrics = {"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": width < 600}
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**metrics, "height": height})
    return browser.execute_script(FACTS)


@pytest.mark.parametrize("width", [600, 375])
def test_the_quote_email_reads_well_on_a_desktop_client_and_a_phone(mailed, browser, width):
    result, page = mailed
    browser.get(page.as_uri())
    facts = show_at(browser, width)
    screenshot(browser, f"quote-email-{width}.png")

    # Nothing scrolls sideways and nothing sticks out of the card, at most 600px wide
    assert facts["scrollWidth"] <= facts["innerWidth"] == width, facts
    assert facts["cardWidth"] <= 600 and facts["overflowing"] == []
    # The company's band and the monthly total in both currencies, in view and on top
    assert facts["band"] == "The offshore staffing team"
    assert f"PHP {Decimal(result['monthly_php']):,.2f}" in facts["total"]
    assert "in EUR" in facts["total"] and "EUR " in facts["total"]
    assert facts["totalInView"] and facts["totalOnTop"]
    # Every amount is in a cell of its own, on one line, right-aligned: their right edges
    # make one column in the lines and one in the total box
    amounts = facts["amounts"]
    assert len(amounts) > 20 and facts["unmarked"] == []
    for cell in amounts:
        assert cell["align"] == "right" and cell["lines"] == 1, cell
        assert abs(cell["textRight"] - cell["contentRight"]) < 1, cell
    for in_total in (False, True):
        edges = {round(c["textRight"]) for c in amounts if c["inTotal"] is in_total}
        assert max(edges) - min(edges) <= 1, (in_total, edges)
    # Every word is readable on what it sits on
    assert facts["lowContrast"] == []


def test_the_name_is_shown_as_written_and_never_run(mailed, browser):
    _, page = mailed
    browser.get(page.as_uri())
    facts = show_at(browser, 600)
    assert facts["greeting"] == f"Hi {NAME},"
    assert (facts["scripts"], facts["ran"]) == (0, None)


def test_images_off_and_dark_mode_change_nothing_that_matters(mailed, browser):
    _, page = mailed
    browser.get(page.as_uri())
    facts = show_at(browser, 375)
    # Nothing is fetched: with images off (or offline) the mail is the same mail
    assert facts["images"] == 0 and facts["fetched"] == []
    # No colour is set without its background, so a client's dark mode recolours both
    assert facts["colourAlone"] == []
    # What a client that forces dark colours shows (Chromium's own forced dark mode)
    browser.execute_cdp_cmd("Emulation.setAutoDarkModeOverride", {"enabled": True})
    try:
        screenshot(browser, "quote-email-375-dark.png")
    finally:
        browser.execute_cdp_cmd("Emulation.setAutoDarkModeOverride", {})
