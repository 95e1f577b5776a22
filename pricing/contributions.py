"""Philippine government contributions (SSS with EC, PhilHealth, Pag-IBIG) per employee.

The rates change by circular, usually in January, and a quote must be reproducible for the
date it was made. So the rules are data: `RULE_SETS` holds one `RuleSet` of plain numbers per
effective date, and next year's rates are a new entry, not new code. Amounts are exact
Decimals, left unrounded: the caller rounds once, when it shows them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_FLOOR, Decimal

from config.errors import PermanentError


class InvalidSalary(PermanentError):
    """A salary that contributions cannot be computed on (not a positive, finite Decimal)."""


class ContributionRulesError(PermanentError):
    """No rule set, or more than one, is in effect on the requested date."""


@dataclass(frozen=True)
class SssRule:
    """SSS on the monthly salary credit (MSC): compensation bracketed in `msc_step` steps.

    Compensation within half a step of a credit gets that credit; below the first bracket
    it gets `msc_floor`, from the last one up `msc_ceiling`. EC (Employees' Compensation) is
    a flat employer-only amount, higher from `ec_high_from_msc`.
    """

    employer_rate: Decimal
    employee_rate: Decimal
    msc_floor: Decimal
    msc_ceiling: Decimal
    msc_step: Decimal
    ec_low: Decimal
    ec_high: Decimal
    ec_high_from_msc: Decimal


@dataclass(frozen=True)
class PhilHealthRule:
    """Premium on the basic salary, held between `salary_floor` and `salary_ceiling`."""

    employer_rate: Decimal
    employee_rate: Decimal
    salary_floor: Decimal
    salary_ceiling: Decimal


@dataclass(frozen=True)
class PagIbigRule:
    """Contribution on compensation capped at `compensation_cap`.

    The employee pays the lower rate when compensation is at most `low_income_ceiling`.
    """

    employer_rate: Decimal
    employee_rate: Decimal
    employee_low_income_rate: Decimal
    low_income_ceiling: Decimal
    compensation_cap: Decimal


@dataclass(frozen=True)
class RuleSet:
    """The rates in force from `effective_from`, checked against the circulars up to
    `valid_until`: a quote made later is still priced on the latest set, and says so."""

    effective_from: date
    valid_until: date
    sss: SssRule
    philhealth: PhilHealthRule
    pagibig: PagIbigRule


RULES_2025 = RuleSet(
    effective_from=date(2025, 1, 1),
    valid_until=date(2025, 12, 31),
    # SSS Circular 2024-006: 15% of an MSC from 5,000 to 35,000 (employer 10%, employee 5%).
    sss=SssRule(
        employer_rate=Decimal("0.10"),
        employee_rate=Decimal("0.05"),
        msc_floor=Decimal("5000"),
        msc_ceiling=Decimal("35000"),
        msc_step=Decimal("500"),
        ec_low=Decimal("10"),
        ec_high=Decimal("30"),
        ec_high_from_msc=Decimal("15000"),
    ),
    # PhilHealth Circular 2020-0005, 2024-2025 row: 5% split equally, salary 10,000-100,000.
    philhealth=PhilHealthRule(
        employer_rate=Decimal("0.025"),
        employee_rate=Decimal("0.025"),
        salary_floor=Decimal("10000"),
        salary_ceiling=Decimal("100000"),
    ),
    # HDMF Circular 460: 2% each on compensation up to 10,000; employee 1% at 1,500 or less.
    pagibig=PagIbigRule(
        employer_rate=Decimal("0.02"),
        employee_rate=Decimal("0.02"),
        employee_low_income_rate=Decimal("0.01"),
        low_income_ceiling=Decimal("1500"),
        compensation_cap=Decimal("10000"),
    ),
)

RULE_SETS: tuple[RuleSet, ...] = (RULES_2025,)


@dataclass(frozen=True)
class Contributions:
    """Monthly amounts for one employee, unrounded.

    EC is kept apart from `sss_employer` because it funds a different programme and is not a
    rate of the MSC; `sss_employer_total` is what the employer remits to SSS.
    """

    monthly_salary_credit: Decimal
    sss_employer: Decimal
    sss_employee: Decimal
    ec: Decimal
    philhealth_employer: Decimal
    philhealth_employee: Decimal
    pagibig_employer: Decimal
    pagibig_employee: Decimal

    @property
    def sss_employer_total(self) -> Decimal:
        return self.sss_employer + self.ec

    @property
    def employer_total(self) -> Decimal:
        return self.sss_employer + self.ec + self.philhealth_employer + self.pagibig_employer

    @property
    def employee_total(self) -> Decimal:
        return self.sss_employee + self.philhealth_employee + self.pagibig_employee


def rules_for(on: date, table: Sequence[RuleSet] = RULE_SETS) -> RuleSet:
    """The rule set in force on `on`: the latest one whose `effective_from` is not after it."""
    if isinstance(on, datetime) or not isinstance(on, date):
        raise ContributionRulesError(f"rules are looked up by a date, not {on!r}")
    in_force = [rules for rules in table if rules.effective_from <= on]
    if not in_force:
        raise ContributionRulesError(f"no contribution rules in effect on {on.isoformat()}")
    latest = max(rules.effective_from for rules in in_force)
    chosen = [rules for rules in in_force if rules.effective_from == latest]
    if len(chosen) > 1:
        raise ContributionRulesError(
            f"{len(chosen)} contribution rule sets share effective date {latest.isoformat()}"
        )
    return chosen[0]


def contributions(
    monthly_salary: Decimal, on: date, table: Sequence[RuleSet] = RULE_SETS
) -> Contributions:
    """Employer and employee contributions on `monthly_salary` under the rules of `on`."""
    return contributions_under(rules_for(on, table), monthly_salary)


def contributions_under(rules: RuleSet, monthly_salary: Decimal) -> Contributions:
    """As `contributions`, for a rule set already chosen (one look-up per quote)."""
    salary = _checked_salary(monthly_salary)
    msc = monthly_salary_credit(rules.sss, salary)
    philhealth_base = min(
        max(salary, rules.philhealth.salary_floor), rules.philhealth.salary_ceiling
    )
    pagibig = rules.pagibig
    pagibig_base = min(salary, pagibig.compensation_cap)
    pagibig_employee_rate = (
        pagibig.employee_low_income_rate
        if salary <= pagibig.low_income_ceiling
        else pagibig.employee_rate
    )
    return Contributions(
        monthly_salary_credit=msc,
        sss_employer=msc * rules.sss.employer_rate,
        sss_employee=msc * rules.sss.employee_rate,
        ec=rules.sss.ec_high if msc >= rules.sss.ec_high_from_msc else rules.sss.ec_low,
        philhealth_employer=philhealth_base * rules.philhealth.employer_rate,
        philhealth_employee=philhealth_base * rules.philhealth.employee_rate,
        pagibig_employer=pagibig_base * pagibig.employer_rate,
        pagibig_employee=pagibig_base * pagibig_employee_rate,
    )


def monthly_salary_credit(rule: SssRule, compensation: Decimal) -> Decimal:
    """The credit whose bracket holds `compensation`: brackets are centred on the credits."""
    steps = ((compensation - rule.msc_floor + rule.msc_step / 2) / rule.msc_step).to_integral_value(
        rounding=ROUND_FLOOR
    )
    return min(max(rule.msc_floor + steps * rule.msc_step, rule.msc_floor), rule.msc_ceiling)


def _checked_salary(value: Decimal) -> Decimal:
    if not isinstance(value, Decimal):
        raise InvalidSalary(f"a monthly salary must be a Decimal, not {value!r}")
    if not value.is_finite() or value <= 0:
        raise InvalidSalary(f"a monthly salary must be positive and finite, not {value}")
    return value
