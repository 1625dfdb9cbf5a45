"""Web sessions kept on the server, so that they can end there: sign-out, the idle limit
(SESSION_IDLE_MINUTES), the absolute limit (SESSION_ABSOLUTE_HOURS from sign-in), revocation and a
new PIN (Account.session_version). The signed cookie holds only a random secret; this table holds
its SHA-256, so neither a copy of the database nor a cookie saved before sign-out opens a session.

Everything is in the database: any worker of any app server sees a sign-out at once. The limits are
rules/sessions.py. The phone app's device credentials (devices.py) are not sessions and keep their
own rules.
"""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, or_, select, update

from .database import write_transaction
from .extensions import db
from .models import Account, LoginSession, utcnow
from .rules.sessions import end_reason, needs_touch, user_agent_family

EXPIRED = ("idle", "absolute")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _limits() -> tuple[timedelta, timedelta]:
    config = current_app.config
    return timedelta(minutes=config["SESSION_IDLE_MINUTES"]), timedelta(hours=config["SESSION_ABSOLUTE_HOURS"])


def start(account: Account, user_agent: str | None) -> str:
    """A new session for `account` (just authenticated); returns the cookie's secret and attaches
    it to the account for Flask-Login's get_id()."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(LoginSession(token_hash=_hash(token), account_id=account.id,
                                session_version=account.session_version, created_at=now, last_seen_at=now,
                                user_agent=user_agent_family(user_agent)))
    account.login_token = token
    return token


def end(token: str | None, reason: str) -> LoginSession | None:
    """End the session `token` names (if open); returns its row."""
    if not token:
        return None
    row = db.session.scalar(select(LoginSession).where(LoginSession.token_hash == _hash(token)))
    if row is not None and row.ended_at is None:
        row.ended_at, row.ended_reason = utcnow(), reason
    return row


def end_all(account_id: int, reason: str) -> None:
    """End every open session of an account (revocation, new PIN); the version check would refuse
    them anyway, this records when and why."""
    db.session.execute(update(LoginSession).where(LoginSession.account_id == account_id,
                                                  LoginSession.ended_at.is_(None))
                       .values(ended_at=utcnow(), ended_reason=reason))


def load(token: str, touch: bool = True,
         on_expiry: Callable[[int, int, str], None] | None = None) -> tuple[Account | None, str | None]:
    """The account an open session `token` belongs to, else None with why it is closed ("logout",
    "idle", "absolute", "revoked"; None if unknown). With `touch` (a request), records the activity
    (at most once per SESSION_TOUCH_SECONDS) and ends a session past a limit, calling
    on_expiry(account_id, session_id, reason) in that write when this call is the one that ends it."""
    row = db.session.scalar(select(LoginSession).where(LoginSession.token_hash == _hash(token)))
    if row is None:
        return None, None
    row_id, account_id = row.id, row.account_id  # the writes below commit, which expires the row
    if row.ended_at is not None:
        return None, row.ended_reason
    account = db.session.get(Account, account_id)
    if account is None or account.session_version != row.session_version:
        return None, "revoked"
    now = utcnow()
    idle, absolute = _limits()
    reason = end_reason(row.created_at, row.last_seen_at, now, idle, absolute)
    if reason is not None:
        if not touch:
            return None, reason
        with write_transaction():
            # Conditional: of several requests (workers, servers) noticing it, one ends it.
            ended = db.session.execute(update(LoginSession).where(LoginSession.id == row_id,
                                                                  LoginSession.ended_at.is_(None))
                                       .values(ended_at=now, ended_reason=reason)).rowcount == 1
            if ended and on_expiry is not None:
                on_expiry(account_id, row_id, reason)
        return None, reason
    if touch and needs_touch(row.last_seen_at, now, timedelta(seconds=current_app.config["SESSION_TOUCH_SECONDS"])):
        with write_transaction():
            db.session.execute(update(LoginSession).where(LoginSession.id == row_id,
                                                          LoginSession.last_seen_at < now)
                               .values(last_seen_at=now))
        account = db.session.get(Account, account_id)
    account.login_token = token
    return account, None


def prune(now=None) -> int:
    """Delete sessions that ended (or passed the absolute limit) more than SESSION_KEEP_DAYS ago."""
    now = now or utcnow()
    keep = timedelta(days=current_app.config["SESSION_KEEP_DAYS"])
    _idle, absolute = _limits()
    result = db.session.execute(delete(LoginSession).where(or_(
        LoginSession.ended_at < now - keep, LoginSession.created_at < now - keep - absolute)))
    return result.rowcount or 0
