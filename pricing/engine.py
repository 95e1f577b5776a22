"""Monthly price of an offshore team: salary, night differential, 13th-month accrual,
employer contributions, service fee, workspace.

What each line costs per head, per month:
- salary: the table's full-time monthly salary times hours_per_week / 40 (part time is paid
  pro rata);
- night_differential: NIGHT_DIFFERENTIAL_RATE (10%, Labor Code Art. 86) of that salary on a
  night shift. Offshore night shifts serve US clients and sit wholly between 10 pm and 6 am,
  so every hour earns it: 10% of each hourly rate is 10% of the monthly salary;
- thirteenth_month: one twelfth of the basic salary (PD 851), accrued every month. The
  differential is not basic salary, so it is not in the accrual;
- contributions: SSS and EC on all compensation (salary and differential: RA 11199 counts
  all remuneration), PhilHealth and Pag-IBIG on the basic salary;
- service_fee: the fee rate times the tier multiplier, on the basic salary;
- workspace: one seat per head, part time or not (the seat is held either way).

Rounding: every amount is computed exactly (Decimal, never float) and rounded once, to the
centavo with ROUND_HALF_UP, only when the output dict is produced. Each figure shown is
therefore the exact figure rounded, and every total is the rounded exact total, not the sum
of the rounded figures above it. Summing the shown items of a line (or the shown lines) can
so differ from the shown total by a centavo or more (up to half a centavo per figure summed);
we accept that because the total is the amount invoiced and must not drift with how many
items the quote happens to be split into. USD figures are the exact PHP figure divided by the rate,
then rounded, never a conversion of an already rounded PHP figure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Any

from config.errors import PermanentError
from pricing.contributions import RULE_SETS, InvalidSalary, RuleSet, contributions_under, rules_for
from pricing.requests import (
    FULL_TIME_HOURS,
    TIERS,
    WORKSPACES,
    InvalidQuoteRequest,
    QuoteRequest,
    RoleLine,
)

CENT = Decimal("0.01")
CURRENCY = "PHP"
ITEMS = (
    "salary",
    "night_differential",
    "thirteenth_month",
    "sss_employer",
    "ec",
    "philhealth_employer",
    "pagibig_employer",
    "service_fee",
    "workspace",
)
EMPLOYEE_DEDUCTIONS = ("sss_employee", "philhealth_employee", "pagibig_employee")


class InvalidPricingRates(PermanentError):
    """Pricing rates that would produce a wrong quote: missing, negative or float values."""


def _frozen(mapping: dict[str, str]) -> Mapping[str, Decimal]:
    return MappingProxyType({key: Decimal(value) for key, value in mapping.items()})


@dataclass(frozen=True)
class PricingRates:
    """What we charge on top of cost. Overridable per deal; the defaults are the list price."""

    tier_multipliers: Mapping[str, Decimal] = field(
        default_factory=lambda: _frozen(
            {"standard": "1.00", "premium": "1.15", "enterprise": "1.30"}
        )
    )
    service_fee_rate: Decimal = Decimal("0.30")
    workspace_seat_php: Mapping[str, Decimal] = field(
        default_factory=lambda: _frozen({"wfh": "2500", "hybrid": "6000", "office": "12000"})
    )
    php_per_usd: Decimal = Decimal("56.00")
    # Where the USD rate came from and the day it was read: a quote states both.
    usd_rate_as_of: date | None = None
    usd_rate_source: str = "list rate"
    night_differential_rate: Decimal = Decimal("0.10")

    def __post_init__(self) -> None:
        """Check once here so pricing cannot meet a float, a gap or a negative mid-quote."""
        object.__setattr__(
            self, "tier_multipliers", _checked_table(self.tier_multipliers, TIERS, "tier")
        )
        object.__setattr__(
            self,
            "workspace_seat_php",
            _checked_table(self.workspace_seat_php, WORKSPACES, "workspace seat"),
        )
        _checked_amount(self.service_fee_rate, "service fee rate")
        if _checked_amount(self.php_per_usd, "PHP per USD") == 0:
            raise InvalidPricingRates("PHP per USD must be more than 0")
        _checked_amount(self.night_differential_rate, "night differential rate")
        if self.usd_rate_as_of is not None and not isinstance(self.usd_rate_as_of, date):
            raise InvalidPricingRates(f"usd_rate_as_of must be a date, not {self.usd_rate_as_of!r}")
        if not isinstance(self.usd_rate_source, str) or not self.usd_rate_source.strip():
            raise InvalidPricingRates("usd_rate_source must name where the rate came from")

    def fingerprint(self) -> str:
        """Every rate as text: part of a quote's cache key, so a new rate is a new quote."""
        parts = [f"tier.{key}={value}" for key, value in sorted(self.tier_multipliers.items())]
        parts += [f"seat.{key}={value}" for key, value in sorted(self.workspace_seat_php.items())]
        as_of = self.usd_rate_as_of.isoformat() if self.usd_rate_as_of else "-"
        parts += [
            f"fee={self.service_fee_rate}",
            f"night={self.night_differential_rate}",
            f"usd={self.php_per_usd}",
            f"usd_as_of={as_of}",
            f"usd_source={self.usd_rate_source}",
        ]
        return "|".join(parts)


def price_quote(
    request: QuoteRequest,
    salary_for: Callable[[str, str], Decimal],
    rates: PricingRates,
    on: date,
    *,
    rule_sets: Sequence[RuleSet] = RULE_SETS,
) -> dict[str, Any]:
    """The monthly quote for `request` as a JSON-ready dict; see the module doc on rounding.

    Only the employer's contributions are a cost to the client; the employee's are shown
    under `employee_deductions` because the client will see them on payslips.
    """
    if not isinstance(request, QuoteRequest):
        raise InvalidQuoteRequest(f"price_quote needs a QuoteRequest, not {type(request).__name__}")
    if not isinstance(rates, PricingRates):
        raise InvalidPricingRates(f"price_quote needs PricingRates, not {type(rates).__name__}")
    rules = rules_for(on, rule_sets)
    multiplier = rates.tier_multipliers[request.tier]
    seat = rates.workspace_seat_php[request.workspace]
    lines = []
    item_totals = dict.fromkeys(ITEMS, Decimal(0))
    deduction_totals = dict.fromkeys(EMPLOYEE_DEDUCTIONS, Decimal(0))
    for line in request.roles:
        salary = salary_for(line.title, line.level)
        if not isinstance(salary, Decimal):
            raise InvalidSalary(
                f"salary for {line.level} {line.title} must be a Decimal, not {salary!r}"
            )
        items, deductions = _per_head(line, salary, rates, rules, multiplier, seat)
        items = {name: amount * line.count for name, amount in items.items()}
        deductions = {name: amount * line.count for name, amount in deductions.items()}
        total = sum(items.values(), Decimal(0))
        for name in ITEMS:
            item_totals[name] += items[name]
        for name in EMPLOYEE_DEDUCTIONS:
            deduction_totals[name] += deductions[name]
        lines.append(
            {
                "title": line.title,
                "level": line.level,
                "count": line.count,
                "shift": line.shift,
                "hours_per_week": line.hours_per_week,
                "full_time_monthly_salary": money(salary),
                "monthly_salary": money(_paid(salary, line)),
                "items": _money_dict(items),
                "employee_deductions": {
                    **_money_dict(deductions),
                    "total": money(sum(deductions.values(), Decimal(0))),
                },
                "total_php": money(total),
                "total_usd": money(total / rates.php_per_usd),
            }
        )
    monthly = sum(item_totals.values(), Decimal(0))
    return {
        "request": request.to_dict(),
        "quoted_on": on.isoformat(),
        "effective_rules": rules.effective_from.isoformat(),
        "rules_valid_until": rules.valid_until.isoformat(),
        "rules_notice": _rules_notice(rules, on),
        "currency": CURRENCY,
        "usd_rate": _rate(rates.php_per_usd),
        "usd_rate_as_of": rates.usd_rate_as_of.isoformat() if rates.usd_rate_as_of else None,
        "usd_rate_source": rates.usd_rate_source,
        "lines": lines,
        "totals": {
            "monthly_php": money(monthly),
            "monthly_usd": money(monthly / rates.php_per_usd),
            "per_item": _money_dict(item_totals),
            "employee_deductions": {
                **_money_dict(deduction_totals),
                "total": money(sum(deduction_totals.values(), Decimal(0))),
            },
        },
    }


def _paid(full_time_salary: Decimal, line: RoleLine) -> Decimal:
    """The basic monthly salary for the line's hours: full time pro rata."""
    return full_time_salary * line.hours_per_week / FULL_TIME_HOURS


def _per_head(
    line: RoleLine,
    full_time_salary: Decimal,
    rates: PricingRates,
    rules: RuleSet,
    multiplier: Decimal,
    seat: Decimal,
) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """One person's monthly items and payslip deductions; see the module doc for each rule."""
    salary = _paid(full_time_salary, line)
    night = salary * rates.night_differential_rate if line.shift == "night" else Decimal(0)
    basic = contributions_under(rules, salary)
    on_all_pay = contributions_under(rules, salary + night) if night else basic
    per_head = replace(
        basic,
        monthly_salary_credit=on_all_pay.monthly_salary_credit,
        sss_employer=on_all_pay.sss_employer,
        sss_employee=on_all_pay.sss_employee,
        ec=on_all_pay.ec,
    )
    items = {
        "salary": salary,
        "night_differential": night,
        "thirteenth_month": salary / 12,
        "sss_employer": per_head.sss_employer,
        "ec": per_head.ec,
        "philhealth_employer": per_head.philhealth_employer,
        "pagibig_employer": per_head.pagibig_employer,
        "service_fee": salary * rates.service_fee_rate * multiplier,
        "workspace": seat,
    }
    return items, {name: getattr(per_head, name) for name in EMPLOYEE_DEDUCTIONS}


def _rules_notice(rules: RuleSet, on: date) -> str | None:
    """A quote past its rule set's checked period says so, rather than look current."""
    if on <= rules.valid_until:
        return None
    return (
        f"Contributions use the rule set in force from {rules.effective_from.isoformat()},"
        f" checked up to {rules.valid_until.isoformat()}; no newer rule set is on file for"
        f" {on.isoformat()}. Amounts may change when one is published."
    )


def money(amount: Decimal) -> str:
    """The one place amounts are rounded: to the centavo, half up, as the invoice shows it."""
    return f"{amount.quantize(CENT, rounding=ROUND_HALF_UP):f}"


def _money_dict(amounts: Mapping[str, Decimal]) -> dict[str, str]:
    return {name: money(amount) for name, amount in amounts.items()}


def _rate(rate: Decimal) -> str:
    """Two decimals as usually quoted, but never hide the precision a deal's rate was set to."""
    return money(rate) if rate == rate.quantize(CENT) else f"{rate.normalize():f}"


def _checked_amount(value: Any, what: str) -> Decimal:
    if not isinstance(value, Decimal):
        raise InvalidPricingRates(f"{what} must be a Decimal, not {value!r}")
    if not value.is_finite() or value < 0:
        raise InvalidPricingRates(f"{what} must be a finite amount of 0 or more, not {value}")
    return value


def _checked_table(
    table: Mapping[str, Decimal], keys: tuple[str, ...], what: str
) -> Mapping[str, Decimal]:
    if not isinstance(table, Mapping):
        raise InvalidPricingRates(f"{what} rates must be a mapping, not {table!r}")
    if set(table) != set(keys):
        raise InvalidPricingRates(
            f"{what} rates must cover exactly {sorted(keys)}, not {sorted(map(str, table))}"
        )
    return MappingProxyType({key: _checked_amount(table[key], f"{what} {key}") for key in keys})
