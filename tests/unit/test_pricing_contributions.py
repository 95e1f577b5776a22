"""Philippine contributions, 2025 rules: every bracket edge and cap, and rules chosen by date."""

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

import pytest

from config.errors import PermanentError
from pricing.contributions import (
    RULE_SETS,
    RULES_2025,
    ContributionRulesError,
    InvalidSalary,
    contributions,
    rules_for,
)

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


# -- rules by effective date ----------------------------------------------------------------


def later_rules() -> tuple:
    """The 2025 table plus a made-up 2026 rule set, built here so module state is untouched."""
    rules_2026 = replace(
        RULES_2025,
        effective_from=date(2026, 1, 1),
        philhealth=replace(RULES_2025.philhealth, employer_rate=Decimal("0.03")),
    )
    return (rules_2026, *RULE_SETS)  # deliberately not in date order


def test_rules_in_force_on_their_effective_date():
    assert rules_for(date(2025, 1, 1)) is RULES_2025


def test_before_any_rules_is_an_error():
    with pytest.raises(ContributionRulesError, match="2024-12-31"):
        rules_for(date(2024, 12, 31))


def test_the_latest_rules_not_after_the_date_apply():
    table = later_rules()
    assert rules_for(date(2025, 12, 31), table) is RULES_2025
    assert rules_for(date(2026, 1, 1), table).effective_from == date(2026, 1, 1)
    assert rules_for(date(2030, 5, 1), table).effective_from == date(2026, 1, 1)


def test_contributions_follow_the_rules_of_the_date():
    # Given a table where 2026 raises the employer's PhilHealth share to 3%
    table = later_rules()
    # When the same salary is computed in each year
    in_2025 = contributions(Decimal("50000"), date(2025, 12, 31), table)
    in_2026 = contributions(Decimal("50000"), date(2026, 1, 1), table)
    # Then only the date decides which rate applies
    assert in_2025.philhealth_employer == Decimal("1250")
    assert in_2026.philhealth_employer == Decimal("1500")


def test_the_module_table_is_unchanged_by_a_test_table():
    later_rules()
    assert RULE_SETS == (RULES_2025,)


def test_two_rule_sets_on_one_date_are_an_error():
    with pytest.raises(ContributionRulesError, match="share effective date 2025-01-01"):
        rules_for(IN_2025, (RULES_2025, replace(RULES_2025)))


def test_module_table_has_one_rule_set_per_date():
    dates = [rules.effective_from for rules in RULE_SETS]
    assert len(dates) == len(set(dates))


@pytest.mark.parametrize("on", [datetime(2025, 6, 1, 12, 0), "2025-06-01", None])
def test_rules_are_looked_up_by_a_date_only(on):
    with pytest.raises(ContributionRulesError):
        rules_for(on)


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
