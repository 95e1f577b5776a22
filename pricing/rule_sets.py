"""The contribution rule sets by date: their numbers, who keeps each, how far it was checked,
which one is in force on a day, and whether operators must act.

The rates change by circular, usually in January, and a quote must be reproducible for the
day it was made. So the rules are data: one `RuleSet` of plain numbers per effective date,
and next year's rates are a new entry, not new code. The sources of every number are cited
in docs/quotes.md.

The expiry policy, in one place (`freshness`):
- a rule set is in force from its `effective_from` until the next one's. The law does not
  lapse on our calendar; what lapses is our knowledge: its `owner` checked it against the
  circulars up to `checked_until`, and re-checks it (moving the date on) or adds the next set;
- operators are told from `WARN_DAYS` before the checked horizon (the doctor, the overview,
  a Prometheus alert), long before it matters to anyone outside;
- past the horizon, quotes are still priced on the set in force, and the alert turns critical:
  refusing every quote would turn a late paperwork check into an outage for every customer,
  while the set in force is what the law most likely still says;
- a day before every rule set has no rules at all: no quote (`ContributionRulesError`, a dead
  letter naming the day).
Quotes and customer mail never say any of this: they name the rule set they used, nothing more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from config.errors import PermanentError

#: Operators are warned this many days before the checked horizon: time for the owner to read
#: the new circulars (usually published in December) and for a release.
WARN_DAYS = 45
STATES = ("current", "expiring", "expired", "missing")


class ContributionRulesError(PermanentError):
    """No rule set, or more than one, is in effect on the requested date; or a rule set that
    cannot be right (no owner, checked until before it starts)."""


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
    """The rates in force from `effective_from`, until the next set's; `owner` (a role or team,
    never a person who may leave) vouches for them up to `checked_until`."""

    effective_from: date
    checked_until: date
    owner: str
    sss: SssRule
    philhealth: PhilHealthRule
    pagibig: PagIbigRule

    def __post_init__(self) -> None:
        if not isinstance(self.owner, str) or not self.owner.strip():
            raise ContributionRulesError("a rule set must name its owner (a role or team)")
        if self.checked_until < self.effective_from:
            raise ContributionRulesError(
                f"the rule set from {self.effective_from.isoformat()} is checked until"
                f" {self.checked_until.isoformat()}, before it starts"
            )

    def fingerprint(self) -> str:
        """Every number and the start date: part of a quote's cache key, so a corrected rate
        is never answered from the cache. The owner and checked date price nothing."""
        numbers = (self.sss, self.philhealth, self.pagibig)
        return "|".join((self.effective_from.isoformat(), *map(repr, numbers)))


# SSS Circular 2024-006 (RA 11199's last step): 15% of an MSC from 5,000 to 35,000, employer 10%,
# employee 5%; EC 10 below an MSC of 15,000, 30 from it.
SSS_FROM_2025 = SssRule(
    employer_rate=Decimal("0.10"),
    employee_rate=Decimal("0.05"),
    msc_floor=Decimal("5000"),
    msc_ceiling=Decimal("35000"),
    msc_step=Decimal("500"),
    ec_low=Decimal("10"),
    ec_high=Decimal("30"),
    ec_high_from_msc=Decimal("15000"),
)
# RA 11223 and PhilHealth Circular 2020-0005, 2024-2025 row and after: 5% split equally, on a
# basic salary held between 10,000 and 100,000.
PHILHEALTH_FROM_2024 = PhilHealthRule(
    employer_rate=Decimal("0.025"),
    employee_rate=Decimal("0.025"),
    salary_floor=Decimal("10000"),
    salary_ceiling=Decimal("100000"),
)
# HDMF Circular 460 (from February 2024): 2% each on compensation up to 10,000; the employee
# pays 1% at 1,500 or less.
PAGIBIG_FROM_2024 = PagIbigRule(
    employer_rate=Decimal("0.02"),
    employee_rate=Decimal("0.02"),
    employee_low_income_rate=Decimal("0.01"),
    low_income_ceiling=Decimal("1500"),
    compensation_cap=Decimal("10000"),
)
OWNER = "Finance operations (payroll compliance)"

RULES_2025 = RuleSet(
    effective_from=date(2025, 1, 1),
    checked_until=date(2025, 12, 31),
    owner=OWNER,
    sss=SSS_FROM_2025,
    philhealth=PHILHEALTH_FROM_2024,
    pagibig=PAGIBIG_FROM_2024,
)
# 2026: the same numbers. RA 11199 schedules no SSS step after 2025, PhilHealth's premium stays
# at the UHC Act's 5% and 10,000-100,000, HDMF Circular 460 stands (docs/quotes.md: sources,
# and what is less certain).
RULES_2026 = replace(RULES_2025, effective_from=date(2026, 1, 1), checked_until=date(2026, 12, 31))

RULE_SETS: tuple[RuleSet, ...] = (RULES_2025, RULES_2026)


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


@dataclass(frozen=True)
class Freshness:
    """How far ahead of `on` every day is priced on a checked rule set, and what follows.

    `horizon` is the last such day and `keeper` the rule set whose check ends there (None
    when no rule set is in force on `on`). `state`: current, expiring (the horizon within
    `warn_days`), expired (past it: quotes still priced, on an unchecked set) or missing
    (no rules in force: quotes refused).
    """

    on: date
    state: str
    horizon: date | None
    keeper: RuleSet | None
    warn_days: int

    @property
    def days_left(self) -> int | None:
        """Days from `on` to the horizon; negative once past it."""
        return None if self.horizon is None else (self.horizon - self.on).days

    def problems(self) -> list[str]:
        """What an operator must hear (the doctor's and the overview's lines), or nothing."""
        if self.state == "missing":
            return [f"quote rules: no contribution rule set is in force on {self.on.isoformat()}:"
                    " every quote is refused (add one: pricing/rule_sets.py)"]  # fmt: skip
        if self.state == "current" or self.keeper is None or self.days_left is None:
            return []
        keeper, left = self.keeper, self.days_left
        started = keeper.effective_from.isoformat()
        until = keeper.checked_until.isoformat()
        todo = (
            f"its owner, {keeper.owner}, must check the SSS, EC, PhilHealth and Pag-IBIG"
            " circulars and move checked_until on or add the next rule set"
            " (pricing/rule_sets.py, docs/quotes.md)"
        )
        if self.state == "expiring":
            when = "today" if left == 0 else f"in {_days(left)}"
            return [f"quote rules: the rule set in force from {started} is checked until"
                    f" {until}, its last day {when}; {todo}"]  # fmt: skip
        return [f"quote rules: the rule set in force from {started} was checked until {until},"
                f" {_days(-left)} ago, and quotes are still priced on it; {todo}"]  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for the overview."""
        keeper = self.keeper
        return {
            "state": self.state,
            "on": self.on.isoformat(),
            "checked_until": self.horizon.isoformat() if self.horizon else None,
            "days_left": self.days_left,
            "warn_days": self.warn_days,
            "effective_from": keeper.effective_from.isoformat() if keeper else None,
            "owner": keeper.owner if keeper else None,
            "problems": self.problems(),
        }


def freshness(
    on: date, table: Sequence[RuleSet] = RULE_SETS, warn_days: int = WARN_DAYS
) -> Freshness:
    """The expiry policy (module doc) applied to the day `on`.

    The horizon follows the sets in date order: from `on`, each day is priced on the set in
    force that day, so the check holds while that set's `checked_until` does; a next set that
    starts within it carries the horizon on to its own `checked_until`. In the usual case,
    the newest set's `checked_until`.
    """
    try:
        keeper = rules_for(on, table)
    except ContributionRulesError:
        return Freshness(on, "missing", None, None, warn_days)
    for later in sorted(table, key=lambda rules: rules.effective_from):
        starts = later.effective_from
        if keeper.effective_from < starts <= keeper.checked_until + timedelta(days=1):
            keeper = later
    left = (keeper.checked_until - on).days
    state = "expired" if left < 0 else "expiring" if left <= warn_days else "current"
    return Freshness(on, state, keeper.checked_until, keeper, warn_days)


def _days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"
