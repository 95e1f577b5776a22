"""Philippine government contributions (SSS with EC, PhilHealth, Pag-IBIG) per employee.

The rates are data, one rule set per effective date (pricing/rule_sets.py); this module only
applies one. Amounts are exact Decimals, left unrounded: the caller rounds once, when it shows
them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal

from config.errors import PermanentError
from pricing.rule_sets import RULE_SETS, RuleSet, SssRule, rules_for


class InvalidSalary(PermanentError):
    """A salary that contributions cannot be computed on (not a positive, finite Decimal)."""


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
