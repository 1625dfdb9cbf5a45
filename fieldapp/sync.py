"""The phone sync protocol (docs/sync-protocol.md): the work package and its deltas (pull), and
batches of pushed changes (push). Devices are fieldapp/devices.py, photos fieldapp/photos.py, what
each pushed item does fieldapp/push/. Every registry write goes through fieldapp.records, every
read is scoped by fieldapp.scope.

Rules, in one place:
- Pull. The cursor is a Change.id. A delta holds the current state of every record with a visible
  change after the cursor. On PostgreSQL ids come from a sequence and a transaction that took a
  lower id may commit after one that took a higher id; a cursor past that id would skip it for
  good. So the cursor handed out at the end of a pull never passes a change collected in the last
  SYNC_CURSOR_OVERLAP_SECONDS (longer than any write transaction): the next pull re-sends those
  recent records, which is harmless because clients upsert by uid keeping the higher version.
- Push. Each item is idempotent by its uid: a uid seen before with the same content (SHA-256 of
  the item's canonical JSON) answers `duplicate` with the original result; with other content it
  is a conflict between two versions of one item: status `conflict`, code `uid_reused`,
  `applied: false` (nothing of it is applied; unlike a field conflict, nothing waits for a
  reviewer). A rejected item leaves no receipt (nothing was applied), so sending it again gets a
  fresh verdict. An item that cannot be read (not an object, no uuid, an unknown op, fields of the
  wrong kind) is rejected `bad_item` alone. Each item runs in its own SAVEPOINT: a bad item rolls
  back alone and never blocks the others; the batch commits once at the end (a crash before that
  commit applies nothing and the client's retry is answered afresh).
- Busy database. A push that meets a deadlock, a serialization failure or a locked SQLite file is
  rolled back and run again from the start (up to PUSH_ATTEMPTS times, with a random pause): it
  applied nothing, and every item is idempotent, so the phone sees one answer, not a 500.
- Held items. An item that refers to a record the server has not got yet (an update, leave or
  close before its *.new; a person.new or organisation.new before its house.new) is stored with
  its payload and answered `held`; the phone may forget it. Right after a push creates a record,
  the items held for it are applied in arrival order, each in its own savepoint, under the
  account that sent them; the receipt then holds the final result (a retry answers `duplicate`).
  Two pushes can cross: B holds an item for a house that A has created but not yet committed, and
  A looked for waiting items before B committed. So after its commit every push looks again, in a
  transaction of its own, for held items waiting for what it created or for what its own held
  items wait for, and releases those whose record now exists; whichever of A and B commits last
  sees the other's rows. A small sweep of any held item whose record exists mends what a crash
  between the two transactions left.
- Bulk. Runs of plain new records are checked in order by the same rules and written together
  (fieldapp/push/bulk.py); same answers and rows as item by item, only faster.
- Moments. A change's collected_at is the phone's collected_at (rules.visits.phone_time: the
  server's time when unusable or too far ahead), so the 3-working-day rule counts to when the
  collector was at the door, not to when the phone found signal. A push says when the phone sent
  it (sent_at): a phone clock off by more than CLOCK_SKEW shifts the batch's moments by the
  difference (rules.visits.clock_offset).
"""
from __future__ import annotations

import logging
import random
import time
from datetime import date, datetime, timedelta

from flask import current_app, has_request_context
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.exc import IntegrityError, OperationalError

from . import moves, records, scope
from .returned import returned_for
from .audit import log_read
from .database import read_transaction, write_transaction
from .extensions import db
from .flags import detect as flag_detect
from .i18n import ui_lang
from .models import Account, Change, Device, House, Organisation, Person, SyncReceipt, utcnow
from .push.bulk import Bulk, Prepared
from .push.context import (MODELS, NEW_OPS, PushContext, chunks, is_uuid, op_of, payload_hash, phone_text,
                           receipt_entity_uid)
from .push.errors import REJECT_MESSAGES, Hold, Rejected
from .push.operations import apply
from .rules.address import format_address
from .rules.permissions import can
from .rules.sub_areas import package_sub_areas
from .rules.visits import clock_offset
from .tips import phone as tip_lists, service as tips

log = logging.getLogger(__name__)

MAX_ITEMS = 200
MAX_PUSH_BYTES = 2 * 1024 * 1024
PACKAGE_LIMIT = 500
PACKAGE_MAX_LIMIT = 2000
DEFAULT_OVERLAP_SECONDS = 120
MAX_CURSOR = 2**31 - 1  # Change.id is a 32-bit INTEGER on PostgreSQL: a larger cursor is no cursor
PUSH_ATTEMPTS = 6
SWEEP_LIMIT = 20  # held items mended per push by the sweep (normally none are due)

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

    Scope (fieldapp.scope): the account's villages (a collector's sub-areas, when the town limits
    packages to them: rules.sub_areas); people from abroad for police only. Roles that do
    not read the registry (informants) get their villages and no records. A page covers at most
    `limit` change rows after the cursor that concern the account: changes in its villages, and
    every change to a person it could once see (so a move out of its villages is seen). For each
    record touched its current state is sent: houses in scope; open organisations in scope
    (closed ones under removed.organisations); living people it may see (anyone it could once see
    who left, moved away or became police-only under removed.people). `more` is true when the page
    was full. The returned cursor lags behind changes of the last SYNC_CURSOR_OVERLAP_SECONDS (see
    the module docstring), so records may come again; clients keep the higher version. The last page
    (more false) also carries `tip_tasks` (roles that work tips) and `my_tips` (roles that send
    them): see tips.phone; and `returned` (roles that collect): their changes a reviewer returned,
    not yet corrected (fieldapp/returned.py)."""
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
    # A town may limit collectors' packages to their sub-areas (rules.sub_areas): houses of those
    # sub-areas and houses in none; people and organisations follow their house.
    own_sub_areas = package_sub_areas(account.role, bool(account.town and account.town.package_by_sub_area),
                                      [s.id for s in account.sub_areas])
    in_package = (None if own_sub_areas is None
                  else or_(House.sub_area_id.is_(None), House.sub_area_id.in_(sorted(own_sub_areas))))

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

    for chunk in chunks(sorted(touched["house"])):
        houses = select(House).where(House.id.in_(chunk), House.village_id.in_(vids))
        if in_package is not None:
            houses = houses.where(in_package)
        for house in db.session.scalars(houses.order_by(House.id)):
            package["houses"].append(house_json(house, names.get(house.village_id), writer))

    person_ids = sorted(touched["person"])
    for chunk in chunks(person_ids):
        people = scope.people(account).where(Person.id.in_(chunk))
        if in_package is not None:
            people = people.where(or_(Person.house_id.is_(None), Person.house_id.in_(select(House.id).where(in_package))))
        visible = {p.id: p for p in db.session.scalars(people)}
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

    for chunk in chunks(sorted(touched["organisation"])):
        org_query = scope.organisations(account).where(Organisation.id.in_(chunk))
        if in_package is not None:
            org_query = org_query.where(or_(Organisation.house_id.is_(None),
                                            Organisation.house_id.in_(select(House.id).where(in_package))))
        orgs = list(db.session.scalars(org_query.order_by(Organisation.id)))
        house_uids = _house_uids({o.house_id for o in orgs})
        for org in orgs:
            if org.status == "open":
                package["organisations"].append(organisation_json(org, house_uids.get(org.house_id)))
            else:
                package["removed"]["organisations"].append(org.uid)
    return _with_tips(package, account)


def _with_tips(package: dict, account: Account) -> dict:
    """The last page (the phone replaces its copies with these): a tips worker's `tip_tasks` and a
    tips sender's `my_tips` (fieldapp/tips/phone.py), a collector's `returned` (fieldapp/returned.py)."""
    if package["more"]:
        return package
    for key, made in (("tip_tasks", tip_lists.tasks_for(account, tips.today())),
                      ("my_tips", tip_lists.my_tips_for(account)),
                      ("returned", returned_for(account))):
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



def _house_uids(house_ids) -> dict[int, str]:
    ids = [i for i in house_ids if i is not None]
    if not ids:
        return {}
    return dict(db.session.execute(select(House.id, House.uid).where(House.id.in_(ids))).all())


def records_in(package: dict) -> int:
    """How many records a package page puts on the phone: houses, people, organisations, and the
    tips and returned changes on the last page (a tip's details or a reviewer's reason may name people)."""
    return sum(len(package.get(key) or ())
               for key in ("houses", "people", "organisations", "tip_tasks", "my_tips", "returned"))


def note_package_page(account: Account, device: Device, cursor: int, package: dict) -> None:
    """Every page of a pull puts personal data on a phone: one audit row per page, naming the
    device, with the cursor it was asked from and how many records it sent (a read request: its
    own write transaction, audit.log_read)."""
    log_read(account.id, "sync_package", f"device:{device.id}", records_in(package),
             f"{'full package' if cursor == 0 else 'delta'} from cursor {cursor}"
             f"{', more to come' if package['more'] else ''}")


# Push ---------------------------------------------------------------------------------------------

def push(account: Account, device: Device | None, items: list, bulk: bool = True, sent_at=None) -> list[dict]:
    """Apply a batch of pushed items; returns one result per item, in order (see the module docstring
    and docs/sync-protocol.md for the statuses). Commits once, then releases held items its commit
    may have made due (the crossing pushes rule). Runs of plain new records go through the bulk
    path; every other item runs in its own savepoint, so a rejected item rolls back alone. Both give
    the same answers and rows (bulk=False forces the item-by-item path; the tests compare them).
    The caller limits the batch size (MAX_ITEMS). `sent_at` is the phone's clock when it sent the
    batch: a clock set wrong shifts the batch's moments (rules.visits.clock_offset)."""
    prepared = Prepared(ui_lang() if has_request_context() else "zh", can(account.role, "registry.police_only"), items)
    flags_mark = (flag_detect.newest_change_id(), utcnow())  # fabrication flags after the commit

    def once() -> list[dict]:
        results = _push_once(account, device, items, bulk, sent_at, prepared)
        db.session.commit()
        return results

    results = with_retries(once, f"push by account {account.id}, device {device.id if device else None}")
    release_after_commit(*_items_due(items, results))
    flag_detect.after_push(account.id, *flags_mark)
    return results


def with_retries(once, what: str):
    """Run `once()`, one whole transaction that commits itself, again after a transient failure
    (is_transient: it applied nothing), rolled back first, up to PUSH_ATTEMPTS times with a random,
    growing pause."""
    for attempt in range(1, PUSH_ATTEMPTS + 1):
        try:
            return once()
        except OperationalError as error:
            db.session.rollback()
            if attempt == PUSH_ATTEMPTS or not is_transient(error):
                raise
            log.warning("%s: %s; trying again (attempt %d)", what, type(error.orig).__name__, attempt + 1)
            time.sleep(random.uniform(0.01, 0.05 * 2 ** attempt))


def is_transient(error: OperationalError) -> bool:
    """A failure that running the same transaction again can cure: a PostgreSQL deadlock or
    serialization failure, or SQLite's lock still held by another writer after the busy timeout."""
    if getattr(error.orig, "sqlstate", None) in ("40001", "40P01"):
        return True
    text = str(error.orig).lower()
    return "database is locked" in text or "database is busy" in text


def _push_once(account: Account, device: Device | None, items: list, bulk: bool, sent_at,
               prepared: Prepared) -> list[dict]:
    ctx = PushContext(account, device)
    ctx.clock_offset = clock_offset(sent_at, utcnow())
    ctx.prefetch(items)
    contexts = {account.id: ctx}
    uids = [item.get("uid") for item in items if isinstance(item, dict) and is_uuid(item.get("uid"))]
    receipts: dict = {}
    for chunk in chunks(uids):
        receipts.update({r.item_uid: r for r in db.session.scalars(
            select(SyncReceipt).where(SyncReceipt.item_uid.in_(chunk)))})
    results: list = []

    def one_by_one(item) -> dict:
        return _push_one(ctx, contexts, item, receipts, prepared.digest)

    run = None
    if bulk:
        run = Bulk(ctx, receipts, results, prepared=prepared, one_by_one=one_by_one,
                   release_held=lambda uids: _release_held(contexts, uids))
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
        results.append(one_by_one(item))
    if run is not None:
        run.flush()
    return results


def _push_one(ctx: PushContext, contexts: dict, item, receipts: dict, digest_of=payload_hash) -> dict:
    uid = item.get("uid") if isinstance(item, dict) else None
    if not is_uuid(uid) or op_of(item) is None:
        return Rejected("bad_item").result(uid if isinstance(uid, str) and len(uid) <= 64 else None)
    digest = digest_of(item)
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


def _receive(ctx: PushContext, item: dict, digest: str):
    """Inside the item's savepoint: apply or hold the item, then write its receipt (flushed here, so
    a concurrent push of the same uid fails on the unique index inside this savepoint and the item
    is answered as a repeat). Returns (receipt, the record applied to or None)."""
    receipt = SyncReceipt(item_uid=item["uid"], account_id=ctx.account.id,
                          device_id=ctx.device.id if ctx.device is not None else None, op=item["op"],
                          entity_uid=receipt_entity_uid(item), payload_hash=digest, status="pending",
                          collected_at=phone_text(item))
    record = _settle(ctx, item, receipt)
    db.session.add(receipt)
    db.session.flush()
    return receipt, record


def _settle(ctx: PushContext, item: dict, receipt: SyncReceipt):
    """Apply the item (or hold it) and write the outcome on its receipt; returns the record applied
    to (None when held). Raises Rejected."""
    try:
        outcome = apply(ctx, item)
    except Hold as hold:
        receipt.status, receipt.waits_for, receipt.payload = "held", hold.waits_for, item
        receipt.result = {"uid": item["uid"], "status": "held"}
        return None
    record = outcome.record
    receipt.waits_for = receipt.payload = None
    receipt.applied_at = utcnow()
    receipt.status = outcome.status
    if outcome.status == "requested":
        # A move request (fieldapp.moves): the answer names nothing about the registered person.
        receipt.result = {"uid": item["uid"], "status": "requested", "code": moves.REQUESTED_CODE,
                          "reason": str(moves.REQUESTED_MESSAGE)}
        if ctx.taken is not None:
            ctx.taken.add(item["entity_uid"])  # the request holds it: a later *.new may not take it
        return None
    receipt.record_uid = record.uid
    result = {"uid": item["uid"], "status": outcome.status, "record": {"uid": record.uid, "version": record.version},
              **outcome.extra}
    if outcome.conflicts:
        result["conflicts"] = outcome.conflicts
        records.keep_conflicts(item["op"].split(".")[0], record, outcome.conflicts, ctx.account.id, item["uid"])
    receipt.result = result
    return record


def _release_held(contexts: dict, created_uids) -> None:
    """Apply the items held for records just created, oldest first; an applied held item that creates
    a record releases the items held for it in turn. A held row another transaction is releasing
    right now is skipped (it has it in hand)."""
    queue = sorted(u for u in created_uids if u)
    while queue:
        waited = queue.pop(0)
        held = list(db.session.scalars(select(SyncReceipt).where(SyncReceipt.status == "held",
                                                                 SyncReceipt.waits_for == waited)
                                       .order_by(SyncReceipt.id).with_for_update(skip_locked=True)))
        for receipt in held:
            queue += _release_one(contexts, receipt)


def _release_one(contexts: dict, receipt: SyncReceipt) -> list[str]:
    """Settle one held receipt under the account that sent it; returns the uids it created."""
    ctx = contexts.get(receipt.account_id)
    if ctx is None:
        account = db.session.get(Account, receipt.account_id)
        ctx = contexts[receipt.account_id] = PushContext(account, None)
    item = dict(receipt.payload)
    try:
        with db.session.begin_nested():
            record = _settle(ctx, item, receipt)
    except Rejected as rejected:
        # The client dropped the item when it was held: keep the verdict on the receipt.
        receipt.status, receipt.payload, receipt.waits_for = "rejected", None, None
        receipt.result = rejected.result(item["uid"])
        receipt.applied_at = utcnow()
        return []
    if item["op"] in NEW_OPS and receipt.status in ("accepted", "conflict"):
        made = {u for u in (item["entity_uid"], receipt.record_uid) if u}
        for known in contexts.values():
            known.created(item["op"].split(".")[0], made, record)
        return sorted(made)
    return []


def _items_due(items: list, results: list[dict]) -> tuple[set[str], list[str]]:
    """What a committed push may have made due: the uids of the records it created, and the item
    uids of its own items answered held (this time or in an earlier push)."""
    created, held = set(), []
    for item, result in zip(items, results):
        status = result.get("status")
        original = result.get("original") or {}
        if status == "duplicate":
            status = original.get("status")
        if status in ("accepted", "conflict") and op_of(item) in NEW_OPS:
            created.add(item.get("entity_uid"))
            created.add((result.get("record") or original.get("record") or {}).get("uid"))
        elif status == "held":
            held.append(item["uid"])
    return {uid for uid in created if isinstance(uid, str)}, held


def release_after_commit(created: set[str], held_items: list[str]) -> None:
    """The crossing pushes rule: in a transaction of its own, release the held items waiting for
    the records a push `created` or for what its `held_items` wait for, when that record exists
    now, and sweep a few other due ones. Looked for first in a read transaction, so that the usual
    case (nothing due) takes no write lock. A failure here is logged, not answered: the push itself
    is committed, and the next push's sweep mends it."""
    try:
        with read_transaction():
            uids = set(created)
            for chunk in chunks(held_items):
                uids |= set(db.session.scalars(select(SyncReceipt.waits_for).where(
                    SyncReceipt.item_uid.in_(chunk), SyncReceipt.status == "held")))
            due = _due_held(uids)
        if due:
            with_retries(lambda: _release_due(due), "releasing held items after a push")
    except Exception:
        log.exception("releasing held items after a push failed; the next push's sweep retries")
        db.session.rollback()


def _release_due(due: list[int]) -> None:
    """Release the held receipts `due` (those still held and not being released by another
    transaction), in their own write transaction."""
    with write_transaction():
        contexts: dict = {}
        for chunk in chunks(due):
            for receipt in db.session.scalars(
                    select(SyncReceipt).where(SyncReceipt.id.in_(chunk), SyncReceipt.status == "held")
                    .order_by(SyncReceipt.id).with_for_update(skip_locked=True)):
                _release_held(contexts, _release_one(contexts, receipt))


def _due_held(uids: set[str]) -> list[int]:
    """Ids of held receipts whose record exists: those waiting for `uids`, and up to SWEEP_LIMIT
    others (left by a crash between a push's commit and its release)."""
    applied = aliased(SyncReceipt)  # a person registered already answers under the phone's uid
    exists_now = or_(*(select(model.id).where(model.uid == SyncReceipt.waits_for).exists()
                       for model in MODELS.values()),
                     select(applied.id).where(
                         applied.entity_uid == SyncReceipt.waits_for, applied.op.in_(NEW_OPS),
                         applied.status.in_(("accepted", "conflict"))).exists())
    held = select(SyncReceipt.id).where(SyncReceipt.status == "held")
    due = set()
    for chunk in chunks(sorted(uids)):
        due |= set(db.session.scalars(held.where(SyncReceipt.waits_for.in_(chunk), exists_now)))
    due |= set(db.session.scalars(held.where(exists_now).order_by(SyncReceipt.id).limit(SWEEP_LIMIT)))
    return sorted(due)
