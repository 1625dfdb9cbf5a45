"""What each pushed item does (docs/sync-protocol.md): apply() checks an item and writes it through
fieldapp.records, or raises Rejected (nothing applied) or Hold (it names a record not received yet).

- Who may push. Only roles with registry.write; people from abroad only by police (the form offers
  other roles neither the category nor foreign documents); a record or house outside the account's
  villages is rejected (`out_of_scope`), the same answer whether or not it exists elsewhere.
- Conflicts. Updates merge field by field against base_version (rules.merge): fields nobody else
  changed are applied; fields someone else changed to another value are left as they are and kept
  as Conflict rows for the reviewer (status `conflict`). Nothing is silently overwritten. A field
  changed since base_version only by this same device's own earlier items is not someone else's
  change (records.update_*: `device_id`): the collector is building on their own work.
- Visits. visit.new records a collector at a door; a record item's visit_uid gives its Change door
  proof when that visit is this account's scan of the record's house (rules.visits).
- Tips. tip.new and tip.verify are decided by fieldapp.tips (their refusals keep the tips' codes
  and messages).
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from .. import moves, records
from ..extensions import db
from ..changefeed import note_village_changed
from ..doors import labels as blank_labels
from ..models import Account, Organisation, Visit, utcnow
from ..models.field import VISIT_METHODS
from ..registry import checks
from ..registry.forms import CloseForm, LeaveForm
from ..rules.permissions import POLICE_ONLY_CATEGORIES
from ..rules.visits import HousePosition, phone_time, place_visit, valid_position
from ..tips import phone as tip_phone, service as tips
from .context import NEW_OPS, PushContext, collected_at, find, in_scope, is_uuid
from .errors import REJECT_MESSAGES, Hold, Outcome, Rejected, bad_item
from .forms import (current, form_for, house_data, invalid, known_on, organisation_form, person_form)


def apply(ctx: PushContext, item: dict) -> Outcome:
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
    entity_uid, data, actor = record_item_basics(ctx, item, known_on)
    visit_uid = actor.visit_uid

    if op in NEW_OPS:
        if ctx.exists(entity, entity_uid):
            raise Rejected("exists")
        if op == "house.new":
            return _house_new(ctx, actor, item, new_house_village(ctx, item), data)
        house_uid = item.get("house_uid")
        if not is_uuid(house_uid):
            raise bad_item("house_uid")
        house = house_in_scope(ctx, house_uid)
        actor.door_proof = ctx.door_proof(visit_uid, house.id)
        if entity == "person":
            return _person_new(ctx, actor, item, house, data)
        return _organisation_new(ctx, actor, item, house, data)

    record = ctx.house(entity_uid) if entity == "house" else find(entity, entity_uid)
    if record is None:
        raise Hold(entity_uid)
    if not in_scope(ctx, entity, record):
        raise Rejected("out_of_scope")
    base = item.get("base_version")
    if not isinstance(base, int) or isinstance(base, bool) or not 1 <= base <= record.version:
        raise Rejected("bad_version", {"base_version": [REJECT_MESSAGES["bad_version"]]})
    actor.door_proof = ctx.door_proof(visit_uid, record.id if entity == "house" else record.house_id)
    handler = {"house.update": _house_update, "person.update": _person_update, "person.leave": _person_leave,
               "organisation.update": _organisation_update, "organisation.close": _organisation_close}[op]
    return handler(ctx, actor, record, base, data)


def house_in_scope(ctx: PushContext, house_uid: str):
    """The house an item names: held until it arrives, refused when outside the account's villages."""
    house = ctx.house(house_uid)
    if house is None:
        raise Hold(house_uid)
    if not in_scope(ctx, "house", house):
        raise Rejected("out_of_scope")
    return house


def new_house_village(ctx: PushContext, item: dict) -> int:
    """The village a house.new goes to: one of the account's (out_of_scope otherwise)."""
    village_id = item.get("village_id")
    if not isinstance(village_id, int) or isinstance(village_id, bool) or village_id not in ctx.village_ids:
        raise Rejected("out_of_scope")
    return village_id


def record_item_basics(ctx: PushContext, item: dict, known_on) -> tuple[str, dict, records.Actor]:
    """What every house / person / organisation item is checked for first, in this order (the
    bulk path too, fieldapp/push/bulk.py): entity_uid a UUID, data an object, police-only
    categories from police only, visit_uid a UUID when given, then `known_on(item)` (the bulk path
    passes its cached reading). Returns (entity_uid, data, the Actor the record is written as)."""
    entity_uid = item.get("entity_uid")
    if not is_uuid(entity_uid):
        raise bad_item("entity_uid")
    data = item.get("data") if item.get("data") is not None else {}
    if not isinstance(data, dict):
        raise bad_item("data")
    category = data.get("category")
    if item["op"].startswith("person.") and isinstance(category, str) and category in POLICE_ONLY_CATEGORIES \
            and not ctx.police:
        raise Rejected("police_only", {"category": [REJECT_MESSAGES["police_only"]]})
    visit_uid = item.get("visit_uid")
    if visit_uid is not None and not is_uuid(visit_uid):
        raise bad_item("visit_uid")
    actor = records.Actor(ctx.account.id, "sync", known_on(item), collected_at=collected_at(ctx, item),
                          visit_uid=visit_uid)
    return entity_uid, data, actor


# Tips

def _tip_new(ctx: PushContext, item: dict) -> Outcome:
    """A tip sent from the phone (an informant's, or a collector's): tips.service.submit_from_phone
    decides (the door by scanned QR token, typed code, house uid or address; the account's villages
    only). Its refusals map to forbidden / exists / out_of_scope, or invalid naming the field."""
    entity_uid = item.get("entity_uid")
    if not is_uuid(entity_uid):
        raise bad_item("entity_uid")
    data = item.get("data")
    if not isinstance(data, dict):
        raise bad_item("data")
    try:
        tip = tips.submit_from_phone(ctx.account, entity_uid, data, submitted_at=collected_at(ctx, item))
    except tips.TipError as error:
        if error.code in ("forbidden", "exists", "out_of_scope"):
            raise Rejected(error.code) from None
        message = tips.MESSAGES.get(error.code, REJECT_MESSAGES["invalid"])
        raise Rejected("invalid", {error.field or "data": [message]}) from None
    return Outcome("accepted", tip)


# A tip's rule refusals the collector can act on: the code stays the rule's, the reason is the tip
# pages' message, the field is where the phone shows it.
TIP_VERIFY_FIELDS = {"no_visit": "visit_uid", "note_required": "note", "too_long": "note", "bad_verdict": "verdict"}
TIP_VERIFY_CODES = ("not_assignee", "wrong_state", "no_visit", "note_required", "too_long", "bad_verdict")


def _tip_verify(ctx: PushContext, item: dict) -> Outcome:
    """What a collector found at a tip's door (tips.tip_phone.verify_from_phone): entity_uid is the tip's
    uid, house_uid the house visited (used when the tip named no known house), collected_at when
    the verdict was given. Refused with the rule's code: forbidden / out_of_scope as for records;
    not_assignee, wrong_state, no_visit, note_required, bad_verdict with the tip pages' message."""
    entity_uid = item.get("entity_uid")
    data = item.get("data")
    if not is_uuid(entity_uid) or not isinstance(data, dict):
        raise Rejected("bad_item", {"entity_uid" if not is_uuid(entity_uid) else "data": [REJECT_MESSAGES["bad_item"]]})
    house = None
    if item.get("house_uid") is not None:
        if not is_uuid(item["house_uid"]):
            raise bad_item("house_uid")
        house = ctx.house(item["house_uid"])
        if house is None or not in_scope(ctx, "house", house):
            raise Rejected("out_of_scope")
    try:
        tip = tip_phone.verify_from_phone(ctx.account, entity_uid, data, house, collected_at(ctx, item))
    except tips.TipError as error:
        if error.code in ("forbidden", "out_of_scope"):
            raise Rejected(error.code) from None
        message = tips.MESSAGES.get(error.code, REJECT_MESSAGES["invalid"])
        field = error.field or TIP_VERIFY_FIELDS.get(error.code)
        raise Rejected(error.code, {field: [message]} if field else {}, reason=message) from None
    return Outcome("accepted", tip)


# Visits

VISIT_MESSAGES = {
    "method": _l("Say how the house was opened: scan, code or list."),
}


def _visit_new(ctx: PushContext, item: dict) -> Outcome:
    """A collector at a door (issue #4): the item's uid is the visit's uid. The house must be in the
    account's villages (held while the server has not received it). `at` is the phone's clock
    (phone_time; the server's time when unusable). A position that is not a valid one is dropped,
    not refused: the visit still proves presence when it was a scan, and the phone cannot correct
    a GPS reading afterwards. The house's position follows rules.visits.place_visit."""
    house_uid = item.get("house_uid")
    if not is_uuid(house_uid):
        raise bad_item("house_uid")
    method = item.get("method")
    if method not in VISIT_METHODS:
        raise Rejected("invalid", {"method": [VISIT_MESSAGES["method"]]})
    if ctx.visit(item["uid"]) is not None:
        raise Rejected("exists")
    house = house_in_scope(ctx, house_uid)
    label_token = item.get("label_token")
    if method == "scan" and label_token is not None and house.door_token != label_token:
        # The visit to a new house whose blank label did not bind (doors.labels): the collector
        # scanned a label that is not this door's, so it is not a scan of the door.
        method = "list"
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
    return Outcome("accepted", _VisitRecord(visit.uid))


@dataclass
class _VisitRecord:
    """What a visit's result names: its uid (a visit has no versions: always 1)."""
    uid: str
    version: int = 1
    id: int | None = None


def _house_new(ctx, actor, item, village_id, data) -> Outcome:
    """A house found at the door. With `label_token` (a blank door label scanned while creating it,
    doors.labels) the house takes that label's code when the label binds, and its creation is door
    proof; the result's `label` says whether it bound and why not."""
    token = item.get("label_token")
    if token is not None and not isinstance(token, str):
        raise bad_item("label_token")
    clean = house_data(data)  # refused before the label is claimed: a refused item changes nothing
    # An address another house has is kept (what the phone registered there must not be lost) and
    # flagged duplicate_house for a reviewer to merge (fieldapp/merging.py).
    if token is None:
        return Outcome("accepted", records.create_house(actor, village_id, clean, collected=True,
                                                        uid=item["entity_uid"], duplicates="flag"))
    status, label = blank_labels.claim(ctx.account.id, village_id, token)
    # The collector scanned this village's unbound label at the door: the house's creation is door proof.
    actor.door_proof = label is not None
    house = records.create_house(actor, village_id, clean, collected=True, uid=item["entity_uid"],
                                 door=(label.door_code, label.door_token) if label is not None else None,
                                 duplicates="flag")
    if label is not None:
        blank_labels.attach(label, house)
    return Outcome("accepted", house, extra={"label": blank_labels.bind_result(status)})


def _house_update(ctx, actor, house, base, data) -> Outcome:
    clean = house_data(data, current(house, records.HOUSE_FIELDS))
    _applied, conflicts = records.update_house(actor, house, clean, base, keep_conflicts=True, duplicates="flag")
    return Outcome("conflict" if conflicts else "accepted", house, conflicts)


def _person_new(ctx, actor, item, house, data) -> Outcome:
    form = person_form(ctx, data, None)
    clean = form.record_data()
    try:
        done = moves.register(ctx.account, actor, house, clean, form.relation.data or None,
                              form.room.data or None, uid=item["entity_uid"], item_uid=item["uid"])
    except records.DateOrder as error:
        raise Rejected("invalid", {"move_in_date": [checks.move_in_problem(error)]}) from None
    if done.outcome == "requested":
        return Outcome("requested", None)
    return Outcome("conflict" if done.conflicts else "accepted", done.person, done.conflicts)


def _person_update(ctx, actor, person, base, data) -> Outcome:
    form = person_form(ctx, data, person)
    clean = form.record_data()
    problem = checks.document_problem(clean, person)
    if problem:
        raise Rejected("invalid", {"id_number": [problem]})
    sent = set(data) | ({"employer_id"} if "employer_uid" in data else set())
    if "id_number" in data:
        sent |= {"sex", "birth_date", "hukou_division"}  # what a resident ID number implies
    clean = {n: v for n, v in clean.items() if n in sent}
    _applied, conflicts = records.update_person(actor, person, clean, base, keep_conflicts=True)
    return Outcome("conflict" if conflicts else "accepted", person, conflicts)


def apply_reviewed_value(account: Account, entity: str, record, name: str, value) -> None:
    """Write one field's value a reviewer chose from a conflict (review/service.py) onto `record`
    as a change of its own (source `review`), validated exactly as a phone's update of that field
    alone would be today. Raises Rejected with the form's errors; writes nothing then."""
    ctx = PushContext(account, None)
    actor = records.Actor(account_id=account.id, source="review")
    data = {name: value}
    if name == "employer_id":  # the phone names employers by uid
        employer = db.session.get(Organisation, value) if value is not None else None
        data = {"employer_uid": employer.uid if employer is not None else None}
    handler = {"house": _house_update, "person": _person_update, "organisation": _organisation_update}[entity]
    outcome = handler(ctx, actor, record, record.version, data)
    assert not outcome.conflicts  # based on the current version: nothing can clash


def _whole_record_conflict(ctx, record, error: records.Conflict) -> Outcome:
    return Outcome("conflict", record, error.conflicts)


def _person_leave(ctx, actor, person, base, data) -> Outcome:
    form = form_for(LeaveForm, {"left_date": data.get("left_date"), "reason": data.get("reason")})
    if not form.validate():
        raise invalid(form)
    problem = checks.left_date_problem(person, form.left_date.data)
    if problem:
        raise Rejected("invalid", {"left_date": [problem]})
    try:
        records.mark_left(actor, person, form.left_date.data, form.reason.data, base)
    except records.Conflict as error:
        return _whole_record_conflict(ctx, person, error)
    return Outcome("accepted", person)


def _organisation_new(ctx, actor, item, house, data) -> Outcome:
    org = records.add_organisation(actor, house, organisation_form(data, None), uid=item["entity_uid"])
    return Outcome("accepted", org)


def _organisation_update(ctx, actor, org, base, data) -> Outcome:
    _applied, conflicts = records.update_organisation(actor, org, organisation_form(data, org), base,
                                                      keep_conflicts=True)
    return Outcome("conflict" if conflicts else "accepted", org, conflicts)


def _organisation_close(ctx, actor, org, base, data) -> Outcome:
    form = form_for(CloseForm, {"closed_date": data.get("closed_date")})
    if not form.validate():
        raise invalid(form)
    try:
        records.close_organisation(actor, org, form.closed_date.data, base)
    except records.Conflict as error:
        return _whole_record_conflict(ctx, org, error)
    return Outcome("accepted", org)
