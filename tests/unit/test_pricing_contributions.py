"""Philippine contributions: every bracket edge and cap under the 2025 rules, the 2026 rules
against them, and the rules chosen by date (tests/unit/test_pricing_rule_sets.py: the table)."""

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from config.errors import PermanentError
from pricing.contributions import InvalidSalary, contributions
from pricing.rule_sets import RULE_SETS, RULES_2026, ContributionRulesError, rules_for

IN_2025 = date(2025, 6, 15)


def on_2025(salary: str):
    return contributions(Decimal(salary), IN_2025)


# -- SSS: monthly salary credit brackets --------------------------------------------------


@pytest.mark.parametrize(
    ("compensation", "credit"),
    [
        ("1000", "5000"),
        ("5249.99", "5000"),
        ("5250", "5500"),
        ("5749.99", "5500"),
        ("5750", "6000"),
        ("14749.99", "14500"),
        ("14750", "15000"),
        ("34249.99", "34000"),
        ("34250", "34500"),
        ("34749.99", "34500"),
        ("34750", "35000"),
        ("250000", "35000"),
    ],
)
def test_sss_credit_is_the_bracket_that_holds_the_compensation(compensation, credit):
    assert on_2025(compensation).monthly_salary_credit == Decimal(credit)


@pytest.mark.parametrize(
    ("compensation", "employer", "employee"),
    [
        ("5249.99", "500", "250"),
        ("5250", "550", "275"),
        ("14749.99", "1450", "725"),
        ("14750", "1500", "750"),
        ("34749.99", "3450", "1725"),
        ("34750", "3500", "1750"),
    ],
)
def test_sss_is_ten_percent_employer_and_five_percent_employee_of_the_credit(
    compensation, employer, employee
):
    result = on_2025(compensation)
    assert result.sss_employer == Decimal(employer)
    assert result.sss_employee == Decimal(employee)


@pytest.mark.parametrize(
    ("compensation", "ec"),
    [("5000", "10"), ("14749.99", "10"), ("14750", "30"), ("35000", "30")],
)
def test_ec_is_10_below_a_15000_credit_and_30_from_it(compensation, ec):
    assert on_2025(compensation).ec == Decimal(ec)


def test_lowest_credit_costs_the_employer_510_and_the_employee_250():
    # Given compensation in the lowest bracket (MSC 5,000)
    result = on_2025("5000")
    # Then the employer remits 500 + EC 10, the employee 250
    assert result.sss_employer_total == Decimal("510")
    assert result.sss_employee == Decimal("250")


def test_highest_credit_costs_the_employer_3530_and_the_employee_1750():
    result = on_2025("35000")
    assert result.sss_employer_total == Decimal("3530")
    assert result.sss_employee == Decimal("1750")


# -- PhilHealth -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("salary", "each_share"),
    [
        ("8000", "250"),
        ("9999.99", "250"),
        ("10000", "250"),
        ("50000", "1250"),
        ("100000", "2500"),
        ("100000.01", "2500"),
        ("150000", "2500"),
    ],
)
def test_philhealth_is_five_percent_split_equally_between_floor_and_ceiling(salary, each_share):
    result = on_2025(salary)
    assert result.philhealth_employer == Decimal(each_share)
    assert result.philhealth_employee == Decimal(each_share)


def test_philhealth_is_not_rounded_to_the_centavo():
    # 2.5% of 10,000.10 is 250.0025; rounding is the caller's, once, at the end
    assert on_2025("10000.10").philhealth_employer == Decimal("250.0025")


# -- Pag-IBIG -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("compensation", "employer", "employee"),
    [
        ("1500", "30", "15"),
        ("1500.01", "30.0002", "30.0002"),
        ("1501", "30.02", "30.02"),
        ("10000", "200", "200"),
        ("10000.01", "200", "200"),
        ("20000", "200", "200"),
    ],
)
def test_pagibig_is_two_percent_each_capped_at_10000_with_one_percent_for_low_incomes(
    compensation, employer, employee
):
    result = on_2025(compensation)
    assert result.pagibig_employer == Decimal(employer)
    assert result.pagibig_employee == Decimal(employee)


# -- totals -------------------------------------------------------------------------------


def test_employer_total_includes_ec_and_employee_total_does_not():
    # Given 40,000: MSC 35,000, PhilHealth on 40,000, Pag-IBIG capped
    result = on_2025("40000")
    # Then employer: 3,500 + EC 30 + 1,000 + 200; employee: 1,750 + 1,000 + 200
    assert result.employer_total == Decimal("4730")
    assert result.employee_total == Decimal("2950")


def test_amounts_are_decimals():
    result = on_2025("23456.78")
    assert all(isinstance(value, Decimal) for value in vars(result).values())


# -- 2026 -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "salary", ["1000", "5249.99", "14750", "23456.78", "34750", "40000", "100000.01", "250000"]
)
def test_2026_charges_what_2025_did_on_every_programme(salary):
    # Given the 2026 rule set (RA 11199's last step holds; PhilHealth and Pag-IBIG unchanged)
    in_2026 = contributions(Decimal(salary), date(2026, 12, 7))
    # Then every amount equals 2025's, and the rule set used is 2026's own
    assert in_2026 == on_2025(salary)
    assert rules_for(date(2026, 12, 7)) is RULES_2026


def test_2026_worked_example_at_40000():
    # MSC 35,000: SSS 3,500 + EC 30 employer, 1,750 employee; PhilHealth 2.5% of 40,000 each;
    # Pag-IBIG 2% of the 10,000 cap each
    result = contributions(Decimal("40000"), date(2026, 1, 1))
    assert (result.sss_employer, result.ec, result.sss_employee) == (
        Decimal("3500"),
        Decimal("30"),
        Decimal("1750"),
    )
    assert result.philhealth_employer == result.philhealth_employee == Decimal("1000")
    assert result.pagibig_employer == result.pagibig_employee == Decimal("200")


def test_contributions_follow_the_rules_of_the_date():
    # Given a table where a made-up 2027 raises the employer's PhilHealth share to 3%
    rules_2027 = replace(
        RULES_2026,
        effective_from=date(2027, 1, 1),
        checked_until=date(2027, 12, 31),
        philhealth=replace(RULES_2026.philhealth, employer_rate=Decimal("0.03")),
    )
    table = (rules_2027, *RULE_SETS)
    # When the same salary is computed on either side of the change
    before = contributions(Decimal("50000"), date(2026, 12, 31), table)
    after = contributions(Decimal("50000"), date(2027, 1, 1), table)
    # Then only the date decides which rate applies
    assert before.philhealth_employer == Decimal("1250")
    assert after.philhealth_employer == Decimal("1500")


# -- invalid salaries -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "salary",
    [20000.0, 20000, "20000", Decimal("0"), Decimal("-1"), Decimal("NaN"), Decimal("Infinity")],
)
def test_a_salary_must_be_a_positive_finite_decimal(salary):
    with pytest.raises(InvalidSalary, match="monthly salary"):
        contributions(salary, IN_2025)


def test_errors_are_permanent():
    assert issubclass(InvalidSalary, PermanentError)
    assert issubclass(ContributionRulesError, PermanentError)
