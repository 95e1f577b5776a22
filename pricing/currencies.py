"""The currencies a quote may be shown in besides PHP, each at a dated rate.

The team is paid in PHP, so every cost is worked in PHP; the client compares it in its own
money. A quote converts its exact PHP totals at one currency's rate and states the rate, the
day it was read and where it came from, so anyone can check the figure. USD is the default:
a request that names no currency gets the quote it always got.

The codes a caller may name are declared once, with the task (taskplatform/tasks.py), and
checked at the door; `currency_code` checks them again for callers that skip the door.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from types import MappingProxyType

from pricing.requests import currency_named
from taskplatform import tasks

CURRENCIES: tuple[str, ...] = tuple(code.upper() for code in tasks.QUOTE_CURRENCIES)
DEFAULT_CURRENCY = "USD"


@dataclass(frozen=True)
class ExchangeRate:
    """PHP for one unit of a currency, the day it was read and where from: a quote states all
    three (pricing/engine.py checks the values)."""

    php_per_unit: Decimal
    as_of: date | None = None
    source: str = "list rate"


#: What a quote uses when no deal or setting says otherwise (config/settings.py sets the
#: deployed ones, QUOTE_<CODE>_RATE).
LIST_RATES = MappingProxyType(
    {
        "USD": ExchangeRate(Decimal("56.00")),
        "AUD": ExchangeRate(Decimal("37.00")),
        "GBP": ExchangeRate(Decimal("75.00")),
        "EUR": ExchangeRate(Decimal("65.00")),
    }
)


def currency_code(value: object) -> str:
    """The ISO code a caller meant ("gbp", " GBP "), USD for none; anything else is refused
    by name, with the codes a quote can be in (pricing/requests.py owns the check)."""
    return currency_named(value) or DEFAULT_CURRENCY
