"""Visits (issue #4) and the moments pushed items carry: visit.new, door proof on records,
the house's known position, Change.collected_at from the phone, door tokens in the package."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from fieldapp import sync
from fieldapp.extensions import db
from fieldapp.models import Change, House, Person, Visit, utcnow

from .builders import db_state, make_account, make_house, make_person, make_town
from .sync_builders import device_token, house_new, person_new, push_http, update
from .sync_visit_builders import visit_new
from .test_sync_push import setup_collector


def test_a_scanned_visit_gives_door_proof_to_the_records_collected_under_it(ctx, client):
    _town, east, _west, account, token = setup_collector()
    house = make_house(east, use="owner")
    visit = visit_new(house.uid, "scan", 30.0, 110.0, 8)
    person = {**person_new(house.uid), "visit_uid": visit["uid"]}
    edit = {**update("house.update", house.uid, 1, owner_name="王五"), "visit_uid": visit["uid"]}
    results = push_http(client, token, [visit, person, edit])
    assert [r["status"] for r in results] == ["accepted"] * 3
    assert results[0]["record"] == {"uid": visit["uid"], "version": 1}
    db.session.rollback()
    saved = db.session.scalar(select(Visit).where(Visit.uid == visit["uid"]))
    assert (saved.account_id, saved.house_id, saved.method, saved.at) == (
        account.id, house.id, "scan", datetime(2016, 5, 2, 9, 0))
    changes = list(db.session.scalars(select(Change).where(Change.visit_uid == visit["uid"])))
    assert len(changes) >= 2 and all(c.door_proof for c in changes)


def test_no_door_proof_without_a_scan_of_this_house_by_this_account(ctx, client):
    town, (east, _west) = make_town()
    house, other = make_house(east), make_house(east, number="2")
    account = make_account(town, "collector", [east])
    token = device_token(account)
    by_code = visit_new(house.uid, "code")
    elsewhere = visit_new(other.uid, "scan")
    someone_else = visit_new(house.uid, "scan")
    push_http(client, device_token(make_account(town, "collector", [east])), [someone_else])
    items = [by_code, elsewhere,
             {**person_new(house.uid), "visit_uid": by_code["uid"]},
             {**person_new(house.uid), "visit_uid": elsewhere["uid"]},
             {**person_new(house.uid), "visit_uid": someone_else["uid"]},
             {**person_new(house.uid), "visit_uid": "00000000-0000-4000-8000-000000000009"},  # never sent
             person_new(house.uid)]
    results = push_http(client, token, items)
    assert {r["status"] for r in results} == {"accepted"}
    db.session.rollback()
    new_people = list(db.session.scalars(select(Change).where(Change.entity == "person")))
    assert len(new_people) == 5 and not any(c.door_proof for c in new_people)
    assert sorted(filter(None, (c.visit_uid for c in new_people))) == sorted(
        i["visit_uid"] for i in items[2:6])
    [bad] = push_http(client, token, [{**person_new(house.uid), "visit_uid": "nope"}])
    assert bad["code"] == "bad_item" and "visit_uid" in bad["errors"]


def test_the_first_good_visit_sets_the_house_position_and_later_ones_a_distance(ctx, client):
    _town, east, _west, _account, token = setup_collector()
    house = make_house(east, lat=30.0, lon=110.0)  # from the register: approximate
    poor = visit_new(house.uid, "list", 30.01, 110.0, 200)
    good = visit_new(house.uid, "scan", 30.001, 110.0, 12)
    later = visit_new(house.uid, "scan", 30.001, 110.001, 5)
    results = push_http(client, token, [poor, good, later])
    assert [r["status"] for r in results] == ["accepted"] * 3, results
    db.session.rollback()
    visits = {v.uid: v for v in db.session.scalars(select(Visit))}
    assert visits[poor["uid"]].distance_m > 1000  # from the register position
    assert 100 < visits[good["uid"]].distance_m < 120
    assert 90 < visits[later["uid"]].distance_m < 100  # from the good visit's position
    saved = db.session.get(House, house.id)
    assert (saved.lat, saved.lon, saved.position_accuracy_m, saved.position_visit_id) == (
        30.001, 110.0, 12, visits[good["uid"]].id)
    assert saved.version == 2  # a Change carries the new position to the phones
    change = db.session.scalar(select(Change).where(Change.entity_id == house.id, Change.version == 2))
    assert change.fields == {"lat": [30.0, 30.001]}


def test_visits_are_idempotent_scoped_and_held_for_unknown_houses(ctx, client):
    _town, east, west, _account, token = setup_collector()
    house, elsewhere = make_house(east), make_house(west)
    visit = visit_new(house.uid)
    [first] = push_http(client, token, [visit])
    before = db_state()
    [again] = push_http(client, token, [visit])
    assert again["status"] == "duplicate" and again["original"] == first and db_state() == before
    new_house = house_new(east.id)
    early = visit_new(new_house["entity_uid"], "list")
    results = push_http(client, token, [visit_new(elsewhere.uid), early, {**visit, "method": "code"},
                                        visit_new(house.uid, method="knock"), visit_new("x")])
    assert [(r["status"], r.get("code")) for r in results] == [
        ("rejected", "out_of_scope"), ("held", None), ("conflict", "uid_reused"), ("rejected", "invalid"),
        ("rejected", "bad_item")]
    push_http(client, token, [new_house])
    db.session.rollback()
    assert db.session.scalar(select(Visit).where(Visit.uid == early["uid"])).method == "list"
    # A bad position is dropped, the visit kept.
    [odd] = push_http(client, token, [visit_new(house.uid, "scan", 95.0, 110.0, 5)])
    assert odd["status"] == "accepted"
    db.session.rollback()
    assert db.session.scalar(select(Visit).where(Visit.uid == odd["uid"])).lat is None


def test_change_collected_at_is_the_phones_moment(ctx, client):
    _town, east, _west, _account, token = setup_collector()
    house = make_house(east)
    person = make_person(house)
    moment = (utcnow() - timedelta(days=2)).replace(microsecond=0)
    items = [{**person_new(house.uid), "collected_at": moment.isoformat() + "Z"},
             {**update("person.update", person.uid, 1, phone="13812345678"),
              "collected_at": (moment + timedelta(hours=8)).isoformat() + "+08:00"},
             {**house_new(east.id), "collected_at": (utcnow() + timedelta(hours=3)).isoformat() + "Z"},
             {**house_new(east.id, number="9"), "collected_at": "not a time"}]
    results = push_http(client, token, items)
    assert {r["status"] for r in results} == {"accepted"}
    db.session.rollback()
    new = db.session.scalar(select(Person).where(Person.uid == items[0]["entity_uid"]))
    by_entity = {(c.entity, c.entity_id): c for c in db.session.scalars(select(Change).where(Change.source == "sync"))}
    assert by_entity[("person", new.id)].collected_at == moment
    assert by_entity[("person", person.id)].collected_at == moment
    for item in items[2:]:  # a clock far ahead, or no usable moment: the server's time
        house_id = db.session.scalar(select(House.id).where(House.uid == item["entity_uid"]))
        assert abs(by_entity[("house", house_id)].collected_at - utcnow()) < timedelta(minutes=1)


def test_a_phone_clock_set_a_day_behind_is_corrected_by_the_push_sent_at(ctx, client):
    _town, east, _west, _account, token = setup_collector()
    house = make_house(east)
    behind = timedelta(days=1)
    phone_now = utcnow().replace(microsecond=0) - behind
    visit = visit_new(house.uid, method="scan", at=(phone_now - timedelta(minutes=30)).isoformat() + "Z")
    person = {**person_new(house.uid), "visit_uid": visit["uid"],
              "collected_at": (phone_now - timedelta(minutes=20)).isoformat() + "Z"}
    response = client.post("/api/sync/push", json={"items": [visit, person], "sent_at": phone_now.isoformat() + "Z"},
                           headers={"Authorization": f"Bearer {token}"})
    assert [r["status"] for r in response.json["results"]] == ["accepted", "accepted"]
    db.session.rollback()
    seen = db.session.scalar(select(Visit).where(Visit.uid == visit["uid"]))
    new = db.session.scalar(select(Person).where(Person.uid == person["entity_uid"]))
    change = db.session.scalar(select(Change).where(Change.entity == "person", Change.entity_id == new.id))
    # Both moments are where they really were: half an hour and twenty minutes ago (give or take
    # the seconds the request took), not a day earlier.
    assert abs(seen.at - (utcnow() - timedelta(minutes=30))) < timedelta(minutes=1)
    assert abs(change.collected_at - (utcnow() - timedelta(minutes=20))) < timedelta(minutes=1)


def test_door_tokens_only_for_roles_that_write(ctx):
    town, (east, _west) = make_town()
    house = make_house(east)
    collector = sync.build_package(make_account(town, "collector", [east]), 0)
    assert collector["houses"][0]["door_token"] == house.door_token
    head = make_account(town, "village_head", [east])
    from fieldapp.rules.permissions import can
    if can("village_head", "registry.read") and not can("village_head", "registry.write"):
        assert "door_token" not in sync.build_package(head, 0)["houses"][0]
