"""Pricing a quote: the cost lines, the tier and workspace, and rounding once at the end."""

import json
import re
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from config.errors import PermanentError
from pricing.contributions import InvalidSalary
from pricing.currencies import LIST_RATES, ExchangeRate
from pricing.engine import InvalidPricingRates, PricingRates, price_quote
from pricing.requests import InvalidQuoteRequest, QuoteRequest, RoleLine, UnknownCurrency
from pricing.rule_sets import RULES_2025, ContributionRulesError

IN_2025 = date(2025, 6, 15)
SALARIES = {
    ("accountant", "senior"): Decimal("40000"),
    ("graphic designer", "junior"): Decimal("18000"),
    ("virtual assistant", "mid"): Decimal("10000.20"),
    ("bookkeeper", "mid"): Decimal("20001.66"),
}


class UnknownRole(PermanentError):
    pass


def salary_for(title: str, level: str) -> Decimal:
    try:
        return SALARIES[(title, level)]
    except KeyError:
        raise UnknownRole(f"no salary for {level} {title}") from None


def request(*roles: RoleLine, workspace: str = "wfh", tier: str = "standard") -> QuoteRequest:
    return QuoteRequest(roles=tuple(roles), workspace=workspace, tier=tier)


def quote(
    req: QuoteRequest, rates: PricingRates | None = None, on: date = IN_2025, currency="USD"
) -> dict:
    return price_quote(req, salary_for, rates or PricingRates(), on, currency=currency)


def rates_with(code: str, php_per_unit: str, **dated) -> PricingRates:
    """The list rates with one currency's rate set as a deal would."""
    rate = ExchangeRate(Decimal(php_per_unit), **dated)
    return PricingRates(exchange_rates={**LIST_RATES, code: rate})


def money_values(node):
    """Every string in the output that is not an identifier or a date."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key not in {
                "request",
                "title",
                "level",
                "shift",
                "currency",
                "quote_currency",
            } and not (
                key.startswith(("effective_", "quoted_")) or key.endswith(("_as_of", "_source"))
            ):
                yield from money_values(value)
    elif isinstance(node, list):
        for value in node:
            yield from money_values(value)
    elif isinstance(node, str):
        yield node


TWO_SENIOR_ACCOUNTANTS_IN_OFFICE = request(
    RoleLine("accountant", "senior", 2), workspace="office", tier="standard"
)


# -- the cost of a line ---------------------------------------------------------------------


def test_a_line_adds_salary_13th_month_employer_contributions_fee_and_workspace():
    # Given two senior accountants at 40,000 in the office, standard tier, day shift
    (line,) = quote(TWO_SENIOR_ACCOUNTANTS_IN_OFFICE)["lines"]
    # Then each item is per head x 2: MSC 35,000, PhilHealth on 40,000, Pag-IBIG capped,
    # 13th month 40,000 / 12 = 3,333.333... a head, 6,666.67 for two
    assert line["monthly_salary"] == "40000.00"
    assert line["items"] == {
        "salary": "80000.00",
        "night_differential": "0.00",
        "thirteenth_month": "6666.67",
        "sss_employer": "7000.00",
        "ec": "60.00",
        "philhealth_employer": "2000.00",
        "pagibig_employer": "400.00",
        "service_fee": "24000.00",
        "workspace": "24000.00",
    }
    # 137,460 as before the accrual + 6,666.666... = 144,126.666...
    assert line["total_php"] == "144126.67"
    assert line["total_usd"] == "2573.69"  # 144,126.666... / 56 = 2,573.690...


def test_employee_shares_are_shown_but_not_charged():
    (line,) = quote(TWO_SENIOR_ACCOUNTANTS_IN_OFFICE)["lines"]
    assert line["employee_deductions"] == {
        "sss_employee": "3500.00",
        "philhealth_employee": "2000.00",
        "pagibig_employee": "400.00",
        "total": "5900.00",
    }
    assert sum(Decimal(value) for value in line["items"].values()) == Decimal("144126.67")


@pytest.mark.parametrize(
    ("tier", "fee"), [("standard", "12000.00"), ("premium", "13800.00"), ("enterprise", "15600.00")]
)
def test_the_tier_multiplies_the_service_fee_only(tier, fee):
    (line,) = quote(request(RoleLine("accountant", "senior", 1), tier=tier))["lines"]
    assert line["items"]["service_fee"] == fee
    assert line["items"]["salary"] == "40000.00"
    assert line["items"]["workspace"] == "2500.00"


@pytest.mark.parametrize(
    ("workspace", "seat"), [("wfh", "2500.00"), ("hybrid", "6000.00"), ("office", "12000.00")]
)
def test_the_workspace_is_a_seat_cost_per_head(workspace, seat):
    (line,) = quote(request(RoleLine("accountant", "senior", 1), workspace=workspace))["lines"]
    assert line["items"]["workspace"] == seat


def test_the_salary_table_is_asked_for_each_title_and_level():
    asked = []

    def recording(title: str, level: str) -> Decimal:
        asked.append((title, level))
        return salary_for(title, level)

    req = request(RoleLine("accountant", "senior", 2), RoleLine("graphic designer", "junior", 1))
    price_quote(req, recording, PricingRates(), IN_2025)
    assert asked == [("accountant", "senior"), ("graphic designer", "junior")]


# -- the whole quote ------------------------------------------------------------------------


def test_the_quote_carries_its_request_rules_currency_and_rate():
    result = quote(TWO_SENIOR_ACCOUNTANTS_IN_OFFICE)
    assert result["request"] == TWO_SENIOR_ACCOUNTANTS_IN_OFFICE.to_dict()
    assert result["effective_rules"] == "2025-01-01"
    assert (result["currency"], result["quote_currency"]) == ("PHP", "USD")
    assert result["usd_rate"] == "56.00"


def test_a_usd_quote_keeps_the_shape_it_always_had_and_says_nothing_of_rule_checks():
    result = quote(TWO_SENIOR_ACCOUNTANTS_IN_OFFICE, on=date(2031, 1, 1))  # past every check
    keys = "request quoted_on effective_rules currency quote_currency usd_rate usd_rate_as_of"
    assert list(result) == [*keys.split(), "usd_rate_source", "lines", "totals"]
    assert list(result["totals"]) == [
        "monthly_php",
        "monthly_usd",
        "per_item",
        "employee_deductions",
    ]
    assert set(result["lines"][0]) >= {"total_php", "total_usd"}
    assert "rule" not in json.dumps({k: v for k, v in result.items() if k != "effective_rules"})


def test_totals_sum_the_lines_per_item():
    # Given two lines
    req = request(RoleLine("accountant", "senior", 2), RoleLine("graphic designer", "junior", 1))
    result = quote(req)
    # Then per-item totals and the monthly total add them up
    totals = result["totals"]
    assert totals["per_item"]["salary"] == "98000.00"
    assert totals["per_item"]["workspace"] == "7500.00"
    assert totals["monthly_php"] == "{:.2f}".format(
        sum(Decimal(line["total_php"]) for line in result["lines"])
    )
    assert totals["employee_deductions"]["total"] == "{:.2f}".format(
        sum(Decimal(line["employee_deductions"]["total"]) for line in result["lines"])
    )


def test_every_amount_is_a_string_with_two_decimals_and_the_quote_is_json():
    req = request(RoleLine("accountant", "senior", 2), RoleLine("virtual assistant", "mid", 3))
    result = quote(req)
    amounts = list(money_values(result))
    assert amounts
    assert all(re.fullmatch(r"\d+\.\d\d", amount) for amount in amounts)
    assert json.loads(json.dumps(result)) == result


def test_the_usd_rate_can_be_overridden():
    rates = rates_with("USD", "50")
    result = quote(TWO_SENIOR_ACCOUNTANTS_IN_OFFICE, rates)
    assert result["usd_rate"] == "50.00"
    assert result["totals"]["monthly_usd"] == "2882.53"  # 144,126.666... / 50


def test_a_finer_usd_rate_is_shown_as_set():
    rates = rates_with("USD", "56.125")
    assert quote(TWO_SENIOR_ACCOUNTANTS_IN_OFFICE, rates)["usd_rate"] == "56.125"


# -- currencies -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "rate", "total"),
    [
        # The premium bookkeeper below: 33,799.0792 PHP exactly, 33,799.08 shown. At each
        # rate the exact figure rounds down and the shown one would round up:
        ("USD", "56.00", "603.55"),  # 603.55498... (33,799.08 / 56 = 603.555)
        ("AUD", "33.60", "1005.92"),  # 1,005.92497... (1,005.925)
        ("GBP", "79.65", "424.34"),  # 424.34499... (424.34500...)
        ("EUR", "63.62", "531.26"),  # 531.26499... (531.26501...)
    ],
)
def test_each_currency_is_converted_from_the_exact_php_to_the_cent(code, rate, total):
    req = request(RoleLine("bookkeeper", "mid", 1), tier="premium")
    result = quote(req, rates_with(code, rate), currency=code)
    suffix = code.lower()
    (line,) = result["lines"]
    assert line["total_php"] == result["totals"]["monthly_php"] == "33799.08"
    assert line[f"total_{suffix}"] == result["totals"][f"monthly_{suffix}"] == total
    assert (result["quote_currency"], result[f"{suffix}_rate"]) == (code, rate)


def test_a_quote_in_gbp_states_its_dated_rate_and_carries_no_usd():
    rates = rates_with("GBP", "75.00", as_of=date(2026, 12, 4), source="BSP reference rate")
    result = quote(TWO_SENIOR_ACCOUNTANTS_IN_OFFICE, rates, currency="GBP")
    assert (result["gbp_rate"], result["gbp_rate_as_of"], result["gbp_rate_source"]) == (
        "75.00",
        "2026-12-04",
        "BSP reference rate",
    )
    # 144,126.666... / 75 = 1,921.688...
    assert result["totals"]["monthly_gbp"] == "1921.69"
    assert result["lines"][0]["total_gbp"] == "1921.69"
    assert "usd_rate" not in result and "monthly_usd" not in result["totals"]
    assert (
        result["totals"]["monthly_php"]
        == quote(TWO_SENIOR_ACCOUNTANTS_IN_OFFICE)["totals"]["monthly_php"]
    )


@pytest.mark.parametrize("written", ["gbp", " GBP ", "Gbp"])
def test_the_currency_is_read_in_any_case(written):
    assert quote(TWO_SENIOR_ACCOUNTANTS_IN_OFFICE, currency=written)["quote_currency"] == "GBP"


def test_no_currency_means_usd():
    assert quote(TWO_SENIOR_ACCOUNTANTS_IN_OFFICE, currency=None)["quote_currency"] == "USD"


@pytest.mark.parametrize("currency", ["JPY", "PHP", "", "pounds", 826])
def test_an_unknown_currency_is_refused_naming_the_allowed_ones(currency):
    with pytest.raises(UnknownCurrency, match=r"currency must be one of USD, AUD, GBP, EUR, not"):
        quote(TWO_SENIOR_ACCOUNTANTS_IN_OFFICE, currency=currency)


# -- rounding once, at the end --------------------------------------------------------------


def test_a_line_is_rounded_once_not_per_head():
    # Given 2 VAs at 10,000.20: PhilHealth per head is 250.005
    (line,) = quote(request(RoleLine("virtual assistant", "mid", 2)))["lines"]
    # Then 2 x 250.005 = 500.01 exactly; rounding per head first would give 500.02
    assert line["items"]["philhealth_employer"] == "500.01"


def test_the_total_is_the_rounded_exact_total_not_the_sum_of_rounded_items():
    # Given one premium VA at 10,000.20: PhilHealth 250.005, fee 3,450.069, 13th month
    # 833.35, SSS 1,000 + EC 10, Pag-IBIG 200, seat 2,500: exact total 18,243.624
    (line,) = quote(request(RoleLine("virtual assistant", "mid", 1), tier="premium"))["lines"]
    # Then the shown items round up to a sum one centavo above the shown total, by design
    assert line["items"]["philhealth_employer"] == "250.01"
    assert line["items"]["service_fee"] == "3450.07"
    assert line["total_php"] == "18243.62"
    assert sum(Decimal(value) for value in line["items"].values()) == Decimal("18243.63")


def test_usd_is_converted_from_the_exact_php_not_the_rounded_php():
    # Given a premium bookkeeper at 20,001.66: salary + 13th month 1,666.805 + SSS 2,000
    # + EC 30 + PhilHealth 500.0415 + Pag-IBIG 200 + fee 6,900.5727 + seat 2,500
    # = 33,799.0792 exactly
    (line,) = quote(request(RoleLine("bookkeeper", "mid", 1), tier="premium"))["lines"]
    # Then 33,799.0792 / 56 = 603.55498... -> 603.55; 33,799.08 / 56 would give 603.56
    assert line["total_php"] == "33799.08"
    assert line["total_usd"] == "603.55"


def test_half_a_centavo_rounds_up():
    # 10,000.20 x 2.5% = 250.005 -> 250.01 (half up, not half even)
    (line,) = quote(request(RoleLine("virtual assistant", "mid", 1)))["lines"]
    assert line["employee_deductions"]["philhealth_employee"] == "250.01"


# -- rules by date --------------------------------------------------------------------------


def test_the_rules_of_the_quote_date_apply():
    # Given a test-only 2026 rule set with a 3% employer PhilHealth share
    rules_2026 = replace(
        RULES_2025,
        effective_from=date(2026, 1, 1),
        checked_until=date(2026, 12, 31),
        philhealth=replace(RULES_2025.philhealth, employer_rate=Decimal("0.03")),
    )
    req = request(RoleLine("accountant", "senior", 1))
    # When priced in 2026 against a table holding both
    result = price_quote(
        req, salary_for, PricingRates(), date(2026, 2, 1), rule_sets=(RULES_2025, rules_2026)
    )
    # Then the 2026 rules are named and used
    assert result["effective_rules"] == "2026-01-01"
    assert result["lines"][0]["items"]["philhealth_employer"] == "1200.00"


def test_a_date_before_any_rules_is_an_error():
    with pytest.raises(ContributionRulesError):
        quote(TWO_SENIOR_ACCOUNTANTS_IN_OFFICE, on=date(2024, 12, 31))


# -- errors ---------------------------------------------------------------------------------


def test_an_unknown_role_error_from_the_salary_table_propagates():
    with pytest.raises(UnknownRole, match="no salary for lead astronaut"):
        quote(request(RoleLine("astronaut", "lead", 1)))


def test_a_float_salary_is_refused():
    def float_salary(title: str, level: str) -> Decimal:
        return 40000.0  # type: ignore[return-value]

    with pytest.raises(InvalidSalary, match="senior accountant"):
        price_quote(TWO_SENIOR_ACCOUNTANTS_IN_OFFICE, float_salary, PricingRates(), IN_2025)


def test_the_request_must_be_a_quote_request():
    with pytest.raises(InvalidQuoteRequest):
        price_quote(TWO_SENIOR_ACCOUNTANTS_IN_OFFICE.to_dict(), salary_for, PricingRates(), IN_2025)


# -- rates ----------------------------------------------------------------------------------


def test_default_rates():
    rates = PricingRates()
    assert dict(rates.tier_multipliers) == {
        "standard": Decimal("1.00"),
        "premium": Decimal("1.15"),
        "enterprise": Decimal("1.30"),
    }
    assert rates.service_fee_rate == Decimal("0.30")
    assert dict(rates.workspace_seat_php) == {
        "wfh": Decimal("2500"),
        "hybrid": Decimal("6000"),
        "office": Decimal("12000"),
    }
    assert {code: fx.php_per_unit for code, fx in rates.exchange_rates.items()} == {
        "USD": Decimal("56.00"),
        "AUD": Decimal("37.00"),
        "GBP": Decimal("75.00"),
        "EUR": Decimal("65.00"),
    }


def test_rates_do_not_change_when_the_source_dict_does():
    seats = {"wfh": Decimal("1"), "hybrid": Decimal("2"), "office": Decimal("3")}
    rates = PricingRates(workspace_seat_php=seats)
    seats["office"] = Decimal("999")
    assert rates.workspace_seat_php["office"] == Decimal("3")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"service_fee_rate": 0.3}, "service fee rate must be a Decimal"),
        ({"service_fee_rate": Decimal("-0.1")}, "0 or more"),
        ({"exchange_rates": {**LIST_RATES, "GBP": ExchangeRate(Decimal("0"))}}, "more than 0"),
        ({"exchange_rates": {**LIST_RATES, "USD": ExchangeRate(56)}}, "PHP per USD must be a Dec"),
        ({"exchange_rates": {"USD": LIST_RATES["USD"]}}, "must cover exactly"),
        ({"exchange_rates": {**LIST_RATES, "EUR": Decimal("65")}}, "EUR rate must be an Exch"),
        (
            {"exchange_rates": {**LIST_RATES, "AUD": ExchangeRate(Decimal("37"), "2026-12-01")}},
            "AUD rate's date must be a date",
        ),
        (
            {"exchange_rates": {**LIST_RATES, "AUD": ExchangeRate(Decimal("37"), source=" ")}},
            "AUD rate must name where it came from",
        ),
        ({"tier_multipliers": {"standard": Decimal("1")}}, "must cover exactly"),
        (
            {"workspace_seat_php": {"wfh": 2500, "hybrid": 6000, "office": 12000}},
            "workspace seat wfh must be a Decimal",
        ),
    ],
)
def test_invalid_rates_are_refused(overrides, message):
    with pytest.raises(InvalidPricingRates, match=message):
        PricingRates(**overrides)


def test_rate_errors_are_permanent():
    assert issubclass(InvalidPricingRates, PermanentError)
