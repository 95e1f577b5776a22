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
items the quote happens to be split into. Figures in the quote's currency (USD unless the
caller asks for AUD, GBP or EUR) are the exact PHP figure divided by that currency's rate, then
rounded, never a conversion of an already rounded PHP figure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Any

from config.errors import PermanentError
from pricing.contributions import InvalidSalary, contributions_under
from pricing.currencies import CURRENCIES, DEFAULT_CURRENCY, LIST_RATES, ExchangeRate, currency_code
from pricing.requests import (
    FULL_TIME_HOURS,
    TIERS,
    WORKSPACES,
    InvalidQuoteRequest,
    QuoteRequest,
    RoleLine,
)
from pricing.rule_sets import RULE_SETS, RuleSet, rules_for

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
    # PHP per unit of each currency a quote may be in, with the day and source of each rate.
    exchange_rates: Mapping[str, ExchangeRate] = field(default_factory=lambda: LIST_RATES)
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
        object.__setattr__(self, "exchange_rates", _checked_exchange_rates(self.exchange_rates))
        _checked_amount(self.night_differential_rate, "night differential rate")

    def fingerprint(self) -> str:
        """Every rate as text: part of a quote's cache key, so a new rate is a new quote."""
        parts = [f"tier.{key}={value}" for key, value in sorted(self.tier_multipliers.items())]
        parts += [f"seat.{key}={value}" for key, value in sorted(self.workspace_seat_php.items())]
        parts += [f"fee={self.service_fee_rate}", f"night={self.night_differential_rate}"]
        for code, fx in sorted(self.exchange_rates.items()):
            as_of = fx.as_of.isoformat() if fx.as_of else "-"
            parts += [f"{code}={fx.php_per_unit}@{as_of}", f"{code}_source={fx.source}"]
        return "|".join(parts)


def price_quote(
    request: QuoteRequest,
    salary_for: Callable[[str, str], Decimal],
    rates: PricingRates,
    on: date,
    *,
    currency: str | None = DEFAULT_CURRENCY,
    rule_sets: Sequence[RuleSet] = RULE_SETS,
) -> dict[str, Any]:
    """The monthly quote for `request` as a JSON-ready dict; see the module doc on rounding.

    Only the employer's contributions are a cost to the client; the employee's are shown
    under `employee_deductions` because the client will see them on payslips. Amounts are
    PHP (`currency`); `quote_currency` names the one the totals are also shown in, and its
    figures and rate carry its code: `total_gbp`, `monthly_gbp`, `gbp_rate`, as a USD quote
    has always carried `total_usd`, `monthly_usd`, `usd_rate`.
    """
    if not isinstance(request, QuoteRequest):
        raise InvalidQuoteRequest(f"price_quote needs a QuoteRequest, not {type(request).__name__}")
    if not isinstance(rates, PricingRates):
        raise InvalidPricingRates(f"price_quote needs PricingRates, not {type(rates).__name__}")
    code = currency_code(currency)
    fx, suffix = rates.exchange_rates[code], code.lower()
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
                f"total_{suffix}": money(total / fx.php_per_unit),
            }
        )
    monthly = sum(item_totals.values(), Decimal(0))
    return {
        "request": request.team(),
        "quoted_on": on.isoformat(),
        "effective_rules": rules.effective_from.isoformat(),
        "currency": CURRENCY,
        "quote_currency": code,
        f"{suffix}_rate": _rate(fx.php_per_unit),
        f"{suffix}_rate_as_of": fx.as_of.isoformat() if fx.as_of else None,
        f"{suffix}_rate_source": fx.source,
        "lines": lines,
        "totals": {
            "monthly_php": money(monthly),
            f"monthly_{suffix}": money(monthly / fx.php_per_unit),
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


def _checked_exchange_rates(rates: Mapping[str, ExchangeRate]) -> Mapping[str, ExchangeRate]:
    """A rate for exactly the currencies a quote may be in, each positive, dated or not, and
    naming its source: a quote states all three."""
    if not isinstance(rates, Mapping):
        raise InvalidPricingRates(f"exchange rates must be a mapping, not {rates!r}")
    if set(rates) != set(CURRENCIES):
        raise InvalidPricingRates(
            f"exchange rates must cover exactly {sorted(CURRENCIES)}, not {sorted(map(str, rates))}"
        )
    for code, fx in rates.items():
        if not isinstance(fx, ExchangeRate):
            raise InvalidPricingRates(f"the {code} rate must be an ExchangeRate, not {fx!r}")
        if _checked_amount(fx.php_per_unit, f"PHP per {code}") == 0:
            raise InvalidPricingRates(f"PHP per {code} must be more than 0")
        if fx.as_of is not None and not isinstance(fx.as_of, date):
            raise InvalidPricingRates(f"the {code} rate's date must be a date, not {fx.as_of!r}")
        if not isinstance(fx.source, str) or not fx.source.strip():
            raise InvalidPricingRates(f"the {code} rate must name where it came from")
    return MappingProxyType({code: rates[code] for code in CURRENCIES})


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
