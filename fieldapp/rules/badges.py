"""Collector badges (采集证): what a badge's public verification page may say.

Rules:
* A badge's status on a given (local) day is, first match wins:
  revoked (the collection ID was revoked, whatever the dates), not_yet_valid (before valid_from),
  expired (after valid_until), else valid. Both dates are inclusive; a missing valid_from means
  "from the day the ID was issued", a missing valid_until means no end date.
* The public page answers only that status and the collection ID printed on the badge (so a resident
  can check that the QR belongs to the card in front of them). It never shows the holder's name,
  photo, phone, ID number or villages: anyone holding the QR (a photo of a badge) could read them.

Pure functions: no Flask, no database.
"""
from __future__ import annotations

from datetime import date, datetime

STATUSES = ("valid", "expired", "not_yet_valid", "revoked")
TOKEN_BYTES = 24  # secrets.token_urlsafe(24): 192 bits, 32 characters


def badge_status(today: date, valid_from: date | None, valid_until: date | None,
                 revoked_at: datetime | None, issued_on: date | None = None) -> str:
    """One of STATUSES for `today` (see the module docstring for the order of the checks)."""
    if revoked_at is not None:
        return "revoked"
    start = valid_from or issued_on
    if start is not None and today < start:
        return "not_yet_valid"
    if valid_until is not None and today > valid_until:
        return "expired"
    return "valid"
