"""rules/visits.py: phone clock, distances, good fixes, which visit sets a house's position."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from fieldapp.rules.visits import (CLOCK_SKEW, GOOD_ACCURACY_M, HousePosition, clock_offset, distance_m, good_fix,
                                   phone_time, place_visit, valid_position)

NOW = datetime(2026, 11, 21, 10, 0, 0)


@pytest.mark.parametrize("text, expected", [
    ("2026-11-21T09:30:00Z", datetime(2026, 11, 21, 9, 30)),
    ("2026-11-21T17:30:00+08:00", datetime(2026, 11, 21, 9, 30)),  # Beijing time, stored as UTC
    ("2026-11-21T09:30:00", datetime(2026, 11, 21, 9, 30)),  # no zone: UTC
    ("2026-11-21T10:05:00Z", NOW),  # a little ahead: clamped to now
    ("2026-11-21T10:30:00Z", None),  # too far ahead: the phone's clock is wrong
    ("2026-11-21", None), ("yesterday", None), ("", None), (None, None), (1700000000, None),
])
def test_phone_time(text, expected):
    assert phone_time(text, NOW) == expected


def test_phone_time_allows_exactly_the_skew():
    assert phone_time((NOW + CLOCK_SKEW).isoformat() + "Z", NOW) == NOW
    assert phone_time((NOW + CLOCK_SKEW + timedelta(seconds=1)).isoformat() + "Z", NOW) is None


@pytest.mark.parametrize("phone_now, expected", [
    ("2026-11-21T10:09:00Z", timedelta(0)),  # within the skew: trusted as it is
    ("2026-11-21T09:51:00Z", timedelta(0)),
    ("2026-11-20T10:00:00Z", timedelta(days=1)),  # set a day behind
    ("2026-11-21T12:30:00+00:00", -timedelta(hours=2, minutes=30)),  # ahead: would be refused, now shifted
    ("2026-11-21T18:00:00+08:00", timedelta(0)),  # Beijing time, right
    ("not a time", timedelta(0)), (None, timedelta(0)),
])
def test_clock_offset_only_for_a_clock_off_by_more_than_the_skew(phone_now, expected):
    assert clock_offset(phone_now, NOW) == expected


def test_phone_time_shifted_by_the_offset_then_clamped_as_before():
    day = timedelta(days=1)
    # A phone a day behind collected something an hour ago, by its clock "yesterday".
    assert phone_time("2026-11-20T09:00:00Z", NOW, offset=day) == datetime(2026, 11, 21, 9, 0)
    # Two and a half hours ahead: without the offset refused, with it the real moment.
    ahead = clock_offset("2026-11-21T12:30:00Z", NOW)
    assert phone_time("2026-11-21T12:00:00Z", NOW) is None
    assert phone_time("2026-11-21T12:00:00Z", NOW, offset=ahead) == datetime(2026, 11, 21, 9, 30)
    # An offset never moves a moment into the future.
    assert phone_time("2026-11-21T09:55:00Z", NOW, offset=timedelta(minutes=8)) == NOW


def test_distance_is_haversine():
    assert distance_m(30.0, 110.0, 30.0, 110.0) == 0
    # One degree of latitude is about 111.2 km on the mean sphere.
    assert distance_m(30.0, 110.0, 31.0, 110.0) == pytest.approx(111_195, rel=1e-3)
    # Symmetric, and shrinks with the cosine of the latitude along a parallel.
    assert distance_m(30.0, 110.0, 30.0, 111.0) == pytest.approx(distance_m(30.0, 111.0, 30.0, 110.0))
    assert distance_m(60.0, 0.0, 60.0, 1.0) == pytest.approx(111_195 / 2, rel=1e-3)


def test_good_fix_needs_a_known_accuracy_within_the_limit():
    assert good_fix(30.0, 110.0, GOOD_ACCURACY_M)
    assert not good_fix(30.0, 110.0, GOOD_ACCURACY_M + 0.1)
    assert not good_fix(30.0, 110.0, None)
    assert not good_fix(95.0, 110.0, 5)
    assert not valid_position(30.0, 110.0, 0) and not valid_position(True, 110.0, 5)
    assert not valid_position(float("nan"), 110.0, 5) and valid_position(30.0, 110.0, None)


def test_the_first_good_visit_sets_the_position_once():
    nowhere = HousePosition(None, None)
    first = place_visit(nowhere, 30.0, 110.0, 10)
    assert first.becomes_position and first.distance_m is None
    # A register position is approximate: a good fix replaces it, and the distance is kept.
    register = HousePosition(30.0, 110.0)
    replaced = place_visit(register, 30.001, 110.0, 10)
    assert replaced.becomes_position and replaced.distance_m == pytest.approx(111.2, rel=1e-2)
    # After a visit set it, later visits only get a distance.
    from_visit = HousePosition(30.0, 110.0, 10, from_visit=True)
    later = place_visit(from_visit, 30.0, 110.001, 5)
    assert not later.becomes_position and later.distance_m > 90
    # A poor fix never sets it, but still gets a distance; no position, no distance.
    poor = place_visit(register, 30.01, 110.0, 300)
    assert not poor.becomes_position and poor.distance_m > 1000
    assert place_visit(register, None, None, None) == place_visit(nowhere, None, None, None)
    assert place_visit(register, None, None, None).distance_m is None
