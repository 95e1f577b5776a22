"""The places clients name: each one's business hours read as the Manila shift they fall in."""

import pytest

from pricing import wording


@pytest.mark.parametrize(
    ("utc_offset", "shift"),
    [
        (-10, None),  # Hawaii: 3 am to 11 am in Manila, 3 of 8 hours at night
        (-8, "night"),  # US Pacific, standard time: 1 am to 9 am, 5 of 8
        (-7, "night"),
        (-5, "night"),  # US Eastern: 10 pm to 6 am, all 8
        (-4, "night"),
        (0, None),  # UK: 5 pm to 1 am, 3 of 8
        (1, None),
        (2, None),
        (3, "day"),  # 2 pm to 10 pm: no night hour
        (8, "day"),  # Manila itself
        (10, "day"),  # Sydney: 7 am to 3 pm
        (11, "day"),
        (12, None),  # New Zealand: 5 am to 1 pm, 1 night hour
        (13, None),
    ],
)
def test_a_place_takes_the_shift_that_holds_its_business_hours(utc_offset, shift):
    assert wording.Region("somewhere", (utc_offset,)).shift == shift


def test_a_place_whose_summer_time_changes_the_shift_takes_none():
    assert wording.Region("split", (3, 2)).shift is None


@pytest.mark.parametrize(
    ("name", "shift"),
    [
        ("usa", "night"),
        ("est", "night"),
        ("pst", "night"),
        ("canada", "night"),
        ("aussie", "day"),
        ("sydney", "day"),
        ("perth", "day"),
        ("manila", "day"),
        ("uk", None),
        ("gmt", None),
        ("eu", None),
        ("nz", None),
    ],
)
def test_named_places_take_their_shift(name, shift):
    assert wording.REGION_NAMES[name].shift == shift


@pytest.mark.parametrize(
    ("region", "hours"),
    [
        (wording.UK, "5 pm to 1 am"),
        (wording.US, "10 pm to 6 am"),
        (wording.AUSTRALIA, "7 am to 3 pm"),
        (wording.EUROPE, "4 pm to midnight"),
        (wording.MANILA, "9 am to 5 pm"),
    ],
)
def test_a_places_business_hours_are_told_in_manila_time(region, hours):
    assert region.manila_hours() == hours


def test_no_word_is_both_skipped_and_read_as_a_place_or_a_quality():
    """A filler word that named a place or a priced quality would be dropped unread."""
    places = {name for name in wording.REGION_NAMES if name not in wording.CONTEXT_ONLY}
    assert not wording.FILLER & places
    assert not wording.UNPRICED & wording.PRICED_QUALITIES
