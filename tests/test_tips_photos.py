"""A tip's photo from the informant's phone: uploaded like every photo (PUT /api/photos/<uid>, resumable)
but "of" the tip ("tip:<uid>"), by an informant who has no registry write. It is attached to the tip
whichever arrives first, and only ever to the sender's own tip."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import Photo, Tip

from .builders import make_account, make_house, make_town
from .sync_builders import bearer, device_token, new_uid, push_http
from .tips_builders import tiny_jpeg


@pytest.fixture
def world(make_app, tmp_path):
    app = make_app(PHOTO_DIR=str(tmp_path / "photos"))
    with app.app_context():
        town, (east, _west) = make_town()
        yield {"app": app, "client": app.test_client(), "house": make_house(east, collected=True),
               "informant": make_account(town, "informant", [east]),
               "other_informant": make_account(town, "informant", [east]),
               "collector": make_account(town, "collector", [east])}


def put(client, token, uid, data, of):
    return client.put(f"/api/photos/{uid}", data=data, headers={
        **bearer(token), "Content-Range": f"bytes 0-{len(data) - 1}/{len(data)}", "X-Photo-Of": of,
        "Content-Type": "image/jpeg"})


def tip_item(tip_uid, door_token, **data) -> dict:
    return {"uid": new_uid(), "op": "tip.new", "entity_uid": tip_uid,
            "data": {"kind": "move_in", "door_token": door_token, **data}, "collected_at": "2026-03-02T09:30:00Z"}


def tip(uid) -> Tip:
    db.session.expire_all()
    return db.session.scalar(select(Tip).where(Tip.uid == uid))


def test_photo_after_the_tip_is_attached_to_it(world):
    client, token = world["client"], device_token(world["informant"])
    tip_uid, photo_uid = new_uid(), new_uid()
    [result] = push_http(client, token, [tip_item(tip_uid, world["house"].door_token)])
    assert result["status"] == "accepted", result
    assert tip(tip_uid).photo_uid is None

    answer = put(client, token, photo_uid, tiny_jpeg(exif_gps=True), f"tip:{tip_uid}")
    assert answer.status_code == 200 and answer.json["complete"] is True, answer.json
    assert tip(tip_uid).photo_uid == photo_uid and tip(tip_uid).version == 2
    stored = db.session.scalar(select(Photo).where(Photo.uid == photo_uid))
    assert (stored.of_entity, stored.of_uid, stored.account_id) == ("tip", tip_uid, world["informant"].id)


def test_photo_before_the_tip_is_picked_up_when_the_tip_arrives(world):
    client, token = world["client"], device_token(world["informant"])
    tip_uid, photo_uid = new_uid(), new_uid()
    assert put(client, token, photo_uid, tiny_jpeg(), f"tip:{tip_uid}").json["complete"] is True
    [result] = push_http(client, token, [tip_item(tip_uid, world["house"].door_token)])
    assert result["status"] == "accepted", result
    assert tip(tip_uid).photo_uid == photo_uid


def test_nobody_else_may_attach_a_photo_to_a_tip(world):
    client = world["client"]
    tip_uid = new_uid()
    push_http(client, device_token(world["informant"]), [tip_item(tip_uid, world["house"].door_token)])
    stranger = put(client, device_token(world["other_informant"]), new_uid(), tiny_jpeg(), f"tip:{tip_uid}")
    assert stranger.status_code == 404
    # A collector writes the registry but sends no tips from the phone's tip form: refused.
    collector = put(client, device_token(world["collector"]), new_uid(), tiny_jpeg(), f"tip:{tip_uid}")
    assert collector.status_code in (403, 404)
    assert tip(tip_uid).photo_uid is None


def test_informants_still_may_not_upload_registry_photos(world):
    answer = put(world["client"], device_token(world["informant"]), new_uid(), tiny_jpeg(),
                 f"house:{world['house'].uid}")
    assert answer.status_code == 403
