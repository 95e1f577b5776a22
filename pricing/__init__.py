"""Pricing of offshore staffing quotes in the Philippines: plain functions on plain values.

No Celery, database or network here, so every rule can be tested alone; the tasks that
price quotes pass in what they fetched (salaries, rates, the date).
"""

from pricing.contributions import (
    RULE_SETS,
    ContributionRulesError,
    Contributions,
    InvalidSalary,
    PagIbigRule,
    PhilHealthRule,
    RuleSet,
    SssRule,
    contributions,
    contributions_under,
    rules_for,
)
from pricing.engine import InvalidPricingRates, PricingRates, money, price_quote
from pricing.requests import (
    InvalidQuoteRequest,
    QuoteParser,
    QuoteRequest,
    RoleLine,
    RuleBasedParser,
    normalised,
    parse_request,
)

__all__ = [
    "RULE_SETS",
    "ContributionRulesError",
    "Contributions",
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
    "contributions",
    "contributions_under",
    "money",
    "normalised",
    "parse_request",
    "price_quote",
    "rules_for",
]
