"""Working-day arithmetic for the time rules of the "three actuals" registry.

Rules (domain.md, "Time rules"):

* A change must be collected within **3 working days** of becoming known
  (a tip or a discovery at the door).
* A collected record must be reviewed/entered within **2 working days**.
* Working days skip weekends and Chinese public holidays; make-up working days
  (调休, e.g. a Saturday or Sunday declared a working day to bridge a holiday)
  ARE working days.

The official calendar comes from the ``chinesecalendar`` package (module
``chinese_calendar``), which ships the State Council's holiday notices for a
fixed range of years (see :func:`covered_years`; 2004-2026 for 1.11.0). For a
date outside that range the package raises ``NotImplementedError``; here that
case falls back to "Monday-Friday are working days" and emits a
:class:`CalendarCoverageWarning`, so a deployment that outlives its calendar
package keeps working (slightly wrong around holidays) instead of crashing,
and the problem is visible in logs. :func:`is_covered` lets callers (e.g. an
admin page) show that the fallback is in use.

The State Council publishes each year's arrangement in the November or
December before it, often ahead of a package release; :func:`set_additions`
takes the year's holidays and make-up working days from the deployment's
configuration (CALENDAR_HOLIDAYS / CALENDAR_WORKDAYS) and they win over the
package and the fallback, so an office can type the notice in on the day it
is published.

All functions are pure: no Flask, no database.
"""

from __future__ import annotations

import datetime as _dt
import warnings
from datetime import date, timedelta
from functools import lru_cache

import chinese_calendar

#: Default limits from domain.md.
COLLECT_LIMIT_WORKING_DAYS = 3
REVIEW_LIMIT_WORKING_DAYS = 2

_ONE_DAY = timedelta(days=1)

# Days the deployment's configuration declares (set_additions): off, or working.
_added_holidays: frozenset[date] = frozenset()
_added_workdays: frozenset[date] = frozenset()


class CalendarCoverageWarning(UserWarning):
    """A date lies outside the years the official holiday calendar covers.

    The weekday-only fallback was used, so holidays and make-up working days
    of that year are NOT taken into account. Update ``chinesecalendar``.
    """


@lru_cache(maxsize=1)
def covered_years() -> range:
    """Years for which the package's official holiday calendar is known.

    Read from the package's own data (the same bounds its ``is_workday``
    checks), so upgrading the package extends the range automatically.
    """
    years = [d.year for d in chinese_calendar.holidays]
    return range(min(years), max(years) + 1)


def set_additions(holidays=(), workdays=()) -> None:
    """Declare public holidays and make-up working days (dates or ISO text) for this process,
    e.g. a year the package does not cover yet. A day in both is refused (ValueError): the notice
    cannot say both. A year with any declared day counts as covered (:func:`is_covered`)."""
    global _added_holidays, _added_workdays
    off = frozenset(_as_date(date.fromisoformat(d) if isinstance(d, str) else d) for d in holidays)
    on = frozenset(_as_date(date.fromisoformat(d) if isinstance(d, str) else d) for d in workdays)
    if off & on:
        raise ValueError(f"declared both a holiday and a working day: {sorted(off & on)}")
    _added_holidays, _added_workdays = off, on


def is_covered(d: date) -> bool:
    """True if ``d`` is decided by the official calendar (the package's, or days declared with
    :func:`set_additions` for its year), False if the Monday-Friday fallback would be used."""
    year = _as_date(d).year
    return year in covered_years() or any(day.year == year for day in _added_holidays | _added_workdays)


def is_working_day(d: date) -> bool:
    """Is ``d`` a working day (工作日) in mainland China?

    * Saturdays, Sundays and public holidays are off.
    * Make-up working days (调休: weekend days declared working days) are on.
    * Outside :func:`covered_years` the official calendar is unknown: the
      fallback is "Monday-Friday are working days, Saturday/Sunday are off",
      and a :class:`CalendarCoverageWarning` is emitted (Python's default
      warning filter shows it once per year and call site). Never raises for
      a valid date.

    A ``datetime`` is accepted and reduced to its date; anything else raises
    ``TypeError`` (the package would report that as NotImplementedError,
    which must not be mistaken for "year not covered").
    """
    d = _as_date(d)
    if d in _added_holidays:
        return False
    if d in _added_workdays:
        return True
    if d.year not in covered_years() and is_covered(d):
        return d.weekday() < 5  # a declared year: its other days follow the week
    try:
        return bool(chinese_calendar.is_workday(d))
    except NotImplementedError:
        # Only reachable for an uncovered year, since the type was checked.
        warnings.warn(
            f"no official holiday calendar for {d.year} "
            f"(covered: {covered_years().start}-{covered_years().stop - 1}); "
            "treating Monday-Friday as working days",
            CalendarCoverageWarning,
            stacklevel=2,
        )
        return d.weekday() < 5


def add_working_days(start: date, n: int) -> date:
    """The date that is ``n`` working days after ``start``.

    Counting rule: ``start`` itself is never counted, whether or not it is a
    working day; day 1 is the first working day strictly after ``start``.
    The result is therefore always a working day for ``n >= 1``. So a change
    known on day D must be collected by ``add_working_days(D, 3)``, inclusive:

    * known Monday (no holiday) -> deadline Thursday;
    * known Friday -> deadline Wednesday;
    * known Saturday (a normal weekend day) -> count starts at the next
      working day, Monday, so the deadline is also Wednesday;
    * known on a make-up working Saturday -> that Saturday is a normal
      working day, and like any start day it is not counted either.

    ``n == 0`` returns ``start`` unchanged. ``n < 0`` raises ``ValueError``.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    day = _as_date(start)
    remaining = n
    while remaining:
        day += _ONE_DAY
        if is_working_day(day):
            remaining -= 1
    return day


def working_days_between(start: date, end: date) -> int:
    """Number of working days in the half-open interval (start, end].

    ``start`` is excluded and ``end`` included, matching
    :func:`add_working_days`: ``working_days_between(s, add_working_days(s, n))
    == n``. Returns 0 if ``end <= start``.
    """
    start, end = _as_date(start), _as_date(end)
    count = 0
    day = start + _ONE_DAY
    while day <= end:
        count += is_working_day(day)
        day += _ONE_DAY
    return count


def collect_deadline(known: date, limit: int = COLLECT_LIMIT_WORKING_DAYS) -> date:
    """Last day (inclusive) to collect a change that became known on ``known``."""
    return add_working_days(known, limit)


def review_deadline(collected: date, limit: int = REVIEW_LIMIT_WORKING_DAYS) -> date:
    """Last day (inclusive) to review/enter a record collected on ``collected``."""
    return add_working_days(collected, limit)


def is_timely(
    known: date,
    collected: date,
    reviewed: date | None,
    collect_limit: int = COLLECT_LIMIT_WORKING_DAYS,
    review_limit: int = REVIEW_LIMIT_WORKING_DAYS,
) -> bool:
    """Does a record count towards the timeliness rate (及时率)?

    True iff BOTH hold:

    * ``collected <= add_working_days(known, collect_limit)`` and
    * ``reviewed is not None`` and
      ``reviewed <= add_working_days(collected, review_limit)``.

    Deadlines are compared as dates, so work done on a weekend that falls
    after the deadline day is late (the deadline is the end of the n-th
    working day, as displayed to users). ``reviewed=None`` (not yet reviewed)
    returns False: callers computing a rate should leave out records whose
    review deadline has not yet passed. Dates out of order (collected before
    known) are not late; validating them is the caller's business.
    """
    if _as_date(collected) > collect_deadline(known, collect_limit):
        return False
    if reviewed is None:
        return False
    return _as_date(reviewed) <= review_deadline(collected, review_limit)


def _as_date(d: date) -> date:
    # datetime is a subclass of date; comparing it with a date raises, so
    # reduce it. Reject other types here so that NotImplementedError from the
    # package can only mean "year not covered".
    if isinstance(d, _dt.datetime):
        return d.date()
    if not isinstance(d, date):
        raise TypeError(f"expected datetime.date, got {type(d).__name__}")
    return d
