"""Merging two records of one person, and two houses at one address (issue 12; the rules are in
rules/merging.py and rules/address.py). A reviewer's decision, written in the caller's transaction:

- Nothing is deleted. The other record stays, marked merged into the kept one (a person: status
  'merged' and merged_into_id; a house: merged_into_id and no address identity), with its Change
  rows where they are; history_ids() names every record whose history is the kept record's.
- What pointed at the other record points at the kept one afterwards: a person's residences (history
  kept, in order), move requests, open conflicts and photos; a house's residents and residences,
  organisations, visits, tips, move requests, photos and flags, and its door code, retired pointing
  at the kept house (reason 'merged') so its printed label still opens the kept house.
- A Change row on each record records the merge (kind 'update': merged_into / merged_from), approved
  by the reviewer; the village counters follow (the other record stops counting).
- Two reviewers merging the same pair at once: both rows are locked in id order (PostgreSQL; SQLite
  writes one at a time), and the second finds the pair merged already (MergeError 'already_merged')
  or changed since its page was shown ('changed').
"""
from __future__ import annotations

import hashlib
from datetime import date

from sqlalchemy import or_, select, update

from . import records, scope
from .audit import audit
from .extensions import db
from .models import (Account, Change, Flag, House, MoveRequest, Organisation, Person, Photo, Residence,
                     RetiredDoorCode, Tip, Visit, utcnow)
from .models import Conflict as ConflictRow
from .rules.merging import chosen_values, differing_fields, merged_living

def hash_token(token: str) -> str:
    """As doors.codes.hash_token (that package is above this one): only a hash of a retired token."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


MERGE_FIELDS = {"person": records.PERSON_FIELDS, "house": records.HOUSE_FIELDS}


class MergeError(Exception):
    """The merge cannot be done: `code` is same_record | already_merged | changed | other_village."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def history_ids(record) -> list[int]:
    """The ids of `record` and of every record merged into it (directly or through another merged
    one), whose Change rows together are the kept record's history."""
    model = type(record)
    ids, frontier = [record.id], [record.id]
    while frontier:
        frontier = list(db.session.scalars(select(model.id).where(model.merged_into_id.in_(frontier))))
        ids += frontier
    return ids


def history(entity: str, record, limit: int = 200) -> list[Change]:
    """The combined history of a kept record, newest first."""
    return list(db.session.scalars(select(Change).where(Change.entity == entity,
                                                        Change.entity_id.in_(history_ids(record)))
                                   .order_by(Change.id.desc()).limit(limit)))


def resolve(record):
    """The record a merged one lives on in (itself when not merged)."""
    seen = 0
    while record is not None and record.merged_into_id is not None and seen < 20:
        record = db.session.get(type(record), record.merged_into_id)
        seen += 1
    return record


def people_pair(account: Account, keep_id: int, other_id: int) -> tuple[Person, Person]:
    """Both people, in the reviewer's scope (404 otherwise: people from abroad for police only)."""
    if keep_id == other_id:
        raise MergeError("same_record")
    return scope.person_or_404(account, keep_id), scope.person_or_404(account, other_id)


def houses_pair(account: Account, keep_id: int, other_id: int) -> tuple[House, House]:
    if keep_id == other_id:
        raise MergeError("same_record")
    return scope.house_or_404(account, keep_id), scope.house_or_404(account, other_id)


def field_choices(entity: str, keep, other) -> list[str]:
    """The fields in which the two records differ (the reviewer chooses per field)."""
    names = MERGE_FIELDS[entity]
    return differing_fields(records.record_values(keep, names), records.record_values(other, names), names)


def _lock(model, keep, other, versions: tuple[int, int] | None):
    """Lock both rows in id order (a fixed order: two reviewers cannot deadlock) and check that the
    pair is still as the reviewer saw it."""
    rows = {r.id: r for r in db.session.scalars(
        select(model).where(model.id.in_((keep.id, other.id))).order_by(model.id)
        .with_for_update().execution_options(populate_existing=True))}
    keep, other = rows[keep.id], rows[other.id]
    if keep.merged_into_id is not None or other.merged_into_id is not None:
        raise MergeError("already_merged")
    if versions is not None and (keep.version, other.version) != tuple(versions):
        raise MergeError("changed")
    return keep, other


def _take_chosen(account: Account, keep, other, names, choices: dict, update) -> records.Actor:
    """Write onto `keep` the fields the reviewer chose from `other` (rules: chosen_values), as the
    reviewer's own approved change; returns that actor for the merge's further changes."""
    actor = records.Actor(account.id, "review", reviewed_by=account.id)
    take = chosen_values(records.record_values(keep, names), records.record_values(other, names), names, choices)
    if take:
        update(actor, keep, {n: getattr(other, n) for n in take}, base_version=None)
    return actor


def merge_people(account: Account, keep: Person, other: Person, choices: dict,
                 versions: tuple[int, int] | None = None) -> Person:
    """Merge `other` into `keep` (see the module docstring). `choices`: {field: 'keep'|'other'}."""
    if keep.id == other.id:
        raise MergeError("same_record")
    keep, other = _lock(Person, keep, other, versions)
    actor = _take_chosen(account, keep, other, records.PERSON_FIELDS, choices, records.update_person)
    # Residences: the other's history joins the kept person's. The kept person's current home stays
    # current; the other's open residence ends today unless only the other lived somewhere.
    keep_living, other_living = keep.status == "living", other.status == "living"
    living = merged_living(keep.status, other.status)
    today = date.today()
    if keep_living and other_living:
        db.session.execute(update(Residence).where(Residence.person_id == other.id, Residence.to_date.is_(None))
                           .values(to_date=today).execution_options(synchronize_session=False))
    elif other_living:
        db.session.execute(update(Residence).where(Residence.person_id == keep.id, Residence.to_date.is_(None))
                           .values(to_date=today).execution_options(synchronize_session=False))
    db.session.execute(update(Residence).where(Residence.person_id == other.id).values(person_id=keep.id)
                       .execution_options(synchronize_session=False))
    keep_fields = {"merged_from": [None, other.id]}
    if other_living and not keep_living:
        keep_fields["house_id"] = [keep.house_id, other.house_id]
        keep_fields["status"] = [keep.status, "living"]
        keep.house_id, keep.village_id = other.house_id, other.village_id
        keep.status, keep.left_date, keep.left_reason = "living", None, None
    # What pointed at the other person follows.
    db.session.execute(update(MoveRequest).where(MoveRequest.person_id == other.id).values(person_id=keep.id)
                       .execution_options(synchronize_session=False))
    db.session.execute(update(ConflictRow).where(ConflictRow.entity == "person", ConflictRow.entity_id == other.id,
                                                 ConflictRow.resolved_at.is_(None))
                       .values(entity_id=keep.id).execution_options(synchronize_session=False))
    db.session.execute(update(Photo).where(Photo.of_entity == "person", Photo.of_uid == other.uid)
                       .values(of_uid=keep.uid).execution_options(synchronize_session=False))
    other_status = other.status
    other.status, other.merged_into_id = "merged", keep.id
    other.version += 1
    keep.version += 1
    db.session.flush()
    police_only = keep.category in records.POLICE_ONLY_CATEGORIES or other.category in records.POLICE_ONLY_CATEGORIES
    records.record_change(actor, "person", other, {"status": [other_status, "merged"],
                                                   "merged_into": [None, keep.id]}, other.village_id, police_only)
    records.record_change(actor, "person", keep, keep_fields, keep.village_id, police_only)
    # Counters: the other stops counting; the kept one counts where it lives now.
    if other_living:
        records.bump_counter(other.village_id, people=-1)
    if living and not keep_living:
        records.bump_counter(keep.village_id, people=1)
    audit(account.id, "person_merged", f"person:{keep.id}", f"person:{other.id} merged")
    db.session.flush()
    return keep


def merge_houses(account: Account, keep: House, other: House, choices: dict,
                 versions: tuple[int, int] | None = None) -> House:
    """Merge house `other` into `keep` (see the module docstring)."""
    if keep.id == other.id:
        raise MergeError("same_record")
    if keep.village_id != other.village_id:
        raise MergeError("other_village")  # one address is in one village: these are two houses
    keep, other = _lock(House, keep, other, versions)
    actor = _take_chosen(account, keep, other, records.HOUSE_FIELDS, choices, records.update_house)
    # Residents and organisations move with a Change row each, so phones and histories see it.
    for person in db.session.scalars(select(Person).where(Person.house_id == other.id)):
        person.house_id = keep.id
        person.version += 1
        db.session.flush()
        records.record_change(actor, "person", person, {"house_id": [other.id, keep.id]}, person.village_id,
                              person.category in records.POLICE_ONLY_CATEGORIES)
    for org in db.session.scalars(select(Organisation).where(Organisation.house_id == other.id)):
        org.house_id = keep.id
        org.version += 1
        db.session.flush()
        records.record_change(actor, "organisation", org, {"house_id": [other.id, keep.id]}, org.village_id)
    moved = {}
    for model, column in ((Residence, Residence.house_id), (Visit, Visit.house_id), (Tip, Tip.house_id),
                          (MoveRequest, MoveRequest.to_house_id), (Flag, Flag.house_id),
                          (RetiredDoorCode, RetiredDoorCode.house_id)):
        result = db.session.execute(update(model).where(column == other.id).values({column.key: keep.id})
                                    .execution_options(synchronize_session=False))
        moved[model.__tablename__] = result.rowcount
    db.session.execute(update(Photo).where(Photo.of_entity == "house", Photo.of_uid == other.uid)
                       .values(of_uid=keep.uid).execution_options(synchronize_session=False))
    counted = other.collected_at is not None
    if counted and keep.collected_at is None:
        keep.collected_at = other.collected_at  # the kept house now counts in its place
        counted = False
    # The other's door code is retired pointing at the kept house: its printed label opens the kept
    # house (doors.codes.lookup); the other gets a fresh code it will never be labelled with.
    old_code, old_token = records.replace_door_code(actor, other)
    db.session.add(RetiredDoorCode(house_id=keep.id, door_code=old_code, token_hash=hash_token(old_token),
                                   reason="merged", retired_by_id=account.id))
    retired_code = old_code
    other.merged_into_id = keep.id
    other.address_identity = None
    other.version += 1
    keep.version += 1
    db.session.flush()
    records.record_change(actor, "house", other, {"merged_into": [None, keep.id],
                                                  "door_code": [retired_code, None]}, other.village_id)
    records.record_change(actor, "house", keep, {"merged_from": [None, other.id]}, keep.village_id)
    if counted:
        records.bump_counter(other.village_id, houses=-1)
    now = utcnow()
    note = f"merged: house {other.id} into house {keep.id}"
    db.session.execute(update(Flag).where(Flag.kind == "duplicate_house", Flag.cleared_at.is_(None),
                                          or_(Flag.entity_id == other.id, Flag.entity_id == keep.id),
                                          Flag.entity == "house")
                       .values(cleared_at=now, cleared_by_id=account.id, clear_note=note)
                       .execution_options(synchronize_session=False))
    # The kept house takes the address identity when it had none (it was the flagged duplicate).
    records.claim_address(keep)
    audit(account.id, "house_merged", f"house:{keep.id}", f"house:{other.id} merged; moved {moved}")
    db.session.flush()
    return keep


def demo_duplicate(village_ids: list[int], account_id: int | None = None) -> House | None:
    """The demo's duplicate house pair (fieldapp/demo.py): give the demo's houses their address
    identities (the demo inserts rows directly), then register a house of the first village again
    as a phone would offline, so the copy is flagged duplicate_house for a reviewer to merge."""
    records.fill_address_identities(village_ids)
    original = db.session.scalar(select(House).where(House.village_id == village_ids[0],
                                                     House.address_identity.is_not(None)).order_by(House.id))
    if original is None:
        return None
    data = {n: getattr(original, n) for n in ("group_name", "road", "lane", "number", "building", "room")}
    data["number"] = f"{data['number']}号" if not str(data["number"]).endswith("号") else data["number"]
    return records.create_house(records.Actor(account_id, "sync"), original.village_id, data, collected=True,
                                duplicates="flag")
