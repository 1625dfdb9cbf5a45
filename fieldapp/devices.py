"""Device credentials of the phone app (docs/sync-protocol.md): registering a phone, checking its
bearer token on every API request, noting its use, signing it out.

Rules:
- A signed-in account whose role collects (collector, police, reviewer) or an informant registers a
  device and gets a random bearer token once; only its SHA-256 is stored (the token is 256 random
  bits, so a fast hash cannot be brute-forced and a lookup by hash is exact).
- A token stops working (HTTP 401) when the device is revoked or signed out (`revoked`), the
  collection ID is revoked (`revoked`) or past its valid_until (`expired`), the device has not been
  used for DEVICE_IDLE_DAYS (`expired`), or it names no device (`unknown_device`).
- Checking a token only reads. Its last use is written at most every TOUCH_EVERY, in a short
  transaction of its own before the request's work: on SQLite a write takes the database's one
  write lock, and a push must not hold it from its first query to its commit because of a timestamp.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from . import scope
from .accounts import audit
from .database import write_transaction
from .extensions import db
from .models import Account, Device, new_uid, utcnow

DEVICE_ROLES = frozenset({"collector", "police", "reviewer", "informant"})
DEVICE_IDLE_DAYS = 30
TOUCH_EVERY = timedelta(hours=1)  # last_used_at is written at most this often per device

AUTH_MESSAGES = {
    "device_revoked": _l("This phone was signed out. Sign in again to continue."),
    "id_revoked": _l("This collection ID has been revoked. Contact the office that issued it."),
    "id_expired": _l("This collection ID has expired. Ask the office that issued it for a new one."),
    "idle": _l("This phone has not been used for 30 days and was signed out for safety. Sign in again."),
    "unknown_device": _l("This phone is not registered. Sign in again."),
}


class AuthError(Exception):
    """A fatal answer to a bearer token: `code` is revoked | expired | unknown_device (the protocol's
    error), `why` picks the message (AUTH_MESSAGES)."""

    def __init__(self, code: str, why: str):
        super().__init__(code)
        self.code = code
        self.why = why

    @property
    def message(self) -> str:
        return str(AUTH_MESSAGES[self.why])


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def pin_salt(account: Account) -> str:
    """A 16-byte salt for the phone's local PIN key, derived (HMAC with the app's secret key) from the
    collection ID: the same on every registration of the same ID, so records left unsent under an
    earlier device token can still be opened after signing in again. It is not a secret."""
    key = current_app.config["SECRET_KEY"].encode("utf-8")
    digest = hmac.new(key, f"pin-salt:{account.collection_id}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest[:16]).decode("ascii")


def may_register_device(account: Account) -> bool:
    return account.role in DEVICE_ROLES


def register_device(account: Account, name: str) -> tuple[Device, str]:
    """A new device credential for a signed-in account whose role may use the phone app (collectors,
    police, reviewers, informants). Returns the device and its token; the token is never stored, only
    its hash, so this is the only time anyone sees it. Raises PermissionError for other roles."""
    if not may_register_device(account):
        raise PermissionError(account.role)
    token = secrets.token_urlsafe(32)
    device = Device(uid=new_uid(), account_id=account.id, token_hash=hash_token(token),
                    name=(name or "").strip()[:128] or "phone")
    db.session.add(device)
    db.session.flush()
    audit(account.id, "register_device", f"device:{device.id}")
    return device, token


def authenticate_device(token: str, now: datetime | None = None) -> Device:
    """The live device for a bearer token, or AuthError. Checked on every request, so revoking the
    device or the collection ID takes effect on the next one."""
    now = now or utcnow()
    device = db.session.scalar(select(Device).where(Device.token_hash == hash_token(token or "")))
    if device is None:
        raise AuthError("unknown_device", "unknown_device")
    if device.revoked_at is not None:
        raise AuthError("revoked", "device_revoked")
    account = db.session.get(Account, device.account_id)
    if account is None or account.revoked_at is not None:
        raise AuthError("revoked", "id_revoked")
    if account.valid_until is not None and account.valid_until < now.date():
        raise AuthError("expired", "id_expired")
    if device.last_used_at < now - timedelta(days=DEVICE_IDLE_DAYS):
        raise AuthError("expired", "idle")
    return device


def touch_device(device: Device, now: datetime | None = None) -> None:
    """Note that the device was used (at most every TOUCH_EVERY, to keep requests from writing). The
    write gets its own short immediate transaction (fieldapp/database.py), committed before the
    request's own work begins, so the request's transaction starts afresh after it."""
    now = now or utcnow()
    if device.last_used_at > now - TOUCH_EVERY:
        return
    device_id = device.id
    with write_transaction():
        db.session.execute(update(Device).where(Device.id == device_id).values(last_used_at=now))


def revoke_device(device: Device, by: int | None = None) -> None:
    """Sign a device out: its token stops working at once. Unsent records stay on the phone."""
    if device.revoked_at is None:
        device.revoked_at = utcnow()
        audit(by if by is not None else device.account_id, "revoke_device", f"device:{device.id}")


def account_summary(account: Account) -> dict:
    return {"collection_id": account.collection_id, "name": account.name, "role": account.role,
            "villages": [{"id": v.id, "name": v.name} for v in scope.villages(account)]}

