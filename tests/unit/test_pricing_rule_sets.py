"""The rule sets by date: which one is in force on a day, what every rule set must say, and the
expiry policy that warns operators (never customers) before the checked horizon."""

from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from pricing.rule_sets import (
    RULE_SETS,
    RULES_2025,
    RULES_2026,
    STATES,
    WARN_DAYS,
    ContributionRulesError,
    RuleSet,
    freshness,
    rules_for,
)


def made_up(year: int, checked_until: date | None = None) -> RuleSet:
    """A test-only rule set from 1 January of `year`, built here so module state is untouched."""
    return replace(
        RULES_2026,
        effective_from=date(year, 1, 1),
        checked_until=checked_until or date(year, 12, 31),
    )


# -- which rule set is in force -------------------------------------------------------------


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        (date(2025, 1, 1), RULES_2025),
        (date(2025, 12, 31), RULES_2025),
        (date(2026, 1, 1), RULES_2026),
        (date(2026, 12, 7), RULES_2026),
        (date(2030, 5, 1), RULES_2026),  # past every check: still the latest (see freshness)
    ],
)
def test_the_latest_rule_set_not_after_the_date_is_in_force(on, expected):
    assert rules_for(on) is expected


def test_the_table_order_does_not_matter():
    table = (made_up(2027), RULES_2026, RULES_2025)
    assert rules_for(date(2026, 12, 31), table) is RULES_2026
    assert rules_for(date(2027, 1, 1), table).effective_from == date(2027, 1, 1)


def test_before_any_rules_is_an_error_naming_the_day():
    with pytest.raises(ContributionRulesError, match="2024-12-31"):
        rules_for(date(2024, 12, 31))


def test_two_rule_sets_on_one_date_are_an_error():
    with pytest.raises(ContributionRulesError, match="share effective date 2026-01-01"):
        rules_for(date(2026, 6, 1), (RULES_2026, replace(RULES_2026)))


@pytest.mark.parametrize("on", [datetime(2026, 6, 1, 12, 0), "2026-06-01", None])
def test_rules_are_looked_up_by_a_date_only(on):
    with pytest.raises(ContributionRulesError):
        rules_for(on)


# -- what every rule set says ---------------------------------------------------------------


def test_the_shipped_table_is_in_date_order_one_set_per_date_each_with_an_owner():
    starts = [rules.effective_from for rules in RULE_SETS]
    assert starts == sorted(set(starts))
    assert all(rules.owner.strip() for rules in RULE_SETS)
    assert all(rules.checked_until >= rules.effective_from for rules in RULE_SETS)
    # each set is checked at least up to the day before the next one starts
    for earlier, later in zip(RULE_SETS, RULE_SETS[1:], strict=False):
        assert earlier.checked_until >= later.effective_from - timedelta(days=1)


def test_2026_is_on_file_checked_to_the_end_of_the_year():
    assert (RULES_2026.effective_from, RULES_2026.checked_until) == (
        date(2026, 1, 1),
        date(2026, 12, 31),
    )


@pytest.mark.parametrize("owner", ["", "   "])
def test_a_rule_set_without_an_owner_is_refused(owner):
    with pytest.raises(ContributionRulesError, match="owner"):
        replace(RULES_2026, owner=owner)


def test_a_rule_set_checked_until_before_it_starts_is_refused():
    with pytest.raises(ContributionRulesError, match="before it starts"):
        replace(RULES_2026, checked_until=date(2025, 12, 31))


def test_the_fingerprint_changes_with_a_number_or_the_start_but_not_the_paperwork():
    base = RULES_2026.fingerprint()
    corrected = replace(RULES_2026, sss=replace(RULES_2026.sss, ec_high=RULES_2026.sss.ec_high + 1))
    assert corrected.fingerprint() != base
    assert made_up(2027).fingerprint() != base
    rechecked = replace(RULES_2026, checked_until=date(2027, 3, 31), owner="Payroll")
    assert rechecked.fingerprint() == base


# -- the expiry policy ----------------------------------------------------------------------


TABLE = (made_up(2025), made_up(2026))  # checked to 2026-12-31


@pytest.mark.parametrize(
    ("on", "state", "days_left"),
    [
        (date(2026, 6, 1), "current", 213),
        (date(2026, 11, 15), "current", 46),
        (date(2026, 11, 16), "expiring", 45),  # WARN_DAYS ahead: the first warning
        (date(2026, 12, 7), "expiring", 24),
        (date(2026, 12, 31), "expiring", 0),  # the last checked day
        (date(2027, 1, 1), "expired", -1),
        (date(2027, 6, 1), "expired", -152),
        (date(2024, 12, 31), "missing", None),
    ],
)
def test_the_state_follows_the_days_left_to_the_checked_horizon(on, state, days_left):
    found = freshness(on, TABLE)
    assert (found.state, found.days_left) == (state, days_left)
    assert found.state in STATES and WARN_DAYS == 45


def test_a_current_table_has_nothing_to_say():
    assert freshness(date(2026, 6, 1), TABLE).problems() == []


def test_an_expiring_set_names_its_owner_its_date_and_what_to_do():
    (line,) = freshness(date(2026, 12, 7), TABLE).problems()
    assert line.startswith("quote rules: the rule set in force from 2026-01-01 is checked until")
    assert "2026-12-31, its last day in 24 days" in line
    assert RULES_2026.owner in line and "pricing/rule_sets.py" in line


def test_the_last_checked_day_says_today():
    (line,) = freshness(date(2026, 12, 31), TABLE).problems()
    assert "its last day today" in line


def test_an_expired_set_says_quotes_are_still_priced_on_it():
    (line,) = freshness(date(2027, 1, 2), TABLE).problems()
    assert "was checked until 2026-12-31, 2 days ago, and quotes are still priced on it" in line


def test_no_rule_set_in_force_says_quotes_are_refused():
    (line,) = freshness(date(2024, 6, 1), TABLE).problems()
    assert line == (
        "quote rules: no contribution rule set is in force on 2024-06-01: every quote is"
        " refused (add one: pricing/rule_sets.py)"
    )


def test_a_next_set_on_file_carries_the_horizon_on():
    # Given 2027's rules added in December 2026, a day the 2026 set alone would be expiring
    table = (*TABLE, made_up(2027))
    found = freshness(date(2026, 12, 7), table)
    # Then the horizon is 2027's check, and nothing is due
    assert (found.state, found.horizon, found.keeper.effective_from) == (
        "current",
        date(2027, 12, 31),
        date(2027, 1, 1),
    )


def test_a_gap_before_the_next_set_ends_the_horizon_at_the_gap():
    # Given 2026 checked to 2026-12-31 and a next set only from March 2027: January and
    # February 2027 would be priced on the 2026 set, unchecked
    table = (*TABLE, replace(made_up(2027), effective_from=date(2027, 3, 1)))
    found = freshness(date(2026, 12, 7), table)
    assert (found.state, found.horizon) == ("expiring", date(2026, 12, 31))
    assert found.keeper.effective_from == date(2026, 1, 1)


def test_a_set_rechecked_mid_year_moves_the_horizon():
    table = (made_up(2025), made_up(2026, checked_until=date(2027, 3, 31)))
    assert freshness(date(2026, 12, 7), table).state == "current"


def test_the_overview_gets_the_same_answer_as_json():
    found = freshness(date(2026, 12, 7), TABLE).as_dict()
    assert found == {
        "state": "expiring",
        "on": "2026-12-07",
        "checked_until": "2026-12-31",
        "days_left": 24,
        "warn_days": 45,
        "effective_from": "2026-01-01",
        "owner": RULES_2026.owner,
        "problems": freshness(date(2026, 12, 7), TABLE).problems(),
    }
    assert freshness(date(2024, 1, 1), TABLE).as_dict()["checked_until"] is None


def test_the_shipped_table_warns_operators_from_45_days_before_its_newest_check_ends():
    end = RULE_SETS[-1].checked_until
    assert freshness(end - timedelta(days=46)).state == "current"
    assert freshness(end - timedelta(days=45)).state == "expiring"
    assert freshness(end + timedelta(days=1)).state == "expired"
