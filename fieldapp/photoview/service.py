"""Who may see which photo, and the photos a page shows (no HTTP here).

Rules:
- A photo is seen by whoever may read the record it belongs to, and by nobody else; anything else
  answers 404, the same as a photo that does not exist (a photo uid typed in from elsewhere reveals
  nothing). The roles need photos.view (rules/permissions.py: admins and informants never read
  residents' photos; the admin's badge portraits of staff are the badges' own pages).
    person:<uid>  the person in the viewer's scope (their villages; from abroad: police only). The
                  uid may be the one a phone gave a person who turned out to be registered already
                  (records.find_record follows it), or that of a move request (迁入待核实) that is
                  still waiting or was refused: then whoever reviews that request sees it.
    house:<uid>   the house in the viewer's villages.
    tip:<uid>     the tip in the viewer's villages, for roles that work or oversee tips.
    account:<id>  never here (badge portraits).
- A photo is named in the audit log by the record it shows, as every read of personal data is:
  person:12, house:5, tip:3. A move request's photo shows the person the request names: person:<id>.
- The person's portrait is their newest photo; earlier ones stay listed.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select

from .. import moves, records, scope
from ..extensions import db
from ..models import Account, House, MoveRequest, Person, Photo, SyncReceipt, Tip
from ..photos import is_photo_uid
from ..rules.permissions import can

ALIASED_STATUSES = ("accepted", "conflict")  # as records.find_record


@dataclass(frozen=True)
class Seen:
    """What a viewer may see of one photo: its audit target and what kind of photo it is."""
    target: str
    kind: str  # portrait | house | tip | move_request


def photo_by_uid(uid: str) -> Photo | None:
    if not is_photo_uid(uid):
        return None
    return db.session.scalar(select(Photo).where(Photo.uid == uid))


def seen_by(account: Account, photo: Photo) -> Seen | None:
    """The audit target of `photo` if `account` may see it, else None (see the module's rules)."""
    if not can(account.role, "photos.view"):
        return None
    if photo.of_entity == "person":
        person = records.find_record("person", photo.of_uid)
        if person is not None:
            visible = db.session.scalar(scope.people(account).where(Person.id == person.id).with_only_columns(Person.id))
            return Seen(f"person:{person.id}", "portrait") if visible is not None else None
        request = db.session.scalar(select(MoveRequest).where(MoveRequest.uid == photo.of_uid))
        if request is not None and moves.request_or_none(account, request.id) is not None:
            return Seen(f"person:{request.person_id}", "move_request")
        return None
    if photo.of_entity == "house":
        house = records.find_record("house", photo.of_uid)
        if house is not None and db.session.scalar(
                scope.houses(account).where(House.id == house.id).with_only_columns(House.id)) is not None:
            return Seen(f"house:{house.id}", "house")
        return None
    if photo.of_entity == "tip":
        if not (can(account.role, "tips.work") or can(account.role, "tips.oversee")):
            return None
        tip = db.session.scalar(select(Tip).where(Tip.uid == photo.of_uid, scope.village_filter(account, Tip.village_id)))
        return Seen(f"tip:{tip.id}", "tip") if tip is not None else None
    return None


def _uids_of(entity: str, record_uids: list[str]) -> dict[str, str]:
    """Every uid photos of these records may carry -> the record's uid: its own, and those phones
    gave it before it turned out to be registered already (their sync receipts name the record)."""
    names = {uid: uid for uid in record_uids}
    if record_uids:
        for entity_uid, record_uid in db.session.execute(select(SyncReceipt.entity_uid, SyncReceipt.record_uid).where(
                SyncReceipt.record_uid.in_(record_uids), SyncReceipt.op == f"{entity}.new",
                SyncReceipt.status.in_(ALIASED_STATUSES))):
            names.setdefault(entity_uid, record_uid)
    return names


def photos_of(entity: str, record_list) -> dict[int, list[Photo]]:
    """Photos of each record (people or houses the caller has scoped already), newest first, by
    record id. Two queries whatever the number of records."""
    by_uid = {record.uid: record.id for record in record_list}
    if not by_uid:
        return {}
    names = _uids_of(entity, list(by_uid))
    found: dict[int, list[Photo]] = defaultdict(list)
    for photo in db.session.scalars(select(Photo).where(Photo.of_entity == entity, Photo.of_uid.in_(list(names)))
                                    .order_by(Photo.created_at.desc(), Photo.id.desc())):
        found[by_uid[names[photo.of_uid]]].append(photo)
    return dict(found)


def portraits(people) -> dict[int, Photo]:
    """Each person's portrait (their newest photo), by person id."""
    return {person_id: photos[0] for person_id, photos in photos_of("person", list(people)).items() if photos}


def request_photos(requests) -> dict[int, list[Photo]]:
    """Photos taken of the person a move request names, at the receiving door (the request's uid is
    the phone's person uid), newest first, by request id."""
    by_uid = {request.uid: request.id for request in requests}
    if not by_uid:
        return {}
    found: dict[int, list[Photo]] = defaultdict(list)
    for photo in db.session.scalars(select(Photo).where(Photo.of_entity == "person", Photo.of_uid.in_(list(by_uid)))
                                    .order_by(Photo.created_at.desc(), Photo.id.desc())):
        found[by_uid[photo.of_uid]].append(photo)
    return dict(found)


def tip_photo(tip: Tip) -> Photo | None:
    return photo_by_uid(tip.photo_uid) if tip.photo_uid else None
