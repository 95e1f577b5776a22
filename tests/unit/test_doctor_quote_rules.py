"""The doctor's quote-rules check on fixed days: silent while the rules are checked well
ahead, one line from WARN_DAYS before the check ends (the real command on today's date:
tests/integration/test_ops_tools.py)."""

from dataclasses import replace
from datetime import date

from housekeeping import doctor
from pricing.rule_sets import RULES_2026

TABLE = (RULES_2026,)  # checked until 2026-12-31


def test_the_doctor_is_silent_while_the_rules_are_checked_well_ahead():
    assert doctor.check_quote_rules(date(2026, 11, 15), TABLE) == []


def test_the_doctor_reports_an_expiring_rule_set_with_its_owner():
    (line,) = doctor.check_quote_rules(date(2026, 12, 7), TABLE)
    assert line.startswith("quote rules: the rule set in force from 2026-01-01 is checked until")
    assert "in 24 days" in line and RULES_2026.owner in line


def test_the_doctor_reports_an_expired_rule_set_and_a_missing_one():
    (expired,) = doctor.check_quote_rules(date(2027, 2, 1), TABLE)
    assert "was checked until 2026-12-31, 32 days ago" in expired
    (missing,) = doctor.check_quote_rules(date(2025, 6, 1), TABLE)
    assert "every quote is refused" in missing


def test_a_next_rule_set_on_file_quiets_it():
    rules_2027 = replace(
        RULES_2026, effective_from=date(2027, 1, 1), checked_until=date(2027, 12, 31)
    )
    assert doctor.check_quote_rules(date(2026, 12, 7), (*TABLE, rules_2027)) == []
