"""Collection IDs: issuing, activating, signing in, revoking. No HTTP here; views call these.

Rules:
- A collection ID is the town's prefix and a four-digit serial (YP-0042), printed on the badge.
- Issuing an ID (or re-issuing an activation) gives a one-time activation code valid for
  ACTIVATION_HOURS; the holder uses it once to set a PIN. Codes are stored only as slow hashes.
- Sign-in is collection ID + PIN, throttled per (ID, source) and per ID before any check
  (throttle.py, in the database, so every worker and server enforces it). Wrong ID and wrong PIN,
  and a locked real ID and a locked unknown one, give the same answer, so IDs cannot be probed.
- A sign-in opens a server-side session (login_sessions.py): sign-out, the idle and absolute limits
  end it there, whatever the cookie says.
- Revoking takes effect on the holder's next request: the session version changes.
"""
from __future__ import annotations

import functools
import os
import secrets
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from . import login_sessions, throttle
from .audit import audit  # noqa: F401  (accounts.audit stays the name existing callers use)
from .extensions import db
from .models import Account, Village, utcnow
from .rules.pin import pin_problem

ACTIVATION_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read off a slip of paper


class AccountError(Exception):
    """A refused account operation; `code` names the reason for the UI's message catalog."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params


def _hash(secret: str) -> str:
    return generate_password_hash(secret, method=current_app.config.get("PASSWORD_HASH_METHOD", "scrypt"))


@functools.cache
def _dummy_hash_for(method: str) -> str:
    return generate_password_hash(secrets.token_hex(8), method=method)


def _dummy_hash() -> str:
    return _dummy_hash_for(current_app.config.get("PASSWORD_HASH_METHOD", "scrypt"))


def normalise_collection_id(text: str) -> str:
    return (text or "").strip().upper().replace(" ", "")


def next_collection_id(prefix: str) -> str:
    """The next free serial under `prefix`. A unique constraint settles a race between two admins."""
    taken = db.session.scalars(select(Account.collection_id).where(Account.collection_id.like(f"{prefix}-%")))
    serials = [int(cid.rsplit("-", 1)[1]) for cid in taken if cid.rsplit("-", 1)[1].isdigit()]
    return f"{prefix}-{max(serials, default=0) + 1:04d}"


def new_activation_code() -> str:
    return "".join(secrets.choice(ACTIVATION_ALPHABET) for _ in range(8))


def issue(town_id: int, name: str, role: str, village_ids: list[int], issued_by: int | None,
          valid_until: date | None = None, office: str | None = None,
          collection_id: str | None = None, prepared: tuple[str, str] | None = None) -> tuple[Account, str]:
    """Issue a collection ID; returns it with its activation code (shown once, never stored).
    `prepared`: a (code, hash) pair from new_activations(), for issuing many at once."""
    account = Account(collection_id=collection_id or next_collection_id(current_app.config["COLLECTION_ID_PREFIX"]),
                      name=name, role=role, town_id=town_id, issued_by_id=issued_by,
                      valid_until=valid_until, office=office)
    account.villages = list(db.session.scalars(select(Village).where(Village.id.in_(village_ids))))
    db.session.add(account)
    code = reset_activation(account, prepared)
    db.session.flush()
    audit(issued_by, "issue_id", f"account:{account.id}")
    return account, code


def reset_activation(account: Account, prepared: tuple[str, str] | None = None) -> str:
    """A fresh one-time activation code; any earlier code stops working."""
    code, hashed = prepared or new_activations(1)[0]
    account.activation_hash = hashed
    account.activation_expires_at = utcnow() + timedelta(hours=current_app.config["ACTIVATION_HOURS"])
    return code


def new_activations(count: int) -> list[tuple[str, str]]:
    """`count` fresh (code, slow hash) pairs. A slow hash takes tenths of a second by design, so a
    list of people is hashed on one thread per core (hashlib's scrypt releases the GIL)."""
    codes = [new_activation_code() for _ in range(count)]
    if count <= 1:
        return [(code, _hash(code)) for code in codes]
    from concurrent.futures import ThreadPoolExecutor

    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
    with ThreadPoolExecutor(max_workers=min(count, os.cpu_count() or 1)) as pool:
        hashes = list(pool.map(lambda code: generate_password_hash(code, method=method), codes))
    return list(zip(codes, hashes))


def _find(collection_id: str) -> Account | None:
    return db.session.scalar(select(Account).where(
        func.upper(Account.collection_id) == normalise_collection_id(collection_id)))


def _check_usable(account: Account) -> None:
    if account.revoked_at is not None:
        raise AccountError("revoked")
    if account.valid_until is not None and account.valid_until < date.today():
        raise AccountError("expired_id")


def _reserve(collection_id: str, source: str | None) -> tuple[throttle.Reservation, Account | None]:
    """Count the attempt (throttle.py; commits) before anything is checked, then find the ID.
    The same for IDs that do not exist: the answer must not tell them apart."""
    try:
        reservation = throttle.reserve(normalise_collection_id(collection_id), source)
    except throttle.Throttled as refused:
        raise AccountError("locked", minutes=refused.minutes) from None
    return reservation, _find(collection_id)


def activate(collection_id: str, code: str, pin: str, source: str | None = None) -> Account:
    """Set the PIN with a valid activation code. The code is consumed; wrong codes count as failures
    (the same counts as wrong PINs: both guess their way into the ID)."""
    reservation, account = _reserve(collection_id, source)
    if account is None or account.activation_hash is None:
        check_password_hash(_dummy_hash(), code)  # as long as a wrong code takes
        raise AccountError("bad_activation")
    _check_usable(account)
    if not check_password_hash(account.activation_hash, code.strip().upper()):
        audit(account.id, "login_failed")
        raise AccountError("bad_activation")
    throttle.release(reservation)
    if account.activation_expires_at is None or account.activation_expires_at < utcnow():
        raise AccountError("activation_expired")
    problem = pin_problem(pin)
    if problem:
        raise AccountError("pin_" + problem)
    account.password_hash = _hash(pin)
    account.activation_hash = account.activation_expires_at = None
    account.activated_at = utcnow()
    account.session_version += 1  # sessions from a previous PIN end
    login_sessions.end_all(account.id, "pin_changed")
    audit(account.id, "activate")
    return account


def authenticate(collection_id: str, pin: str, source: str | None = None) -> Account:
    """Collection ID + PIN from `source` (the client's address; None outside a request) -> the
    account, or AccountError('bad_login' | 'locked' | 'revoked' | ...). The attempt is counted and
    committed first (throttle.reserve); a throttled attempt is refused without any check."""
    reservation, account = _reserve(collection_id, source)
    if account is None or account.password_hash is None:
        check_password_hash(_dummy_hash(), pin)  # a missing ID takes as long as a wrong PIN
        raise AccountError("bad_login")
    if not check_password_hash(account.password_hash, pin):
        audit(account.id, "login_failed")
        raise AccountError("bad_login")
    throttle.release(reservation)
    throttle.prune()  # opportunistic: counters whose window ended (an indexed range, usually empty)
    _check_usable(account)  # only after the right PIN: don't tell strangers an ID was revoked
    audit(account.id, "login")
    return account


def start_session(account: Account, user_agent: str | None) -> None:
    """Open the web session of a just-authenticated account (login_sessions.start)."""
    login_sessions.start(account, user_agent)


def sign_out(account: Account) -> None:
    """End the account's current web session on the server."""
    row = login_sessions.end(account.login_token, "logout")
    audit(account.id, "logout", f"login_session:{row.id}" if row is not None else None)


def revoke(account: Account, by: int | None, reason: str) -> None:
    """Revoke at once: the holder's session is void on their next request."""
    account.revoked_at = utcnow()
    account.revoked_reason = reason
    account.session_version += 1
    login_sessions.end_all(account.id, "revoked")
    account.activation_hash = account.activation_expires_at = None
    audit(by, "revoke_id", f"account:{account.id}")


def _audit_expiry(account_id: int, session_id: int, reason: str) -> None:
    audit(account_id, "session_expired", f"login_session:{session_id}", reason)


def load_session(session_id: str, touch: bool = True) -> tuple[Account | None, str | None]:
    """Flask-Login's loader: the session secret from the cookie -> (a still-valid account, None),
    or (None, why the session is closed: 'logout', 'idle', 'absolute', 'revoked', or None)."""
    account, closed = login_sessions.load(session_id, touch=touch, on_expiry=_audit_expiry)
    if account is None:
        return None, closed
    try:
        _check_usable(account)
    except AccountError:
        return None, "revoked"
    return account, None


def load_session_account(session_id: str) -> Account | None:
    """The account of an open session, without recording activity (a live stream re-checking)."""
    return load_session(session_id, touch=False)[0]


def prune_sign_ins() -> tuple[int, int]:
    """Delete old ended sessions and sign-in counters whose window ended: (sessions, counters)."""
    return login_sessions.prune(), throttle.prune()
