"""The 13th month, the night-shift differential and part time, as worked examples.

Each figure is worked by hand in the comments, from the 2025 rules: SSS 10% employer and 5%
employee of the MSC (brackets of 500 centred on the credit, 5,000 to 35,000), EC 30 from an
MSC of 15,000; PhilHealth 2.5% each on the basic salary; Pag-IBIG 2% each, capped at 10,000
(so 200); service fee 30% of the basic salary (standard tier); work-from-home seat 2,500.
"""

from datetime import date
from decimal import Decimal

from pricing.currencies import LIST_RATES, ExchangeRate
from pricing.engine import PricingRates, price_quote
from pricing.requests import QuoteRequest, RoleLine, parse_request

IN_2025 = date(2025, 6, 15)
# Midpoints of the salary table's ranges for the roles used here.
MIDPOINTS = {
    ("accountant", "senior"): Decimal("62500"),
    ("graphic designer", "junior"): Decimal("27000"),
    ("customer service representative", "mid"): Decimal("28000"),
    ("virtual assistant", "mid"): Decimal("30000"),
}


def salary_for(title: str, level: str) -> Decimal:
    return MIDPOINTS[(title, level)]


def quote(text_or_request, on: date = IN_2025, rates: PricingRates | None = None) -> dict:
    request = (
        text_or_request
        if isinstance(text_or_request, QuoteRequest)
        else parse_request(text_or_request)
    )
    return price_quote(request, salary_for, rates or PricingRates(), on)


def test_the_13th_month_is_a_twelfth_of_the_basic_salary_on_every_line():
    # 2 senior accountants at 62,500 and a junior graphic designer at 27,000:
    # (2 x 62,500 + 27,000) / 12 = 152,000 / 12 = 12,666.666... -> 12,666.67
    result = quote("2 senior accountants and a junior graphic designer, office based")
    assert result["totals"]["per_item"]["thirteenth_month"] == "12666.67"
    by_title = {line["title"]: line for line in result["lines"]}
    assert by_title["accountant"]["items"]["thirteenth_month"] == "10416.67"  # 125,000 / 12
    assert by_title["graphic designer"]["items"]["thirteenth_month"] == "2250.00"  # 27,000 / 12


def test_a_night_shift_adds_ten_percent_and_sss_counts_it():
    # 1 mid CSR at 28,000 on nights: differential 10% = 2,800.
    # SSS on all pay, 30,800: MSC 31,000 -> employer 3,100, employee 1,550 (day: 2,800 / 1,400).
    # PhilHealth and Pag-IBIG on the basic 28,000: 700 and 200 each side.
    # 13th month on the basic only: 28,000 / 12 = 2,333.333...
    # Total: 28,000 + 2,800 + 2,333.333 + 3,100 + 30 + 700 + 200 + 8,400 + 2,500 = 48,063.333...
    (line,) = quote("1 CSR for the night shift")["lines"]
    assert line["shift"] == "night"
    assert line["items"] == {
        "salary": "28000.00",
        "night_differential": "2800.00",
        "thirteenth_month": "2333.33",
        "sss_employer": "3100.00",
        "ec": "30.00",
        "philhealth_employer": "700.00",
        "pagibig_employer": "200.00",
        "service_fee": "8400.00",
        "workspace": "2500.00",
    }
    assert line["employee_deductions"]["sss_employee"] == "1550.00"
    assert line["total_php"] == "48063.33"


def test_the_same_csr_on_days_has_no_differential():
    # 28,000 + 2,333.333 + 2,800 + 30 + 700 + 200 + 8,400 + 2,500 = 44,963.333...
    (line,) = quote("1 CSR")["lines"]
    assert line["items"]["night_differential"] == "0.00"
    assert line["items"]["sss_employer"] == "2800.00"
    assert line["total_php"] == "44963.33"


def test_part_time_is_paid_pro_rata_and_keeps_the_seat():
    # 2 mid VAs at 30,000 full time, 20 hours a week: 15,000 each.
    # 13th month 1,250; SSS MSC 15,000 -> 1,500 (+ EC 30); PhilHealth 375; Pag-IBIG 200;
    # fee 4,500; seat 2,500 (held whatever the hours).
    # Per head 15,000 + 1,250 + 1,500 + 30 + 375 + 200 + 4,500 + 2,500 = 25,355; two: 50,710.
    (line,) = quote("2 VAs to work part time")["lines"]
    assert line["hours_per_week"] == 20
    assert line["full_time_monthly_salary"] == "30000.00"
    assert line["monthly_salary"] == "15000.00"
    assert line["items"]["thirteenth_month"] == "2500.00"
    assert line["items"]["sss_employer"] == "3000.00"
    assert line["items"]["philhealth_employer"] == "750.00"
    assert line["items"]["workspace"] == "5000.00"
    assert line["total_php"] == "50710.00"


def test_part_time_at_night_combines_both():
    # A mid CSR at 20 hours a week on nights: salary 14,000, differential 1,400;
    # SSS on 15,400: MSC 15,500 -> 1,550; 13th month 1,166.666...; PhilHealth 350; Pag-IBIG 200;
    # fee 4,200; seat 2,500. Total 14,000 + 1,400 + 1,166.667 + 1,550 + 30 + 350 + 200
    # + 4,200 + 2,500 = 25,396.666... -> 25,396.67
    (line,) = quote("a CSR at 20 hours a week, night shift")["lines"]
    assert (line["shift"], line["hours_per_week"]) == ("night", 20)
    assert line["items"]["night_differential"] == "1400.00"
    assert line["items"]["sss_employer"] == "1550.00"
    assert line["total_php"] == "25396.67"


def test_a_quote_past_its_rule_sets_check_is_priced_the_same_and_says_nothing_of_it():
    # Given a day after the newest rule set's checked_until (operators are told, not clients)
    late = quote("1 CSR", on=date(2031, 1, 6))
    # Then the quote names the rule set it used, with the same figures, and no notice
    assert late["effective_rules"] == "2026-01-01"
    assert late["lines"] == quote("1 CSR", on=date(2026, 6, 1))["lines"]
    assert not any("notice" in key or "until" in key for key in late)


def test_the_usd_rate_carries_its_date_and_source():
    usd = ExchangeRate(Decimal("58.25"), as_of=date(2026, 12, 3), source="BSP")
    rates = PricingRates(exchange_rates={**LIST_RATES, "USD": usd})
    result = quote("1 CSR", rates=rates)
    assert (result["usd_rate"], result["usd_rate_as_of"], result["usd_rate_source"]) == (
        "58.25",
        "2026-12-03",
        "BSP",
    )
    assert result["quoted_on"] == "2025-06-15"


def dated(**rates: ExchangeRate) -> PricingRates:
    return PricingRates(exchange_rates={**LIST_RATES, **rates})


def test_every_rate_changes_the_fingerprint():
    base = dated(USD=ExchangeRate(Decimal("56.00"), date(2026, 12, 1)))
    variants = [
        dated(USD=ExchangeRate(Decimal("56.00"), date(2026, 12, 2))),
        dated(USD=ExchangeRate(Decimal("57"), date(2026, 12, 1))),
        dated(USD=ExchangeRate(Decimal("56.00"), date(2026, 12, 1), "BSP")),
        *(
            dated(USD=base.exchange_rates["USD"], **{code: ExchangeRate(Decimal("1"))})
            for code in ("AUD", "GBP", "EUR")
        ),
        dated(USD=base.exchange_rates["USD"], GBP=ExchangeRate(Decimal("75.00"), date(2026, 1, 1))),
        PricingRates(exchange_rates=base.exchange_rates, service_fee_rate=Decimal("0.25")),
        PricingRates(exchange_rates=base.exchange_rates, night_differential_rate=Decimal("0.2")),
    ]
    prints = {base.fingerprint(), *(rates.fingerprint() for rates in variants)}
    assert len(prints) == 1 + len(variants)
    assert dated(USD=ExchangeRate(Decimal("56.00"), date(2026, 12, 1))).fingerprint() == (
        base.fingerprint()
    )


def test_a_structured_request_names_shift_and_hours():
    request = parse_request(
        {"roles": [{"title": "CSR", "count": 3, "shift": "night", "hours_per_week": 30}]}
    )
    assert request.roles == (RoleLine("customer service representative", "mid", 3, "night", 30),)
    assert parse_request(request.to_dict()) == request
