"""Door codes in use and retired: looking a token up, and retiring a code for a new one.

Retiring writes three things in the caller's transaction:
- the house's new code and token, through records.replace_door_code (a Change row, so phones get
  the new code at their next sync and the house's history shows it);
- a RetiredDoorCode row with the old short code and only a hash of the old token, so the old label
  answers "retired" and a leaked database cannot be used to print working copies of it;
- an AuditEvent: replacing a label is a security action (a stolen label), like revealing an ID.
"""
from __future__ import annotations

import hashlib
import re

from sqlalchemy import select

from .. import records
from ..accounts import audit
from ..extensions import db
from ..models import House, RetiredDoorCode

RETIRE_REASONS = ("damaged", "stolen", "reprint", "other")
# rules.doorcode.new_door_token: token_urlsafe(20) is 27 characters; allow some room, nothing else.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def lookup(token: str) -> tuple[str, House | RetiredDoorCode | None]:
    """('live', house), ('retired', retired code row) or ('unknown', None) for a scanned token.
    A code retired because its house was merged into another (reason 'merged', fieldapp/merging.py)
    is live for the kept house: the label on the duplicate's door still opens the one house."""
    if not TOKEN_SHAPE.fullmatch(token or ""):
        return "unknown", None
    house = db.session.scalar(select(House).where(House.door_token == token))
    if house is not None:
        return "live", house
    retired = db.session.scalar(select(RetiredDoorCode).where(RetiredDoorCode.token_hash == hash_token(token)))
    if retired is not None and retired.reason == "merged":
        return "live", db.session.get(House, retired.house_id)
    if retired is not None:
        return "retired", retired
    return "unknown", None


def retire_and_replace(account_id: int | None, house: House, reason: str, source: str = "web") -> RetiredDoorCode:
    """Retire the house's current code for `reason` (RETIRE_REASONS) and issue a new one."""
    if reason not in RETIRE_REASONS:
        raise ValueError(f"unknown reason {reason!r}")
    old_code, old_token = records.replace_door_code(records.Actor(account_id, source), house)
    retired = RetiredDoorCode(house_id=house.id, door_code=old_code, token_hash=hash_token(old_token),
                              reason=reason, retired_by_id=account_id)
    db.session.add(retired)
    audit(account_id, "door_code_retired", f"house:{house.id}", f"{reason}: {old_code} -> {house.door_code}")
    db.session.flush()
    return retired
