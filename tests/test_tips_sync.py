"""The push op tip.new (fieldapp/sync.py -> tips.service.submit_from_phone): an informant's phone
sends tips offline-made; idempotent by item uid like every op; refusals name the field."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import SyncReceipt, Tip

from .builders import make_account, make_house, make_town
from .sync_builders import device_token, new_uid, push_http


@pytest.fixture
def world(ctx):
    town, (east, west) = make_town()
    return {"east": east, "house": make_house(east, number="27", group="3", collected=True),
            "other": make_house(west, number="5", group="1", collected=True),
            "informant": make_account(town, "informant", [east]),
            "collector": make_account(town, "collector", [east]),
            "reviewer": make_account(town, "reviewer", [east])}


def tip_item(entity_uid=None, **data) -> dict:
    return {"uid": new_uid(), "op": "tip.new", "entity_uid": entity_uid or new_uid(),
            "data": {"kind": "move_in", **data}, "collected_at": "2026-03-02T09:30:00Z"}


def test_informant_phone_pushes_a_tip_by_scanned_door(world, client):
    token = device_token(world["informant"])
    item = tip_item(door_token=world["house"].door_token, details="新搬来一家", happened_on="2026-03-01")
    [result] = push_http(client, token, [item])
    assert result["status"] == "accepted", result
    assert result["record"] == {"uid": item["entity_uid"], "version": 1}
    tip = db.session.scalar(select(Tip).where(Tip.uid == item["entity_uid"]))
    assert (tip.house_id, tip.informant_id, tip.source, tip.state, tip.details) == \
        (world["house"].id, world["informant"].id, "informant", "new", "新搬来一家")
    # The same item again (a retry after a lost answer): the original result, nothing new.
    [again] = push_http(client, token, [item])
    assert again["status"] == "duplicate" and again["original"] == result
    assert db.session.scalar(select(SyncReceipt.op).where(SyncReceipt.item_uid == item["uid"])) == "tip.new"
    assert len(list(db.session.scalars(select(Tip)))) == 1


def test_collector_phone_pushes_a_tip_by_house_uid_and_address(world, client):
    token = device_token(world["collector"])
    results = push_http(client, token, [tip_item(house_uid=world["house"].uid),
                                        tip_item(village_id=world["east"].id, group="3", number="27", kind="move_out")])
    assert [r["status"] for r in results] == ["accepted", "accepted"]
    assert {t.house_id for t in db.session.scalars(select(Tip))} == {world["house"].id}


@pytest.mark.parametrize("who, data, code, field", [
    ("informant", {"door_code": "@other"}, "invalid", "door_code"),
    ("informant", {"door_token": "@other"}, "out_of_scope", None),
    ("informant", {"door_code": "@house", "kind": "burglary"}, "invalid", "kind"),
    ("informant", {"door_code": "@house", "happened_on": "01/03/2026"}, "invalid", "happened_on"),
    ("informant", {"door_code": "@house", "details": "x" * 1001}, "invalid", "details"),
    ("reviewer", {"door_code": "@house"}, "forbidden", None),
])
def test_refused_tips(world, client, who, data, code, field):
    other, house = world["other"], world["house"]
    swap = {"@other": {"door_code": other.door_code, "door_token": other.door_token},
            "@house": {"door_code": house.door_code}}
    data = {k: (swap[v][k] if isinstance(v, str) and v in swap else v) for k, v in data.items()}
    [result] = push_http(client, device_token(world[who]), [tip_item(**data)])
    assert (result["status"], result["code"]) == ("rejected", code), result
    if field:
        assert list(result["errors"]) == [field] and result["errors"][field][0]
    assert db.session.scalar(select(Tip.id)) is None


def test_a_tip_uid_is_not_used_twice(world, client):
    token = device_token(world["informant"])
    first = tip_item(door_code=world["house"].door_code)
    push_http(client, token, [first])
    [second] = push_http(client, token, [tip_item(entity_uid=first["entity_uid"], door_code=world["house"].door_code)])
    assert (second["status"], second["code"]) == ("rejected", "exists")
