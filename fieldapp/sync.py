"""The phone sync protocol (docs/sync-protocol.md, issue #3): device credentials, the work package
and its deltas, batches of pushed changes, photos. Plain functions; the views in fieldapp/api stay
thin. Every registry write goes through fieldapp.records, every read is scoped by fieldapp.scope.

Rules, in one place:
- Devices. A signed-in account whose role collects (collector, police, reviewer) or an informant
  registers a device and gets a random bearer token once; only its SHA-256 is stored (the token is
  256 random bits, so a fast hash cannot be brute-forced and a lookup by hash is exact).
  A token stops working (HTTP 401) when the device is revoked or signed out (`revoked`), the
  collection ID is revoked (`revoked`) or past its valid_until (`expired`), the device has not been
  used for DEVICE_IDLE_DAYS (`expired`), or it names no device (`unknown_device`).
- Pull. The cursor is a Change.id. A delta holds the current state of every record with a visible
  change after the cursor. On PostgreSQL ids come from a sequence and a transaction that took a
  lower id may commit after one that took a higher id; a cursor past that id would skip it for
  good. So the cursor handed out at the end of a pull never passes a change collected in the last
  SYNC_CURSOR_OVERLAP_SECONDS (longer than any write transaction): the next pull re-sends those
  recent records, which is harmless because clients upsert by uid keeping the higher version.
  (On SQLite writers are serialised, so the overlap only costs a few re-sent records.)
- Push. Each item is idempotent by its uid: a uid seen before with the same content (SHA-256 of
  the item's canonical JSON) answers `duplicate` with the original result; with other content it
  is a conflict between two versions of one item: status `conflict`, code `uid_reused`,
  `applied: false` (nothing of it is applied; unlike a field conflict, nothing waits for a
  reviewer). A rejected item leaves no receipt (nothing was applied), so sending it
  again gets a fresh verdict. Each item runs in its own SAVEPOINT: a bad item rolls back alone and
  never blocks the others; the batch commits once at the end (a crash before that commit applies
  nothing and the client's retry is answered afresh).
- Held items. An item that refers to a record the server has not got yet (an update, leave or
  close before its *.new; a person.new or organisation.new before its house.new) is stored with
  its payload and answered `held`. Right after a push creates a record, the items held for it are
  applied in arrival order, each in its own savepoint, under the account that sent them; the
  receipt then holds the final result (a later retry of the uid answers `duplicate` with it).
- Bulk. Runs of plain new records are checked in order by the same rules and written together
  (fieldapp/sync_bulk.py); same answers and rows as item by item, only faster.
- Moments. A change's collected_at is the phone's collected_at (rules.visits.phone_time: the
  server's time when unusable or too far ahead), so the 3-working-day rule counts to when the
  collector was at the door, not to when the phone found signal. A push says when the phone sent
  it (sent_at): a phone clock off by more than CLOCK_SKEW shifts the batch's moments by the
  difference (rules.visits.clock_offset).
- Visits. visit.new records a collector at a door (scope, idempotency and holding as for records);
  a record item's visit_uid gives its Change door proof when that visit is this account's scan of
  the record's house. rules.visits decides distances and which fix becomes the house's position.
- Conflicts. Updates merge field by field against base_version (rules.merge): fields nobody else
  changed are applied; fields someone else changed to another value are left as they are and kept
  as Conflict rows for the reviewer (status `conflict`). Nothing is silently overwritten.
- Who may push. Only roles with registry.write; people from abroad only by police (the form offers
  other roles neither the category nor foreign documents); a record or house outside the account's
  villages is rejected (`out_of_scope`), the same answer whether or not it exists elsewhere.
- Photos. Uploaded in chunks (Content-Range) to instance/photos/partial/, resumable from the bytes
  received. When complete the image is checked (an image Pillow reads as JPEG, PNG or WebP, at most
  PHOTO_MAX_BYTES and PHOTO_MAX_PIXELS, decompression bombs refused) and re-encoded as a JPEG with
  the long edge at most PHOTO_LONG_EDGE and no metadata at all (EXIF, GPS, ICC, comments).
"""
from __future__ import annotations

import base64
import fcntl
import functools
import hashlib
import hmac
import io
import json
import os
import re
import secrets
import uuid
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from flask import current_app, has_request_context
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps
from sqlalchemy import and_, func, or_, select, union_all, update
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import MultiDict

from . import records, scope
from .accounts import audit
from .database import write_transaction
from .extensions import db
from .forms import known_on_field
from .i18n import ui_lang
from .changefeed import note_village_changed
from .models import (Account, Change, Conflict, Device, House, Organisation, Person, Photo, SyncReceipt, Visit,
                     new_uid, utcnow)
from .models.field import VISIT_METHODS
from .rules.address import format_address
from .registry.forms import CloseForm, HouseForm, LeaveForm, OrganisationForm, PersonForm, RegistryForm
from .registry import checks
from .rules.permissions import POLICE_ONLY_CATEGORIES, can
from .rules.visits import HousePosition, clock_offset, phone_time, place_visit, valid_position

DEVICE_ROLES = frozenset({"collector", "police", "reviewer", "informant"})
DEVICE_IDLE_DAYS = 30
TOUCH_EVERY = timedelta(hours=1)  # last_used_at is written at most this often per device
MAX_ITEMS = 200
MAX_PUSH_BYTES = 2 * 1024 * 1024
PACKAGE_LIMIT = 500
PACKAGE_MAX_LIMIT = 2000
DEFAULT_OVERLAP_SECONDS = 120
PHOTO_MAX_BYTES = 5 * 1024 * 1024
PHOTO_MAX_PIXELS = 40_000_000
PHOTO_LONG_EDGE = 1280
PHOTO_FORMATS = ("JPEG", "PNG", "WEBP")

# Pillow refuses images over twice this with DecompressionBombError and warns over it; the warning
# is turned into an error where photos are opened.
Image.MAX_IMAGE_PIXELS = PHOTO_MAX_PIXELS

OPS = ("house.new", "house.update", "person.new", "person.update", "person.leave", "organisation.new",
       "organisation.update", "organisation.close", "visit.new", "tip.new", "tip.verify")
NEW_OPS = frozenset({"house.new", "person.new", "organisation.new"})
MODELS = {"house": House, "person": Person, "organisation": Organisation}

AUTH_MESSAGES = {
    "device_revoked": _l("This phone was signed out. Sign in again to continue."),
    "id_revoked": _l("This collection ID has been revoked. Contact the office that issued it."),
    "id_expired": _l("This collection ID has expired. Ask the office that issued it for a new one."),
    "idle": _l("This phone has not been used for 30 days and was signed out for safety. Sign in again."),
    "unknown_device": _l("This phone is not registered. Sign in again."),
}

REJECT_MESSAGES = {
    "bad_item": _l("This item is damaged or incomplete and cannot be read. Record it again."),
    "invalid": _l("Some fields are not valid. Correct them and send again."),
    "forbidden": _l("Your collection ID may not change the registry."),
    "police_only": _l("Only the community police register people from abroad."),
    "out_of_scope": _l("This record is not in your villages."),
    "exists": _l("A record with this uid already exists. Register it again as a new record."),
    "uid_reused": _l("This item's uid was already used for different content. Send it again as a new item."),
    "bad_version": _l("This change does not say which version of the record it was made on. "
                      "Open the record again and redo your change."),
}

PHOTO_MESSAGES = {
    "not_an_image": _l("This is not a photo the app can read. Take it again."),
    "too_large": _l("The photo is larger than 5 MB. Take it again at a lower resolution."),
    "too_many_pixels": _l("The photo has more than 40 megapixels. Take it again at a lower resolution."),
    "bad_range": _l("The upload is out of step. Ask how much has arrived and resume from there."),
}


# Devices -----------------------------------------------------------------------------------------

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
    """Note that the device was used (at most every TOUCH_EVERY, to keep reads from writing). Pulls
    are read requests, so the write gets its own immediate transaction (fieldapp/database.py)."""
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


# Pull: the work package --------------------------------------------------------------------------

def _iso(value):
    if isinstance(value, datetime):
        return value.isoformat() + "Z"
    if isinstance(value, date):
        return value.isoformat()
    return value


def house_json(house: House, village_name: str | None = None, door_token: bool = False) -> dict:
    """A house in the work package. `door_token` (roles with registry.write only): the token of the
    door's QR URL (/d/<token>), so that a scan opens the house offline. It is no personal data but a
    capability (it opens the door's page), so only those who register at doors get it."""
    parts = {n: getattr(house, n) for n in records.HOUSE_FIELDS}
    return {"uid": house.uid, "village_id": house.village_id, "door_code": house.door_code,
            **({"door_token": house.door_token} if door_token else {}),
            "address": format_address(parts, village_name), **{n: _iso(v) for n, v in parts.items()},
            "collected": house.collected_at is not None, "version": house.version}


PERSON_PACKAGE_FIELDS = ("name", "sex", "id_type", "id_number", "birth_date", "ethnicity", "nationality", "phone",
                         "hukou_division", "hukou_address", "hukou_type", "category", "move_in_date",
                         "move_in_reason", "away_duration", "status")


def person_json(person: Person, house_uid: str | None) -> dict:
    return {"uid": person.uid, "house_uid": house_uid,
            **{n: _iso(getattr(person, n)) for n in PERSON_PACKAGE_FIELDS}, "version": person.version}


def organisation_json(org: Organisation, house_uid: str) -> dict:
    return {"uid": org.uid, "house_uid": house_uid,
            **{n: getattr(org, n) for n in ("name", "kind", "uscc", "legal_rep", "phone", "employee_count", "status")},
            "version": org.version}


def overlap_seconds() -> int:
    return int(current_app.config.get("SYNC_CURSOR_OVERLAP_SECONDS", DEFAULT_OVERLAP_SECONDS))


def build_package(account: Account, cursor: int = 0, limit: int = PACKAGE_LIMIT, now: datetime | None = None) -> dict:
    """The work package (cursor 0) or the delta after `cursor` (a Change.id) for `account`.

    Scope (fieldapp.scope): the account's villages; people from abroad for police only. Roles that do
    not read the registry (informants) get their villages and no records. A page covers at most
    `limit` change rows after the cursor that concern the account: changes in its villages, and
    every change to a person it could once see (so a move out of its villages is seen). For each
    record touched its current state is sent: houses in scope; open organisations in scope
    (closed ones under removed.organisations); living people it may see (anyone it could once see
    who left, moved away or became police-only under removed.people). `more` is true when the page
    was full. The returned cursor lags behind changes of the last SYNC_CURSOR_OVERLAP_SECONDS (see
    the module docstring), so records may come again; clients keep the higher version. The last page
    (more false) also carries `tip_tasks` (roles that work tips) and `my_tips` (roles that send
    them): see tips.phone."""
    now = now or utcnow()
    limit = max(1, min(int(limit), PACKAGE_MAX_LIMIT))
    villages = scope.villages(account)
    vids = [v.id for v in villages]
    names = {v.id: v.name for v in villages}
    package = {"cursor": cursor, "more": False, "server_time": now.replace(microsecond=0).isoformat() + "Z",
               "villages": [{"id": v.id, "name": v.name} for v in villages],
               "houses": [], "people": [], "organisations": [], "removed": {"people": [], "organisations": []}}
    if not can(account.role, "registry.read"):
        return _with_tips(package, account)
    police = can(account.role, "registry.police_only")
    writer = can(account.role, "registry.write")

    seen_changes = select(Change.entity_id).where(Change.entity == "person", Change.village_id.in_(vids))
    if not police:
        seen_changes = seen_changes.where(Change.police_only.is_(False))
    relevant = or_(Change.village_id.in_(vids), and_(Change.entity == "person", Change.entity_id.in_(seen_changes)))
    rows = db.session.execute(select(Change.id, Change.entity, Change.entity_id)
                              .where(Change.id > cursor, relevant).order_by(Change.id).limit(limit)).all()
    touched: dict[str, set[int]] = {"house": set(), "person": set(), "organisation": set()}
    for _id, entity, entity_id in rows:
        touched.setdefault(entity, set()).add(entity_id)
    last = rows[-1][0] if rows else cursor
    package["more"] = len(rows) == limit
    if package["more"]:
        package["cursor"] = last
    else:
        # Never hand out a cursor past a change that may have uncommitted siblings with lower ids.
        package["cursor"] = min(last, _settled_cursor(now - timedelta(seconds=overlap_seconds())))

    for chunk in _chunks(sorted(touched["house"])):
        for house in db.session.scalars(select(House).where(House.id.in_(chunk), House.village_id.in_(vids))
                                        .order_by(House.id)):
            package["houses"].append(house_json(house, names.get(house.village_id), writer))

    person_ids = sorted(touched["person"])
    for chunk in _chunks(person_ids):
        visible = {p.id: p for p in db.session.scalars(scope.people(account).where(Person.id.in_(chunk)))}
        house_uids = _house_uids({p.house_id for p in visible.values()})
        gone = [pid for pid in chunk if pid not in visible or visible[pid].status != "living"]
        once_seen = set()
        if gone:
            once_seen = set(db.session.scalars(seen_changes.where(Change.entity_id.in_(gone)).distinct()))
            uids = dict(db.session.execute(select(Person.id, Person.uid).where(Person.id.in_(gone))).all())
            package["removed"]["people"] += [uids[pid] for pid in gone if pid in once_seen and pid in uids]
        for pid in chunk:
            person = visible.get(pid)
            if person is not None and person.status == "living":
                package["people"].append(person_json(person, house_uids.get(person.house_id)))

    for chunk in _chunks(sorted(touched["organisation"])):
        orgs = list(db.session.scalars(scope.organisations(account).where(Organisation.id.in_(chunk))
                                       .order_by(Organisation.id)))
        house_uids = _house_uids({o.house_id for o in orgs})
        for org in orgs:
            if org.status == "open":
                package["organisations"].append(organisation_json(org, house_uids.get(org.house_id)))
            else:
                package["removed"]["organisations"].append(org.uid)
    return _with_tips(package, account)


def _with_tips(package: dict, account: Account) -> dict:
    """The last page (the phone replaces its copies with these): a tips worker's `tip_tasks` and a
    tips sender's `my_tips` (fieldapp/tips/phone.py)."""
    if package["more"]:
        return package
    from .tips import phone as tip_lists, service as tips
    for key, made in (("tip_tasks", tip_lists.tasks_for(account, tips.today())),
                      ("my_tips", tip_lists.my_tips_for(account))):
        if made is not None:
            package[key] = made
    return package


def _settled_cursor(cutoff: datetime) -> int:
    """The highest Change.id written before `cutoff`. collected_at alone cannot say when a row was
    written: a pushed change carries the phone's collected_at, which may be days before it arrived.
    But every change also updates its record (version, updated_at in the same transaction), so a
    change whose record has not been updated since `cutoff` was written before it. Rows of records
    updated since then are left out: that only holds the cursor back (records sent again)."""
    recent = []
    for model, entity in ((House, "house"), (Person, "person"), (Organisation, "organisation")):
        recent.append(select(model.id).where(model.id == Change.entity_id, Change.entity == entity,
                                             model.updated_at >= cutoff).exists())
    return db.session.scalar(select(func.max(Change.id)).where(Change.collected_at < cutoff,
                                                               *(~r for r in recent))) or 0


def _chunks(values, size: int = 500):
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _house_uids(house_ids) -> dict[int, str]:
    ids = [i for i in house_ids if i is not None]
    if not ids:
        return {}
    return dict(db.session.execute(select(House.id, House.uid).where(House.id.in_(ids))).all())


def note_full_package(account: Account, device: Device, records_sent: int) -> None:
    """A full download puts the villages' personal data on a phone: leave a trace, like a reveal.
    Written in its own transaction (see touch_device)."""
    with write_transaction():
        audit(account.id, "sync_package", f"device:{device.id}", f"full package, {records_sent} records")


# Push ---------------------------------------------------------------------------------------------

class Rejected(Exception):
    """The item is refused and nothing of it is applied. `code` names the reason (REJECT_MESSAGES,
    unless `reason` says it: a tip's own refusals use the tip pages' messages)."""

    def __init__(self, code: str, errors: dict | None = None, reason=None):
        super().__init__(code)
        self.code = code
        self.errors = errors or {}
        self.reason = reason

    def result(self, uid) -> dict:
        return {"uid": uid, "status": "rejected", "code": self.code,
                "reason": str(self.reason or REJECT_MESSAGES[self.code]),
                "errors": {k: [str(m) for m in v] for k, v in self.errors.items()}}


@dataclass
class _Hold(Exception):
    """Raised inside an item's apply: it refers to a record not received yet."""
    waits_for: str


@dataclass
class _Outcome:
    status: str  # accepted | conflict
    record: object
    conflicts: dict = field(default_factory=dict)


class _Context:
    """What one push needs about its account, loaded once."""

    def __init__(self, account: Account, device: Device | None):
        self.account = account
        self.device = device
        self.village_ids = frozenset(v.id for v in scope.villages(account))
        self.police = can(account.role, "registry.police_only")
        self.writer = can(account.role, "registry.write")
        self.lang = ui_lang() if has_request_context() else "zh"  # push() also runs outside requests
        # Filled by push() for its own batch, to avoid a query per item; None = look it up.
        self.taken: set | None = None  # entity uids of *.new items that name an existing record
        self.houses: dict = {}  # uid -> House, fetched or created in this push
        self.absent_houses: set = set()  # uids known not to name a house
        self.waited: set | None = None  # uids that held items wait for
        self.visits: dict = {}  # visit uid -> (account_id, house_id, method), or None when absent
        self.clock_offset = timedelta(0)  # added to the phone's moments (rules.visits.clock_offset)

    def prefetch(self, items: list) -> None:
        """One query each for what the batch's items will ask about, instead of one per item."""
        items = [i for i in items if isinstance(i, dict)]
        entity_uids = {i.get("entity_uid") for i in items if isinstance(i.get("entity_uid"), str)}
        new_uids = {i["entity_uid"] for i in items if i.get("op") in NEW_OPS and isinstance(i.get("entity_uid"), str)}
        house_uids = {i.get("house_uid") for i in items if isinstance(i.get("house_uid"), str)}
        house_uids |= {i["entity_uid"] for i in items if str(i.get("op")).startswith("house.")
                       and isinstance(i.get("entity_uid"), str)}
        self.taken, self.waited = set(), set()
        for chunk in _chunks(new_uids):
            self.taken |= set(db.session.scalars(union_all(
                *(select(model.uid).where(model.uid.in_(chunk)) for model in MODELS.values()),
                select(SyncReceipt.entity_uid).where(SyncReceipt.entity_uid.in_(chunk), SyncReceipt.op.in_(NEW_OPS),
                                                     SyncReceipt.status.in_(("accepted", "conflict"))))))
        for chunk in _chunks(house_uids):
            self.houses.update({h.uid: h for h in db.session.scalars(select(House).where(House.uid.in_(chunk)))})
        self.absent_houses = house_uids - set(self.houses)
        for chunk in _chunks(entity_uids):
            self.waited |= set(db.session.scalars(select(SyncReceipt.waits_for).where(
                SyncReceipt.status == "held", SyncReceipt.waits_for.in_(chunk))))
        visit_uids = {i.get("visit_uid") for i in items if _is_uuid(i.get("visit_uid"))}
        visit_uids |= {i["uid"] for i in items if i.get("op") == "visit.new" and _is_uuid(i.get("uid"))}
        for chunk in _chunks(visit_uids):
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
        return _find(entity, uid) is not None

    def house(self, uid: str):
        if uid in self.houses:
            return self.houses[uid]
        if uid in self.absent_houses:
            return None
        return _find("house", uid)

    def created(self, entity: str, uids, record) -> None:
        """A *.new item's record exists now (its savepoint was released)."""
        for uid in uids:
            if self.taken is not None:
                self.taken.add(uid)
            if entity == "house":
                self.houses[uid] = record
                self.absent_houses.discard(uid)


def payload_hash(item: dict) -> str:
    text = json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _is_uuid(value) -> bool:
    return isinstance(value, str) and len(value) == 36 and _parses_as_uuid(value)


@functools.lru_cache(maxsize=4096)
def _parses_as_uuid(value: str) -> bool:
    # Cached: a push asks about the same uids several times (prefetch, receipts, the item itself).
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def push(account: Account, device: Device | None, items: list, bulk: bool = True, sent_at=None) -> list[dict]:
    """Apply a batch of pushed items; returns one result per item, in order (see the module docstring
    and docs/sync-protocol.md for the statuses). Commits once at the end. Runs of plain new records
    go through the bulk path (fieldapp/sync_bulk.py: checked one by one, written together); every
    other item runs in its own savepoint, so a rejected item rolls back alone. Both give the same
    answers and rows (bulk=False forces the item-by-item path; the tests compare them). The caller
    limits the batch size (MAX_ITEMS). `sent_at` is the phone's clock when it sent the batch: a clock
    set wrong shifts the batch's moments (rules.visits.clock_offset)."""
    from .sync_bulk import Bulk

    ctx = _Context(account, device)
    ctx.clock_offset = clock_offset(sent_at, utcnow())
    ctx.prefetch(items)
    contexts = {account.id: ctx}
    uids = [item.get("uid") for item in items if isinstance(item, dict) and _is_uuid(item.get("uid"))]
    receipts = {}
    for chunk in _chunks(uids):
        receipts.update({r.item_uid: r for r in db.session.scalars(
            select(SyncReceipt).where(SyncReceipt.item_uid.in_(chunk)))})
    results: list = []
    run = Bulk(ctx, contexts, receipts, results) if bulk else None
    if run is not None:
        run.prefetch_documents(items)
    for item in items:
        if run is not None:
            result = run.take(item)
            if result is not None:
                results.append(result)
                if run.must_flush:
                    run.flush()
                continue
            run.flush()
            run.forget()
        results.append(_push_one(ctx, contexts, item, receipts))
    if run is not None:
        run.flush()
    db.session.commit()
    return results


def _push_one(ctx: _Context, contexts: dict, item, receipts: dict) -> dict:
    uid = item.get("uid") if isinstance(item, dict) else None
    if not isinstance(item, dict) or not _is_uuid(uid) or item.get("op") not in OPS:
        return Rejected("bad_item").result(uid if isinstance(uid, str) else None)
    digest = payload_hash(item)
    receipt = receipts.get(uid)
    if receipt is None:
        try:
            with db.session.begin_nested():
                receipt, record = _receive(ctx, item, digest)
        except Rejected as rejected:
            return rejected.result(uid)
        except IntegrityError:
            # The same uid is being pushed at the same time (a retry racing the original): once the
            # other transaction committed its receipt, answer as for any repeat. Anything else is a
            # real error.
            receipt = db.session.scalar(select(SyncReceipt).where(SyncReceipt.item_uid == uid))
            if receipt is None:
                raise
            receipts[uid] = receipt
            return _repeat(receipt, digest)
        receipts[uid] = receipt
        if receipt.status == "held" and ctx.waited is not None:
            ctx.waited.add(receipt.waits_for)
        if item["op"] in NEW_OPS and receipt.status in ("accepted", "conflict"):
            made = {item["entity_uid"], receipt.record_uid}
            ctx.created(item["op"].split(".")[0], made, record)
            if ctx.waited is None or made & ctx.waited:
                _release_held(contexts, made)
        return dict(receipt.result)
    return _repeat(receipt, digest)


def _repeat(receipt: SyncReceipt, digest: str) -> dict:
    if receipt.payload_hash != digest:
        # Two different items under one uid: a conflict between them, not a field conflict. The first
        # stands; this one is not applied and is not retried (the phone keeps it for the collector).
        return {"uid": receipt.item_uid, "status": "conflict", "code": "uid_reused",
                "reason": str(REJECT_MESSAGES["uid_reused"]), "applied": False}
    return {"uid": receipt.item_uid, "status": "duplicate", "original": dict(receipt.result)}


def _receive(ctx: _Context, item: dict, digest: str):
    """Inside the item's savepoint: apply or hold the item, then write its receipt (flushed here, so
    a concurrent push of the same uid fails on the unique index inside this savepoint and the item
    is answered as a repeat). Returns (receipt, the record applied to or None)."""
    receipt = SyncReceipt(item_uid=item["uid"], account_id=ctx.account.id,
                          device_id=ctx.device.id if ctx.device is not None else None, op=item["op"],
                          entity_uid=_entity_uid(item), payload_hash=digest, status="pending",
                          collected_at=_phone_text(item))
    record = _settle(ctx, item, receipt)
    db.session.add(receipt)
    db.session.flush()
    return receipt, record


def _entity_uid(item: dict) -> str:
    """The receipt's entity: the record an item is about; a visit is its own."""
    return str(item["uid"] if item["op"] == "visit.new" else item.get("entity_uid"))[:36]


def _phone_text(item: dict) -> str | None:
    value = item.get("at") if item["op"] == "visit.new" else item.get("collected_at")
    return str(value)[:40] if value else None


def _settle(ctx: _Context, item: dict, receipt: SyncReceipt):
    """Apply the item (or hold it) and write the outcome on its receipt; returns the record applied
    to (None when held). Raises Rejected."""
    try:
        outcome = _apply(ctx, item)
    except _Hold as hold:
        receipt.status, receipt.waits_for, receipt.payload = "held", hold.waits_for, item
        receipt.result = {"uid": item["uid"], "status": "held"}
        return None
    record = outcome.record
    receipt.status, receipt.record_uid = outcome.status, record.uid
    receipt.waits_for = receipt.payload = None
    receipt.applied_at = utcnow()
    result = {"uid": item["uid"], "status": outcome.status, "record": {"uid": record.uid, "version": record.version}}
    if outcome.conflicts:
        result["conflicts"] = outcome.conflicts
        entity = item["op"].split(".")[0]
        for name, values in outcome.conflicts.items():
            db.session.add(Conflict(entity=entity, entity_id=record.id, field=name, base=values["base"],
                                    current=values["current"], submitted=values["submitted"],
                                    item_uid=item["uid"], account_id=ctx.account.id))
    receipt.result = result
    return record


def _release_held(contexts: dict, created_uids: set) -> None:
    """Apply the items held for records just created, oldest first; an applied held item that creates
    a record releases the items held for it in turn."""
    queue = [u for u in created_uids if u]
    while queue:
        waited = queue.pop(0)
        held = list(db.session.scalars(select(SyncReceipt).where(SyncReceipt.status == "held",
                                                                 SyncReceipt.waits_for == waited)
                                       .order_by(SyncReceipt.id)))
        for receipt in held:
            ctx = contexts.get(receipt.account_id)
            if ctx is None:
                account = db.session.get(Account, receipt.account_id)
                ctx = contexts[receipt.account_id] = _Context(account, None)
            item = dict(receipt.payload)
            try:
                with db.session.begin_nested():
                    record = _settle(ctx, item, receipt)
            except Rejected as rejected:
                # The client dropped the item when it was held: keep the verdict on the receipt.
                receipt.status, receipt.payload, receipt.waits_for = "rejected", None, None
                receipt.result = rejected.result(item["uid"])
                receipt.applied_at = utcnow()
                continue
            if item["op"] in NEW_OPS and receipt.status in ("accepted", "conflict"):
                made = {u for u in (item["entity_uid"], receipt.record_uid) if u}
                for known in contexts.values():
                    known.created(item["op"].split(".")[0], made, record)
                queue += sorted(made)


def _find(entity: str, uid: str):
    """The record named `uid`, also under the uid a phone gave a person who turned out to be
    registered already (person.new matched by document: the receipt names the real record)."""
    model = MODELS[entity]
    record = db.session.scalar(select(model).where(model.uid == uid))
    if record is None:
        alias = db.session.scalar(select(SyncReceipt.record_uid).where(
            SyncReceipt.entity_uid == uid, SyncReceipt.op == f"{entity}.new",
            SyncReceipt.status.in_(("accepted", "conflict"))))
        if alias and alias != uid:
            record = db.session.scalar(select(model).where(model.uid == alias))
    return record


def _in_scope(ctx: _Context, entity: str, record) -> bool:
    if record.village_id not in ctx.village_ids:
        return False
    if entity == "person":
        return scope.may_see_person(ctx.account, record)
    return True


def _apply(ctx: _Context, item: dict) -> _Outcome:
    op = item["op"]
    entity, action = op.split(".")
    if op == "tip.new":  # tips come from informants too, who do not write the registry
        return _tip_new(ctx, item)
    if op == "tip.verify":  # tips.work decides, not registry.write
        return _tip_verify(ctx, item)
    if not ctx.writer:
        raise Rejected("forbidden")
    if op == "visit.new":
        return _visit_new(ctx, item)
    entity_uid, data, actor = record_item_basics(ctx, item, _known_on)
    visit_uid = actor.visit_uid

    if op in NEW_OPS:
        if ctx.exists(entity, entity_uid):
            raise Rejected("exists")
        if op == "house.new":
            village_id = item.get("village_id")
            if not isinstance(village_id, int) or isinstance(village_id, bool) or village_id not in ctx.village_ids:
                raise Rejected("out_of_scope")
            return _house_new(ctx, actor, item, village_id, data)
        house_uid = item.get("house_uid")
        if not _is_uuid(house_uid):
            raise Rejected("bad_item", {"house_uid": [REJECT_MESSAGES["bad_item"]]})
        house = ctx.house(house_uid)
        if house is None:
            raise _Hold(house_uid)
        if not _in_scope(ctx, "house", house):
            raise Rejected("out_of_scope")
        actor.door_proof = ctx.door_proof(visit_uid, house.id)
        if entity == "person":
            return _person_new(ctx, actor, item, house, data)
        return _organisation_new(ctx, actor, item, house, data)

    record = ctx.house(entity_uid) if entity == "house" else _find(entity, entity_uid)
    if record is None:
        raise _Hold(entity_uid)
    if not _in_scope(ctx, entity, record):
        raise Rejected("out_of_scope")
    base = item.get("base_version")
    if not isinstance(base, int) or isinstance(base, bool) or not 1 <= base <= record.version:
        raise Rejected("bad_version", {"base_version": [REJECT_MESSAGES["bad_version"]]})
    actor.door_proof = ctx.door_proof(visit_uid, record.id if entity == "house" else record.house_id)
    handler = {"house.update": _house_update, "person.update": _person_update, "person.leave": _person_leave,
               "organisation.update": _organisation_update, "organisation.close": _organisation_close}[op]
    return handler(ctx, actor, record, base, data)


def record_item_basics(ctx: _Context, item: dict, known_on) -> tuple[str, dict, records.Actor]:
    """What every house / person / organisation item is checked for first, in this order (the
    bulk path too, fieldapp/sync_bulk.py): entity_uid a UUID, data an object, police-only
    categories from police only, visit_uid a UUID when given, then `known_on(item)` (the bulk path
    passes its cached reading). Returns (entity_uid, data, the Actor the record is written as)."""
    entity_uid = item.get("entity_uid")
    if not _is_uuid(entity_uid):
        raise Rejected("bad_item", {"entity_uid": [REJECT_MESSAGES["bad_item"]]})
    data = item.get("data") if item.get("data") is not None else {}
    if not isinstance(data, dict):
        raise Rejected("bad_item", {"data": [REJECT_MESSAGES["bad_item"]]})
    if item["op"].startswith("person.") and data.get("category") in POLICE_ONLY_CATEGORIES and not ctx.police:
        raise Rejected("police_only", {"category": [REJECT_MESSAGES["police_only"]]})
    visit_uid = item.get("visit_uid")
    if visit_uid is not None and not _is_uuid(visit_uid):
        raise Rejected("bad_item", {"visit_uid": [REJECT_MESSAGES["bad_item"]]})
    actor = records.Actor(ctx.account.id, "sync", known_on(item), collected_at=_collected_at(ctx, item),
                          visit_uid=visit_uid)
    return entity_uid, data, actor


def _collected_at(ctx: _Context, item: dict) -> datetime | None:
    """When the phone collected the item (rules.visits.phone_time: its clock, corrected by the
    push's clock offset, unless unreadable or more than CLOCK_SKEW ahead of ours); None lets
    records use the server's time."""
    return phone_time(item.get("collected_at"), utcnow(), offset=ctx.clock_offset)


# Tips ---------------------------------------------------------------------------------------------

def _tip_new(ctx: _Context, item: dict) -> _Outcome:
    """A tip sent from the phone (an informant's, or a collector's): tips.service.submit_from_phone
    decides (the door by scanned QR token, typed code, house uid or address; the account's villages
    only). Its refusals map to forbidden / exists / out_of_scope, or invalid naming the field."""
    from .tips import service as tips
    from .tips.views import MESSAGES as TIP_MESSAGES

    entity_uid = item.get("entity_uid")
    if not _is_uuid(entity_uid):
        raise Rejected("bad_item", {"entity_uid": [REJECT_MESSAGES["bad_item"]]})
    data = item.get("data")
    if not isinstance(data, dict):
        raise Rejected("bad_item", {"data": [REJECT_MESSAGES["bad_item"]]})
    try:
        tip = tips.submit_from_phone(ctx.account, entity_uid, data, submitted_at=_collected_at(ctx, item))
    except tips.TipError as error:
        if error.code in ("forbidden", "exists", "out_of_scope"):
            raise Rejected(error.code) from None
        message = TIP_MESSAGES.get(error.code, REJECT_MESSAGES["invalid"])
        raise Rejected("invalid", {error.field or "data": [message]}) from None
    return _Outcome("accepted", tip)


# A tip's rule refusals the collector can act on: the code stays the rule's, the reason is the tip
# pages' message, the field is where the phone shows it.
TIP_VERIFY_FIELDS = {"no_visit": "visit_uid", "note_required": "note", "too_long": "note", "bad_verdict": "verdict"}
TIP_VERIFY_CODES = ("not_assignee", "wrong_state", "no_visit", "note_required", "too_long", "bad_verdict")


def _tip_verify(ctx: _Context, item: dict) -> _Outcome:
    """What a collector found at a tip's door (tips.phone.verify_from_phone): entity_uid is the tip's
    uid, house_uid the house visited (used when the tip named no known house), collected_at when
    the verdict was given. Refused with the rule's code: forbidden / out_of_scope as for records;
    not_assignee, wrong_state, no_visit, note_required, bad_verdict with the tip pages' message."""
    from .tips import phone, service as tips
    from .tips.views import MESSAGES as TIP_MESSAGES

    entity_uid = item.get("entity_uid")
    data = item.get("data")
    if not _is_uuid(entity_uid) or not isinstance(data, dict):
        raise Rejected("bad_item", {"entity_uid" if not _is_uuid(entity_uid) else "data": [REJECT_MESSAGES["bad_item"]]})
    house = None
    if item.get("house_uid") is not None:
        if not _is_uuid(item["house_uid"]):
            raise Rejected("bad_item", {"house_uid": [REJECT_MESSAGES["bad_item"]]})
        house = ctx.house(item["house_uid"])
        if house is None or not _in_scope(ctx, "house", house):
            raise Rejected("out_of_scope")
    try:
        tip = phone.verify_from_phone(ctx.account, entity_uid, data, house, _collected_at(ctx, item))
    except tips.TipError as error:
        if error.code in ("forbidden", "out_of_scope"):
            raise Rejected(error.code) from None
        message = TIP_MESSAGES.get(error.code, REJECT_MESSAGES["invalid"])
        field = error.field or TIP_VERIFY_FIELDS.get(error.code)
        raise Rejected(error.code, {field: [message]} if field else {}, reason=message) from None
    return _Outcome("accepted", tip)


# Visits -------------------------------------------------------------------------------------------

VISIT_MESSAGES = {
    "method": _l("Say how the house was opened: scan, code or list."),
}


def _visit_new(ctx: _Context, item: dict) -> _Outcome:
    """A collector at a door (issue #4): the item's uid is the visit's uid. The house must be in the
    account's villages (held while the server has not received it). `at` is the phone's clock
    (phone_time; the server's time when unusable). A position that is not a valid one is dropped,
    not refused: the visit still proves presence when it was a scan, and the phone cannot correct
    a GPS reading afterwards. The house's position follows rules.visits.place_visit."""
    house_uid = item.get("house_uid")
    if not _is_uuid(house_uid):
        raise Rejected("bad_item", {"house_uid": [REJECT_MESSAGES["bad_item"]]})
    method = item.get("method")
    if method not in VISIT_METHODS:
        raise Rejected("invalid", {"method": [VISIT_MESSAGES["method"]]})
    if ctx.visit(item["uid"]) is not None:
        raise Rejected("exists")
    house = ctx.house(house_uid)
    if house is None:
        raise _Hold(house_uid)
    if not _in_scope(ctx, "house", house):
        raise Rejected("out_of_scope")
    lat, lon, accuracy = item.get("lat"), item.get("lon"), item.get("accuracy_m")
    if not valid_position(lat, lon, accuracy):
        lat = lon = accuracy = None
    placement = place_visit(HousePosition(house.lat, house.lon, house.position_accuracy_m,
                                          house.position_visit_id is not None), lat, lon, accuracy)
    visit = Visit(uid=item["uid"], house_id=house.id, village_id=house.village_id, account_id=ctx.account.id,
                  device_id=ctx.device.id if ctx.device is not None else None, method=method,
                  at=phone_time(item.get("at"), utcnow(), offset=ctx.clock_offset) or utcnow(),
                  lat=None if lat is None else float(lat), lon=None if lon is None else float(lon),
                  accuracy_m=None if accuracy is None else float(accuracy), distance_m=placement.distance_m)
    db.session.add(visit)
    db.session.flush()
    ctx.visits[visit.uid] = (visit.account_id, visit.house_id, visit.method)
    if placement.becomes_position:
        actor = records.Actor(ctx.account.id, "sync", visit.at.date(), collected_at=visit.at,
                              visit_uid=visit.uid, door_proof=visit.is_door_proof)
        records.set_house_position(actor, house, visit.lat, visit.lon, visit.accuracy_m, visit.id)
    note_village_changed(house.village_id, "visit")
    return _Outcome("accepted", _VisitRecord(visit.uid))


@dataclass
class _VisitRecord:
    """What a visit's result names: its uid (a visit has no versions: always 1)."""
    uid: str
    version: int = 1
    id: int | None = None


def _known_on(item: dict) -> date | None:
    """The day the change became known; checked by the forms' known_on field (not in the future)."""
    value = item.get("known_on")
    if value is None:
        return None
    form = _form(_KnownOnForm, {"known_on": value})
    if not form.validate():
        raise Rejected("invalid", {"known_on": form.known_on.errors})
    return form.known_on.data


# Form validation: the web forms' rules, fed from JSON ------------------------------------------------

def _form_value(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return "y" if value else None
    if isinstance(value, (int, float, str)):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise Rejected("invalid")


def _form(form_class, values: dict):
    formdata = MultiDict()
    for name, value in values.items():
        try:
            text = _form_value(value)
        except Rejected:
            raise Rejected("invalid", {name: [REJECT_MESSAGES["bad_item"]]}) from None
        if text is not None:
            formdata[name] = text
    return form_class(formdata=formdata, meta={"csrf": False})


def _invalid(form) -> Rejected:
    return Rejected("invalid", {name: list(errors) for name, errors in form.errors.items()})


class _KnownOnForm(RegistryForm):
    known_on = known_on_field()


def _current(record, names) -> dict:
    return {n: getattr(record, n) for n in names}


def _check_position(data: dict) -> dict:
    """lat/lon are not on the web form (the phone fills them from GPS): numbers in range, or null."""
    errors = {}
    for name, bound in (("lat", 90), ("lon", 180)):
        value = data.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not -bound <= value <= bound:
            errors[name] = [_l("Not a valid position. Let the phone take it again.")]
    if errors:
        raise Rejected("invalid", errors)
    return {n: float(data[n]) if data.get(n) is not None else None for n in ("lat", "lon") if n in data}


def _house_data(data: dict, current: dict | None = None) -> dict:
    fields = [n for n in records.HOUSE_FIELDS if n not in ("lat", "lon")]
    position = _check_position(data)
    values = {**(current or {}), **{n: data[n] for n in fields if n in data}}
    form = _form(HouseForm, {n: values.get(n) for n in fields})
    if not form.validate():
        raise _invalid(form)
    clean = {n: (getattr(form, n).data if getattr(form, n).data != "" else None) for n in fields}
    submitted = set(data) if current is not None else set(records.HOUSE_FIELDS)
    out = {n: v for n, v in clean.items() if n in submitted}
    out.update(position)
    return out


def _house_new(ctx, actor, item, village_id, data) -> _Outcome:
    house = records.create_house(actor, village_id, _house_data(data), collected=True, uid=item["entity_uid"])
    return _Outcome("accepted", house)


def _house_update(ctx, actor, house, base, data) -> _Outcome:
    clean = _house_data(data, _current(house, records.HOUSE_FIELDS))
    _applied, conflicts = records.update_house(actor, house, clean, base, keep_conflicts=True)
    return _Outcome("conflict" if conflicts else "accepted", house, conflicts)


PERSON_FORM_FIELDS = ("name", "id_type", "id_number", "sex", "birth_date", "ethnicity", "nationality", "phone",
                      "category", "hukou_division", "hukou_address", "hukou_type", "relation", "room",
                      "move_in_date", "move_in_reason", "away_duration")


def _person_form(ctx: _Context, data: dict, person: Person | None):
    """Validate with the web's PersonForm; `employer_uid` (an open organisation in scope) stands for
    the form's employer_id. For an update the record's values fill what the phone did not send."""
    values = {}
    employers = []
    if person is not None:
        values = {n: getattr(person, n) for n in PERSON_FORM_FIELDS if hasattr(person, n)}
        if person.employer_id is not None:
            employer = db.session.get(Organisation, person.employer_id)
            employers.append((employer.id, employer.name))
            values["employer_id"] = employer.id
    values.update({n: data[n] for n in PERSON_FORM_FIELDS if n in data})
    if "employer_uid" in data:
        values["employer_id"] = None
        if data["employer_uid"] is not None:
            employer = (db.session.scalar(scope.organisations(ctx.account).where(
                Organisation.uid == data["employer_uid"], Organisation.status == "open"))
                if isinstance(data["employer_uid"], str) else None)
            if employer is None:
                raise Rejected("invalid", {"employer_uid": [_l("Not a valid choice.")]})
            employers.append((employer.id, employer.name))
            values["employer_id"] = employer.id
    form = _form(PersonForm, values)
    form.setup(ctx.lang, ctx.police, employers)
    if not form.validate():
        raise _invalid(form)
    return form


def _person_new(ctx, actor, item, house, data) -> _Outcome:
    form = _person_form(ctx, data, None)
    clean = form.record_data()
    problem = checks.document_problem(ctx.account, clean)
    if problem:
        raise Rejected("invalid", {"id_number": [problem]})
    try:
        person, _outcome = records.add_person(actor, house, clean, form.relation.data or None,
                                              form.room.data or None, uid=item["entity_uid"])
    except records.DateOrder as error:
        raise Rejected("invalid", {"move_in_date": [checks.move_in_problem(error)]}) from None
    return _Outcome("accepted", person)


def _person_update(ctx, actor, person, base, data) -> _Outcome:
    form = _person_form(ctx, data, person)
    clean = form.record_data()
    problem = checks.document_problem(ctx.account, clean, person)
    if problem:
        raise Rejected("invalid", {"id_number": [problem]})
    sent = set(data) | ({"employer_id"} if "employer_uid" in data else set())
    if "id_number" in data:
        sent |= {"sex", "birth_date", "hukou_division"}  # what a resident ID number implies
    clean = {n: v for n, v in clean.items() if n in sent}
    _applied, conflicts = records.update_person(actor, person, clean, base, keep_conflicts=True)
    return _Outcome("conflict" if conflicts else "accepted", person, conflicts)


def apply_reviewed_value(account: Account, entity: str, record, name: str, value) -> None:
    """Write one field's value a reviewer chose from a conflict (review/service.py) onto `record`
    as a change of its own (source `review`), validated exactly as a phone's update of that field
    alone would be today. Raises Rejected with the form's errors; writes nothing then."""
    ctx = _Context(account, None)
    actor = records.Actor(account_id=account.id, source="review")
    data = {name: value}
    if name == "employer_id":  # the phone names employers by uid
        employer = db.session.get(Organisation, value) if value is not None else None
        data = {"employer_uid": employer.uid if employer is not None else None}
    handler = {"house": _house_update, "person": _person_update, "organisation": _organisation_update}[entity]
    outcome = handler(ctx, actor, record, record.version, data)
    assert not outcome.conflicts  # based on the current version: nothing can clash


def _whole_record_conflict(ctx, record, error: records.Conflict) -> _Outcome:
    return _Outcome("conflict", record, error.conflicts)


def _person_leave(ctx, actor, person, base, data) -> _Outcome:
    form = _form(LeaveForm, {"left_date": data.get("left_date"), "reason": data.get("reason")})
    if not form.validate():
        raise _invalid(form)
    problem = checks.left_date_problem(person, form.left_date.data)
    if problem:
        raise Rejected("invalid", {"left_date": [problem]})
    try:
        records.mark_left(actor, person, form.left_date.data, form.reason.data, base)
    except records.Conflict as error:
        return _whole_record_conflict(ctx, person, error)
    return _Outcome("accepted", person)


def _organisation_form(data: dict, org: Organisation | None):
    names = records.ORG_FIELDS
    values = {**(_current(org, names) if org is not None else {}), **{n: data[n] for n in names if n in data}}
    form = _form(OrganisationForm, values)
    if not form.validate():
        raise _invalid(form)
    problem = checks.uscc_problem(form.uscc.data, org)
    if problem:
        raise Rejected("invalid", {"uscc": [problem]})
    clean = form.record_data()
    return clean if org is None else {n: v for n, v in clean.items() if n in data}


def _organisation_new(ctx, actor, item, house, data) -> _Outcome:
    org = records.add_organisation(actor, house, _organisation_form(data, None), uid=item["entity_uid"])
    return _Outcome("accepted", org)


def _organisation_update(ctx, actor, org, base, data) -> _Outcome:
    _applied, conflicts = records.update_organisation(actor, org, _organisation_form(data, org), base,
                                                      keep_conflicts=True)
    return _Outcome("conflict" if conflicts else "accepted", org, conflicts)


def _organisation_close(ctx, actor, org, base, data) -> _Outcome:
    form = _form(CloseForm, {"closed_date": data.get("closed_date")})
    if not form.validate():
        raise _invalid(form)
    try:
        records.close_organisation(actor, org, form.closed_date.data, base)
    except records.Conflict as error:
        return _whole_record_conflict(ctx, org, error)
    return _Outcome("accepted", org)


# Photos -------------------------------------------------------------------------------------------

class PhotoError(Exception):
    """A refused upload: `code` for the protocol, `status` the HTTP status, `received` for bad_range."""

    def __init__(self, code: str, status: int = 422, received: int | None = None):
        super().__init__(code)
        self.code = code
        self.status = status
        self.received = received

    @property
    def message(self) -> str:
        return str(PHOTO_MESSAGES.get(self.code, REJECT_MESSAGES["bad_item"]))


CONTENT_RANGE = re.compile(r"^bytes (\d{1,12})-(\d{1,12})/(\d{1,12})$")
PHOTO_OF = re.compile(r"^(person|house|tip):([0-9a-fA-F-]{36})$")


def photo_dir() -> Path:
    """instance/photos (PHOTO_DIR overrides it, e.g. in tests); partial uploads in its partial/."""
    return Path(current_app.config.get("PHOTO_DIR") or Path(current_app.instance_path) / "photos")


def photo_path(uid: str) -> Path:
    """Where the kept (re-encoded) photo `uid` is."""
    return photo_dir() / f"{uid}.jpg"


def keep_photo(uid: str, jpeg: bytes, width: int, height: int, *, of_entity: str, of_uid: str,
               account_id: int | None, original_bytes: int) -> Photo:
    """Keep a photo process_photo() made: its file (written whole, then renamed, so that no reader
    ever sees half of it) and its Photo row (added, not committed)."""
    target = photo_path(uid)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".tmp")
    temporary.write_bytes(jpeg)
    os.replace(temporary, target)
    photo = Photo(uid=uid, of_entity=of_entity, of_uid=of_uid, account_id=account_id, bytes=len(jpeg),
                  original_bytes=original_bytes, width=width, height=height)
    db.session.add(photo)
    return photo


def _partial_paths(uid: str) -> tuple[Path, Path]:
    partial = photo_dir() / "partial"
    return partial / f"{uid}.part", partial / f"{uid}.json"


def photo_json(photo: Photo) -> dict:
    return {"uid": photo.uid, "width": photo.width, "height": photo.height, "bytes": photo.bytes}


def photo_status(account: Account, uid: str) -> dict:
    """How much of upload `uid` has arrived: {"received": n}, with the photo once complete."""
    photo = db.session.scalar(select(Photo).where(Photo.uid == uid))
    if photo is not None:
        if photo.account_id != account.id:
            raise PhotoError("not_found", 404)
        return {"received": photo.original_bytes, "complete": True, "photo": photo_json(photo)}
    part, meta = _partial_paths(uid)
    if meta.exists() and json.loads(meta.read_text())["account_id"] != account.id:
        raise PhotoError("not_found", 404)
    return {"received": part.stat().st_size if part.exists() else 0, "complete": False}


def parse_photo_of(value: str | None) -> tuple[str, str]:
    match = PHOTO_OF.match(value or "")
    if not match or not _is_uuid(match.group(2)):
        raise PhotoError("bad_request", 400)
    return match.group(1), match.group(2)


def upload_photo_chunk(account: Account, uid: str, content_range: str | None, photo_of: str | None,
                       chunk: bytes) -> dict:
    """Store one chunk of photo `uid` (Content-Range `bytes start-end/total`). A chunk must start at or
    before the bytes received so far (a repeat overwrites, a gap is refused with 416 bad_range and the
    count received); when all `total` bytes are in, the photo is checked and re-encoded (process_photo)
    and the partial upload removed. Only the account that began an upload may continue it; a photo of
    a record in another village answers 404. A repeat after completion answers the stored photo.

    A tip's photo ("tip:<uid>") is the informant's own: it needs tips.submit instead of registry.write,
    the tip must be theirs or not arrived yet (tips.service.may_attach_photo), and the finished photo
    is attached to the tip when the tip is already here (else tip.new picks it up on arrival)."""
    from .tips import service as tips  # tips.service uses this module's photo pipeline

    if not _is_uuid(uid):
        raise PhotoError("not_found", 404)
    of_entity, of_uid = parse_photo_of(photo_of)
    if of_entity == "tip":
        if not can(account.role, "tips.submit"):
            raise PhotoError("forbidden", 403)
        if not tips.may_attach_photo(account, of_uid):
            raise PhotoError("not_found", 404)
    elif not can(account.role, "registry.write"):
        raise PhotoError("forbidden", 403)
    match = CONTENT_RANGE.match(content_range or "")
    if not match:
        raise PhotoError("bad_request", 400)
    start, end, total = (int(g) for g in match.groups())
    if total > PHOTO_MAX_BYTES:
        raise PhotoError("too_large")
    if not (start <= end < total and end - start + 1 == len(chunk)):
        raise PhotoError("bad_request", 400)
    photo = db.session.scalar(select(Photo).where(Photo.uid == uid))
    if photo is not None:
        if photo.account_id != account.id:
            raise PhotoError("not_found", 404)
        return {"received": photo.original_bytes, "complete": True, "photo": photo_json(photo)}
    record = _find(of_entity, of_uid) if of_entity != "tip" else None
    if record is not None:
        ctx_villages = {v.id for v in scope.villages(account)}
        if record.village_id not in ctx_villages or (of_entity == "person" and not scope.may_see_person(account, record)):
            raise PhotoError("not_found", 404)
    part, meta = _partial_paths(uid)
    part.parent.mkdir(parents=True, exist_ok=True)
    with open(part, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # one writer per upload, across worker processes
        if meta.exists():
            info = json.loads(meta.read_text())
            if info["account_id"] != account.id:
                raise PhotoError("not_found", 404)
            if info["total"] != total or info["of"] != photo_of:
                raise PhotoError("bad_range", 416, received=os.fstat(handle.fileno()).st_size)
        else:
            meta.write_text(json.dumps({"account_id": account.id, "total": total, "of": photo_of}))
        received = os.fstat(handle.fileno()).st_size
        if start > received:
            raise PhotoError("bad_range", 416, received=received)
        handle.seek(start)
        handle.write(chunk)
        handle.truncate(start + len(chunk))
        handle.flush()
        received = start + len(chunk)
        if received < total:
            return {"received": received, "complete": False}
        handle.seek(0)
        data = handle.read()
    try:
        jpeg, width, height = process_photo(data)
    except PhotoError:
        _discard(part, meta)
        raise
    photo = keep_photo(uid, jpeg, width, height, of_entity=of_entity, of_uid=of_uid, account_id=account.id,
                       original_bytes=total)
    if of_entity == "tip":
        db.session.flush()
        tips.attach_photo(account, of_uid, uid)
    db.session.commit()
    _discard(part, meta)
    return {"received": total, "complete": True, "photo": photo_json(photo)}


def _discard(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def process_photo(data: bytes) -> tuple[bytes, int, int]:
    """Check an uploaded image and re-encode it: JPEG, long edge at most PHOTO_LONG_EDGE, orientation
    applied, and no metadata carried over (a fresh image receives the pixels only). Refuses with
    PhotoError: too_large (over PHOTO_MAX_BYTES), not_an_image (unreadable, truncated, or not JPEG/PNG/
    WebP), too_many_pixels (over PHOTO_MAX_PIXELS, decompression bombs included)."""
    if len(data) > PHOTO_MAX_BYTES:
        raise PhotoError("too_large")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=PHOTO_FORMATS) as probe:
                if probe.width * probe.height > PHOTO_MAX_PIXELS:
                    raise PhotoError("too_many_pixels")
                probe.verify()
            with Image.open(io.BytesIO(data), formats=PHOTO_FORMATS) as image:
                if image.width * image.height > PHOTO_MAX_PIXELS:
                    raise PhotoError("too_many_pixels")
                image.load()
                upright = ImageOps.exif_transpose(image)
                rgb = upright.convert("RGB")
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise PhotoError("too_many_pixels") from None
        except PhotoError:
            raise
        except Exception:  # Pillow raises many kinds for broken input: all mean "not an image"
            raise PhotoError("not_an_image") from None
    rgb.thumbnail((PHOTO_LONG_EDGE, PHOTO_LONG_EDGE), Image.Resampling.LANCZOS)
    clean = Image.new("RGB", rgb.size)
    clean.paste(rgb)
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=85, optimize=True)
    return out.getvalue(), clean.width, clean.height
