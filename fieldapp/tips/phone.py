"""Tip tasks on the collector's phone. The tips a collector may act on travel in the work package
(`tip_tasks`, fieldapp/sync.py build_package) and what the collector found at the door comes back
as a pushed item, op `tip.verify` (docs/sync-protocol.md), so a tip can be checked where there is
no signal, like every other form. The rules are the web's: tips.service and rules/tips.py.

- Tasks: the open tips of the account's villages that are new (anyone of the village may take
  them) or assigned to the account, overdue first; TASKS_MAX at most. The list is a snapshot: the
  phone replaces its copy with each one it gets.
- Informants' own tips (`my_tips`, the last package page too): how each was checked, so the
  phone can show "checked: right" where it showed only "sent" (and the informant sees what the
  rewards will count). No collector's note and no names: the state, the verdict, the days.
- A verdict takes a new tip for the collector first, then verifies it. Verifying needs the
  collector's own visit to the door after the tip arrived; the phone sends that visit (op
  visit.new) before the verdict, so it is on the server when the verdict is applied.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from ..extensions import db
from ..models import Account, House, Tip
from ..rules import tips as rules
from ..rules.days import local_day
from ..rules.address import ADDRESS_PARTS, format_address
from ..rules.permissions import can
from . import service

TASKS_MAX = 200  # a phone's list; supervisors page through the web list instead
MY_TIPS_MAX = 100  # the informant's newest; the web page (/tips) has the rest
VERDICTS = ("valid", "invalid")


def tasks_for(account: Account, on: date) -> list[dict] | None:
    """The account's tip tasks for its work package; None for roles that do not work tips."""
    if not can(account.role, "tips.work"):
        return None
    tips = service.task_list(account, on, limit=TASKS_MAX, own_only=True)
    house_ids = {t.house_id for t in tips if t.house_id is not None}
    uids = dict(db.session.execute(select(House.id, House.uid).where(House.id.in_(house_ids))).all()) if house_ids else {}
    return [task_json(tip, uids.get(tip.house_id), account, on) for tip in tips]


def task_json(tip: Tip, house_uid: str | None, account: Account, on: date) -> dict:
    """One task as the phone keeps it (sealed there: the details may name people). No sender's
    phone number: a public tip's contact stays on the web page, behind its reveal."""
    return {"uid": tip.uid, "village_id": tip.village_id, "house_uid": house_uid, "address_text": tip.address_text,
            "kind": tip.kind, "happened_on": tip.happened_on.isoformat() if tip.happened_on else None,
            "details": tip.details, "received_on": local_day(tip.received_at).isoformat(),
            "due_on": tip.due_on.isoformat(), "state": tip.state, "mine": tip.assigned_to_id == account.id,
            "overdue": rules.is_overdue(tip.state, tip.due_on, on), "version": tip.version}


def my_tips_for(account: Account) -> list[dict] | None:
    """The tips the account sent (newest first, MY_TIPS_MAX) with how they stand; None for roles
    that do not send tips."""
    if not can(account.role, "tips.submit"):
        return None
    tips = service.my_tips(account, limit=MY_TIPS_MAX)
    houses = {h.id: h for h in db.session.scalars(
        select(House).where(House.id.in_({t.house_id for t in tips if t.house_id is not None})))} if tips else {}
    return [{"uid": tip.uid, "kind": tip.kind, "place": place_of(tip, houses.get(tip.house_id)),
             "received_on": local_day(tip.received_at).isoformat(), "state": tip.state, "verdict": tip.verdict,
             "verified_on": local_day(tip.verified_at).isoformat() if tip.verified_at else None}
            for tip in tips]


def place_of(tip: Tip, house: House | None) -> str:
    """Where a tip is about, as its sender named it: the house's address, else the words given."""
    if house is not None:
        return format_address({n: getattr(house, n) for n in ADDRESS_PARTS}, tip.village.name)
    return tip.address_text or ""


def verify_from_phone(account: Account, tip_uid: str, data: dict, house: House | None, at: datetime | None) -> Tip:
    """Apply a verdict sent from the phone: data {verdict: valid | invalid, note}. `house` is the
    house the collector visited, for a tip that named no known house. Raises service.TipError
    (codes of rules.decide, plus bad_verdict / too_long naming their field)."""
    verdict, note = data.get("verdict"), data.get("note")
    if verdict not in VERDICTS:
        raise service.TipError("bad_verdict", "verdict")
    if note is not None and not isinstance(note, str):
        raise service.TipError("too_long", "note")
    tip = db.session.scalar(service.visible_tips(account).where(Tip.uid == tip_uid).with_for_update())
    if tip is None:
        raise service.TipError("out_of_scope")
    if tip.state == "new":
        service.take(tip, account)
    service.verify(tip, account, verdict == "valid", note, house=house, at=at)
    return tip
