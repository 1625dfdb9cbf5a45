"""Rules for door visits and for the phone's clock (issue #4, "Visits"; docs/sync-protocol.md).

Pure functions, no Flask. fieldapp/sync.py applies them to pushed `visit.new` items and to the
`collected_at` of every pushed record.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, UTC

# A phone's clock may run a little ahead of the server's; beyond this it is simply wrong.
CLOCK_SKEW = timedelta(minutes=10)
# A GPS fix this accurate (radius in metres, as the browser reports it) or better is "good": good
# enough to say where a door is. Phones indoors or in narrow lanes report 100 m and more, which
# would place a house in the next street; 50 m keeps houses in their group and lane.
GOOD_ACCURACY_M = 50.0
EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)


def phone_time(value, now: datetime, skew: timedelta = CLOCK_SKEW,
               offset: timedelta = timedelta(0)) -> datetime | None:
    """The moment a phone says something happened, as a naive UTC datetime, or None when it cannot
    be used: not an ISO 8601 date-time string, or later than the server's `now` (naive UTC) by more
    than `skew` (a phone clock that far ahead is wrong, and a future moment would make a record look
    collected before it was). A moment within the skew ahead of `now` is taken as `now`: nothing is
    ever stored as collected in the future. A value without a time zone is read as UTC; callers fall
    back to the server's time on None. `offset` (clock_offset) is added first: the correction for a
    phone whose clock is set wrong."""
    moment = _moment(value)
    if moment is None:
        return None
    try:
        moment += offset
    except OverflowError:  # a moment near year 1 or 9999 shifted off the calendar: unusable
        return None
    if moment > now + skew:
        return None
    return min(moment, now)


def clock_offset(phone_now, now: datetime, skew: timedelta = CLOCK_SKEW) -> timedelta:
    """How much to add to this phone's moments: the server's `now` (naive UTC) minus the phone's
    clock when it sent the request (`phone_now`, ISO 8601), when the two differ by more than `skew`;
    otherwise (or when unreadable) nothing. Cheap phones are often set by hand, hours or days off;
    without this, every record and visit from such a phone would carry that error (a visit a day
    "before" the tip it checks, a record collected "last week"). The offset is read when the phone
    sends, so it assumes the clock was as wrong when the things were collected: true for a clock set
    wrong, not for one corrected in between (its moments stay as they were before this rule)."""
    moment = _moment(phone_now)
    if moment is None:
        return timedelta(0)
    offset = now - moment
    return offset if abs(offset) > skew else timedelta(0)


def _moment(value) -> datetime | None:
    """An ISO 8601 date-time string as naive UTC (no zone: read as UTC); None when it is not one."""
    if not isinstance(value, str) or not 10 <= len(value) <= 40:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if "T" not in text and " " not in text:
        return None  # a bare date is not a moment
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:  # 0001-01-01T00:00+14:00 is before year 1 in UTC
            return None
    return moment


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two WGS-84 positions (haversine on a sphere of the
    mean Earth radius: within 0.5 % of the ellipsoid, far below GPS error at a door)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def valid_position(lat, lon, accuracy_m) -> bool:
    """A position the phone may send: lat in [-90, 90], lon in [-180, 180], accuracy a positive
    number of metres (or absent), all plain numbers. A visit may also carry no position at all."""
    def number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    if not (number(lat) and number(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        return False
    return accuracy_m is None or (number(accuracy_m) and accuracy_m > 0)


def good_fix(lat, lon, accuracy_m) -> bool:
    """A good GPS position: a valid position whose reported accuracy is known and at most
    GOOD_ACCURACY_M metres. Without an accuracy we cannot tell, so it is not good."""
    return valid_position(lat, lon, accuracy_m) and accuracy_m is not None and accuracy_m <= GOOD_ACCURACY_M


@dataclass(frozen=True)
class HousePosition:
    """What the server knows of a house's position: lat/lon (None = unknown) and whether a visit
    set it (`from_visit`; the register's and the demo's positions are not from a visit)."""
    lat: float | None
    lon: float | None
    accuracy_m: float | None = None
    from_visit: bool = False

    @property
    def known(self) -> bool:
        return self.lat is not None and self.lon is not None


@dataclass(frozen=True)
class VisitPlacement:
    distance_m: float | None  # from the house's known position before this visit, when both exist
    becomes_position: bool  # this visit's position becomes the house's known position


def place_visit(house: HousePosition, lat, lon, accuracy_m) -> VisitPlacement:
    """How a visit relates to its house's position.

    - distance_m: from the house's known position before this visit (any known position, the
      register's included) to the visit's position, when the visit has a valid one; else None.
    - becomes_position: the first good fix (good_fix) of a house becomes its known position, once,
      when no earlier visit set it. A position from the register (or the demo) is replaced: the
      register's positions are approximate (often the centre of a group, typed from a paper map),
      a good fix taken at the door is better. After that the house keeps it: later visits only get
      a distance, so one bad fix cannot move a door around.
    """
    has_position = valid_position(lat, lon, accuracy_m)
    distance = distance_m(house.lat, house.lon, lat, lon) if has_position and house.known else None
    return VisitPlacement(distance, not house.from_visit and good_fix(lat, lon, accuracy_m))
