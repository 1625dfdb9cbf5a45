"""Campaign phases, targets and progress (Yuping 2016 preset)."""

import math
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldapp.rules.campaign import (
    YUPING_2016,
    Campaign,
    Phase,
    current_phase,
    days_left_in_phase,
    expected_count,
    percent,
    progress_status,
    target_count,
    target_share_on,
)

D = date
P1, P2 = YUPING_2016.phases


def test_yuping_preset_matches_seed():
    assert (YUPING_2016.start, YUPING_2016.end) == (D(2016, 4, 10), D(2016, 10, 31))
    assert (P1.start, P1.end, P1.target_share) == (D(2016, 4, 27), D(2016, 5, 25), Decimal("0.6"))
    assert (P2.start, P2.end, P2.target_share) == (D(2016, 5, 26), D(2016, 6, 30), Decimal("1"))
    assert P1.length_days == 29 and P2.length_days == 36


# --- phase boundaries ---------------------------------------------------------

@pytest.mark.parametrize(
    "today, phase, share, days_left",
    [
        (D(2016, 4, 10), None, 0.0, None),  # campaign start, mobilisation
        (D(2016, 4, 26), None, 0.0, None),
        (D(2016, 4, 27), P1, 0.6, 29),
        (D(2016, 5, 25), P1, 0.6, 1),
        (D(2016, 5, 26), P2, 1.0, 36),
        (D(2016, 6, 30), P2, 1.0, 1),
        (D(2016, 7, 1), None, 1.0, None),
        (D(2016, 12, 1), None, 1.0, None),  # after the campaign
    ],
)
def test_phase_boundaries(today, phase, share, days_left):
    assert current_phase(YUPING_2016, today) is phase
    assert target_share_on(YUPING_2016, today) == share
    assert days_left_in_phase(YUPING_2016, today) == days_left


def test_gap_between_phases_keeps_earlier_target():
    camp = Campaign("gap", D(2020, 1, 1), D(2020, 12, 31), (
        Phase("a", D(2020, 2, 1), D(2020, 2, 29), 0.5),
        Phase("b", D(2020, 4, 1), D(2020, 4, 30), 0.9),
    ))
    assert current_phase(camp, D(2020, 3, 15)) is None
    assert target_share_on(camp, D(2020, 3, 15)) == 0.5
    assert expected_count(10, camp, D(2020, 3, 15)) == 5
    assert target_share_on(camp, D(2020, 5, 1)) == 1.0  # after the last phase: everything
    # Phase b rises linearly from 0.5, not from 0: day 1 of 30.
    assert expected_count(300, camp, D(2020, 4, 1)) == 150 + 4


# --- rounding -------------------------------------------------------------------

def test_target_count_rounds_up():
    assert target_count(441, 0.6) == 265  # 264.6
    assert target_count(441, Decimal("0.6")) == 265
    assert target_count(2537, P1.target_share) == 1523  # 1522.2
    assert target_count(10, 0.6) == 6  # exact, not 7
    assert target_count(0, 0.6) == 0
    assert target_count(441, 1) == 441


def test_target_count_is_exact_where_floats_are_not():
    assert 0.07 * 100 > 7  # the float trap this guards against
    assert target_count(100, 0.07) == 7
    assert target_count(3, Fraction(1, 3)) == 1


def test_target_count_negative_quota():
    with pytest.raises(ValueError):
        target_count(-1, 0.5)


# --- expected count and status ---------------------------------------------------

def test_expected_count_boundaries():
    assert expected_count(441, YUPING_2016, D(2016, 4, 26)) == 0
    assert expected_count(441, YUPING_2016, D(2016, 4, 27)) == math.ceil(441 * 0.6 / 29)  # 10
    assert expected_count(441, YUPING_2016, D(2016, 5, 25)) == 265  # exactly ceil(0.6 * 441)
    # Phase 2 day 1 starts from 60%: 0.6 + 0.4 / 36 of 441 = 269.5 -> 270.
    day_one_share = Fraction(3, 5) + Fraction(2, 5) / 36
    assert expected_count(441, YUPING_2016, D(2016, 5, 26)) == math.ceil(441 * day_one_share) == 270
    assert expected_count(441, YUPING_2016, D(2016, 6, 30)) == 441
    assert expected_count(441, YUPING_2016, D(2016, 7, 1)) == 441


def test_progress_status():
    q = 441
    assert progress_status(0, q, YUPING_2016, D(2016, 4, 26)) == "not_started"
    assert progress_status(200, q, YUPING_2016, D(2016, 4, 20)) == "not_started"
    assert progress_status(441, q, YUPING_2016, D(2016, 4, 20)) == "done"
    assert progress_status(500, q, YUPING_2016, D(2016, 5, 1)) == "done"
    assert progress_status(0, q, YUPING_2016, D(2016, 4, 27)) == "behind"
    assert progress_status(10, q, YUPING_2016, D(2016, 4, 27)) == "on_track"
    assert progress_status(265, q, YUPING_2016, D(2016, 5, 25)) == "on_track"
    assert progress_status(264, q, YUPING_2016, D(2016, 5, 25)) == "behind"
    assert progress_status(265, q, YUPING_2016, D(2016, 5, 26)) == "behind"
    assert progress_status(440, q, YUPING_2016, D(2016, 6, 30)) == "behind"
    assert progress_status(440, q, YUPING_2016, D(2016, 7, 1)) == "behind"
    assert progress_status(0, 0, YUPING_2016, D(2016, 5, 1)) == "done"


def test_progress_status_without_quota():
    with pytest.raises(ValueError):
        progress_status(3, None, YUPING_2016, D(2016, 5, 1))


# --- percent ---------------------------------------------------------------------

def test_percent():
    assert percent(0, 0) is None
    assert percent(5, None) is None
    assert percent(0, 441) == 0
    assert percent(441, 441) == 100
    assert percent(50, 40) == 125  # over-collection is not capped
    assert percent(265, 441) == pytest.approx(60.09, abs=0.01)


# --- validation ------------------------------------------------------------------

def test_invalid_campaigns_are_rejected():
    with pytest.raises(ValueError):
        Phase("x", D(2020, 2, 1), D(2020, 1, 1), 0.5)
    with pytest.raises(ValueError):
        Phase("x", D(2020, 1, 1), D(2020, 2, 1), 1.5)
    a = Phase("a", D(2020, 1, 1), D(2020, 1, 31), 0.6)
    b = Phase("b", D(2020, 1, 31), D(2020, 2, 28), 1)
    with pytest.raises(ValueError):
        Campaign("overlap", D(2020, 1, 1), D(2020, 12, 31), (a, b))
    with pytest.raises(ValueError):
        Campaign("empty", D(2020, 1, 1), D(2020, 12, 31), ())
    with pytest.raises(ValueError):
        Campaign("outside", D(2020, 1, 15), D(2020, 12, 31), (a,))
    c = Phase("c", D(2020, 2, 1), D(2020, 2, 28), 0.5)
    with pytest.raises(ValueError):
        Campaign("decreasing", D(2020, 1, 1), D(2020, 12, 31), (a, c))


# --- properties -------------------------------------------------------------------

campaign_days = st.dates(min_value=D(2016, 4, 1), max_value=D(2016, 7, 15))


@settings(max_examples=300, deadline=None)
@given(quota=st.integers(0, 10_000), today=campaign_days)
def test_expected_count_is_monotonic_and_bounded(quota, today):
    today_count = expected_count(quota, YUPING_2016, today)
    tomorrow_count = expected_count(quota, YUPING_2016, today + timedelta(days=1))
    assert 0 <= today_count <= tomorrow_count <= quota


@settings(max_examples=300, deadline=None)
@given(quota=st.integers(0, 100_000), share=st.decimals(min_value=0, max_value=1, places=4))
def test_target_count_is_smallest_count_meeting_share(quota, share):
    n = target_count(quota, share)
    assert n >= Fraction(share) * quota
    assert n == 0 or n - 1 < Fraction(share) * quota


@settings(max_examples=300, deadline=None)
@given(quota=st.integers(1, 10_000), collected=st.integers(0, 12_000), today=campaign_days)
def test_status_agrees_with_expected_count(quota, collected, today):
    status = progress_status(collected, quota, YUPING_2016, today)
    if collected >= quota:
        assert status == "done"
    elif today < P1.start:
        assert status == "not_started"
    else:
        expected = expected_count(quota, YUPING_2016, today)
        assert status == ("on_track" if collected >= expected else "behind")
