"""What one push knows and asks about: its account and scope, the records its items name (prefetched
in a few queries for the whole batch), and the small readings of an item every step needs."""
from __future__ import annotations

import functools
import hashlib
import json
import uuid
from datetime import datetime, timedelta

from flask import has_request_context
from sqlalchemy import select, union_all

from .. import records, scope
from ..i18n import ui_lang
from ..models import Account, Device, House, MoveRequest, SyncReceipt, Visit
from ..extensions import db
from ..rules.permissions import can
from ..rules.visits import phone_time
from ..models import utcnow

OPS = ("house.new", "house.update", "person.new", "person.update", "person.leave", "organisation.new",
       "organisation.update", "organisation.close", "visit.new", "tip.new", "tip.verify")
NEW_OPS = frozenset({"house.new", "person.new", "organisation.new"})
MODELS = records.RECORD_MODELS


def chunks(values, size: int = 500):
    """`values` in lists of at most `size` (an IN list per query stays within every backend's limits)."""
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


def op_of(item) -> str | None:
    """The item's operation when it names one of OPS; None for anything else (a list or an object
    in "op" included: such an item is refused as bad_item, alone)."""
    op = item.get("op") if isinstance(item, dict) else None
    return op if isinstance(op, str) and op in OPS else None


def is_uuid(value) -> bool:
    return isinstance(value, str) and len(value) == 36 and _parses_as_uuid(value)


@functools.lru_cache(maxsize=4096)
def _parses_as_uuid(value: str) -> bool:
    # Cached: a push asks about the same uids several times (prefetch, receipts, the item itself).
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def payload_hash(item: dict) -> str:
    """SHA-256 of the item's canonical JSON: the same item sent again has the same hash."""
    text = json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def receipt_entity_uid(item: dict) -> str:
    """The receipt's entity: the record an item is about; a visit is its own."""
    return str(item["uid"] if item["op"] == "visit.new" else item.get("entity_uid"))[:36]


def phone_text(item: dict) -> str | None:
    """The phone's own moment of the item as it sent it (kept on the receipt)."""
    value = item.get("at") if item["op"] == "visit.new" else item.get("collected_at")
    return str(value)[:40] if value else None


find = records.find_record


class PushContext:
    """What one push needs about its account, loaded once."""

    def __init__(self, account: Account, device: Device | None):
        self.account = account
        self.device = device
        self.village_ids = frozenset(v.id for v in scope.villages(account))
        self.police = can(account.role, "registry.police_only")
        self.writer = can(account.role, "registry.write")
        self.lang = ui_lang() if has_request_context() else "zh"  # pushes also run outside requests
        # Filled by push() for its own batch, to avoid a query per item; None = look it up.
        self.taken: set | None = None  # entity uids of *.new items that name an existing record
        self.houses: dict = {}  # uid -> House, fetched or created in this push
        self.absent_houses: set = set()  # uids known not to name a house
        self.waited: set | None = None  # uids that held items wait for
        self.visits: dict = {}  # visit uid -> (account_id, house_id, method), or None when absent
        self.clock_offset = timedelta(0)  # added to the phone's moments (rules.visits.clock_offset)

    def prefetch(self, items: list) -> None:
        """One query each for what the batch's items will ask about, instead of one per item."""
        items = [i for i in items if isinstance(i, dict) and op_of(i) is not None]
        entity_uids = {i.get("entity_uid") for i in items if isinstance(i.get("entity_uid"), str)}
        new_uids = {i["entity_uid"] for i in items if i["op"] in NEW_OPS and isinstance(i.get("entity_uid"), str)}
        house_uids = {i.get("house_uid") for i in items if isinstance(i.get("house_uid"), str)}
        house_uids |= {i["entity_uid"] for i in items if i["op"].startswith("house.")
                       and isinstance(i.get("entity_uid"), str)}
        self.taken, self.waited = set(), set()
        for chunk in chunks(new_uids):
            self.taken |= set(db.session.scalars(union_all(
                *(select(model.uid).where(model.uid.in_(chunk)) for model in MODELS.values()),
                select(SyncReceipt.entity_uid).where(SyncReceipt.entity_uid.in_(chunk), SyncReceipt.op.in_(NEW_OPS),
                                                     SyncReceipt.status.in_(("accepted", "conflict"))),
                select(MoveRequest.uid).where(MoveRequest.uid.in_(chunk)))))
        for chunk in chunks(house_uids):
            self.houses.update({h.uid: h for h in db.session.scalars(select(House).where(House.uid.in_(chunk)))})
        self.absent_houses = house_uids - set(self.houses)
        for chunk in chunks(entity_uids):
            self.waited |= set(db.session.scalars(select(SyncReceipt.waits_for).where(
                SyncReceipt.status == "held", SyncReceipt.waits_for.in_(chunk))))
        visit_uids = {i.get("visit_uid") for i in items if is_uuid(i.get("visit_uid"))}
        visit_uids |= {i["uid"] for i in items if i["op"] == "visit.new" and is_uuid(i.get("uid"))}
        for chunk in chunks(visit_uids):
            self.visits.update({uid: None for uid in chunk})
            self.visits.update({row.uid: (row.account_id, row.house_id, row.method) for row in db.session.execute(
                select(Visit.uid, Visit.account_id, Visit.house_id, Visit.method).where(Visit.uid.in_(chunk)))})

    def visit(self, uid: str):
        """(account_id, house_id, method) of visit `uid`, or None when there is none."""
        if uid not in self.visits:
            row = db.session.execute(select(Visit.account_id, Visit.house_id, Visit.method)
                                     .where(Visit.uid == uid)).first()
            self.visits[uid] = tuple(row) if row is not None else None
        return self.visits[uid]

    def door_proof(self, visit_uid: str | None, house_id: int | None) -> bool:
        """A record collected under a visit is door proof when that visit exists (received before it,
        in an earlier push or earlier in this one), is this account's, is at the record's house and
        was opened by scanning the door's QR code."""
        if visit_uid is None or house_id is None:
            return False
        visit = self.visit(visit_uid)
        return visit is not None and visit == (self.account.id, house_id, "scan")

    def exists(self, entity: str, uid: str) -> bool:
        if self.taken is not None:
            return uid in self.taken
        # A uid a move request holds is taken too: it names the person once the move is confirmed.
        return find(entity, uid) is not None or db.session.scalar(
            select(MoveRequest.id).where(MoveRequest.uid == uid)) is not None

    def house(self, uid: str):
        if uid in self.houses:
            return self.houses[uid]
        if uid in self.absent_houses:
            return None
        return find("house", uid)

    def created(self, entity: str, uids, record) -> None:
        """A *.new item's record exists now (its savepoint was released)."""
        for uid in uids:
            if self.taken is not None:
                self.taken.add(uid)
            if entity == "house":
                self.houses[uid] = record
                self.absent_houses.discard(uid)


def in_scope(ctx: PushContext, entity: str, record) -> bool:
    """The record is in the account's villages (and a person one it may see: abroad for police)."""
    if record.village_id not in ctx.village_ids:
        return False
    if entity == "person":
        return scope.may_see_person(ctx.account, record)
    return True


def collected_at(ctx: PushContext, item: dict) -> datetime | None:
    """When the phone collected the item (rules.visits.phone_time: its clock, corrected by the
    push's clock offset, unless unreadable or more than CLOCK_SKEW ahead of ours); None lets
    records use the server's time."""
    return phone_time(item.get("collected_at"), utcnow(), offset=ctx.clock_offset)
