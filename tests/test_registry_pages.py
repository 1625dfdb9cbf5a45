"""Registry page details: door-code lookups, long searches, employers, history across villages,
audited edit forms, place names."""
from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from fieldapp import records
from fieldapp.extensions import db
from fieldapp.models import AuditEvent, Person

from .builders import make_account, make_house, make_person, make_town, resident_id


def _person_form(number, **extra):
    return {"name": "王五", "id_type": "111", "id_number": number, "category": "local", **extra}


def test_find_never_redirects_to_the_referer(ctx, login):
    town, (east, _west) = make_town()
    client = login(make_account(town, "collector", [east]))
    for code in ("nonsense", "0000-0001"):
        response = client.get(f"/find?code={code}", headers={"Referer": "https://elsewhere.example/"})
        assert response.status_code == 303 and response.location == "/villages"


def test_an_over_long_search_says_so(ctx, login):
    town, (east, _west) = make_town()
    make_house(east)
    client = login(make_account(town, "collector", [east]))
    page = client.get(f"/villages/{east.id}/houses", query_string={"q": "x" * 65}, follow_redirects=True)
    assert page.status_code == 200 and 'class="flash error"' in page.text


def test_move_in_date_before_the_current_home_is_refused_on_the_form(ctx, login):
    town, (east, _west) = make_town()
    old_home, new_home = make_house(east, number="1"), make_house(east, number="2")
    person = make_person(old_home, move_in_date=date(2016, 3, 1))
    client = login(make_account(town, "collector", [east]))
    response = client.post(f"/houses/{new_home.id}/people/new",
                           data=_person_form(person.id_number, move_in_date="2016-02-01"))
    assert response.status_code == 422 and "2016-03-01" in response.text
    assert db.session.get(Person, person.id).house_id == old_home.id


def test_employer_is_chosen_from_organisations_in_scope(ctx, login):
    town, (east, west) = make_town()
    home = make_house(east)
    mine = records.add_organisation(records.Actor(None), home, {"name": "东村合作社", "kind": "community_unit"})
    theirs = records.add_organisation(records.Actor(None), make_house(west), {"name": "西村工厂", "kind": "factory"})
    db.session.commit()
    client = login(make_account(town, "collector", [east]))
    form_page = client.get(f"/houses/{home.id}/people/new")
    assert "东村合作社" in form_page.text and "西村工厂" not in form_page.text
    refused = client.post(f"/houses/{home.id}/people/new", data=_person_form(resident_id(), employer_id=theirs.id))
    assert refused.status_code == 422
    number = resident_id()
    assert client.post(f"/houses/{home.id}/people/new",
                       data=_person_form(number, employer_id=mine.id)).status_code == 303
    person = db.session.scalar(select(Person).where(Person.id_number == number))
    assert person.employer_id == mine.id
    assert "东村合作社" in client.get(f"/people/{person.id}").text


def test_history_outside_scope_shows_the_village_only_and_place_names_show(ctx, login):
    town, (east, west) = make_town()
    person = make_person(make_house(west, number="88", group="9"), hukou_division="310115")
    records.move_person(records.Actor(None), person, make_house(east, number="5"), date(2016, 6, 1))
    db.session.commit()
    page = login(make_account(town, "collector", [east])).get(f"/people/{person.id}")
    assert "西村" in page.text and "9组88号" not in page.text and "5号" in page.text
    assert "上海市浦东新区" in page.text  # the registration place's name, not only its code


def test_opening_an_edit_form_is_audited(ctx, login):
    town, (east, _west) = make_town()
    person = make_person(make_house(east))
    collector = make_account(town, "collector", [east])
    page = login(collector).get(f"/people/{person.id}/edit")
    assert page.status_code == 200 and person.id_number in page.text
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "reveal_identifier")).all()
    assert [(e.target, e.detail, e.account_id) for e in events] == [(f"person:{person.id}", "edit form", collector.id)]
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 2  # sign-in + this
