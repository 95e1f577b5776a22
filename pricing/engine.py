"""Monthly price of an offshore team: salary, employer contributions, service fee, workspace.

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
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Any

from config.errors import PermanentError
from pricing.contributions import RULE_SETS, InvalidSalary, RuleSet, contributions_under, rules_for
from pricing.requests import TIERS, WORKSPACES, InvalidQuoteRequest, QuoteRequest

CENT = Decimal("0.01")
CURRENCY = "PHP"
ITEMS = (
    "salary",
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
        per_head = contributions_under(rules, salary)
        items = {
            "salary": salary,
            "sss_employer": per_head.sss_employer,
            "ec": per_head.ec,
            "philhealth_employer": per_head.philhealth_employer,
            "pagibig_employer": per_head.pagibig_employer,
            "service_fee": salary * rates.service_fee_rate * multiplier,
            "workspace": seat,
        }
        items = {name: amount * line.count for name, amount in items.items()}
        deductions = {name: getattr(per_head, name) * line.count for name in EMPLOYEE_DEDUCTIONS}
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
                "monthly_salary": money(salary),
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
        "effective_rules": rules.effective_from.isoformat(),
        "currency": CURRENCY,
        "usd_rate": _rate(rates.php_per_usd),
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
