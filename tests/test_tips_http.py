"""Tips over HTTP: the informant's form, the public form on a door's page (rate limits, size caps,
CSRF, nothing about the house shown), the collectors' tasks (overdue first), take / assign / verify
(a visit is required) / close, audit events, versions, the live feed, and the rewards facts."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from fieldapp.extensions import db
from fieldapp.models import AuditEvent, DashboardEvent, Photo, Tip
from fieldapp.tips import service

from .builders import db_state, english, make_account, make_house, make_person, make_town, send, text_of
from .tips_builders import make_tip, make_visit, tiny_jpeg

TODAY = date.today().isoformat()








def tips_rows() -> list[Tip]:
    db.session.rollback()
    return list(db.session.scalars(select(Tip).order_by(Tip.id)))


def audit_actions(tip_id: int, reads: bool = False) -> list[str]:
    """The tip's audit rows in order: what was done to it (and with `reads`, who looked at it)."""
    db.session.rollback()
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.target == f"tip:{tip_id}")
                                 .order_by(AuditEvent.id))
    return [a for a in actions if reads or a not in ("view_tip", "view_tip_photo")]


def tip_events() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count(DashboardEvent.id)).where(DashboardEvent.kind == "tip"))


@pytest.fixture
def world(ctx):
    town, (east, west) = make_town()
    house = make_house(east, number="27", group="3", collected=True, owner_name="房东赵六", owner_phone="13700001111")
    make_person(house, name="住户孙七", phone="13811112222")
    other = make_house(west, number="5", group="1", collected=True)
    return {
        "town": town, "east": east, "west": west, "house": house, "other": other,
        "informant": make_account(town, "informant", [east]),
        "collector": make_account(town, "collector", [east]),
        "collector2": make_account(town, "collector", [east]),
        "west_collector": make_account(town, "collector", [west]),
        "head": make_account(town, "village_head", [east]),
        "supervisor": make_account(town, "supervisor"),
        "admin": make_account(town, "admin"),
    }


# --- the informant's form ------------------------------------------------------------------------

def test_informant_sends_a_tip_by_door_code(world, login):
    house = world["house"]
    client = login(world["informant"])
    events = tip_events()
    code = house.door_code.lower()[:4] + "-" + house.door_code.lower()[4:]
    response = send(client, "POST", "/tips/new", {"door_code": code, "village": world["east"].id,
                                                  "kind": "group_rental", "happened_on": TODAY,
                                                  "details": "三楼住了十几个人"})
    assert response.status_code == 303, text_of(response)[:2000]
    [tip] = tips_rows()
    assert (tip.house_id, tip.village_id, tip.source, tip.informant_id, tip.kind, tip.state, tip.version) == \
        (house.id, world["east"].id, "informant", world["informant"].id, "group_rental", "new", 1)
    assert tip.due_on == service.rules.due_on(tip.received_at)
    assert tip.address_text is None and tip.contact_phone is None
    assert audit_actions(tip.id) == ["tip_new"]
    assert tip_events() == events + 1
    listing = text_of(send(client, "GET", "/tips"))
    assert "房东赵六" not in listing and "住户孙七" not in listing  # informants never read the registry


def test_informant_address_resolves_an_exact_group_and_number_only(world, login):
    client = login(world["informant"])
    east = world["east"].id
    for group, number in (("3", "27"), ("3", "2"), ("13", "27")):
        response = send(client, "POST", "/tips/new", {"village": east, "group": group, "number": number,
                                                      "kind": "move_out"})
        assert response.status_code == 303
    matched, near1, near2 = tips_rows()
    assert matched.house_id == world["house"].id
    assert (near1.house_id, near2.house_id) == (None, None)
    assert near1.address_text.endswith("3组2号") and near2.address_text.endswith("13组27号")
    page = text_of(send(client, "GET", "/tips"))
    assert "房东赵六" not in page and world["house"].door_code not in page  # the match is not revealed


def test_informant_cannot_name_a_door_outside_their_villages(world, login):
    client = login(world["informant"])
    english(client)
    before = db_state()
    response = send(client, "POST", "/tips/new", {"door_code": world["other"].door_code, "kind": "move_in",
                                                  "village": world["east"].id})
    assert response.status_code == 422
    assert "No door in your villages has this code" in text_of(response)
    forged = send(client, "POST", "/tips/new", {"village": world["west"].id, "number": "5", "group": "1",
                                                "kind": "move_in"})
    assert forged.status_code == 422
    assert db_state() == before and tips_rows() == []


@pytest.mark.parametrize("data, message", [
    ({"door_code": "K7M3-Q9PY", "kind": "move_in"}, "That is not a door code"),
    ({"number": "27", "kind": ""}, "Choose what changed."),
    ({"kind": "move_in"}, "Enter the door code, or the door number, or describe the place."),
    ({"number": "27", "kind": "move_in", "details": "x" * 1001}, "1000"),
    ({"number": "27", "kind": "move_in", "happened_on": (date.today() + timedelta(days=2)).isoformat()},
     "This date is in the future"),
    ({"number": "27", "kind": "move_in", "details": "a\x00b"}, "invisible control characters"),
])
def test_informant_form_errors_keep_the_input(world, login, data, message):
    client = login(world["informant"])
    english(client)
    response = send(client, "POST", "/tips/new", {"village": world["east"].id, **data})
    assert response.status_code == 422
    body = text_of(response)
    assert message in body
    if data.get("details") and "\x00" not in data["details"]:
        assert data["details"] in body  # kept for correcting
    assert tips_rows() == []


def test_informant_photo_is_re_encoded_without_metadata(world, login, app, tmp_path):
    app.config["PHOTO_DIR"] = str(tmp_path)
    client = login(world["informant"])
    import io
    response = send(client, "POST", "/tips/new", {
        "village": world["east"].id, "group": "3", "number": "27", "kind": "new_rental",
        "photo": (io.BytesIO(tiny_jpeg(exif_gps=True)), "door.jpg")}, content_type="multipart/form-data")
    assert response.status_code == 303
    [tip] = tips_rows()
    photo = db.session.scalar(select(Photo).where(Photo.uid == tip.photo_uid))
    assert (photo.of_entity, photo.of_uid, photo.account_id) == ("tip", tip.uid, world["informant"].id)
    stored = (tmp_path / f"{tip.photo_uid}.jpg").read_bytes()
    from PIL import Image
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG" and not image.getexif()
    assert b"PhoneMaker" not in stored
    # The collector of the village sees it; the collector of another village does not.
    assert send(login(world["collector"]), "GET", f"/tips/{tip.id}/photo").data == stored
    assert send(login(world["west_collector"]), "GET", f"/tips/{tip.id}/photo").status_code == 404


def test_informant_photo_that_is_not_an_image_is_refused(world, login, app, tmp_path):
    app.config["PHOTO_DIR"] = str(tmp_path)
    client = login(world["informant"])
    english(client)
    import io
    response = send(client, "POST", "/tips/new", {
        "village": world["east"].id, "number": "27", "group": "3", "kind": "new_rental",
        "photo": (io.BytesIO(b"not a photo at all"), "x.jpg")}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "not a photo the app can read" in text_of(response)
    assert tips_rows() == [] and list(tmp_path.glob("*.jpg")) == []


# --- the public form -----------------------------------------------------------------------------

SECRETS = ("房东赵六", "13700001111", "住户孙七", "13811112222")


def assert_reveals_nothing(body: str, house):
    for secret in SECRETS:
        assert secret not in body
    assert "3组27号" not in body and "27号" not in body
    assert not re.search(r"\b1[3-9]\d{9}\b", body), "a mobile number on a public page"
    assert not re.search(r"\b\d{17}[\dX]\b", body), "a resident ID number on a public page"


def test_public_form_page_and_door_page_show_nothing_about_the_house(world, app):
    client = app.test_client()
    house = world["house"]
    page = send(client, "GET", f"/d/{house.door_token}/tip")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store" and "noindex" in page.headers["X-Robots-Tag"]
    body = text_of(page)
    assert_reveals_nothing(body, house)
    assert house.door_code not in body and "东村" not in body  # not even the code or the village
    door = send(client, "GET", f"/d/{house.door_token}")
    assert door.status_code == 200
    door_body = text_of(door)
    assert f'action="/d/{house.door_token}/tip"' in door_body  # the door page carries the tip form
    assert_reveals_nothing(door_body, house)


def test_public_tip_is_stored_with_a_keyed_sender_hash(world, app):
    client = app.test_client()
    house = world["house"]
    english(client)
    response = send(client, "POST", f"/d/{house.door_token}/tip",
                    {"kind": "move_in", "details": "新搬来一家人", "contact_phone": "139 1234 5678"},
                    environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert response.status_code == 303
    thanks = send(client, "GET", response.headers["Location"])
    assert "your tip was sent" in text_of(thanks)
    assert_reveals_nothing(text_of(thanks), house)
    [tip] = tips_rows()
    assert (tip.source, tip.house_id, tip.village_id, tip.informant_id, tip.contact_phone) == \
        ("public", house.id, house.village_id, None, "13912345678")
    assert re.fullmatch(r"[0-9a-f]{64}", tip.sender_key) and "203.0.113.9" not in tip.sender_key
    assert tip.sender_key == service.sender_key("203.0.113.9")
    assert audit_actions(tip.id) == ["tip_new"]


@pytest.mark.parametrize("phone", ["", "12345", "2391234567"])
def test_public_tip_needs_a_valid_phone(world, app, phone):
    client = app.test_client()
    response = send(client, "POST", f"/d/{world['house'].door_token}/tip", {"kind": "move_in", "contact_phone": phone})
    assert response.status_code == 422
    assert tips_rows() == []


def test_public_tip_unknown_token_is_404_and_oversize_is_413(world, app):
    client = app.test_client()
    assert send(client, "GET", "/d/not-a-real-token-at-all-xxxxxx/tip").status_code == 404
    big = send(client, "POST", f"/d/{world['house'].door_token}/tip",
               {"kind": "move_in", "contact_phone": "13912345678", "details": "x" * 20000})
    assert big.status_code == 413
    long = send(client, "POST", f"/d/{world['house'].door_token}/tip",
                {"kind": "move_in", "contact_phone": "13912345678", "details": "x" * 1001})
    assert long.status_code == 422
    assert tips_rows() == []


def test_public_tips_are_rate_limited_per_sender_and_per_door(world, app):
    house, other = world["house"], make_house(world["east"], number="28", group="3")
    client = app.test_client()
    english(client)
    form = {"kind": "other", "contact_phone": "13912345678"}
    for _ in range(service.rules.PUBLIC_PER_SENDER_PER_HOUR):
        assert send(client, "POST", f"/d/{house.door_token}/tip", form,
                    environ_base={"REMOTE_ADDR": "198.51.100.1"}).status_code == 303
    # The same sender is refused, also about another door; another sender is not.
    refused = send(client, "POST", f"/d/{other.door_token}/tip", form, environ_base={"REMOTE_ADDR": "198.51.100.1"})
    assert refused.status_code == 429
    assert "Too many tips were sent from here or about this door" in text_of(refused)
    assert len(tips_rows()) == service.rules.PUBLIC_PER_SENDER_PER_HOUR
    # Per door: senders from many addresses fill the door's daily quota.
    for i in range(service.rules.PUBLIC_PER_DOOR_PER_DAY - service.rules.PUBLIC_PER_SENDER_PER_HOUR):
        assert send(client, "POST", f"/d/{house.door_token}/tip", form,
                    environ_base={"REMOTE_ADDR": f"198.51.100.{10 + i}"}).status_code == 303
    assert send(client, "POST", f"/d/{house.door_token}/tip", form,
                environ_base={"REMOTE_ADDR": "192.0.2.77"}).status_code == 429
    assert send(client, "POST", f"/d/{other.door_token}/tip", form,
                environ_base={"REMOTE_ADDR": "192.0.2.77"}).status_code == 303
    # The window slides: tips older than an hour no longer count for the sender.
    db.session.rollback()
    for tip in db.session.scalars(select(Tip).where(Tip.sender_key == service.sender_key("198.51.100.1"))):
        tip.received_at -= timedelta(hours=2)
    db.session.commit()
    assert send(client, "POST", f"/d/{other.door_token}/tip", form,
                environ_base={"REMOTE_ADDR": "198.51.100.1"}).status_code == 303


def test_public_form_requires_csrf(world, make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    house = world["house"]
    response = client.post(f"/d/{house.door_token}/tip", data={"kind": "move_in", "contact_phone": "13912345678"})
    assert response.status_code == 400
    page = client.get(f"/d/{house.door_token}/tip").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    ok = client.post(f"/d/{house.door_token}/tip", data={"kind": "move_in", "contact_phone": "13912345678",
                                                         "csrf_token": token})
    assert ok.status_code == 303
    assert len(tips_rows()) == 1


# --- tasks ---------------------------------------------------------------------------------------

def test_task_list_shows_open_tips_of_own_villages_overdue_first(world, login):
    from fieldapp.models import utcnow
    east, west = world["east"], world["west"]
    fresh = make_tip(east, world["house"], informant=world["informant"], kind="move_in")
    late = make_tip(east, world["house"], kind="group_rental", received_at=utcnow() - timedelta(days=20))
    make_tip(west, world["other"], kind="org_opened")  # another village
    make_tip(east, world["house"], kind="move_out", state="closed")
    for who in ("collector", "head", "supervisor"):
        client = login(world[who])
        english(client)
        body = text_of(send(client, "GET", "/tips"))
        assert body.index("Group rental") < body.index("Someone moved in"), who  # overdue first
        assert "Overdue" in body and "working days late" in body
        assert "working days left" in body or "last day today" in body
        assert ("A shop or business opened" in body) is (who == "supervisor"), who
        assert "Someone moved out" not in body  # closed tips are not tasks
    assert fresh.id and late.id


def test_take_assign_verify_close_whole_life(world, login):
    east, house = world["east"], world["house"]
    tip = make_tip(east, house, informant=world["informant"])
    collector, head = world["collector"], world["head"]
    c = login(collector)
    events = tip_events()
    assert send(c, "POST", f"/tips/{tip.id}/take").status_code == 303
    tip = db.session.get(Tip, tip.id)
    assert (tip.state, tip.assigned_to_id, tip.version) == ("assigned", collector.id, 2)
    assert tip_events() == events + 1
    # Taking again: someone moved it on meanwhile.
    assert send(login(world["collector2"]), "POST", f"/tips/{tip.id}/take").status_code == 409
    # The village head re-assigns it, then back.
    h = login(head)
    assert send(h, "POST", f"/tips/{tip.id}/assign", {"worker": world["collector2"].id}).status_code == 303
    assert send(h, "POST", f"/tips/{tip.id}/assign", {"worker": collector.id}).status_code == 303
    # Not a worker of this village: refused with a message.
    english(h)
    refused = send(h, "POST", f"/tips/{tip.id}/assign", {"worker": world["west_collector"].id})
    assert refused.status_code == 422 and "Choose a collector of this tip's village" in text_of(refused)
    refused = send(h, "POST", f"/tips/{tip.id}/assign", {"worker": world["informant"].id})
    assert refused.status_code == 422
    # Verifying: only the assignee, only after a visit to the door.
    english(c)
    no_visit = send(c, "POST", f"/tips/{tip.id}/verify", {"outcome": "valid"})
    assert no_visit.status_code == 422 and "Visit the door first" in text_of(no_visit)
    tip = db.session.get(Tip, tip.id)
    make_visit(house, collector, at=tip.received_at - timedelta(minutes=5))  # before the tip: does not count
    assert send(c, "POST", f"/tips/{tip.id}/verify", {"outcome": "valid"}).status_code == 422
    make_visit(world["other"], collector)  # another door: does not count
    assert send(c, "POST", f"/tips/{tip.id}/verify", {"outcome": "valid"}).status_code == 422
    assert send(login(world["collector2"]), "POST", f"/tips/{tip.id}/verify", {"outcome": "valid"}).status_code == 403
    visit = make_visit(house, collector)
    shown = text_of(send(c, "GET", f"/tips/{tip.id}"))
    assert "counts as the visit to this door" in shown
    assert send(c, "POST", f"/tips/{tip.id}/verify", {"outcome": "valid", "note": "确有此事"}).status_code == 303
    tip = db.session.get(Tip, tip.id)
    assert (tip.state, tip.verified_by_id, tip.verify_visit_id, tip.verify_note) == \
        ("valid", collector.id, visit.id, "确有此事")
    # Closing: village head, not the collector.
    assert send(c, "POST", f"/tips/{tip.id}/close").status_code == 403
    assert send(h, "POST", f"/tips/{tip.id}/close").status_code == 303
    assert send(h, "POST", f"/tips/{tip.id}/close").status_code == 409
    tip = db.session.get(Tip, tip.id)
    assert tip.state == "closed" and tip.closed_by_id == head.id and tip.version == 6
    assert audit_actions(tip.id) == ["tip_take", "tip_assign", "tip_assign", "tip_valid", "tip_close"]
    page = text_of(send(h, "GET", f"/tips/{tip.id}"))
    assert "Closed · Verified: valid" in page


def test_verify_invalid_needs_a_note(world, login):
    tip = make_tip(world["east"], world["house"], state="assigned", assigned_to=world["collector"])
    make_visit(world["house"], world["collector"])
    c = login(world["collector"])
    english(c)
    before = db_state()
    response = send(c, "POST", f"/tips/{tip.id}/verify", {"outcome": "invalid", "note": "  "})
    assert response.status_code == 422 and "Say what you found at the door." in text_of(response)
    # Nothing of the verdict is written; the page shown again holds the sender's phone, which is logged.
    assert db_state() == {**before, "audit_events": before["audit_events"] + 1}
    assert audit_actions(tip.id)[-1:] == ["view_tip_contact"]
    assert send(c, "POST", f"/tips/{tip.id}/verify", {"outcome": "invalid", "note": "没人搬进来"}).status_code == 303
    tip = db.session.get(Tip, tip.id)
    assert (tip.state, tip.verify_note) == ("invalid", "没人搬进来")


def test_tip_without_a_known_house_is_verified_at_the_door_the_collector_names(world, login):
    tip = make_tip(world["east"], None, informant=world["informant"], state="assigned",
                   assigned_to=world["collector"], address_text="东村3组27号后面")
    make_visit(world["house"], world["collector"])
    c = login(world["collector"])
    assert send(c, "POST", f"/tips/{tip.id}/verify", {"outcome": "valid"}).status_code == 422
    assert send(c, "POST", f"/tips/{tip.id}/verify",
                {"outcome": "valid", "door_code": world["other"].door_code}).status_code == 422  # another village
    assert send(c, "POST", f"/tips/{tip.id}/verify",
                {"outcome": "valid", "door_code": world["house"].door_code}).status_code == 303
    tip = db.session.get(Tip, tip.id)
    assert (tip.state, tip.house_id) == ("valid", world["house"].id)


def test_tips_of_another_village_are_404(world, login):
    tip = make_tip(world["west"], world["other"])
    c = login(world["collector"])
    for method, url in (("GET", f"/tips/{tip.id}"), ("POST", f"/tips/{tip.id}/take"),
                        ("POST", f"/tips/{tip.id}/verify"), ("GET", f"/tips/{tip.id}/photo")):
        assert send(c, method, url, {"outcome": "valid"} if "verify" in url else None).status_code == 404, url
    assert send(login(world["head"]), "POST", f"/tips/{tip.id}/assign", {"worker": world["collector"].id}).status_code == 404
    assert db.session.get(Tip, tip.id).state == "new"


def test_public_contact_phone_is_masked_except_for_the_assignee(world, login):
    tip = make_tip(world["east"], world["house"], contact_phone="13912345678")
    head = text_of(send(login(world["head"]), "GET", f"/tips/{tip.id}"))
    assert "13912345678" not in head and "139****5678" in head
    c = login(world["collector"])
    assert send(c, "POST", f"/tips/{tip.id}/take").status_code == 303
    assert "13912345678" in text_of(send(c, "GET", f"/tips/{tip.id}"))


# --- rewards facts -------------------------------------------------------------------------------

def test_valid_informant_tips_are_counted_per_informant_and_month(world, login):
    east, house, collector = world["east"], world["house"], world["collector"]
    informant = world["informant"]
    other_informant = make_account(world["town"], "informant", [east])
    outcomes = [(informant, "valid", True), (informant, "valid", False), (informant, "invalid", True),
                (other_informant, "valid", False), (None, "valid", False)]
    for who, outcome, close in outcomes:
        tip = make_tip(east, house, informant=who, state="assigned", assigned_to=collector)
        make_visit(house, collector)
        service.verify(db.session.get(Tip, tip.id), db.session.get(type(collector), collector.id),
                       outcome == "valid", "找到了" if outcome == "invalid" else None)
        db.session.commit()
        if close:
            service.close(db.session.get(Tip, tip.id), db.session.get(type(collector), world["head"].id))
            db.session.commit()
    rows = service.valid_tips_by_informant()
    month = service.rules.month_key(db.session.scalar(select(func.max(Tip.verified_at))))
    assert {(r.collection_id, r.month, r.valid_tips) for r in rows} == {
        (informant.collection_id, month, 2), (other_informant.collection_id, month, 1)}
    # Scoped: a village head of another village sees none of it.
    west_head = make_account(world["town"], "village_head", [world["west"]])
    assert service.valid_tips_by_informant(west_head) == []
    page = text_of(send(login(world["head"]), "GET", "/tips/rewards"))
    assert informant.collection_id in page and month in page
    assert send(login(informant), "GET", "/tips/rewards").status_code == 403


def test_rewards_count_valid_verdicts_closed_tips_included(world):
    """A closed tip keeps its verdict: a valid one still counts, an invalid one never does."""
    from fieldapp.models import utcnow
    informant = world["informant"]
    make_tip(world["east"], world["house"], informant=informant, state="valid", verified_at=utcnow())
    make_tip(world["east"], world["house"], informant=informant, state="closed", verdict="valid", verified_at=utcnow())
    make_tip(world["east"], world["house"], informant=informant, state="closed", verdict="invalid",
             verified_at=utcnow())
    make_tip(world["east"], world["house"], informant=informant, state="invalid", verified_at=utcnow())
    [row] = service.valid_tips_by_informant()
    assert (row.collection_id, row.valid_tips) == (informant.collection_id, 2)


def test_door_page_gives_a_signed_in_informant_their_form_with_the_code(world, login):
    house = world["house"]
    client = login(world["informant"])
    english(client)
    door = text_of(send(client, "GET", f"/d/{house.door_token}"))
    assert 'name="contact_phone"' not in door  # not the public form: the informant is known
    link = re.search(r'href="(/tips/new\?door_code=[^"]+)"', door).group(1)
    form = text_of(send(client, "GET", link))
    assert f'value="{house.door_code[:4]}-{house.door_code[4:]}"' in form
    assert send(client, "POST", "/tips/new", {"door_code": f"{house.door_code[:4]}-{house.door_code[4:]}",
                                              "kind": "move_out"}).status_code == 303
    assert tips_rows()[0].house_id == house.id


def test_overdue_count_is_shown_to_the_village_head(world, login):
    from fieldapp.models import utcnow
    for days in (20, 30):
        make_tip(world["east"], world["house"], received_at=utcnow() - timedelta(days=days))
    make_tip(world["east"], world["house"])
    client = login(world["head"])
    english(client)
    assert "2 tips are overdue." in text_of(send(client, "GET", "/tips"))


def test_task_list_stops_at_its_limit_with_a_note(world, login, monkeypatch):
    monkeypatch.setattr(service, "TASK_LIST_LIMIT", 2)
    for _ in range(3):
        make_tip(world["east"], world["house"])
    client = login(world["collector"])
    english(client)
    body = text_of(send(client, "GET", "/tips"))
    assert body.count('href="/tips/') - body.count('href="/tips/new') - body.count('href="/tips/rewards') == 2
    assert "Only the first 2 tips are listed" in body
