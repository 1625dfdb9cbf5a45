"""Every write to the registry goes through these functions, whether it comes from a web form,
the phone's sync, an import or the demo. Each one, in the caller's transaction:
- changes the record and bumps its version,
- writes a Change row naming the fields changed ([old, new]), who and when,
- keeps the village progress counters in step.
Callers commit. Nothing here knows about HTTP.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from .extensions import db
from .changefeed import add_collector_work, change_work, note_counter_delta, note_village_changed, rebuild_daily
from .models import Conflict as ConflictRow
from .models import (BlankLabel, Change, Flag, House, Organisation, Person, Residence, RetiredDoorCode, SyncReceipt,
                     Village, VillageCounter, utcnow)
from .rules.address import address_identity, address_key
from .rules.doorcode import new_door_code, new_door_token
from .rules.merge import merge
from .rules import review as review_rules
from .rules.days import local_day
from .rules.permissions import POLICE_ONLY_CATEGORIES

HOUSE_FIELDS = ("group_name", "road", "lane", "number", "building", "room", "use", "owner_name",
                "owner_phone", "tenant_name", "tenant_phone", "rental_registered", "rental_record_no",
                "lat", "lon")
PERSON_FIELDS = ("name", "sex", "id_type", "id_number", "birth_date", "ethnicity", "nationality", "phone",
                 "hukou_division", "hukou_address", "hukou_type", "category", "move_in_date",
                 "move_in_reason", "away_duration", "employer_id")
ORG_FIELDS = ("name", "kind", "uscc", "legal_rep", "phone", "employee_count")


class Conflict(Exception):
    """Someone else changed the same fields since the editor's base version. Nothing was written."""

    def __init__(self, conflicts: dict, current_version: int):
        super().__init__(sorted(conflicts))
        self.conflicts = conflicts
        self.current_version = current_version


class DateOrder(Exception):
    """A date that would put a record's history out of order; `not_before` is the earliest allowed."""

    def __init__(self, not_before: date):
        super().__init__(not_before.isoformat())
        self.not_before = not_before


@dataclass
class Actor:
    """Who makes a change and how it reached us."""
    account_id: int | None
    source: str = "web"
    known_on: date | None = None  # when the change became known; defaults to today
    # When the collector collected it (the phone's clock, checked by the caller); defaults to now.
    # The 3-working-day rule counts from known_on to this moment, not to when the server heard of it.
    collected_at: datetime | None = None
    visit_uid: str | None = None  # the door visit it was collected under (phone items)
    door_proof: bool = False  # that visit was opened by scanning the door's QR code
    # A reviewer whose decision this change carries out (a confirmed move): it is approved by them.
    reviewed_by: int | None = None


def json_value(value):
    """A field's value as the change log and conflicts keep it (JSON: dates as ISO text)."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def _values(record, names) -> dict:
    return {n: json_value(getattr(record, n)) for n in names}


def record_values(record, names) -> dict:
    """A record's fields as the change log keeps them (JSON values)."""
    return _values(record, names)


def bump_counter(village_id: int, **deltas: int) -> None:
    """Public name of _bump_counter (fieldapp/merging.py)."""
    _bump_counter(village_id, **deltas)


def record_change(actor: Actor, entity: str, record, fields: dict, village_id: int,
                  police_only: bool = False) -> Change:
    """An 'update' Change row for a change the caller has made itself (a merge: merging.py)."""
    return _record_change(actor, entity, record, "update", fields, village_id, police_only)


def _bump_counter(village_id: int, **deltas: int) -> None:
    """Atomic in-database increments: safe with several workers writing at once."""
    if not any(deltas.values()):
        return
    counter = VillageCounter.__table__.c
    # synchronize_session=False: no scan of the session's objects per increment (it dominated bulk
    # pushes); a VillageCounter already loaded in this session is stale until expired or reloaded.
    db.session.execute(update(VillageCounter).where(counter.village_id == village_id)
                       .values({name: counter[name] + d for name, d in deltas.items()})
                       .execution_options(synchronize_session=False))
    note_counter_delta(village_id, deltas)  # the dashboard's daily chart, in the same transaction


def review_columns(actor: Actor, collected_at: datetime, known_on: date | None, reviewable: bool = True) -> dict:
    """The review columns of a new Change row (rules.review): pending with its due day and whether
    it was collected late, approved when a reviewer's decision made it, or exempt."""
    now = utcnow()
    if actor.reviewed_by is not None:
        return {"review_state": review_rules.APPROVED, "reviewed_at": now, "reviewed_by_id": actor.reviewed_by,
                "review_due_on": None, "collected_late": None, "reviewed_late": False}
    if not review_rules.needs_review(actor.source, reviewable):
        return {"review_state": review_rules.EXEMPT, "review_due_on": None, "collected_late": None}
    day = local_day(collected_at)
    return {"review_state": review_rules.PENDING, "review_due_on": review_rules.review_due_on(day),
            "collected_late": review_rules.collected_late(known_on, day)}


def _record_change(actor: Actor, entity: str, record, kind: str, fields: dict, village_id: int,
                   police_only: bool = False, reviewable: bool = True) -> Change:
    collected_at, known_on = actor.collected_at or utcnow(), actor.known_on or date.today()
    review = review_columns(actor, collected_at, known_on, reviewable)
    change = Change(entity=entity, entity_id=record.id, version=record.version, village_id=village_id,
                    kind=kind, fields=fields, police_only=police_only, source=actor.source,
                    known_on=known_on, collected_by_id=actor.account_id,
                    collected_at=collected_at, visit_uid=actor.visit_uid,
                    door_proof=actor.door_proof, **review)
    db.session.add(change)
    if kind != "new" and review["review_state"] != review_rules.EXEMPT:
        _correct_returned(change, entity, record.id)
    note_village_changed(village_id)
    return change


def _correct_returned(change: Change, entity: str, record_id: int) -> None:
    """A change to a record with a change returned for correction is that correction (rules.review):
    the returned change becomes 'corrected' and the new one names it. One UPDATE, so two workers
    writing corrections at once cannot both claim the same returned change."""
    rows = db.session.execute(
        update(Change).where(Change.entity == entity, Change.entity_id == record_id,
                             Change.review_state == review_rules.RETURNED)
        .values(review_state=review_rules.CORRECTED).returning(Change.id)
        .execution_options(synchronize_session=False)).scalars().all()
    if rows:
        change.corrects_id = max(rows)


RECORD_MODELS = {"house": House, "person": Person, "organisation": Organisation}


def find_record(entity: str, uid: str):
    """The house, person or organisation named `uid`, also under the uid a phone gave a person who
    turned out to be registered already (person.new matched by document: its sync receipt names
    the real record)."""
    model = RECORD_MODELS[entity]
    record = db.session.scalar(select(model).where(model.uid == uid))
    if record is not None and getattr(record, "merged_into_id", None) is not None:
        return _merged_target(record)  # a phone still holding a merged record's uid
    if record is None:
        alias = db.session.scalar(select(SyncReceipt.record_uid).where(
            SyncReceipt.entity_uid == uid, SyncReceipt.op == f"{entity}.new",
            SyncReceipt.status.in_(("accepted", "conflict"))))
        if alias and alias != uid:
            record = db.session.scalar(select(model).where(model.uid == alias))
    return record


def _merged_target(record):
    """The record a merged one was merged into (followed to the end; fieldapp/merging.py)."""
    for _ in range(20):
        if record.merged_into_id is None:
            break
        record = db.session.get(type(record), record.merged_into_id)
    return record


def _others_changes(actor: Actor, entity: str, record, base_version: int | None) -> list[dict]:
    """The changes (their fields) made to `record` since `base_version` by someone other than the
    actor's own phone: only those can conflict with the actor's change. A phone whose answer was
    lost sends its next change on the old version; its own earlier phone changes (same account,
    both through sync) are what it builds on, never a conflict."""
    if base_version is None or base_version == record.version:
        return []
    rows = db.session.execute(
        select(Change.fields, Change.source, Change.collected_by_id).where(
            Change.entity == entity, Change.entity_id == record.id, Change.version > base_version)
        .order_by(Change.version)).all()
    return [fields for fields, source, by in rows
            if not (actor.source == "sync" and source == "sync" and by == actor.account_id)]


def _apply_edit(actor: Actor, entity: str, record, names, submitted: dict, base_version: int | None,
                village_id: int, police_only: bool = False, kind: str = "update",
                keep_conflicts: bool = False, reviewable: bool = True) -> dict:
    """Merge `submitted` into `record` against `base_version` (rules.merge) and record the change.
    Returns the {field: [old, new]} applied. On a conflict it raises Conflict and writes nothing;
    with keep_conflicts=True it applies the fields nobody else changed and returns
    (applied, conflicts) instead, the conflicting fields left as they are for a reviewer."""
    submitted = {n: submitted[n] for n in names if n in submitted}
    current = _values(record, names)
    since = _others_changes(actor, entity, record, base_version)
    result = merge(current, {n: json_value(v) for n, v in submitted.items()}, since)
    if result.conflicts and not keep_conflicts:
        raise Conflict(result.conflicts, record.version)
    fields = {}
    for name in result.apply:
        fields[name] = [current[name], json_value(submitted[name])]
        setattr(record, name, submitted[name])
    if fields:
        record.version += 1
        db.session.flush()
        _record_change(actor, entity, record, kind, fields, village_id, police_only, reviewable)
    return (fields, result.conflicts) if keep_conflicts else fields


def ensure_counters(village_ids) -> None:
    """Create missing counter rows (a village gets one when it is created)."""
    have = set(db.session.scalars(select(VillageCounter.village_id)))
    for vid in village_ids:
        if vid not in have:
            db.session.add(VillageCounter(village_id=vid))
    db.session.flush()


# Houses ------------------------------------------------------------------------------------------

def _refresh_address_key(house: House) -> None:
    village = db.session.get(Village, house.village_id)
    house.address_key = address_key({n: getattr(house, n) for n in HOUSE_FIELDS}, village.name)


def _unused_door_code() -> str:
    """Door codes are random, so they can collide (about 1 in 500 for a town of 11,000 doors): draw
    again until unused. The unique constraint still settles two workers drawing the same one at once.
    A retired code is never reissued: someone may still read it off an old label."""
    while True:
        code = new_door_code()
        taken = select(House.id).where(House.door_code == code).union_all(
            select(RetiredDoorCode.id).where(RetiredDoorCode.door_code == code),
            select(BlankLabel.id).where(BlankLabel.door_code == code))  # printed label stock
        if db.session.scalar(taken.limit(1)) is None:  # one round trip: imports draw thousands
            return code


class DuplicateAddress(Exception):
    """Another house already has this address (rules.address.address_identity). Nothing was written
    that the caller should keep: roll back."""

    def __init__(self, house: House):
        super().__init__(house.id)
        self.house = house


# What a write does when the address is another house's (create_house / update_house `duplicates`):
# "refuse" raises DuplicateAddress (web forms, imports); "flag" keeps the house without an address
# identity and raises a duplicate_house Flag for a reviewer to merge (a phone's offline house, which
# cannot be refused without losing what was registered there); "allow" only leaves the identity NULL.
DUPLICATE_MODES = ("refuse", "flag", "allow")


def house_at_address(village_id: int, parts: dict, exclude_id: int | None = None) -> House | None:
    """The house holding this address identity, if any (other than `exclude_id`)."""
    identity = address_identity(village_id, parts)
    if identity is None:
        return None
    query = select(House).where(House.address_identity == identity)
    if exclude_id is not None:
        query = query.where(House.id != exclude_id)
    return db.session.scalar(query)


def claim_address(house: House) -> House | None:
    """Give `house` the identity of its address, unless another house holds it: then the identity
    stays NULL and that house is returned. The UPDATE runs in a savepoint, so two writers claiming
    one address at once cannot both hold it: on PostgreSQL the second waits for the first to commit
    and then fails on the unique index, which is caught here and answered with the winner."""
    parts = {n: getattr(house, n) for n in HOUSE_FIELDS}
    identity = None if house.merged_into_id else address_identity(house.village_id, parts)
    if identity == house.address_identity:
        return None
    other = None
    if identity is not None:
        other = db.session.scalar(select(House).where(House.address_identity == identity, House.id != house.id))
    target = None if other is not None else identity
    try:
        with db.session.begin_nested():
            db.session.execute(update(House).where(House.id == house.id).values(address_identity=target)
                               .execution_options(synchronize_session=False))
    except IntegrityError:
        other = db.session.scalar(select(House).where(House.address_identity == identity))
        target = None
        db.session.execute(update(House).where(House.id == house.id).values(address_identity=None)
                           .execution_options(synchronize_session=False))
    set_committed_value(house, "address_identity", target)
    return other


def fill_address_identities(village_ids) -> int:
    """Give every house of these villages without an address identity its identity, unless another
    house holds it or shares it (for rows inserted directly: the demo; the migration does the same
    for existing databases). Returns how many were filled."""
    rows = db.session.execute(select(House.id, House.village_id, *[House.__table__.c[n] for n in HOUSE_FIELDS[:6]])
                              .where(House.village_id.in_(list(village_ids)), House.address_identity.is_(None),
                                     House.merged_into_id.is_(None))).all()
    wanted: dict[str, list[int]] = {}
    for row in rows:
        identity = address_identity(row.village_id, row._asdict())
        if identity is not None:
            wanted.setdefault(identity, []).append(row.id)
    held = set()
    for chunk in _chunked(sorted(wanted)):
        held |= set(db.session.scalars(select(House.address_identity).where(House.address_identity.in_(chunk))))
    claims = [{"i": ids[0], "a": identity} for identity, ids in wanted.items() if len(ids) == 1 and identity not in held]
    if claims:
        table = House.__table__
        db.session.execute(update(table).where(table.c.id == bindparam("i")).values(address_identity=bindparam("a")),
                           claims)
    return len(claims)


def flag_duplicate_house(house: House, other: House, account_id: int | None, change_id: int | None = None) -> None:
    """A duplicate_house Flag (models.review) on `house`, naming the house that holds its address:
    a reviewer merges them (fieldapp/merging.py) or clears it. Raised once per house."""
    key = f"duplicate_house:{house.id}"
    if db.session.scalar(select(Flag.id).where(Flag.key == key)) is None:
        db.session.add(Flag(key=key, kind="duplicate_house", entity="house", entity_id=house.id,
                            change_id=change_id, house_id=house.id, village_id=house.village_id,
                            account_id=account_id, detail={"other_house_id": other.id}))
        db.session.flush()


def _settle_address(actor: Actor, house: House, duplicates: str) -> None:
    other = claim_address(house)
    if other is None:
        return
    if duplicates == "refuse":
        raise DuplicateAddress(other)
    if duplicates == "flag":
        flag_duplicate_house(house, other, actor.account_id)


def create_house(actor: Actor, village_id: int, data: dict, collected: bool = True, uid: str | None = None,
                 door: tuple[str, str] | None = None, duplicates: str = "allow") -> House:
    """A house found at the door that the register lacks (collected=True), or one imported into the
    register before anyone visits (collected=False). Either way it gets a fresh door code, unless
    `door` gives the (code, token) of a blank label claimed for it (doors.labels).
    `uid`: the name a phone gave the house offline (a fresh one when None). `duplicates`: what an
    address another house has does (DUPLICATE_MODES)."""
    if duplicates == "refuse":
        other = house_at_address(village_id, data)
        if other is not None:
            raise DuplicateAddress(other)
    code, token = door if door is not None else (_unused_door_code(), new_door_token())
    house = House(village_id=village_id, door_code=code, door_token=token,
                  **({"uid": uid} if uid else {}), **{n: data.get(n) for n in HOUSE_FIELDS if n in data})
    house.rental_registered = bool(data.get("rental_registered"))
    _refresh_address_key(house)
    if collected:
        house.collected_at = utcnow()
    db.session.add(house)
    db.session.flush()
    _record_change(actor, "house", house, "new", {n: [None, json_value(getattr(house, n))]
                                                   for n in HOUSE_FIELDS if getattr(house, n) is not None},
                   village_id)
    if collected:
        _bump_counter(village_id, houses=1)
    _settle_address(actor, house, duplicates)
    return house


def replace_door_code(actor: Actor, house: House) -> tuple[str, str]:
    """Give `house` a fresh door code and token (its label was damaged, stolen or is being reissued);
    returns the old (code, token) for the caller to retire (fieldapp.doors.codes). The code is part of
    what phones hold for a house, so the change is a Change row like any other: the next sync brings
    the new code to every phone and the house's history shows when it changed. The token is a secret
    and never goes into a Change row."""
    old = (house.door_code, house.door_token)
    house.door_code, house.door_token = _unused_door_code(), new_door_token()
    house.door_code_issued_at = utcnow()
    house.version += 1
    db.session.flush()
    _record_change(actor, "house", house, "update", {"door_code": [old[0], house.door_code]}, house.village_id,
                   reviewable=False)
    return old


def set_house_position(actor: Actor, house: House, lat: float, lon: float, accuracy_m: float, visit_id: int) -> None:
    """A visit's good GPS fix becomes the house's known position (rules.visits.place_visit decides
    when). A Change row carries it to the phones like any other change to the house."""
    fields = {n: [getattr(house, n), v] for n, v in (("lat", lat), ("lon", lon)) if getattr(house, n) != v}
    house.lat, house.lon = lat, lon
    house.position_accuracy_m, house.position_visit_id = accuracy_m, visit_id
    house.version += 1
    db.session.flush()
    _record_change(actor, "house", house, "update", fields or {"lat": [lat, lat]}, house.village_id,
                   reviewable=False)


def set_house_sub_area(actor: Actor, house: House, sub_area_id: int | None) -> dict:
    """Put a house in a sub-area (片区/楼组) of its village, or in none; recorded as a change like any
    edit (so work packages limited to sub-areas pick the house up). The caller checks that the
    sub-area is the house's village's. Returns the {field: [old, new]} applied."""
    return _apply_edit(actor, "house", house, ("sub_area_id",), {"sub_area_id": sub_area_id}, None,
                       house.village_id, reviewable=False)


def update_house(actor: Actor, house: House, data: dict, base_version: int | None, keep_conflicts: bool = False,
                 duplicates: str = "allow"):
    """Register or update a house at the door. The first such save marks the house collected.
    keep_conflicts: see _apply_edit (returns (applied, conflicts) instead of raising Conflict).
    duplicates: what an address edit onto another house's address does (DUPLICATE_MODES)."""
    edit = _apply_edit(actor, "house", house, HOUSE_FIELDS, data, base_version, house.village_id,
                       keep_conflicts=keep_conflicts)
    fields = edit[0] if keep_conflicts else edit
    if fields:
        _refresh_address_key(house)
        _settle_address(actor, house, duplicates)
    _registered_at_door(actor, house, traced=bool(fields))
    return edit


def _registered_at_door(actor: Actor, house: House, traced: bool = False) -> None:
    """Anything registered at a house (the house itself, a resident, an organisation) means someone
    was at its door: the first time, the house counts as collected. `traced` says a Change row for
    this save exists already; otherwise the registration gets one of its own."""
    if house.collected_at is not None:
        return
    house.collected_at = utcnow()
    _bump_counter(house.village_id, houses=1)
    if not traced:
        house.version += 1
        db.session.flush()
        # Only a trace that the house now counts as collected: what was registered there is
        # reviewed on its own change.
        _record_change(actor, "house", house, "update", {"collected_at": [None, "registered"]}, house.village_id,
                       reviewable=False)


# People ------------------------------------------------------------------------------------------

def find_person(id_type: str, id_number: str) -> Person | None:
    """People are deduplicated by document: the same ID number is the same person, anywhere."""
    return db.session.scalar(select(Person).where(Person.id_type == id_type, Person.id_number == id_number))


def _police_only(person: Person) -> bool:
    return person.category in POLICE_ONLY_CATEGORIES


def _open_residence(person: Person) -> Residence | None:
    return db.session.scalar(select(Residence).where(Residence.person_id == person.id,
                                                     Residence.to_date.is_(None)))


def add_person(actor: Actor, house: House, data: dict, relation: str | None = None,
               room: str | None = None, uid: str | None = None) -> tuple[Person, str, dict]:
    """Register a person at `house`. Returns (person, outcome, conflicts); outcome is 'new', 'moved'
    or 'updated'.

    Registration is by current residence and deduplicated by ID number. If the document is already
    registered, this is the same person: what was collected fills the fields the record lacks, and a
    field it has with another value (a differing name) is never overwritten: it is returned in
    `conflicts` ({field: {base, current, submitted}}) for a reviewer to decide (keep_conflicts). A
    person living elsewhere is then moved here, their old residence closed and its history kept
    ('moved'); the move's own date and reason are the new residence's and are taken as collected.
    The caller decides whether the submitter may register a known person at all (fieldapp.moves:
    outside their scope it is a move request). `uid` names a new person (a phone's offline name for
    them); an existing person keeps theirs."""
    existing = find_person(data["id_type"], data["id_number"])
    if existing is not None:
        moving = not (existing.house_id == house.id and existing.status == "living")
        conflicts = fill_known_person(actor, existing, data, moving)
        if not moving:
            return existing, "updated", conflicts
        move_person(actor, existing, house, data.get("move_in_date"), relation, room)
        return existing, "moved", conflicts
    _registered_at_door(actor, house)
    person = Person(status="living", house_id=house.id, village_id=house.village_id,
                    **({"uid": uid} if uid else {}), **{n: data.get(n) for n in PERSON_FIELDS})
    db.session.add(person)
    db.session.flush()
    db.session.add(Residence(person_id=person.id, house_id=house.id, from_date=person.move_in_date,
                             relation=relation, room=room))
    fields = {n: [None, json_value(getattr(person, n))] for n in PERSON_FIELDS if getattr(person, n) is not None}
    fields["house_id"] = [None, house.id]
    _record_change(actor, "person", person, "new", fields, house.village_id, _police_only(person))
    _bump_counter(house.village_id, people=1)
    return person, "new", {}


# What a move itself says: the new residence's date and reason, not a claim about the person.
MOVE_FIELDS = ("move_in_date", "move_in_reason")


def fill_known_person(actor: Actor, person: Person, data: dict, moving: bool = False) -> dict:
    """A registration of a person already registered: apply the collected values of the fields the
    record lacks (and, when `moving`, the move's own fields), and return the fields whose collected
    value differs from the record's as conflicts ({field: {base, current, submitted}}, base =
    current: there is no earlier version the collector worked from). Empty values change nothing."""
    current = _values(person, PERSON_FIELDS)
    submitted = {n: data[n] for n in PERSON_FIELDS if n in data and data[n] not in (None, "")}
    apply, conflicts = {}, {}
    for name, value in submitted.items():
        now, value_json = current[name], json_value(value)
        if now in (None, "") or (moving and name in MOVE_FIELDS):
            apply[name] = value
        elif value_json != now:
            conflicts[name] = {"base": now, "current": now, "submitted": value_json}
    if apply:
        update_person(actor, person, apply, base_version=None)
    return conflicts


def keep_conflicts(entity: str, record, conflicts: dict, account_id: int | None, item_uid: str | None = None) -> None:
    """Keep each conflicting field ({field: {base, current, submitted}}) as a Conflict row for the
    reviewer (fieldapp/review): neither value is written until someone decides."""
    for name, values in conflicts.items():
        db.session.add(ConflictRow(entity=entity, entity_id=record.id, field=name, base=values["base"],
                                   current=values["current"], submitted=values["submitted"],
                                   item_uid=item_uid, account_id=account_id))


def update_person(actor: Actor, person: Person, data: dict, base_version: int | None, keep_conflicts: bool = False):
    """A change is police-only if the person is police-only before *or* after it: the edit that
    makes someone a person from abroad must not be visible to everyone.
    keep_conflicts: see _apply_edit (returns (applied, conflicts) instead of raising Conflict)."""
    police_only = _police_only(person) or data.get("category") in POLICE_ONLY_CATEGORIES
    return _apply_edit(actor, "person", person, PERSON_FIELDS, data, base_version, person.village_id, police_only,
                       keep_conflicts=keep_conflicts)


def move_person(actor: Actor, person: Person, house: House, on: date | None, relation: str | None = None,
                room: str | None = None) -> None:
    """Close the open residence (if any) and open one at `house`; counters follow the person.
    A move dated before the current residence began is refused (DateOrder): history stays ordered."""
    on = on or date.today()
    old = _open_residence(person)
    if old is not None and old.from_date is not None and on < old.from_date:
        raise DateOrder(old.from_date)
    _registered_at_door(actor, house)
    if old is not None:
        old.to_date = on
    was_counted = person.status == "living"
    old_house, old_village = person.house_id, person.village_id
    db.session.add(Residence(person_id=person.id, house_id=house.id, from_date=on, relation=relation, room=room))
    person.house_id, person.village_id = house.id, house.village_id
    person.status, person.left_date, person.left_reason = "living", None, None
    person.version += 1
    db.session.flush()
    _record_change(actor, "person", person, "update",
                   {"house_id": [old_house, house.id], "status": ["living" if was_counted else "left", "living"]},
                   house.village_id, _police_only(person))
    if was_counted:
        _bump_counter(old_village, people=-1)
    _bump_counter(house.village_id, people=1)


def mark_left(actor: Actor, person: Person, on: date, reason: str, base_version: int | None) -> None:
    """Cancellation (注销): the person no longer lives here. The record and its history stay."""
    if person.status == "left":
        return
    if _others_changes(actor, "person", person, base_version):
        # Leaving is one decision about the whole record: anyone else's change makes it stale.
        raise Conflict({"status": {"base": "living", "current": person.status, "submitted": "left"}},
                       person.version)
    residence = _open_residence(person)
    if residence is not None:
        residence.to_date = on
    person.status, person.left_date, person.left_reason = "left", on, reason
    person.version += 1
    db.session.flush()
    _record_change(actor, "person", person, "cancel",
                   {"status": ["living", "left"], "left_date": [None, on.isoformat()], "left_reason": [None, reason]},
                   person.village_id, _police_only(person))
    _bump_counter(person.village_id, people=-1)


# Organisations -----------------------------------------------------------------------------------

def add_organisation(actor: Actor, house: House, data: dict, uid: str | None = None) -> Organisation:
    _registered_at_door(actor, house)
    org = Organisation(village_id=house.village_id, house_id=house.id, status="open",
                       **({"uid": uid} if uid else {}), **{n: data.get(n) for n in ORG_FIELDS})
    db.session.add(org)
    db.session.flush()
    _record_change(actor, "organisation", org, "new",
                   {n: [None, json_value(getattr(org, n))] for n in ORG_FIELDS if getattr(org, n) is not None},
                   house.village_id)
    _bump_counter(house.village_id, orgs=1)
    return org


def update_organisation(actor: Actor, org: Organisation, data: dict, base_version: int | None,
                        keep_conflicts: bool = False):
    """keep_conflicts: see _apply_edit (returns (applied, conflicts) instead of raising Conflict)."""
    return _apply_edit(actor, "organisation", org, ORG_FIELDS, data, base_version, org.village_id,
                       keep_conflicts=keep_conflicts)


def close_organisation(actor: Actor, org: Organisation, on: date, base_version: int | None) -> None:
    if org.status == "closed":
        return
    if _others_changes(actor, "organisation", org, base_version):
        raise Conflict({"status": {"base": "open", "current": org.status, "submitted": "closed"}}, org.version)
    org.status, org.closed_date = "closed", on
    org.version += 1
    db.session.flush()
    _record_change(actor, "organisation", org, "cancel",
                   {"status": ["open", "closed"], "closed_date": [None, on.isoformat()]}, org.village_id)
    _bump_counter(org.village_id, orgs=-1)


# Counters ----------------------------------------------------------------------------------------

def recount() -> dict[int, tuple[int, int, int]]:
    """Recompute every village's counters from the records (repair tool and test oracle).
    Returns {village_id: (people, houses, orgs)} as counted."""
    from sqlalchemy import func
    villages = list(db.session.scalars(select(Village.id)))
    ensure_counters(villages)
    people = dict(db.session.execute(select(Person.village_id, func.count()).where(Person.status == "living")
                                     .group_by(Person.village_id)).all())
    houses = dict(db.session.execute(select(House.village_id, func.count()).where(
        House.collected_at.is_not(None), House.merged_into_id.is_(None))
                                     .group_by(House.village_id)).all())
    orgs = dict(db.session.execute(select(Organisation.village_id, func.count()).where(Organisation.status == "open")
                                   .group_by(Organisation.village_id)).all())
    counts = {v: (people.get(v, 0), houses.get(v, 0), orgs.get(v, 0)) for v in villages}
    for vid, (p, h, o) in counts.items():
        db.session.execute(update(VillageCounter).where(VillageCounter.village_id == vid)
                           .values(people=p, houses=h, orgs=o))
    rebuild_daily()  # the dashboard's daily figures, from the same records
    return counts


# Bulk: many new records at once (a phone's pushed batch) ------------------------------------------

def registered_at_door(actor: Actor, house: House) -> None:
    """Public name of _registered_at_door for callers that insert a house's residents in bulk."""
    _registered_at_door(actor, house)


@dataclass
class NewRecord:
    """One record for insert_new: `data` holds its validated fields (as create_house, add_person and
    add_organisation take them); people and organisations name their house by `house_uid`."""
    entity: str  # house | person | organisation
    actor: Actor
    uid: str
    village_id: int
    data: dict
    house_uid: str | None = None
    relation: str | None = None
    room: str | None = None


def _uuid4_text() -> str:
    """The same random UUID version 4 text as models.new_uid(), without uuid.UUID's parsing (a tenth
    of the time; it showed in bulk inserts)."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _unused_door_codes(count: int) -> list[str]:
    """`count` distinct fresh door codes, unused and never retired (see _unused_door_code), with one
    query per draw instead of one per code."""
    codes: set[str] = set()
    while len(codes) < count:
        draw = {new_door_code() for _ in range(count - len(codes))} - codes
        taken = set()
        for chunk in _chunked(sorted(draw)):
            taken |= set(db.session.scalars(select(House.door_code).where(House.door_code.in_(chunk))))
            taken |= set(db.session.scalars(select(RetiredDoorCode.door_code).where(RetiredDoorCode.door_code.in_(chunk))))
            taken |= set(db.session.scalars(select(BlankLabel.door_code).where(BlankLabel.door_code.in_(chunk))))
        codes |= draw - taken
    return list(codes)


def _chunked(values, size: int = 500):
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _insert_returning_ids(model, rows: list[dict]) -> dict[str, int]:
    """INSERT the rows (SQLAlchemy batches them into multi-row INSERT ... RETURNING on SQLite >= 3.35
    and PostgreSQL) and return {uid: id}."""
    table = model.__table__
    result = db.session.execute(table.insert().returning(table.c.uid, table.c.id), rows)
    return dict(result.all())


def insert_new(new: list[NewRecord], house_ids: dict[str, int], houses_collected: bool = True) -> dict[str, int]:
    """Bulk twin of create_house(collected=houses_collected), add_person (a document not registered yet) and
    add_organisation, for records the caller has already checked (valid, uids and documents and
    credit codes unused, every existing house already registered at the door, see
    registered_at_door). It writes the same rows as those functions would one by one (records,
    residences, Change rows with the same fields, counters, dashboard notes) with one executemany
    per table, the counters bumped once per village and the Change rows in the order of `new`.
    `house_ids` maps the uid of every existing house named to its id. Returns {uid: id}."""
    if not new:
        return {}
    now = utcnow()
    today = date.today()
    ids = dict(house_ids)
    review_of = {}  # the same few (source, moment) pairs recur thousands of times in a push
    houses = [r for r in new if r.entity == "house"]
    people = [r for r in new if r.entity == "person"]
    orgs = [r for r in new if r.entity == "organisation"]
    counts: dict[int, dict[str, int]] = {}
    if houses:
        names = dict(db.session.execute(select(Village.id, Village.name).where(
            Village.id.in_({r.village_id for r in houses}))).all())
        codes = _unused_door_codes(len(houses))
        rows = []
        for record, code in zip(houses, codes):
            values = {n: record.data.get(n) for n in HOUSE_FIELDS}
            values["rental_registered"] = bool(record.data.get("rental_registered"))
            rows.append({"uid": record.uid, "village_id": record.village_id, "door_code": code,
                         "door_token": new_door_token(), **values,
                         "address_key": address_key(values, names[record.village_id]),
                         "collected_at": now if houses_collected else None,
                         "created_at": now, "updated_at": now, "version": 1})
            if houses_collected:
                counts.setdefault(record.village_id, {}).setdefault("houses", 0)
                counts[record.village_id]["houses"] += 1
        ids.update(_insert_returning_ids(House, rows))
        _claim_addresses([(r, ids[r.uid]) for r in houses])
    if people:
        ids.update(_insert_returning_ids(Person, [
            {"uid": r.uid, "status": "living", "house_id": ids[r.house_uid], "village_id": r.village_id,
             **{n: r.data.get(n) for n in PERSON_FIELDS}, "created_at": now, "updated_at": now, "version": 1}
            for r in people]))
        db.session.execute(Residence.__table__.insert(), [
            {"person_id": ids[r.uid], "house_id": ids[r.house_uid], "from_date": r.data.get("move_in_date"),
             "to_date": None, "relation": r.relation, "room": r.room} for r in people])
        for r in people:
            counts.setdefault(r.village_id, {}).setdefault("people", 0)
            counts[r.village_id]["people"] += 1
    if orgs:
        ids.update(_insert_returning_ids(Organisation, [
            {"uid": r.uid, "status": "open", "house_id": ids[r.house_uid], "village_id": r.village_id,
             **{n: r.data.get(n) for n in ORG_FIELDS}, "created_at": now, "updated_at": now, "version": 1}
            for r in orgs]))
        for r in orgs:
            counts.setdefault(r.village_id, {}).setdefault("orgs", 0)
            counts[r.village_id]["orgs"] += 1
    changes = []
    for r in new:
        if r.entity == "house":
            values = {n: r.data.get(n) for n in HOUSE_FIELDS}
            values["rental_registered"] = bool(r.data.get("rental_registered"))
            fields = {n: [None, json_value(v)] for n, v in values.items() if v is not None}
            police_only = False
        elif r.entity == "person":
            fields = {n: [None, json_value(r.data.get(n))] for n in PERSON_FIELDS if r.data.get(n) is not None}
            fields["house_id"] = [None, ids[r.house_uid]]
            police_only = r.data.get("category") in POLICE_ONLY_CATEGORIES
        else:
            fields = {n: [None, json_value(r.data.get(n))] for n in ORG_FIELDS if r.data.get(n) is not None}
            police_only = False
        collected_at, known_on = r.actor.collected_at or now, r.actor.known_on or today
        review_key = (r.actor.source, r.actor.reviewed_by, collected_at, known_on)
        if review_key not in review_of:
            review_of[review_key] = {"reviewed_at": None, "reviewed_by_id": None, "reviewed_late": None,
                                     **review_columns(r.actor, collected_at, known_on)}
        changes.append({"uid": _uuid4_text(), "entity": r.entity, "entity_id": ids[r.uid], "version": 1,
                        "village_id": r.village_id, "kind": "new", "fields": fields, "police_only": police_only,
                        "source": r.actor.source, "known_on": known_on,
                        "collected_at": collected_at, "collected_by_id": r.actor.account_id,
                        "visit_uid": r.actor.visit_uid, "door_proof": r.actor.door_proof,
                        "return_reasons": None, "corrects_id": None, **review_of[review_key]})
    db.session.execute(Change.__table__.insert(), changes)
    for village_id, deltas in counts.items():
        _bump_counter(village_id, **deltas)
        note_village_changed(village_id)
    _count_collector_work(changes)
    return {r.uid: ids[r.uid] for r in new}


def _claim_addresses(houses: list[tuple[NewRecord, int]]) -> None:
    """insert_new's address identities: one query for the addresses already held, one UPDATE for
    the rest; a house whose address another holds stays without one (flagged when a phone made
    it: source sync). Only when that UPDATE meets a concurrent writer's same address (the unique
    index) are the houses claimed one by one (claim_address)."""
    identity = {house_id: address_identity(r.village_id, r.data) for r, house_id in houses}
    held = dict(db.session.execute(select(House.address_identity, House.id).where(
        House.address_identity.in_({v for v in identity.values() if v}))).all()) if any(identity.values()) else {}
    claims = []
    for record, house_id in houses:
        value = identity[house_id]
        if value is None:
            continue
        if value in held:
            other_id = held[value]
            if record.actor.source == "sync":
                flag_duplicate_house(db.session.get(House, house_id), db.session.get(House, other_id),
                                     record.actor.account_id)
            continue
        held[value] = house_id  # the first of a batch holds it; a later one is its duplicate
        claims.append({"i": house_id, "a": value})
    if not claims:
        return
    table = House.__table__
    try:
        with db.session.begin_nested():
            db.session.execute(update(table).where(table.c.id == bindparam("i"))
                               .values(address_identity=bindparam("a")), claims)
    except IntegrityError:
        for record, house_id in houses:
            if any(c["i"] == house_id for c in claims):
                house = db.session.get(House, house_id)
                other = claim_address(house)
                if other is not None and record.actor.source == "sync":
                    flag_duplicate_house(house, other, record.actor.account_id)


def _count_collector_work(changes: list[dict]) -> None:
    """The per-collector daily figures for Change rows inserted with executemany (the ORM flush hook
    in changefeed.py counts only rows it flushes)."""
    add_collector_work(db.session.connection(), [
        (c["collected_by_id"], c["village_id"], c["collected_at"],
         change_work(c["door_proof"], c["review_state"], c["collected_late"]))
        for c in changes if c["collected_by_id"] is not None])
