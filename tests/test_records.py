"""The registry's one writer: history (Change rows), maintained counters, merges and moves."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from fieldapp import records
from fieldapp.extensions import db
from fieldapp.models import Change, Person, Residence, VillageCounter

from .builders import make_house, make_person, make_town, person_data


def counters(village):
    db.session.expire_all()
    c = db.session.get(VillageCounter, village.id)
    return c.people, c.houses, c.orgs


def changes(entity, entity_id):
    return db.session.scalars(select(Change).where(Change.entity == entity, Change.entity_id == entity_id)
                              .order_by(Change.id)).all()


def test_registering_a_register_house_counts_it_once(ctx):
    _town, (east, _west) = make_town()
    house = make_house(east)
    assert counters(east) == (0, 0, 0) and house.collected_at is None
    actor = records.Actor(None)
    records.update_house(actor, house, {"use": "owner"}, house.version)
    records.update_house(actor, house, {"use": "rented"}, house.version)
    db.session.commit()
    assert counters(east) == (0, 1, 0)
    kinds = [(c.kind, c.fields) for c in changes("house", house.id)]
    assert kinds[1:] == [("update", {"use": [None, "owner"]}), ("update", {"use": ["owner", "rented"]})]


def test_saving_a_house_unchanged_still_registers_it(ctx):
    _town, (east, _west) = make_town()
    house = make_house(east)
    records.update_house(records.Actor(None), house, {}, house.version)
    db.session.commit()
    assert house.collected_at is not None and counters(east)[1] == 1
    assert changes("house", house.id)[-1].fields == {"collected_at": [None, "registered"]}


def test_adding_a_known_document_moves_the_person_and_keeps_history(ctx):
    _town, (east, west) = make_town()
    old_home, new_home = make_house(east), make_house(west)
    person = make_person(old_home)
    again, outcome, _conflicts = records.add_person(records.Actor(None), new_home,
                                      person_data(id_number=person.id_number, name="张三", phone="13812345678"),
                                      relation="02")
    db.session.commit()
    assert outcome == "moved" and again.id == person.id
    assert db.session.scalar(select(func.count()).select_from(Person)) == 1
    spans = db.session.scalars(select(Residence).where(Residence.person_id == person.id).order_by(Residence.id)).all()
    assert [(s.house_id, s.to_date is None) for s in spans] == [(old_home.id, False), (new_home.id, True)]
    assert counters(east)[0] == 0 and counters(west)[0] == 1
    assert person.phone == "13812345678" and person.village_id == west.id


def test_mark_left_and_return(ctx):
    _town, (east, _west) = make_town()
    home = make_house(east)
    person = make_person(home)
    records.mark_left(records.Actor(None), person, date(2016, 6, 1), "moved to Changsha", person.version)
    db.session.commit()
    assert counters(east)[0] == 0 and person.status == "left"
    assert changes("person", person.id)[-1].kind == "cancel"
    records.mark_left(records.Actor(None), person, date(2016, 6, 2), "again", None)  # no-op
    assert len(changes("person", person.id)) == 2
    records.add_person(records.Actor(None), home, person_data(id_number=person.id_number))
    db.session.commit()
    assert counters(east)[0] == 1 and person.status == "living"


def test_stale_edit_of_another_field_merges_and_same_field_conflicts(ctx):
    _town, (east, _west) = make_town()
    person = make_person(make_house(east))
    base = person.version
    records.update_person(records.Actor(None), person, {"phone": "13812345678"}, base)
    db.session.commit()
    records.update_person(records.Actor(None), person, {"hukou_address": "长沙市"}, base)  # other field
    db.session.commit()
    assert (person.phone, person.hukou_address) == ("13812345678", "长沙市")
    with pytest.raises(records.Conflict) as clash:
        records.update_person(records.Actor(None), person, {"phone": "13900000000"}, base)
    assert clash.value.conflicts["phone"]["current"] == "13812345678"
    assert clash.value.current_version == person.version
    db.session.rollback()
    assert db.session.get(Person, person.id).phone == "13812345678"


def test_leaving_on_a_stale_version_is_a_conflict(ctx):
    _town, (east, _west) = make_town()
    person = make_person(make_house(east))
    base = person.version
    records.update_person(records.Actor(None), person, {"phone": "13812345678"}, base)
    with pytest.raises(records.Conflict):
        records.mark_left(records.Actor(None), person, date(2016, 6, 1), "moved", base)


def test_police_only_changes_are_marked(ctx):
    _town, (east, _west) = make_town()
    person = make_person(make_house(east), id_type="414", id_number="E12345678", category="abroad",
                         nationality="VNM", birth_date=date(1990, 1, 1), sex="1")
    assert all(c.police_only for c in changes("person", person.id))


def test_organisations_count_while_open(ctx):
    _town, (east, _west) = make_town()
    house = make_house(east)
    org = records.add_organisation(records.Actor(None), house, {"name": "东村便利店", "kind": "shop"})
    db.session.commit()
    assert counters(east)[2] == 1
    records.close_organisation(records.Actor(None), org, date(2016, 7, 1), org.version)
    db.session.commit()
    assert counters(east)[2] == 0 and [c.kind for c in changes("organisation", org.id)] == ["new", "cancel"]


def test_recount_agrees_with_maintained_counters(ctx):
    _town, (east, west) = make_town()
    homes = [make_house(v, number=str(n), collected=n % 2 == 0) for v in (east, west) for n in range(4)]
    people = [make_person(h) for h in homes[:5]]
    records.mark_left(records.Actor(None), people[0], date(2016, 6, 1), "moved", None)
    records.move_person(records.Actor(None), people[1], homes[6], date(2016, 6, 2))
    records.add_organisation(records.Actor(None), homes[7], {"name": "西村合作社", "kind": "community_unit"})
    db.session.commit()
    maintained = {v.id: counters(v) for v in (east, west)}
    assert records.recount() == maintained


def test_registering_anything_at_an_unvisited_house_counts_the_visit(ctx):
    _town, (east, _west) = make_town()
    home, shop = make_house(east, number="1"), make_house(east, number="2")
    make_person(home)
    records.add_organisation(records.Actor(None), shop, {"name": "东村便利店", "kind": "shop"})
    db.session.commit()
    assert home.collected_at is not None and shop.collected_at is not None
    assert counters(east) == (1, 2, 1)
    assert records.recount()[east.id] == (1, 2, 1)


def test_a_move_dated_before_the_current_residence_is_refused(ctx):
    _town, (east, _west) = make_town()
    old_home, new_home = make_house(east, number="1"), make_house(east, number="2")
    person = make_person(old_home, move_in_date=date(2016, 3, 1))
    with pytest.raises(records.DateOrder) as error:
        records.move_person(records.Actor(None), person, new_home, date(2016, 2, 1))
    assert error.value.not_before == date(2016, 3, 1)
    db.session.rollback()
    records.move_person(records.Actor(None), person, new_home, date(2016, 3, 1))  # same day is fine


def test_re_registering_at_the_same_house_is_an_update(ctx):
    _town, (east, _west) = make_town()
    home = make_house(east)
    person = make_person(home)
    again, outcome, _conflicts = records.add_person(records.Actor(None), home, person_data(id_number=person.id_number,
                                                                               phone="13812345678"))
    assert (again.id, outcome, counters(east)[0]) == (person.id, "updated", 1)


def test_a_new_house_never_takes_a_door_code_already_in_use(ctx, monkeypatch):
    _town, (east, _west) = make_town()
    taken = make_house(east, number="1").door_code
    draws = iter([taken, taken, "ABCD1234"])
    monkeypatch.setattr(records, "new_door_code", lambda: next(draws))
    house = records.create_house(records.Actor(None), east.id, {"number": "2"})
    assert house.door_code == "ABCD1234"
