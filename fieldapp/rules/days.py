"""The town's calendar day: the one rule behind every "today" and "which day was that" in fieldapp.

Rule: a day is the town's local calendar day, in the town's time zone (Asia/Shanghai unless the
deployment configures another in BABEL_DEFAULT_TIMEZONE), never UTC's day or the server's. Moments
are stored naive in UTC (models._base.utcnow), so a change made at 00:30 on Friday in Beijing
(16:30 UTC on Thursday) belongs to Friday: on the dashboard's figures, in a tip's 3-working-day
deadline, in an informant's month and on a badge's validity alike.

The zone is a fact about the deployment, not about a request, so it is kept here once for the
process: create_app() sets it from the configuration. Pure: no Flask, no database.
"""
from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

DEFAULT_ZONE = "Asia/Shanghai"  # China has one time zone and no daylight saving time

_zone = ZoneInfo(DEFAULT_ZONE)


def set_zone(name: str) -> None:
    """Use the IANA zone `name` as the town's zone from now on (create_app, from
    BABEL_DEFAULT_TIMEZONE)."""
    global _zone
    _zone = ZoneInfo(name)


def zone() -> ZoneInfo:
    """The town's time zone."""
    return _zone


def local_day(moment: datetime) -> date:
    """The town's calendar day of a stored moment. Naive datetimes are UTC, as stored."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(_zone).date()


def today() -> date:
    """The town's calendar day now."""
    return datetime.now(_zone).date()
