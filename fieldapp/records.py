"""Every write to the registry goes through these functions, whether it comes from a web form,
the phone's sync, an import or the demo. Each one, in the caller's transaction:
- changes the record and bumps its version,
- writes a Change row naming the fields changed ([old, new]), who and when,
- keeps the village progress counters in step.
Callers commit. Nothing here knows about HTTP.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select, update

from .extensions import db
from .models import Change, House, Organisation, Person, Residence, Village, VillageCounter, utcnow
from .rules.address import address_key
from .rules.doorcode import new_door_code, new_door_token
from .rules.merge import merge
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


def _jsonable(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def _values(record, names) -> dict:
    return {n: _jsonable(getattr(record, n)) for n in names}


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


def _record_change(actor: Actor, entity: str, record, kind: str, fields: dict, village_id: int,
                   police_only: bool = False) -> Change:
    change = Change(entity=entity, entity_id=record.id, version=record.version, village_id=village_id,
                    kind=kind, fields=fields, police_only=police_only, source=actor.source,
                    known_on=actor.known_on or date.today(), collected_by_id=actor.account_id)
    db.session.add(change)
    return change


def _apply_edit(actor: Actor, entity: str, record, names, submitted: dict, base_version: int | None,
                village_id: int, police_only: bool = False, kind: str = "update",
                keep_conflicts: bool = False) -> dict:
    """Merge `submitted` into `record` against `base_version` (rules.merge) and record the change.
    Returns the {field: [old, new]} applied. On a conflict it raises Conflict and writes nothing;
    with keep_conflicts=True it applies the fields nobody else changed and returns
    (applied, conflicts) instead, the conflicting fields left as they are for a reviewer."""
    submitted = {n: submitted[n] for n in names if n in submitted}
    current = _values(record, names)
    since = []
    if base_version is not None and base_version != record.version:
        since = list(db.session.scalars(
            select(Change.fields).where(Change.entity == entity, Change.entity_id == record.id,
                                        Change.version > base_version).order_by(Change.version)))
    result = merge(current, {n: _jsonable(v) for n, v in submitted.items()}, since)
    if result.conflicts and not keep_conflicts:
        raise Conflict(result.conflicts, record.version)
    fields = {}
    for name in result.apply:
        fields[name] = [current[name], _jsonable(submitted[name])]
        setattr(record, name, submitted[name])
    if fields:
        record.version += 1
        db.session.flush()
        _record_change(actor, entity, record, kind, fields, village_id, police_only)
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
    again until unused. The unique constraint still settles two workers drawing the same one at once."""
    while True:
        code = new_door_code()
        if db.session.scalar(select(House.id).where(House.door_code == code)) is None:
            return code


def create_house(actor: Actor, village_id: int, data: dict, collected: bool = True, uid: str | None = None) -> House:
    """A house found at the door that the register lacks (collected=True), or one imported into the
    register before anyone visits (collected=False). Either way it gets a fresh door code.
    `uid`: the name a phone gave the house offline (a fresh one when None)."""
    house = House(village_id=village_id, door_code=_unused_door_code(), door_token=new_door_token(),
                  **({"uid": uid} if uid else {}), **{n: data.get(n) for n in HOUSE_FIELDS if n in data})
    house.rental_registered = bool(data.get("rental_registered"))
    _refresh_address_key(house)
    if collected:
        house.collected_at = utcnow()
    db.session.add(house)
    db.session.flush()
    _record_change(actor, "house", house, "new", {n: [None, _jsonable(getattr(house, n))]
                                                   for n in HOUSE_FIELDS if getattr(house, n) is not None},
                   village_id)
    if collected:
        _bump_counter(village_id, houses=1)
    return house


def update_house(actor: Actor, house: House, data: dict, base_version: int | None, keep_conflicts: bool = False):
    """Register or update a house at the door. The first such save marks the house collected.
    keep_conflicts: see _apply_edit (returns (applied, conflicts) instead of raising Conflict)."""
    edit = _apply_edit(actor, "house", house, HOUSE_FIELDS, data, base_version, house.village_id,
                       keep_conflicts=keep_conflicts)
    fields = edit[0] if keep_conflicts else edit
    if fields:
        _refresh_address_key(house)
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
        _record_change(actor, "house", house, "update", {"collected_at": [None, "registered"]}, house.village_id)


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
               room: str | None = None, uid: str | None = None) -> tuple[Person, str]:
    """Register a person at `house`. Returns (person, outcome): 'new', 'moved' or 'updated'.

    Registration is by current residence and deduplicated by ID number: if the document is already
    registered, the existing person is updated with what was collected ('updated' when they already
    live here) and otherwise moved here, their old residence closed and its history kept ('moved').
    `uid` names a new person (a phone's offline name for them); an existing person keeps theirs."""
    existing = find_person(data["id_type"], data["id_number"])
    if existing is not None:
        # What was collected now updates the record; what the collector left empty keeps its value.
        update_person(actor, existing, {k: v for k, v in data.items() if v not in (None, "")}, base_version=None)
        if existing.house_id == house.id and existing.status == "living":
            return existing, "updated"
        move_person(actor, existing, house, data.get("move_in_date"), relation, room)
        return existing, "moved"
    _registered_at_door(actor, house)
    person = Person(status="living", house_id=house.id, village_id=house.village_id,
                    **({"uid": uid} if uid else {}), **{n: data.get(n) for n in PERSON_FIELDS})
    db.session.add(person)
    db.session.flush()
    db.session.add(Residence(person_id=person.id, house_id=house.id, from_date=person.move_in_date,
                             relation=relation, room=room))
    fields = {n: [None, _jsonable(getattr(person, n))] for n in PERSON_FIELDS if getattr(person, n) is not None}
    fields["house_id"] = [None, house.id]
    _record_change(actor, "person", person, "new", fields, house.village_id, _police_only(person))
    _bump_counter(house.village_id, people=1)
    return person, "new"


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
    if base_version is not None and base_version != person.version:
        # Leaving is one decision about the whole record: any concurrent change makes it stale.
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
                   {n: [None, _jsonable(getattr(org, n))] for n in ORG_FIELDS if getattr(org, n) is not None},
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
    if base_version is not None and base_version != org.version:
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
    houses = dict(db.session.execute(select(House.village_id, func.count()).where(House.collected_at.is_not(None))
                                     .group_by(House.village_id)).all())
    orgs = dict(db.session.execute(select(Organisation.village_id, func.count()).where(Organisation.status == "open")
                                   .group_by(Organisation.village_id)).all())
    counts = {v: (people.get(v, 0), houses.get(v, 0), orgs.get(v, 0)) for v in villages}
    for vid, (p, h, o) in counts.items():
        db.session.execute(update(VillageCounter).where(VillageCounter.village_id == vid)
                           .values(people=p, houses=h, orgs=o))
    return counts
