"""Sign-in throttling: how many PIN (or activation code) checks a typed collection ID may get.

Rules (configurable, README "Running it for real"):
- At most LOGIN_MAX_FAILURES checks per (typed ID, source address) in a window of
  LOGIN_LOCK_MINUTES, and at most LOGIN_ID_MAX_FAILURES per typed ID from all sources together in
  LOGIN_ID_WINDOW_MINUTES. So a stranger elsewhere uses up only their own source's allowance and the
  collector's phone still signs in, unless many sources together reach the ID's ceiling.
- Every attempt is counted *before* the slow hash check, in one atomic statement committed at once
  (INSERT ... ON CONFLICT DO UPDATE ... RETURNING), so concurrent attempts on any database and in
  any number of processes get at most the allowed number of checks; the rest are refused unchecked.
- The typed ID is counted whether or not it exists: an unknown ID is throttled, and answered,
  exactly like a real one, so lockouts tell nothing about which IDs exist.
- The right PIN clears its source's count and gives back its place in the ID's count.
- What is counted is stored only as a keyed hash (HMAC with the app's secret key): the table holds
  no address and no ID. Rows whose window ended are pruned (prune(); `flask prune-sign-ins`).
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import case, delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .extensions import db
from .models import LoginThrottle, utcnow
from .rules.sessions import wait_minutes


@dataclass(frozen=True)
class Reservation:
    """A granted check: the keys it was counted under, to clear them if the PIN is right."""
    pair_key: str
    id_key: str


class Throttled(Exception):
    """No check for this attempt: wait `minutes`."""

    def __init__(self, minutes: int):
        super().__init__(minutes)
        self.minutes = minutes


def _key(*parts: str) -> str:
    secret = current_app.config["SECRET_KEY"].encode("utf-8")
    return hmac.new(secret, "\x1f".join(("sign-in", *parts)).encode("utf-8"), hashlib.sha256).hexdigest()


def _windows() -> tuple[tuple[int, timedelta], tuple[int, timedelta]]:
    config = current_app.config
    return ((int(config["LOGIN_MAX_FAILURES"]), timedelta(minutes=config["LOGIN_LOCK_MINUTES"])),
            (int(config["LOGIN_ID_MAX_FAILURES"]), timedelta(minutes=config["LOGIN_ID_WINDOW_MINUTES"])))


def _count(key: str, window: timedelta, now: datetime) -> tuple[int, datetime]:
    """Add one attempt to `key`'s window (a new window if the last one ended); (attempts, window start)."""
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    table = LoginThrottle.__table__
    ended = table.c.window_started_at <= now - window
    statement = (insert(table).values(key=key, window_started_at=now, attempts=1)
                 .on_conflict_do_update(index_elements=[table.c.key], set_={
                     "attempts": case((ended, 1), else_=table.c.attempts + 1),
                     "window_started_at": case((ended, now), else_=table.c.window_started_at)})
                 .returning(table.c.attempts, table.c.window_started_at))
    attempts, started = db.session.execute(statement).one()
    return attempts, started


def source_network(address: str | None) -> str:
    """What a source is counted as: an IPv4 address as it is, an IPv6 address by its /64 network
    (one subscriber is given a whole /64: counting single addresses would let one phone pose as
    millions of sources and use up an ID's ceiling alone). Anything unreadable counts as itself."""
    if not address:
        return "-"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))


def reserve(collection_id: str, source: str | None) -> Reservation:
    """Count one attempt for the typed ID (normalised) from `source`; raises Throttled when either
    limit is passed. Commits: the count must be visible to every other attempt before the check."""
    (pair_limit, pair_window), (id_limit, id_window) = _windows()
    pair_key, id_key = _key("id+source", collection_id, source_network(source)), _key("id", collection_id)
    now = utcnow()
    db.session.commit()  # whatever the caller read ends here: the count is a transaction of its own
    try:
        attempts, started = _count(pair_key, pair_window, now)
        if attempts > pair_limit:
            raise Throttled(wait_minutes(started, pair_window, now))
        # Only attempts this source may make count against the ID: a source that is already
        # throttled cannot use up the collector's allowance from everywhere else.
        attempts, started = _count(id_key, id_window, now)
        if attempts > id_limit:
            raise Throttled(wait_minutes(started, id_window, now))
    finally:
        db.session.commit()
    return Reservation(pair_key, id_key)


def release(reservation: Reservation) -> None:
    """The PIN was right: its source starts afresh, and the check is not a failure for the ID."""
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.key == reservation.pair_key))
    db.session.execute(update(LoginThrottle).where(LoginThrottle.key == reservation.id_key,
                                                   LoginThrottle.attempts > 0)
                       .values(attempts=LoginThrottle.attempts - 1))


def prune(now: datetime | None = None) -> int:
    """Delete counters whose window ended (the longest window ago); returns how many."""
    now = now or utcnow()
    longest = max(window for _limit, window in _windows())
    result = db.session.execute(delete(LoginThrottle).where(LoginThrottle.window_started_at < now - longest))
    return result.rowcount or 0
