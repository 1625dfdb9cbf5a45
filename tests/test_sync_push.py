"""Push over HTTP: every result status, idempotency, held items, conflicts, roles and scope."""
from __future__ import annotations

from sqlalchemy import func, select

from fieldapp import records
from fieldapp.extensions import db
from fieldapp.models import Change, Conflict, House, Person, SyncReceipt, VillageCounter

from .builders import db_state, make_account, make_house, make_person, make_town, resident_id
from .sync_builders import (bearer, device_token, house_new, new_uid, organisation_new, person_new, push_http,
                            update)


def setup_collector(role="collector", villages=None):
    town, (east, west) = make_town()
    account = make_account(town, role, villages if villages is not None else [east])
    return town, east, west, account, device_token(account)


def count(model, *where):
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_new_house_and_person_are_accepted_with_their_client_uids(ctx, client):
    _town, east, _west, _account, token = setup_collector()
    house = house_new(east.id)
    person = person_new(house["entity_uid"])
    results = push_http(client, token, [house, person])
    assert [r["status"] for r in results] == ["accepted", "accepted"]
    assert results[0]["record"] == {"uid": house["entity_uid"], "version": 1}
    assert results[1]["record"] == {"uid": person["entity_uid"], "version": 1}
    db.session.rollback()
    saved = db.session.scalar(select(Person).where(Person.uid == person["entity_uid"]))
    assert saved.house.uid == house["entity_uid"] and saved.status == "living"
    counter = db.session.get(VillageCounter, east.id)
    assert (counter.people, counter.houses) == (1, 1)
    change = db.session.scalar(select(Change).where(Change.entity == "person", Change.entity_id == saved.id))
    assert change.source == "sync" and change.known_on.isoformat() == "2016-05-01"


def test_replaying_a_batch_creates_nothing_and_answers_duplicate(ctx, client):
    _town, east, _west, _account, token = setup_collector()
    batch = [house_new(east.id)]
    batch.append(person_new(batch[0]["entity_uid"]))
    first = push_http(client, token, batch)
    before = db_state()
    again = push_http(client, token, batch)
    assert db_state() == before
    assert [r["status"] for r in again] == ["duplicate", "duplicate"]
    assert [r["original"] for r in again] == first


def test_a_uid_reused_for_other_content_is_a_conflict_that_applies_nothing(ctx, client):
    _town, east, _west, _account, token = setup_collector()
    item = house_new(east.id)
    [first] = push_http(client, token, [item])
    changed = {**item, "data": {**item["data"], "number": "8"}}
    before = db_state()
    results = push_http(client, token, [changed, changed])
    for result in results:
        assert result["status"] == "conflict" and result["code"] == "uid_reused" and result["reason"]
        assert result["applied"] is False and "record" not in result and "conflicts" not in result
    assert db_state() == before
    assert count(Conflict) == 0  # nothing for a reviewer: the first item stands
    # The original is still answered as a duplicate.
    [again] = push_http(client, token, [item])
    assert again["status"] == "duplicate" and again["original"] == first


def test_a_uid_reused_within_one_batch_is_a_conflict(ctx, client):
    _town, east, _west, _account, token = setup_collector()
    item = house_new(east.id)
    changed = {**item, "data": {**item["data"], "number": "8"}}
    results = push_http(client, token, [item, changed])
    assert [r["status"] for r in results] == ["accepted", "conflict"]
    assert results[1]["code"] == "uid_reused" and results[1]["applied"] is False
    assert count(House) == 1


def test_an_invalid_item_is_rejected_with_field_errors_and_does_not_block_the_others(ctx, client):
    _town, east, _west, _account, token = setup_collector()
    house = house_new(east.id)
    bad = person_new(house["entity_uid"])
    bad["data"]["id_number"] = bad["data"]["id_number"][:-1] + ("0" if bad["data"]["id_number"][-1] != "0" else "1")
    good = person_new(house["entity_uid"])
    results = push_http(client, token, [house, bad, good])
    assert [r["status"] for r in results] == ["accepted", "rejected", "accepted"]
    assert results[1]["code"] == "invalid" and "id_number" in results[1]["errors"]
    assert count(Person) == 1
    # A rejected item leaves no receipt: corrected, the same uid is accepted.
    fixed = {**bad, "data": {**bad["data"], "id_number": resident_id()}}
    [result] = push_http(client, token, [fixed])
    assert result["status"] == "accepted"


def test_damaged_items_are_rejected(ctx, client):
    _town, east, _west, _account, token = setup_collector()
    results = push_http(client, token, [{"uid": "nope", "op": "house.new"}, {"uid": new_uid(), "op": "house.burn"},
                                        "text", {**house_new(east.id), "entity_uid": "x"}])
    assert [r["code"] for r in results] == ["bad_item"] * 4


def test_items_of_the_wrong_shape_are_refused_alone(ctx, client):
    """What an API fuzzer sent (issue 9): each of these failed the whole batch with a 500."""
    _town, east, _west, _account, token = setup_collector()
    good = house_new(east.id)
    odd = [{**house_new(east.id), "op": []}, {**house_new(east.id), "op": {}}, {**house_new(east.id), "uid": []},
           {**house_new(east.id), "data": []}, {**house_new(east.id), "known_on": {}},
           {**house_new(east.id), "entity_uid": 7}, {**person_new(good["entity_uid"]), "house_uid": {}},
           {**update("house.update", good["entity_uid"], 1), "data": "x"}, None, 12, [], {"uid": "x" * 300}]
    results = push_http(client, token, odd + [good])
    assert [r["status"] for r in results] == ["rejected"] * len(odd) + ["accepted"]
    assert {r["code"] for r in results[:-1]} <= {"bad_item", "invalid"}
    assert all(r["uid"] is None or len(r["uid"]) <= 64 for r in results)


def test_moments_at_the_ends_of_the_calendar_fall_back_to_the_server_time(ctx, client):
    _town, east, _west, _account, token = setup_collector()
    early = {**house_new(east.id), "collected_at": "0001-01-01T00:00:00+14:00"}
    late = {**house_new(east.id, number="8"), "collected_at": "9999-12-31T23:59:59-12:00"}
    response = client.post("/api/sync/push", json={"items": [early, late], "sent_at": "9999-12-31T23:59:59Z"},
                           headers=bearer(token))
    assert response.status_code == 200
    assert [r["status"] for r in response.json["results"]] == ["accepted", "accepted"]
    response = client.post("/api/sync/push", json={"items": [house_new(east.id, number="9")],
                                                   "sent_at": "0001-01-01T00:00:00+14:00"}, headers=bearer(token))
    assert response.status_code == 200 and response.json["results"][0]["status"] == "accepted"


def test_house_outside_the_villages_is_rejected(ctx, client):
    _town, east, west, _account, token = setup_collector()
    elsewhere = make_house(west)
    before = db_state()
    results = push_http(client, token, [house_new(west.id), person_new(elsewhere.uid),
                                        update("house.update", elsewhere.uid, 1, use="rented")])
    assert [(r["status"], r["code"]) for r in results] == [("rejected", "out_of_scope")] * 3
    assert db_state() == before


def test_roles_without_registry_write_cannot_push(ctx, client):
    town, (east, _west) = make_town()
    informant = make_account(town, "informant", [east])
    token = device_token(informant)
    [result] = push_http(client, token, [house_new(east.id)])
    assert result["status"] == "rejected" and result["code"] == "forbidden"
    assert count(House) == 0


def test_people_from_abroad_only_by_police(ctx, client):
    town, (east, _west) = make_town()
    house = make_house(east)
    collector = make_account(town, "collector", [east])
    police = make_account(town, "police", [east])
    abroad = dict(id_type="414", id_number="E12345678", category="abroad", nationality="KOR",
                  birth_date="1990-01-02", sex="2", move_in_reason="work", hukou_type=None, ethnicity=None)
    [refused] = push_http(client, device_token(collector), [person_new(house.uid, **abroad)])
    assert refused["status"] == "rejected" and refused["code"] == "police_only"
    [accepted] = push_http(client, device_token(police), [person_new(house.uid, **abroad)])
    assert accepted["status"] == "accepted", accepted
    # The collector cannot touch the record either: it is outside what they may see.
    [hidden] = push_http(client, device_token(collector),
                         [update("person.update", accepted["record"]["uid"], 1, phone="13812345678")])
    assert hidden["code"] == "out_of_scope"


def test_update_before_its_new_is_held_then_applied(ctx, client):
    _town, east, _west, _account, token = setup_collector()
    house = house_new(east.id)
    person = person_new(house["entity_uid"])
    edit = update("person.update", person["entity_uid"], 1, phone="13812345678")
    results = push_http(client, token, [edit, person])
    assert [r["status"] for r in results] == ["held", "held"]
    assert count(Person) == 0
    [made] = push_http(client, token, [house])
    assert made["status"] == "accepted"
    db.session.rollback()
    saved = db.session.scalar(select(Person).where(Person.uid == person["entity_uid"]))
    assert saved.phone == "13812345678" and saved.version == 2
    receipts = {r.item_uid: r for r in db.session.scalars(select(SyncReceipt))}
    assert receipts[edit["uid"]].status == "accepted" and receipts[edit["uid"]].payload is None
    # A retry of the held item now answers with its final result.
    [again] = push_http(client, token, [edit])
    assert again["status"] == "duplicate" and again["original"]["status"] == "accepted"


def test_held_items_are_applied_in_the_same_push(ctx, client):
    _town, east, _west, _account, token = setup_collector()
    house = house_new(east.id)
    edit = update("house.update", house["entity_uid"], 1, owner_name="王五")
    results = push_http(client, token, [edit, house])
    assert [r["status"] for r in results] == ["held", "accepted"]
    db.session.rollback()
    saved = db.session.scalar(select(House).where(House.uid == house["entity_uid"]))
    assert saved.owner_name == "王五" and saved.version == 2


def test_a_held_item_that_turns_out_invalid_is_kept_as_rejected(ctx, client):
    _town, east, _west, _account, token = setup_collector()
    house = house_new(east.id)
    bad = update("house.update", house["entity_uid"], 1, owner_phone="123")
    assert push_http(client, token, [bad])[0]["status"] == "held"
    push_http(client, token, [house])
    [again] = push_http(client, token, [bad])
    assert again["original"]["status"] == "rejected" and "owner_phone" in again["original"]["errors"]


def test_two_collectors_offline_different_fields_merge(ctx, client):
    town, (east, _west) = make_town()
    house = make_house(east, use="owner")
    first, second = (device_token(make_account(town, "collector", [east])) for _ in range(2))
    [a] = push_http(client, first, [update("house.update", house.uid, 1, owner_name="甲")])
    [b] = push_http(client, second, [update("house.update", house.uid, 1, tenant_name="乙")])
    assert (a["status"], b["status"]) == ("accepted", "accepted")
    db.session.rollback()
    saved = db.session.get(House, house.id)
    assert (saved.owner_name, saved.tenant_name) == ("甲", "乙")
    assert count(Conflict) == 0


def test_two_collectors_offline_same_field_conflict_keeps_both(ctx, client):
    town, (east, _west) = make_town()
    house = make_house(east, use="owner")
    first, second = (device_token(make_account(town, "collector", [east])) for _ in range(2))
    push_http(client, first, [update("house.update", house.uid, 1, owner_name="甲")])
    item = update("house.update", house.uid, 1, owner_name="丙", tenant_name="乙")
    [b] = push_http(client, second, [item])
    assert b["status"] == "conflict"
    assert b["conflicts"] == {"owner_name": {"base": None, "current": "甲", "submitted": "丙"}}
    db.session.rollback()
    saved = db.session.get(House, house.id)
    assert (saved.owner_name, saved.tenant_name) == ("甲", "乙")  # nothing silently overwritten
    assert b["record"] == {"uid": house.uid, "version": saved.version}
    [row] = db.session.scalars(select(Conflict)).all()
    assert (row.entity, row.entity_id, row.field, row.current, row.submitted, row.item_uid) == (
        "house", house.id, "owner_name", "甲", "丙", item["uid"])


def test_leaving_against_a_stale_version_is_a_conflict(ctx, client):
    _town, east, _west, account, token = setup_collector()
    house = make_house(east)
    person = make_person(house)
    records.update_person(records.Actor(None), person, {"phone": "13812345678"}, person.version)
    db.session.commit()
    before_people = db.session.get(VillageCounter, east.id).people
    [result] = push_http(client, token, [update("person.leave", person.uid, 1, left_date="2016-06-01", reason="搬走")])
    assert result["status"] == "conflict" and "status" in result["conflicts"]
    db.session.rollback()
    assert db.session.get(Person, person.id).status == "living"
    assert db.session.get(VillageCounter, east.id).people == before_people
    [ok] = push_http(client, token, [update("person.leave", person.uid, 2, left_date="2016-06-01", reason="搬走")])
    assert ok["status"] == "accepted" and ok["record"]["version"] == 3


def test_a_change_on_the_base_of_the_phones_own_lost_answer_is_not_a_conflict(ctx, client):
    """The answer to a collector's update was lost, so the phone still holds version 1: its next
    update of the same field, and its leave, build on its own work (issue 9: 92 of 2,782 updates
    became conflicts for the reviewer). Someone else's change in between still conflicts."""
    town, east, _west, account, token = setup_collector()
    house = make_house(east, use="owner")
    person = make_person(house)
    push_http(client, token, [update("house.update", house.uid, 1, owner_name="甲")])  # answer lost
    [again] = push_http(client, token, [update("house.update", house.uid, 1, owner_name="乙")])
    assert again["status"] == "accepted"
    push_http(client, token, [update("person.update", person.uid, 1, phone="13812345678")])  # answer lost
    [left] = push_http(client, token, [update("person.leave", person.uid, 1, left_date="2016-06-01", reason="搬走")])
    assert left["status"] == "accepted"
    other = device_token(make_account(town, "collector", [east]))
    [theirs] = push_http(client, other, [update("house.update", house.uid, 1, owner_name="丙")])
    assert theirs["status"] == "conflict"
    db.session.rollback()
    assert db.session.get(House, house.id).owner_name == "乙"
    assert count(Conflict) == 1


def test_updates_need_a_usable_base_version(ctx, client):
    _town, east, _west, _account, token = setup_collector()
    house = make_house(east)
    results = push_http(client, token, [update("house.update", house.uid, None, use="owner"),
                                        update("house.update", house.uid, 9, use="owner")])
    assert [r["code"] for r in results] == ["bad_version", "bad_version"]


def test_a_known_document_matches_the_registered_person(ctx, client):
    _town, east, _west, _account, token = setup_collector()
    house, other = make_house(east), make_house(east, number="2")
    person = make_person(house)
    item = person_new(other.uid, id_number=person.id_number)
    [result] = push_http(client, token, [item])
    assert result["status"] == "accepted" and result["record"]["uid"] == person.uid
    # Later items naming the phone's uid reach the registered person.
    [edit] = push_http(client, token, [update("person.update", item["entity_uid"], result["record"]["version"],
                                              phone="13812345678")])
    assert edit["status"] == "accepted" and edit["record"]["uid"] == person.uid
    assert count(Person) == 1


def test_organisations_new_update_close(ctx, client):
    _town, east, _west, _account, token = setup_collector()
    house = make_house(east)
    org = organisation_new(house.uid, uscc="91350100M000100Y43")
    results = push_http(client, token, [
        org, update("organisation.update", org["entity_uid"], 1, employee_count=12),
        update("organisation.close", org["entity_uid"], 2, closed_date="2016-06-01")])
    assert [r["status"] for r in results] == ["accepted"] * 3, results
    assert results[2]["record"]["version"] == 3
    [dup] = push_http(client, token, [organisation_new(house.uid, uscc="91350100M000100Y43")])
    assert dup["code"] == "invalid" and "uscc" in dup["errors"]


def test_a_new_record_with_a_taken_uid_is_rejected(ctx, client):
    _town, east, _west, _account, token = setup_collector()
    house = make_house(east)
    [result] = push_http(client, token, [house_new(east.id, entity_uid=house.uid)])
    assert result["code"] == "exists"


def test_position_is_checked(ctx, client):
    _town, east, _west, _account, token = setup_collector()
    results = push_http(client, token, [house_new(east.id, lat=95.0), house_new(east.id, lat=30.5, lon=110.25)])
    assert results[0]["code"] == "invalid" and "lat" in results[0]["errors"]
    assert results[1]["status"] == "accepted"


def test_request_level_errors_are_json(ctx, client):
    _town, east, _west, _account, token = setup_collector()
    not_json = client.post("/api/sync/push", data="x", headers=bearer(token))
    assert not_json.status_code == 400 and not_json.json["error"] == "bad_request"
    many = client.post("/api/sync/push", json={"items": [house_new(east.id) for _ in range(201)]}, headers=bearer(token))
    assert many.status_code == 413 and many.json["error"] == "too_many_items"
    huge = client.post("/api/sync/push", data=b"{" + b" " * (2 * 1024 * 1024 + 10) + b"}",
                       headers={**bearer(token), "Content-Type": "application/json"})
    assert huge.status_code == 413 and huge.json["error"] == "too_large"
    assert count(House) == 0
