"""rules/days.py: the town's calendar day, the one rule behind every "today" in fieldapp."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from fieldapp.rules import days


@pytest.fixture
def zone_restored():
    yield
    days.set_zone(days.DEFAULT_ZONE)


def test_a_stored_moment_belongs_to_the_towns_day_not_utcs():
    # Stored naive in UTC: Thursday 16:30 UTC is Friday 00:30 in Beijing.
    assert days.local_day(datetime(2026, 3, 5, 16, 30)) == date(2026, 3, 6)
    assert days.local_day(datetime(2026, 3, 5, 15, 59)) == date(2026, 3, 5)


def test_an_aware_moment_is_converted_whatever_its_zone():
    moment = datetime(2026, 3, 5, 20, 30, tzinfo=timezone(timedelta(hours=-5)))  # 01:30 UTC on the 6th
    assert days.local_day(moment) == date(2026, 3, 6)


def test_today_is_the_local_day_of_now():
    assert days.today() in {days.local_day(datetime.now(UTC)), days.local_day(datetime.now(UTC) - timedelta(seconds=1))}


def test_a_deployment_counts_days_in_its_configured_zone(make_app, zone_restored):
    make_app(BABEL_DEFAULT_TIMEZONE="Europe/Lisbon")
    assert days.local_day(datetime(2026, 3, 5, 16, 30)) == date(2026, 3, 5)
    make_app()
    assert days.zone().key == "Asia/Shanghai"
