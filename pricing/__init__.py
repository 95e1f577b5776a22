"""Pricing of offshore staffing quotes in the Philippines: plain functions on plain values.

No Celery, database or network here, so every rule can be tested alone; the tasks that
price quotes pass in what they fetched (salaries, rates, the date).
"""

from pricing.contributions import Contributions, InvalidSalary, contributions, contributions_under
from pricing.currencies import CURRENCIES, ExchangeRate, currency_code
from pricing.engine import InvalidPricingRates, PricingRates, money, price_quote
from pricing.requests import (
    InvalidQuoteRequest,
    QuoteParser,
    QuoteRequest,
    RoleLine,
    RuleBasedParser,
    UnknownCurrency,
    normalised,
    parse_request,
)
from pricing.rule_sets import (
    RULE_SETS,
    ContributionRulesError,
    Freshness,
    PagIbigRule,
    PhilHealthRule,
    RuleSet,
    SssRule,
    freshness,
    rules_for,
)

__all__ = [
    "CURRENCIES",
    "RULE_SETS",
    "ContributionRulesError",
    "Contributions",
    "ExchangeRate",
    "Freshness",
    "InvalidPricingRates",
    "InvalidQuoteRequest",
    "InvalidSalary",
    "PagIbigRule",
    "PhilHealthRule",
    "PricingRates",
    "QuoteParser",
    "QuoteRequest",
    "RoleLine",
    "RuleBasedParser",
    "RuleSet",
    "SssRule",
    "UnknownCurrency",
    "contributions",
    "contributions_under",
    "currency_code",
    "freshness",
    "money",
    "normalised",
    "parse_request",
    "price_quote",
    "rules_for",
]
