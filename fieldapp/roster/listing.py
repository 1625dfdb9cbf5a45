"""The list of collection IDs: search, filters, pages (all on the server); moving a holder between
villages and sub-areas.

Rules:
- Search matches part of the name or the collection ID, or the phone number: digits typed (at least
  four) match anywhere in the stored 11 digits, so the last four digits a holder says on the phone
  find them. Filters: role, village (IDs assigned to it), status (active: a PIN set and not revoked;
  not activated: no PIN yet and not revoked; revoked). PAGE_SIZE IDs a page, by collection ID.
- Moving changes the villages (and sub-areas, which must lie in the new villages) of a village-level
  ID. Town-wide IDs have no villages; revoked IDs stay as they were. The holder's web sessions end
  and their phones are signed out (devices.revoke_device): the phone wipes the work package of the
  old villages, keeps unsent records, and downloads the new villages' package once the holder signs
  in again. The move is audited with the village ids before and after (no names in the log).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, or_, select

from .. import devices, login_sessions
from ..audit import audit
from ..extensions import db
from ..models import Account, Device, SubArea, Village, account_villages
from ..rules.permissions import ROLES, is_town_wide

PAGE_SIZE = 50
STATUSES = ("active", "not_activated", "revoked")


@dataclass
class Page:
    accounts: list[Account]
    total: int
    page: int
    pages: int


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(town_id: int, q: str = "", role: str = "", village_id: int | None = None, status: str = "",
           page: int = 1) -> Page:
    """One page of the town's IDs matching the search and filters (module docstring)."""
    query = select(Account).where(Account.town_id == town_id)
    q = (q or "").strip()
    if q:
        pattern = f"%{_like_escape(q)}%"
        terms = [Account.name.like(pattern, escape="\\"),
                 func.upper(Account.collection_id).like(f"%{_like_escape(q.upper().replace(' ', ''))}%", escape="\\")]
        digits = re.sub(r"\D", "", q)
        if len(digits) >= 4 and re.fullmatch(r"[\d\s+\-]+", q):
            terms.append(Account.phone.like(f"%{digits[-11:]}%"))
        query = query.where(or_(*terms))
    if role in ROLES:
        query = query.where(Account.role == role)
    if village_id is not None:
        query = query.where(Account.id.in_(select(account_villages.c.account_id)
                                           .where(account_villages.c.village_id == village_id)))
    if status == "revoked":
        query = query.where(Account.revoked_at.is_not(None))
    elif status == "active":
        query = query.where(Account.revoked_at.is_(None), Account.password_hash.is_not(None))
    elif status == "not_activated":
        query = query.where(Account.revoked_at.is_(None), Account.password_hash.is_(None))
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    listed = list(db.session.scalars(query.order_by(Account.collection_id, Account.id)
                                     .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)))
    return Page(accounts=listed, total=total, page=page, pages=pages)


class MoveRefused(Exception):
    """`code`: town_wide | revoked | no_village | sub_area_outside."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def may_move(account: Account) -> str | None:
    """Why this ID cannot be moved, or None."""
    if is_town_wide(account.role):
        return "town_wide"
    if account.revoked_at is not None:
        return "revoked"
    return None


def plan_move(account: Account, villages: list[Village], sub_areas: list[SubArea]) -> None:
    """Raise MoveRefused unless moving `account` to these villages and sub-areas is allowed."""
    why = may_move(account)
    if why:
        raise MoveRefused(why)
    if not villages:
        raise MoveRefused("no_village")
    if any(s.village_id not in {v.id for v in villages} for s in sub_areas):
        raise MoveRefused("sub_area_outside")


def move(account: Account, villages: list[Village], sub_areas: list[SubArea], by: int | None) -> int:
    """Move the ID (module docstring), in the caller's transaction. Returns how many phones were
    signed out."""
    plan_move(account, villages, sub_areas)
    before = sorted(v.id for v in account.villages)
    account.villages = list(villages)
    account.sub_areas = list(sub_areas)
    account.session_version += 1
    login_sessions.end_all(account.id, "moved")
    phones = list(db.session.scalars(select(Device).where(Device.account_id == account.id,
                                                          Device.revoked_at.is_(None))))
    for device in phones:
        devices.revoke_device(device, by)
    after = sorted(v.id for v in villages)
    audit(by, "move_account", f"account:{account.id}",
          f"villages {before} -> {after}; sub-areas {sorted(s.id for s in sub_areas)}; {len(phones)} phones signed out")
    return len(phones)
