"""Moving a person between villages is a request, never a takeover (fieldapp/moves.py).

The attack these tests fail on before the fix: a collector of one village registers, at a house of
their own, the ID number of a person registered elsewhere; that person was moved to the
collector's village, renamed to what was typed, and sent with full ID and phone in the next package.
"""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from fieldapp import moves, records
from fieldapp.extensions import db
from fieldapp.models import Account, Change, Conflict, MoveRequest, Person, Residence, SyncReceipt

from .builders import english, make_account, make_other_town, make_house, make_person, make_town, person_data, resident_id, send, text_of
from .sync_builders import bearer, device_token, person_new, push_http, update

REQUESTED = "already registered elsewhere"


def _world():
    """东村 and 西村 in one town, 远村 in another (外镇); one registered person in each, and one person from
    abroad living in 东村."""
    town, (east, west) = make_town()
    _far_town, far = make_other_town()
    homes = {key: make_house(v, number="1", collected=True) for key, v in (("own", east), ("west", west), ("town2", far))}
    people = {key: make_person(house, name=f"{key}居民", phone="13812345678", move_in_date=date(2015, 1, 1))
              for key, house in homes.items()}
    people["abroad"] = make_person(homes["own"], name="境外约翰", id_type="414", id_number="E7654321", sex="1",
                                   birth_date=date(1980, 5, 1), category="abroad", nationality="USA",
                                   move_in_reason="work", ethnicity=None, hukou_type=None)
    arrival = make_house(east, number="2", collected=True)  # where 东村's staff register someone
    return town, east, west, far, homes, people, arrival


def _form(number: str, name="新名字", id_type="111", **extra) -> dict:
    return {"name": name, "id_type": id_type, "id_number": number, "category": "local", "ethnicity": "01",
            "hukou_type": "1", "relation": "", "move_in_reason": "", "away_duration": "",
            "move_in_date": "2017-05-01", "known_on": date.today().isoformat(), **extra}


def _snapshot(person_id: int):
    db.session.rollback()
    person = db.session.get(Person, person_id)
    return (person.name, person.house_id, person.village_id, person.status, person.version,
            db.session.scalar(select(func.count()).select_from(Residence).where(Residence.person_id == person_id)))


# --- registering: web ------------------------------------------------------------------------

# Every role with and without registry.write, against a document registered in the own village,
# another village, another town, and a person from abroad (in the own village, with a passport). The
# answer: "moved" inside scope, "requested" outside it, 403 without the right; a passport is not even
# a document type other roles may type (422: their form offers no foreign documents).
REGISTRATION_MATRIX = [
    # role            own          west         town2        abroad
    ("admin",        (403,         403,         403,         403)),
    ("supervisor",   (403,         403,         403,         403)),
    ("village_head", (403,         403,         403,         403)),
    ("reviewer",     ("moved",     "requested", "requested", 422)),
    ("collector",    ("moved",     "requested", "requested", 422)),
    ("police",       ("moved",     "requested", "requested", "moved")),
    ("informant",    (403,         403,         403,         403)),
]


@pytest.mark.parametrize("role,expected", REGISTRATION_MATRIX)
def test_registering_a_known_document_per_role_and_place(ctx, login, role, expected):
    town, east, _west, _far, _homes, people, arrival = _world()
    account = make_account(town, role, [east])
    client = english(login(account))
    arrival_id = arrival.id
    for key, want in zip(("own", "west", "town2", "abroad"), expected):
        person = people[key]
        person_id, number, id_type = person.id, person.id_number, person.id_type
        before = _snapshot(person_id)
        form = _form(number, id_type=id_type, name=person.name)  # the same name: no conflict
        if key == "abroad":
            form.update(sex="1", birth_date="1980-05-01", category="abroad", nationality="USA",
                        move_in_reason="work", ethnicity="", hukou_type="")
        requests_before = db.session.scalar(select(func.count()).select_from(MoveRequest))
        response = send(client, "POST", f"/houses/{arrival_id}/people/new", form)
        if isinstance(want, int):
            assert response.status_code == want, (role, key)
            assert _snapshot(person_id) == before
            continue
        assert response.status_code == 303, (role, key, response.get_data(as_text=True)[-400:])
        page = send(client, "GET", response.headers["Location"]).get_data(as_text=True)
        requests_after = db.session.scalar(select(func.count()).select_from(MoveRequest))
        if want == "requested":
            assert REQUESTED in page, (role, key)
            assert _snapshot(person_id) == before, (role, key)  # nobody moved, nothing renamed
            assert requests_after == requests_before + 1
        else:
            assert "has been moved to this house" in page, (role, key)
            assert _snapshot(person_id)[1] == arrival_id
            assert requests_after == requests_before


def test_the_request_answer_reveals_nothing_about_the_registered_person(ctx, login):
    """The same words for another village, another town and a person from abroad; no name, village,
    number or category of the registered record on the page."""
    town, east, west, _far, _homes, people, arrival = _world()
    # A person from abroad who holds a resident ID (the only document a non-police form offers).
    hidden = make_person(make_house(west, number="9", collected=True), name="境外二号",
                         id_number=resident_id(birth="19800501"), category="abroad", nationality="USA",
                         move_in_reason="work", birth_date=date(1980, 5, 1))
    targets = {"west": people["west"], "town2": people["town2"], "abroad": hidden}
    client = english(login(make_account(town, "collector", [east])))
    flashes = []
    for key, person in targets.items():
        response = send(client, "POST", f"/houses/{arrival.id}/people/new", _form(person.id_number))
        assert response.status_code == 303, key
        page = text_of(send(client, "GET", response.headers["Location"]))
        assert REQUESTED in page, key
        for secret in (person.name, "西村", "远村", "外镇", "13812345678", "境外", "USA"):
            assert secret not in page, (key, secret)
        start = page.index(REQUESTED)
        flashes.append(page[start - 60:start + 120])
    assert flashes[0] == flashes[1] == flashes[2]  # one answer whatever the place or category


def test_the_typed_name_never_overwrites_and_the_phone_package_leaks_nothing(ctx, client):
    """YP-0042's attack over sync: person.new at an own house with 西村's person's ID number."""
    town, east, west, _far, _homes, people, arrival = _world()
    victim = people["west"]
    victim_id, victim_uid, number = victim.id, victim.uid, victim.id_number
    attacker = make_account(town, "collector", [east])
    token = device_token(attacker)
    before = _snapshot(victim_id)
    item = person_new(arrival.uid, id_number=number, name="冒名顶替")
    [result] = push_http(client, token, [item])
    reason = result.pop("reason")
    assert result == {"uid": item["uid"], "status": "requested", "code": "move_requested"}
    assert reason and not any(secret in reason for secret in (number, "west居民", "西村"))
    assert _snapshot(victim_id) == before
    # The next package holds nothing of the victim: not their uid, not their number, not the name typed.
    body = client.get("/api/sync/package?cursor=0", headers=bearer(token)).get_data(as_text=True)
    for secret in (victim_uid, number, "冒名顶替", "west居民"):
        assert secret not in body
    # A later update naming the phone's uid reaches nobody (answered like any record out of scope).
    [edit] = push_http(client, token, [update("person.update", item["entity_uid"], 1, phone="13900000000")])
    assert edit["status"] in ("held", "rejected")
    assert _snapshot(victim_id) == before
    # 西村's collector still has their person.
    west_token = device_token(make_account(town, "collector", [west]))
    west_body = client.get("/api/sync/package?cursor=0", headers=bearer(west_token)).get_data(as_text=True)
    assert victim_uid in west_body
    # Sending the same item again repeats the answer; the request is kept once.
    [again] = push_http(client, token, [item])
    assert again["status"] == "duplicate" and again["original"]["status"] == "requested"
    assert db.session.scalar(select(func.count()).select_from(MoveRequest)) == 1


def test_inside_scope_a_differing_name_is_a_conflict_not_an_overwrite(ctx, client):
    town, east, _west, _far, homes, people, arrival = _world()
    person = people["own"]
    person_id, number, name = person.id, person.id_number, person.name
    token = device_token(make_account(town, "collector", [east]))
    [result] = push_http(client, token, [person_new(arrival.uid, id_number=number, name="改名换姓")])
    assert result["status"] == "conflict" and result["record"]["uid"] == person.uid
    assert result["conflicts"] == {"name": {"base": name, "current": name, "submitted": "改名换姓"}}
    db.session.rollback()
    person = db.session.get(Person, person_id)
    assert person.name == name and person.house_id == arrival.id  # moved within scope, name kept
    assert db.session.scalar(select(Conflict.submitted).where(Conflict.entity_id == person_id)) == "改名换姓"


# --- deciding ---------------------------------------------------------------------------------

def _request_from(client, token, arrival_uid, number, name="新名字", entity_uid=None):
    item = person_new(arrival_uid, entity_uid=entity_uid, id_number=number, name=name)
    [result] = push_http(client, token, [item])
    assert result["status"] == "requested"
    db.session.rollback()
    return item, db.session.scalar(select(MoveRequest).where(MoveRequest.item_uid == item["uid"]))


def test_receiving_reviewer_confirms_only_after_the_sending_village_was_told(ctx, client, login):
    town, east, west, _far, homes, people, arrival = _world()
    victim = people["west"]
    victim_id, victim_name, old_house = victim.id, victim.name, homes["west"].id
    collector = make_account(town, "collector", [east])
    east_reviewer = make_account(town, "reviewer", [east])
    west_reviewer = make_account(town, "reviewer", [west])
    token = device_token(collector)
    item, request = _request_from(client, token, arrival.uid, victim.id_number, name="另一个名字")
    request_id = request.id
    # The phone also sent an edit of the person it registered: held until the move is decided.
    [held] = push_http(client, token, [update("person.update", item["entity_uid"], 1, phone="13900000001")])
    assert held["status"] == "held"

    receiving = login(east_reviewer)
    queue = send(receiving, "GET", "/review/moves").get_data(as_text=True)
    assert "另一个名字" in queue and victim_name not in queue  # they do not see 西村's record
    assert send(receiving, "POST", f"/review/moves/{request_id}/confirm", {}).status_code == 303
    assert _snapshot(victim_id)[1] == old_house  # not yet: 西村 has not been told

    sending = login(west_reviewer)
    queue = send(sending, "GET", "/review/moves").get_data(as_text=True)
    assert "另一个名字" in queue and victim_name in queue  # side by side for the sending village
    assert send(sending, "POST", f"/review/moves/{request_id}/confirm", {}).status_code == 303
    assert _snapshot(victim_id)[1] == old_house  # the sending side does not confirm a move out
    assert send(sending, "POST", f"/review/moves/{request_id}/acknowledge", {}).status_code == 303

    receiving = login(east_reviewer)
    assert send(receiving, "POST", f"/review/moves/{request_id}/confirm", {}).status_code == 303
    db.session.rollback()
    person = db.session.get(Person, victim_id)
    assert (person.house_id, person.village_id, person.name) == (arrival.id, east.id, victim_name)
    spans = [(r.house_id, r.to_date is None) for r in person.residences]
    assert spans == [(old_house, False), (arrival.id, True)]  # history kept
    # The differing name waits for the reviewer; it was not written.
    assert [(c.field, c.submitted) for c in db.session.scalars(select(Conflict).where(Conflict.entity_id == victim_id))] \
        == [("name", "另一个名字")]
    # The move's Change rows name the collector's visit and the reviewer who confirmed them.
    moved = db.session.scalars(select(Change).where(Change.entity == "person", Change.entity_id == victim_id,
                                                    Change.source == "sync")).all()
    assert moved and all(c.collected_by_id == collector.id and c.reviewed_by_id == east_reviewer.id for c in moved)
    # The phone's uid now finds the person: its held edit is released by the next push's sweep,
    # and the next package brings the person to the collector.
    push_http(client, token, [])
    db.session.rollback()
    receipt = db.session.scalar(select(SyncReceipt).where(SyncReceipt.item_uid == held["uid"]))
    assert receipt.status == "accepted" and db.session.get(Person, victim_id).phone == "13900000001"
    body = client.get("/api/sync/package?cursor=0", headers=bearer(token)).get_data(as_text=True)
    assert db.session.get(Person, victim_id).uid in body


def test_a_reviewer_of_both_villages_confirms_at_once_and_nobody_decides_their_own(ctx, client):
    town, east, west, _far, homes, people, arrival = _world()
    victim_id = people["west"].id
    both = make_account(town, "reviewer", [east, west])
    submitter = make_account(town, "reviewer", [east])  # a reviewer who collects too
    _item, request = _request_from(client, device_token(submitter), arrival.uid, people["west"].id_number)
    with pytest.raises(moves.NotAllowed):
        moves.confirm(db.session.get(Account, submitter.id), request)
    db.session.rollback()
    request = db.session.get(MoveRequest, request.id)
    # The submitter sees the person in neither queue as someone whose record they may read.
    assert moves.powers(submitter, request).own and not moves.powers(submitter, request).refuse
    moves.confirm(both, request)
    db.session.commit()
    assert _snapshot(victim_id)[1] == arrival.id
    with pytest.raises(moves.AlreadyDecided):
        moves.refuse(both, db.session.get(MoveRequest, request.id), "too late")


def test_a_request_for_a_person_from_abroad_is_police_only(ctx, client):
    town, east, west, _far, homes, people, arrival = _world()
    # A person from abroad registered in 西村 (police-only), and a collector of 东村 who types their
    # resident ID number (the only document type a non-police form offers).
    abroad_home = make_house(west, number="9", collected=True)
    number = resident_id(birth="19800501")
    hidden = make_person(abroad_home, name="境外二号", id_number=number, category="abroad", nationality="USA",
                         move_in_reason="work", birth_date=date(1980, 5, 1))
    hidden_id = hidden.id
    collector_token = device_token(make_account(town, "collector", [east]))
    _item, request = _request_from(client, collector_token, arrival.uid, number)
    assert request.police_only
    reviewer = make_account(town, "reviewer", [east, west])
    police = make_account(town, "police", [east, west])
    assert moves.pending(reviewer) == [] and moves.request_or_none(reviewer, request.id) is None
    assert [r.id for r in moves.pending(police)] == [request.id]
    moves.confirm(police, request)
    db.session.commit()
    assert _snapshot(hidden_id)[1] == arrival.id


def test_refusing_moves_nobody_and_ends_the_phones_waiting_items(ctx, client, login):
    town, east, west, _far, homes, people, arrival = _world()
    victim_id = people["west"].id
    before = _snapshot(victim_id)
    token = device_token(make_account(town, "collector", [east]))
    item, request = _request_from(client, token, arrival.uid, people["west"].id_number)
    [held] = push_http(client, token, [update("person.update", item["entity_uid"], 1, phone="13900000001")])
    west_reviewer = login(make_account(town, "reviewer", [west]))
    assert send(west_reviewer, "POST", f"/review/moves/{request.id}/refuse", {"note": "不是本人"}).status_code == 303
    assert _snapshot(victim_id) == before
    db.session.rollback()
    assert db.session.get(MoveRequest, request.id).status == "refused"
    [again] = push_http(client, token, [update("person.update", item["entity_uid"], 1, phone="13900000001")
                                        | {"uid": held["uid"]}])
    assert again["status"] == "duplicate" and again["original"]["code"] == "move_refused"


def test_the_arriving_house_lists_the_request_as_typed(ctx, login):
    town, east, _west, _far, _homes, people, arrival = _world()
    client = login(make_account(town, "collector", [east]))
    send(client, "POST", f"/houses/{arrival.id}/people/new", _form(people["west"].id_number, name="等着搬来"))
    page = send(client, "GET", f"/houses/{arrival.id}").get_data(as_text=True)
    assert "等着搬来" in page and "west居民" not in page


def test_records_add_person_fills_only_what_is_missing(ctx):
    _town, (east, _west) = make_town()
    home = make_house(east, collected=True)
    person = make_person(home, phone=None, hukou_address="长沙市")
    again, outcome, conflicts = records.add_person(records.Actor(None), home, person_data(
        id_number=person.id_number, phone="13812345678", hukou_address="湘潭市"))
    assert (again.id, outcome) == (person.id, "updated")
    assert person.phone == "13812345678" and person.hukou_address == "长沙市"
    assert conflicts == {"hukou_address": {"base": "长沙市", "current": "长沙市", "submitted": "湘潭市"}}


# --- what a second read of the change found (each failed before its fix) ---------------------------

def test_the_house_page_lists_every_request_whatever_the_registered_category(ctx, login):
    """Hiding a request because the registered person is from abroad would tell the collector so."""
    town, east, west, _far, _homes, people, arrival = _world()
    hidden = make_person(make_house(west, number="9", collected=True), name="境外二号",
                         id_number=resident_id(birth="19800501"), category="abroad", nationality="USA",
                         move_in_reason="work", birth_date=date(1980, 5, 1))
    client = login(make_account(town, "collector", [east]))
    for typed, number in (("甲某", people["west"].id_number), ("乙某", hidden.id_number)):
        assert send(client, "POST", f"/houses/{arrival.id}/people/new", _form(number, name=typed)).status_code == 303
    page = text_of(send(client, "GET", f"/houses/{arrival.id}"))
    assert "甲某" in page and "乙某" in page


def test_a_reviewer_who_registers_someone_is_not_told_where_they_are_registered(ctx, login):
    town, east, _west, _far, _homes, people, arrival = _world()
    client = english(login(make_account(town, "reviewer", [east])))
    send(client, "POST", f"/houses/{arrival.id}/people/new", _form(people["west"].id_number, name="自己登记"))
    queue = text_of(send(client, "GET", "/review/moves"))
    assert "自己登记" in queue and "西村" not in queue and "Registered in another village" in queue
    assert "Confirm the move" not in queue and "Refuse the move" not in queue


def test_the_registered_move_in_date_is_not_told_to_a_reviewer_who_cannot_see_the_person(ctx, client, login):
    town, east, west, _far, homes, people, arrival = _world()
    victim = people["west"]  # moved in on 2015-01-01
    token = device_token(make_account(town, "collector", [east]))
    _item, request = _request_from(client, token, arrival.uid, victim.id_number)
    request.data = {**request.data, "move_in_date": "2014-06-01"}
    db.session.commit()
    moves.acknowledge(make_account(town, "reviewer", [west]), db.session.get(MoveRequest, request.id))
    db.session.commit()
    receiving = english(login(make_account(town, "reviewer", [east])))
    response = send(receiving, "POST", f"/review/moves/{request.id}/confirm", {})
    page = text_of(send(receiving, "GET", response.headers["Location"]))
    assert "earlier than the date the person moved in" in page and "2015-01-01" not in page
    assert _snapshot(victim.id)[1] == homes["west"].id


def test_an_acknowledgement_counts_only_for_the_village_the_person_is_registered_in(ctx, client, login):
    town, (east, west, south) = make_town(villages=("东村", "西村", "南村"))
    victim = make_person(make_house(west, number="1", collected=True), move_in_date=date(2015, 1, 1))
    victim_id = victim.id
    arrival, south_house = make_house(east, number="9", collected=True), make_house(south, number="3", collected=True)
    arrival_id = arrival.id
    token = device_token(make_account(town, "collector", [east]))
    _item, request = _request_from(client, token, arrival.uid, victim.id_number)
    request_id = request.id
    moves.acknowledge(make_account(town, "reviewer", [west]), request)
    db.session.commit()
    # Meanwhile the person moves to 南村 (an office inside its scope).
    records.move_person(records.Actor(None), db.session.get(Person, victim_id), south_house, date(2015, 6, 1))
    db.session.commit()
    receiving = login(make_account(town, "reviewer", [east]))
    assert send(receiving, "POST", f"/review/moves/{request_id}/confirm", {}).status_code == 303
    assert _snapshot(victim_id)[1] == south_house.id  # 西村's word no longer counts
    south_reviewer = login(make_account(town, "reviewer", [south]))
    assert f"move-{request_id}" in send(south_reviewer, "GET", "/review/moves").get_data(as_text=True)
    assert send(south_reviewer, "POST", f"/review/moves/{request_id}/acknowledge", {}).status_code == 303
    receiving = login(make_account(town, "reviewer", [east]))
    assert send(receiving, "POST", f"/review/moves/{request_id}/confirm", {}).status_code == 303
    assert _snapshot(victim_id)[1] == arrival_id


def test_a_person_found_to_be_from_abroad_meanwhile_makes_the_request_police_only(ctx, client):
    town, east, west, _far, _homes, people, arrival = _world()
    victim_id = people["west"].id
    _item, request = _request_from(client, device_token(make_account(town, "collector", [east])), arrival.uid,
                                   people["west"].id_number)
    moves.acknowledge(make_account(town, "reviewer", [west]), request)
    db.session.commit()
    person = db.session.get(Person, victim_id)
    person.category, person.nationality, person.move_in_reason = "abroad", "USA", "work"
    db.session.commit()
    reviewer = make_account(town, "reviewer", [east])
    request = db.session.get(MoveRequest, request.id)
    assert moves.pending(reviewer) == [] and moves.request_or_none(reviewer, request.id) is None
    with pytest.raises(moves.NotAllowed):
        moves.confirm(reviewer, request)
    db.session.rollback()
    police = make_account(town, "police", [east])
    moves.confirm(police, db.session.get(MoveRequest, request.id))
    db.session.commit()
    assert _snapshot(victim_id)[1] == arrival.id


def test_a_requested_uid_is_taken_in_later_pushes_and_in_the_same_batch(ctx, client):
    town, east, _west, _far, _homes, people, arrival = _world()
    token = device_token(make_account(town, "collector", [east]))
    first = person_new(arrival.uid, id_number=people["west"].id_number)
    again = person_new(arrival.uid, entity_uid=first["entity_uid"], id_number=people["town2"].id_number)
    results = push_http(client, token, [first, again])  # one batch: no 500
    assert [r["status"] for r in results] == ["requested", "rejected"] and results[1]["code"] == "exists"
    later = person_new(arrival.uid, entity_uid=first["entity_uid"], id_number=resident_id(birth="19900101"))
    [result] = push_http(client, token, [later])
    assert result["status"] == "rejected" and result["code"] == "exists"
