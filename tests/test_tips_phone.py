"""Tips pushed from the phone app: tips.service.submit_from_phone (the function the sync op tip.new
calls). The door by scanned QR token, typed code, house uid or address; scope; refusals by field."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import AuditEvent, Photo, Tip
from fieldapp.tips import service

from .builders import make_account, make_house, make_town


@pytest.fixture
def world(ctx):
    town, (east, west) = make_town()
    return {"east": east, "west": west,
            "house": make_house(east, number="27", group="3", collected=True),
            "other": make_house(west, number="5", group="1", collected=True),
            "informant": make_account(town, "informant", [east]),
            "collector": make_account(town, "collector", [east]),
            "reviewer": make_account(town, "reviewer", [east])}


def submit(account, **data):
    uid = str(uuid.uuid4())
    tip = service.submit_from_phone(account, uid, {"kind": "move_in", **data},
                                    submitted_at=datetime(2026, 3, 2, 1, 0))
    db.session.commit()
    assert tip.uid == uid
    return tip


@pytest.mark.parametrize("how", ["door_token", "door_code", "house_uid"])
def test_the_door_by_token_code_or_house_uid(world, how):
    house = world["house"]
    value = {"door_token": house.door_token, "door_code": house.door_code.lower(), "house_uid": house.uid}[how]
    tip = submit(world["informant"], **{how: value}, happened_on="2026-03-01", details="新住户")
    assert (tip.house_id, tip.village_id, tip.source, tip.kind, tip.happened_on, tip.details) == \
        (house.id, house.village_id, "informant", "move_in", date(2026, 3, 1), "新住户")
    assert tip.submitted_at == datetime(2026, 3, 2, 1, 0) and tip.received_at > tip.submitted_at
    assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.target == f"tip:{tip.id}")) == "tip_new"


def test_the_door_by_address(world):
    exact = submit(world["informant"], village_id=world["east"].id, group="3", number="27")
    loose = submit(world["informant"], village_id=world["east"].id, address_text="村口小卖部楼上")
    assert exact.house_id == world["house"].id
    assert (loose.house_id, loose.address_text) == (None, "东村 村口小卖部楼上")


@pytest.mark.parametrize("data, code, field", [
    ({"door_code": "K7M3-Q9PY"}, "unknown_door", "door_code"),
    ({"door_token": "no-such-token-000000000000"}, "unknown_door", "door_token"),
    ({"house_uid": str(uuid.uuid4())}, "unknown_door", "house_uid"),
    ({"village_id": 999999}, "out_of_scope", "village_id"),
    ({"village_id": True}, "out_of_scope", "village_id"),
    ({"door_code": "@other"}, "unknown_door", "door_code"),  # codes are looked up in own villages only
    ({"door_token": "@other"}, "out_of_scope", "door_code"),
    ({"house_uid": "@other"}, "out_of_scope", "door_code"),
    ({"door_code": "@house", "kind": "burglary"}, "bad_kind", "kind"),
    ({"door_code": "@house", "happened_on": "yesterday"}, "bad_date", "happened_on"),
    ({"door_code": "@house", "happened_on": (date.today() + timedelta(days=3)).isoformat()}, "future", "happened_on"),
    ({"door_code": "@house", "details": "x" * 1001}, "too_long", "details"),
    ({"village_id": "@east"}, "no_place", "address_text"),
])
def test_refusals_name_the_field(world, data, code, field):
    other, house = world["other"], world["house"]
    swap = {"@other": {"door_code": other.door_code, "door_token": other.door_token, "house_uid": other.uid},
            "@house": {"door_code": house.door_code}}
    data = {k: (swap[v][k] if isinstance(v, str) and v in swap else v) for k, v in data.items()}
    if data.get("village_id") == "@east":
        data["village_id"] = world["east"].id
    with pytest.raises(service.TipError) as error:
        service.submit_from_phone(world["informant"], str(uuid.uuid4()), {"kind": "move_in", **data})
    assert (error.value.code, error.value.field) == (code, field)
    db.session.rollback()
    assert db.session.scalar(select(Tip.id)) is None


def test_roles_without_tips_submit_are_refused_and_uids_are_not_reused(world):
    with pytest.raises(service.TipError) as error:
        service.submit_from_phone(world["reviewer"], str(uuid.uuid4()), {"kind": "move_in",
                                                                         "door_code": world["house"].door_code})
    assert error.value.code == "forbidden"
    tip = submit(world["collector"], house_uid=world["house"].uid)
    with pytest.raises(service.TipError) as error:
        service.submit_from_phone(world["collector"], tip.uid, {"kind": "move_in", "house_uid": world["house"].uid})
    assert error.value.code == "exists"


def test_a_photo_is_attached_only_if_it_is_the_senders(world):
    own = Photo(uid=str(uuid.uuid4()), of_entity="tip", of_uid="x", account_id=world["informant"].id,
                bytes=1, original_bytes=1, width=1, height=1)
    theirs = Photo(uid=str(uuid.uuid4()), of_entity="tip", of_uid="y", account_id=world["collector"].id,
                   bytes=1, original_bytes=1, width=1, height=1)
    db.session.add_all([own, theirs])
    db.session.commit()
    assert submit(world["informant"], door_code=world["house"].door_code, photo_uid=own.uid).photo_uid == own.uid
    assert submit(world["informant"], door_code=world["house"].door_code, photo_uid=theirs.uid).photo_uid is None


def test_a_photo_uploaded_after_the_tip_is_attached_to_the_senders_tip_only(world):
    informant, collector = world["informant"], world["collector"]
    tip = submit(informant, door_code=world["house"].door_code)
    photo = Photo(uid=str(uuid.uuid4()), of_entity="tip", of_uid=tip.uid, account_id=informant.id,
                  bytes=1, original_bytes=1, width=1, height=1)
    db.session.add(photo)
    db.session.commit()
    assert service.may_attach_photo(informant, tip.uid)
    assert service.may_attach_photo(informant, str(uuid.uuid4()))  # its tip.new may still be on the way
    assert not service.may_attach_photo(collector, tip.uid)  # not their tip
    assert not service.may_attach_photo(world["reviewer"], str(uuid.uuid4()))  # sends no tips
    assert not service.attach_photo(collector, tip.uid, photo.uid)
    assert service.attach_photo(informant, tip.uid, photo.uid)
    db.session.commit()
    tip = db.session.get(Tip, tip.id)
    assert (tip.photo_uid, tip.version) == (photo.uid, 2)
    assert not service.attach_photo(informant, tip.uid, photo.uid)  # once


def test_a_photo_uploaded_before_its_tip_is_attached_when_the_tip_arrives(world):
    informant = world["informant"]
    tip_uid = str(uuid.uuid4())
    early = Photo(uid=str(uuid.uuid4()), of_entity="tip", of_uid=tip_uid, account_id=informant.id,
                  bytes=1, original_bytes=1, width=1, height=1)
    stranger = Photo(uid=str(uuid.uuid4()), of_entity="tip", of_uid=tip_uid, account_id=world["collector"].id,
                     bytes=1, original_bytes=1, width=1, height=1)
    db.session.add_all([early, stranger])
    db.session.commit()
    tip = service.submit_from_phone(informant, tip_uid, {"kind": "move_in", "door_code": world["house"].door_code})
    assert tip.photo_uid == early.uid
