"""Working-day rules: weekends, Chinese holidays, make-up days, fallback."""

import warnings
from datetime import date, datetime, timedelta

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldapp.rules.workdays import (
    CalendarCoverageWarning,
    add_working_days,
    collect_deadline,
    covered_years,
    is_covered,
    is_timely,
    is_working_day,
    review_deadline,
    working_days_between,
)

D = date


# --- is_working_day -------------------------------------------------------

def test_plain_weekdays_and_weekend():
    assert is_working_day(D(2024, 3, 15))  # Friday
    assert not is_working_day(D(2024, 3, 16))  # Saturday
    assert not is_working_day(D(2024, 3, 17))  # Sunday
    assert is_working_day(D(2024, 3, 18))  # Monday


def test_national_day_2024_with_make_up_days():
    for day in range(1, 8):
        assert not is_working_day(D(2024, 10, day)), day
    assert is_working_day(D(2024, 9, 29))  # Sunday, make-up working day
    assert is_working_day(D(2024, 10, 12))  # Saturday, make-up working day
    assert not is_working_day(D(2024, 9, 28))  # ordinary Saturday
    assert not is_working_day(D(2024, 10, 13))  # ordinary Sunday


def test_spring_festival_2016():
    for day in range(7, 14):
        assert not is_working_day(D(2016, 2, day)), day
    assert is_working_day(D(2016, 2, 6))  # Saturday, make-up
    assert is_working_day(D(2016, 2, 14))  # Sunday, make-up


def test_datetime_is_reduced_to_date():
    assert not is_working_day(datetime(2024, 10, 1, 9, 30))
    assert add_working_days(datetime(2024, 3, 15, 18, 0), 1) == D(2024, 3, 18)


def test_non_date_is_a_type_error_not_a_fallback():
    with pytest.raises(TypeError):
        is_working_day("2024-10-01")


# --- add_working_days / deadlines ----------------------------------------

def test_deadline_on_ordinary_week():
    assert add_working_days(D(2024, 3, 11), 3) == D(2024, 3, 14)  # Mon -> Thu


def test_deadline_across_weekend():
    assert add_working_days(D(2024, 3, 15), 3) == D(2024, 3, 20)  # Fri -> Wed


def test_tip_on_saturday_counts_from_next_working_day():
    # Saturday and the Friday before share the deadline: Mon=1, Tue=2, Wed=3.
    assert add_working_days(D(2024, 3, 16), 3) == D(2024, 3, 20)
    assert add_working_days(D(2024, 3, 17), 3) == D(2024, 3, 20)


def test_deadline_across_national_day_2024():
    # Mon 09-30 -> 10-08 (1), 10-09 (2), 10-10 (3): the holiday week is skipped.
    assert collect_deadline(D(2024, 9, 30)) == D(2024, 10, 10)
    # Fri 09-27 -> Sun 09-29 make-up (1), Mon 09-30 (2), Tue 10-08 (3).
    assert collect_deadline(D(2024, 9, 27)) == D(2024, 10, 8)
    # Ordinary Saturday 09-28: the next working day is the make-up Sunday.
    assert collect_deadline(D(2024, 9, 28)) == D(2024, 10, 8)
    # A tip during the holiday: counting starts on 10-08.
    assert collect_deadline(D(2024, 10, 3)) == D(2024, 10, 10)
    assert review_deadline(D(2024, 9, 30)) == D(2024, 10, 9)


def test_make_up_saturday_as_start_and_as_day_one():
    # Tip on make-up Saturday 10-12: a working day, not counted itself.
    assert add_working_days(D(2024, 10, 12), 1) == D(2024, 10, 14)
    assert collect_deadline(D(2024, 10, 12)) == D(2024, 10, 16)
    # Tip on Friday 10-11: the make-up Saturday is working day 1.
    assert add_working_days(D(2024, 10, 11), 1) == D(2024, 10, 12)
    assert collect_deadline(D(2024, 10, 11)) == D(2024, 10, 15)
    # Tip on make-up Sunday 09-29: Mon 09-30 (1), then 10-08 (2), 10-09 (3).
    assert collect_deadline(D(2024, 9, 29)) == D(2024, 10, 9)


def test_deadline_across_spring_festival_2016():
    # Fri 02-05 -> Sat 02-06 make-up (1), Sun 02-14 make-up (2), Mon 02-15 (3).
    assert collect_deadline(D(2016, 2, 5)) == D(2016, 2, 15)
    # Tip on New Year's Day itself (02-08): 02-14 (1), 02-15 (2), 02-16 (3).
    assert collect_deadline(D(2016, 2, 8)) == D(2016, 2, 16)


def test_zero_and_negative_n():
    assert add_working_days(D(2024, 10, 5), 0) == D(2024, 10, 5)
    with pytest.raises(ValueError):
        add_working_days(D(2024, 10, 5), -1)


# --- working_days_between -------------------------------------------------

def test_working_days_between():
    assert working_days_between(D(2024, 9, 30), D(2024, 10, 8)) == 1
    assert working_days_between(D(2024, 10, 1), D(2024, 10, 7)) == 0
    assert working_days_between(D(2024, 9, 27), D(2024, 9, 30)) == 2  # Sun make-up + Mon
    assert working_days_between(D(2024, 3, 11), D(2024, 3, 11)) == 0
    assert working_days_between(D(2024, 3, 12), D(2024, 3, 11)) == 0


# --- is_timely --------------------------------------------------------------

def test_timely_on_the_deadlines():
    # Collected Thu 10-10: Fri 10-11 (1), make-up Sat 10-12 (2) ends the review window.
    assert is_timely(D(2024, 9, 30), D(2024, 10, 10), D(2024, 10, 12))
    assert not is_timely(D(2024, 9, 30), D(2024, 10, 10), D(2024, 10, 14))


def test_late_collection_or_review():
    assert not is_timely(D(2024, 9, 30), D(2024, 10, 11), D(2024, 10, 11))
    assert not is_timely(D(2024, 9, 30), D(2024, 10, 8), D(2024, 10, 11))  # review due 10-10


def test_unreviewed_is_not_timely():
    assert not is_timely(D(2024, 3, 11), D(2024, 3, 11), None)


def test_weekend_work_after_deadline_is_late():
    # Known Tue 03-12, deadline Fri 03-15; Saturday 03-16 is after it.
    assert not is_timely(D(2024, 3, 12), D(2024, 3, 16), D(2024, 3, 18))
    assert is_timely(D(2024, 3, 12), D(2024, 3, 15), D(2024, 3, 19))


def test_custom_limits():
    assert is_timely(D(2024, 3, 11), D(2024, 3, 12), D(2024, 3, 13), collect_limit=1, review_limit=1)
    assert not is_timely(D(2024, 3, 11), D(2024, 3, 13), D(2024, 3, 13), collect_limit=1)


# --- coverage and fallback ------------------------------------------------------

def test_covered_years_match_the_package():
    years = covered_years()
    assert years.start == min(d.year for d in chinese_calendar.holidays)
    assert years.stop - 1 == max(d.year for d in chinese_calendar.holidays)
    assert 2016 in years and 2024 in years
    assert is_covered(D(2016, 5, 1)) and not is_covered(D(2099, 1, 1))


def test_fallback_outside_covered_years_weekday_rule_with_warning():
    with pytest.warns(CalendarCoverageWarning, match="2099"):
        assert is_working_day(D(2099, 1, 1))  # Thursday (a real holiday, unknown)
    with pytest.warns(CalendarCoverageWarning):
        assert not is_working_day(D(2099, 1, 3))  # Saturday
    before = covered_years().start - 1
    with pytest.warns(CalendarCoverageWarning):
        # 1 October of the year before coverage: a holiday, but unknown here.
        assert is_working_day(D(before, 10, 1)) == (D(before, 10, 1).weekday() < 5)


def test_deadline_crossing_out_of_coverage_does_not_crash():
    last = D(covered_years().stop - 1, 12, 31)
    with pytest.warns(CalendarCoverageWarning):
        deadline = add_working_days(last, 3)
    assert deadline.year == last.year + 1
    assert deadline.weekday() < 5


# --- properties -----------------------------------------------------------------

covered_dates = st.dates(min_value=D(2005, 1, 1), max_value=D(2025, 12, 1))


@settings(max_examples=200, deadline=None)
@given(start=covered_dates, n=st.integers(min_value=0, max_value=25))
def test_add_and_between_are_inverse(start, n):
    end = add_working_days(start, n)
    assert working_days_between(start, end) == n
    assert end >= start
    if n >= 1:
        assert is_working_day(end)
        # No working day is skipped: the day before `end` counts n - 1.
        assert working_days_between(start, end - timedelta(days=1)) == n - 1


@settings(max_examples=200, deadline=None)
@given(day=st.dates(min_value=D(2100, 1, 1), max_value=D(2200, 12, 31)))
def test_fallback_is_monday_to_friday(day):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalendarCoverageWarning)
        assert is_working_day(day) == (day.weekday() < 5)


@settings(max_examples=200, deadline=None)
@given(known=covered_dates, gap=st.integers(0, 10), review_gap=st.integers(0, 10))
def test_is_timely_agrees_with_working_day_counts_on_working_days(known, gap, review_gap):
    collected = add_working_days(known, gap)
    reviewed = add_working_days(collected, review_gap)
    assert is_timely(known, collected, reviewed) == (gap <= 3 and review_gap <= 2)


def test_declared_days_win_and_cover_their_year():
    """An office types next year's notice before the package knows it (config CALENDAR_*)."""
    from fieldapp.rules import workdays as wd
    try:
        wd.set_additions(holidays=["2099-02-02", date(2099, 2, 3)], workdays=["2099-02-07"])  # Mon, Tue; Sat
        assert wd.is_covered(date(2099, 6, 1))
        assert not wd.is_working_day(date(2099, 2, 2)) and not wd.is_working_day(date(2099, 2, 3))
        assert wd.is_working_day(date(2099, 2, 7)) and wd.is_working_day(date(2099, 2, 4))
        assert not wd.is_working_day(date(2099, 2, 8))  # an ordinary Sunday of a declared year
        # Known Friday 01-30: Mon 02-02 and Tue 02-03 are off, so Wed, Thu, Fri.
        assert wd.add_working_days(date(2099, 1, 30), 3) == date(2099, 2, 6)
        with pytest.raises(ValueError):
            wd.set_additions(holidays=["2099-02-02"], workdays=["2099-02-02"])
    finally:
        wd.set_additions()
    assert not wd.is_covered(date(2099, 6, 1))
