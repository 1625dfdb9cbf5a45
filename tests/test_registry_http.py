"""The collector's flows over HTTP: finding houses, registering and updating houses, people and
organisations, moves and departures, concurrent edits, malformed posts and CSRF.

Every request goes through the test client the way a phone's browser sends it; forms are read back
from the rendered page (hidden version included) and submitted again, like a person would. Each write
is checked in the database: the record, its Change rows (kind and fields) and the village counters.
Pages are switched to English so messages can be compared with the source strings.
"""
from __future__ import annotations

import html
import re
from datetime import date, timedelta
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from fieldapp.extensions import db
from fieldapp.models import (Change, Conflict, House, Organisation, Person, Residence, VillageCounter)
from fieldapp.rules.doorcode import is_valid_door_code, new_door_code
from fieldapp.rules.identifiers import (IdentifierError, resident_id_check_digit, uscc_check_char,
                                        validate_mobile, validate_resident_id, validate_uscc)

from .builders import PIN, db_state, english, make_account, make_house, make_person, make_town, resident_id, send, text_of

TODAY = date.today().isoformat()


# --- helpers local to this file ----------------------------------------------------------------







class _Page(HTMLParser):
    """The forms of a page (what a browser would submit) and every element's attributes by id."""

    def __init__(self, markup: str):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self.by_id: dict[str, tuple[str, dict]] = {}
        self._form = None
        self._select = None
        self._first_option = None
        self._textarea = None
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.by_id[attrs["id"]] = (tag, attrs)
        if tag == "form":
            self._form = {"attrs": attrs, "fields": {}}
            self.forms.append(self._form)
        if self._form is None:
            return
        fields = self._form["fields"]
        if tag == "input":
            kind, name = attrs.get("type", "text"), attrs.get("name")
            if not name or kind in ("submit", "button", "reset", "file"):
                return
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    fields[name] = attrs.get("value") or "on"
                return
            fields[name] = attrs.get("value") or ""
        elif tag == "select":
            self._select, self._first_option = attrs.get("name"), None
        elif tag == "option" and self._select:
            value = attrs.get("value") or ""
            if self._first_option is None:
                self._first_option = value
            if "selected" in attrs:
                fields[self._select] = value
        elif tag == "textarea":
            self._textarea = attrs.get("name")
            fields[self._textarea] = ""

    def handle_data(self, data):
        if self._textarea and self._form is not None:
            self._form["fields"][self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "select" and self._select:
            self._form["fields"].setdefault(self._select, self._first_option or "")
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form":
            self._form = None



def shown_again(before: dict) -> dict:
    """The database after a refused edit form: nothing written but the audit row of the personal data
    the form shows again (fieldapp/registry/views.py _form_page)."""
    return {**before, "audit_events": before["audit_events"] + 1}

def form_fields(response) -> dict:
    """What the page's main form (class "card") would submit, as a browser would send it."""
    page = _Page(response.get_data(as_text=True))
    cards = [f for f in page.forms if "card" in (f["attrs"].get("class") or "").split()]
    assert len(cards) == 1, f"expected one main form, found {len(cards)}"
    return dict(cards[0]["fields"])


def element(response, element_id: str) -> dict:
    page = _Page(response.get_data(as_text=True))
    assert element_id in page.by_id, f"no element with id {element_id!r}"
    return page.by_id[element_id][1]


def field_errors(response, field_id: str) -> list[str]:
    """The error messages shown next to a field."""
    return [html.unescape(m).strip() for m in re.findall(
        rf'<p class="error" id="{re.escape(field_id)}-error">(.*?)</p>', response.get_data(as_text=True), re.S)]


def assert_field_error(response, field_id: str, message: str | None = None) -> None:
    """The field is marked invalid for screen readers and its message sits next to it."""
    attrs = element(response, field_id)
    assert attrs.get("aria-invalid") == "true", attrs
    assert f"{field_id}-error" in (attrs.get("aria-describedby") or "").split()
    shown = field_errors(response, field_id)
    assert shown, f"no error message next to {field_id}"
    if message is not None:
        assert message in shown


def house_links(response) -> list[int]:
    return [int(i) for i in re.findall(r'href="/houses/(\d+)"', response.get_data(as_text=True))]


def counter(village_id: int) -> tuple[int, int, int]:
    row = db.session.get(VillageCounter, village_id)
    db.session.refresh(row)
    value = (row.people, row.houses, row.orgs)
    db.session.rollback()
    return value


def changes(entity: str, entity_id: int) -> list[tuple[str, dict]]:
    rows = [(c.kind, dict(c.fields)) for c in db.session.scalars(
        select(Change).where(Change.entity == entity, Change.entity_id == entity_id).order_by(Change.id))]
    db.session.rollback()
    return rows


def fresh(model, record_id):
    """The record as committed now (the app wrote it in another session)."""
    db.session.rollback()
    return db.session.get(model, record_id)



def id_error(number: str, rule=validate_resident_id) -> str:
    try:
        rule(number)
    except IdentifierError as error:
        return error.message("en")
    raise AssertionError(f"{number!r} is valid")


def resident_id_ending_in_x(birth: str = "19850312") -> str:
    for _ in range(400):
        number = resident_id(birth=birth)
        if number.endswith("X"):
            return number
    raise AssertionError("no resident ID with check character X found")


def credit_code(prefix: str = "N2", division: str = "431121", org_code: str = "MA1234567") -> str:
    body = prefix + division + org_code
    return body + uscc_check_char(body)


def person_form(id_number: str, **overrides) -> dict:
    data = {"name": "王小明", "id_type": "111", "id_number": id_number, "sex": "", "birth_date": "",
            "category": "local", "ethnicity": "01", "nationality": "", "phone": "", "hukou_division": "",
            "hukou_address": "", "hukou_type": "1", "relation": "01", "room": "", "move_in_date": "2016-03-01",
            "move_in_reason": "", "away_duration": "", "known_on": TODAY}
    data.update(overrides)
    return data


def house_form(**overrides) -> dict:
    data = {"group_name": "3", "road": "", "lane": "", "number": "27", "building": "", "room": "",
            "use": "owner", "owner_name": "", "owner_phone": "", "tenant_name": "", "tenant_phone": "",
            "rental_record_no": "", "known_on": TODAY}
    data.update(overrides)
    return data


def org_form(**overrides) -> dict:
    data = {"name": "村集体经济合作社", "kind": "community_unit", "uscc": "", "legal_rep": "", "phone": "",
            "employee_count": "", "known_on": TODAY}
    data.update(overrides)
    return data


@pytest.fixture
def field(ctx, login):
    """A town with two villages and a collector for the first one, signed in, pages in English."""
    town, (east, west) = make_town()
    collector = make_account(town, "collector", [east])

    class Field:
        pass

    f = Field()
    f.town, f.east_id, f.west_id, f.collector_id = town, east.id, west.id, collector.id
    f.east, f.west = east, west
    f.client = login(collector)
    english(f.client)

    def sign_in_as(role="collector", villages=None):
        account = make_account(town, role, [east] if villages is None else villages)
        client = login(account)
        english(client)
        return client, account.id
    f.sign_in_as = sign_in_as
    return f


# --- finding a house ------------------------------------------------------------------------------

def test_house_list_search_by_address(field):
    wanted = [make_house(field.east, number="1", group="3", collected=True).id,
              make_house(field.east, number="2", group="3").id]
    make_house(field.east, number="5", group="1")
    make_house(field.east, number="3", group="2")  # 2组3号: a "3" but not group 3
    make_house(field.east, number="1", group="13")  # 13组 is not 3组
    make_house(field.east, number="3", group=None, road="幸福路")
    client = field.client

    for query in ("3组", " 3 组 ", "东村3组"):
        response = send(client, "GET", f"/villages/{field.east_id}/houses", query_string={"q": query})
        assert response.status_code == 200
        assert sorted(house_links(response)) == sorted(wanted), query
        assert "2 houses match" in text_of(response)
    one = send(client, "GET", f"/villages/{field.east_id}/houses", query_string={"q": "3组2号"})
    assert house_links(one) == [wanted[1]]
    everything = send(client, "GET", f"/villages/{field.east_id}/houses")
    assert len(house_links(everything)) == 6
    nothing = send(client, "GET", f"/villages/{field.east_id}/houses", query_string={"q": "9组"})
    assert nothing.status_code == 200 and house_links(nothing) == []
    assert "No house matches" in text_of(nothing)


def test_house_list_search_is_scoped_to_the_village(field):
    make_house(field.west, number="1", group="3")
    mine = make_house(field.east, number="1", group="3").id
    response = send(field.client, "GET", f"/villages/{field.east_id}/houses", query_string={"q": "3组"})
    assert house_links(response) == [mine]


def test_exact_door_code_opens_the_house(field):
    house = make_house(field.east, number="8", group="4")
    house_id, code = house.id, house.door_code
    lower_hyphen = (code[:4] + "-" + code[4:]).lower()
    for typed in (code, lower_hyphen, f"  {lower_hyphen} "):
        response = send(field.client, "GET", f"/villages/{field.east_id}/houses", query_string={"q": typed})
        assert response.status_code == 302, typed
        assert response.headers["Location"] == f"/houses/{house_id}"
        found = send(field.client, "GET", "/find", query_string={"code": typed})
        assert found.status_code == 302 and found.headers["Location"] == f"/houses/{house_id}"
    page = send(field.client, "GET", f"/houses/{house_id}")
    assert page.status_code == 200 and code in text_of(page)


def test_unknown_or_invalid_door_code_gives_a_clear_message(field):
    other = make_house(field.west, number="1")
    other_code = other.door_code
    make_house(field.east, number="1")
    unknown = new_door_code()
    invalid = "ABCD-EFGH"
    assert not is_valid_door_code(invalid)
    client = field.client

    for typed in (unknown, invalid, other_code):
        listing = send(client, "GET", f"/villages/{field.east_id}/houses", query_string={"q": typed})
        assert listing.status_code == 200
        assert house_links(listing) == []
        assert "No house matches" in text_of(listing)

    bad = send(client, "GET", "/find", query_string={"code": invalid}, follow_redirects=True)
    assert bad.status_code == 200
    assert "That is not a door code" in text_of(bad)
    for typed in (unknown, other_code):  # a house in another village is not revealed either
        response = send(client, "GET", "/find", query_string={"code": typed.lower()})
        assert response.status_code == 303
        followed = send(client, "GET", response.headers["Location"], follow_redirects=True)
        assert f"No house in your villages has door code {typed}" in text_of(followed)
    for typed in ("", "x" * 5000, "\u3000", "K7M3-Q9P"):
        response = send(client, "GET", "/find", query_string={"code": typed})
        assert response.status_code in (302, 303), typed
        listing = send(client, "GET", f"/villages/{field.east_id}/houses", query_string={"q": typed})
        assert listing.status_code == 200, typed


def test_house_list_pagination(field, app):
    app.config["PAGE_SIZE"] = 3
    ids = {make_house(field.east, number=str(n), group="5").id for n in range(1, 8)}
    client = field.client
    pages = []
    for page in (1, 2, 3):
        response = send(client, "GET", f"/villages/{field.east_id}/houses", query_string={"page": page})
        assert response.status_code == 200
        pages.append(house_links(response))
        assert f"Page {page} of 3" in text_of(response)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert set().union(*pages) == ids and len(sum(pages, [])) == 7
    first = send(client, "GET", f"/villages/{field.east_id}/houses", query_string={"q": "5组"})
    assert "page=2" in first.get_data(as_text=True)
    assert "q=5%E7%BB%84" in first.get_data(as_text=True)  # the search is kept when paging
    assert len(house_links(send(client, "GET", f"/villages/{field.east_id}/houses",
                                query_string={"q": "5组", "page": 3}))) == 1
    for junk in ("99", "abc", "0", "-1", "99999999999999999999999"):
        response = send(client, "GET", f"/villages/{field.east_id}/houses", query_string={"page": junk})
        assert response.status_code == 200, junk


# --- houses --------------------------------------------------------------------------------------

def test_register_a_new_house(field):
    client = field.client
    assert counter(field.east_id) == (0, 0, 0)
    assert send(client, "GET", f"/villages/{field.east_id}/houses/new").status_code == 200
    response = send(client, "POST", f"/villages/{field.east_id}/houses/new",
                    house_form(group_name="3", number="27", use="rented", tenant_name="赵六",
                               tenant_phone="138 1234 5678"))
    assert response.status_code == 303
    house_id = int(response.headers["Location"].rsplit("/", 1)[1])
    house = fresh(House, house_id)
    assert house.village_id == field.east_id and house.collected_at is not None
    assert house.tenant_phone == "13812345678"
    assert is_valid_door_code(house.door_code)
    code = house.door_code
    assert counter(field.east_id) == (0, 1, 0)
    [(kind, fields)] = changes("house", house_id)
    assert kind == "new"
    assert fields["group_name"] == [None, "3"] and fields["number"] == [None, "27"]
    assert fields["use"] == [None, "rented"] and fields["tenant_name"] == [None, "赵六"]
    assert "owner_name" not in fields  # left empty: not part of the change
    change = db.session.scalar(select(Change).where(Change.entity == "house", Change.entity_id == house_id))
    assert change.collected_by_id == field.collector_id and change.source == "web"
    page = send(client, "GET", f"/houses/{house_id}")
    assert code in text_of(page) and "东村3组27号" in text_of(page)


def test_first_save_of_an_imported_house_registers_it_then_updates(field):
    house = make_house(field.east, number="5", group="2", collected=False)
    house_id, version = house.id, house.version
    client = field.client
    assert counter(field.east_id) == (0, 0, 0)

    form = form_fields(send(client, "GET", f"/houses/{house_id}/edit"))
    assert form["version"] == str(version) and form["number"] == "5"
    form.update(use="rented", owner_name="李四", owner_phone="13912345678")
    assert send(client, "POST", f"/houses/{house_id}/edit", form).status_code == 303
    house = fresh(House, house_id)
    assert house.collected_at is not None and house.version == version + 1
    assert counter(field.east_id) == (0, 1, 0)
    assert changes("house", house_id)[-1] == ("update", {"use": [None, "rented"], "owner_name": [None, "李四"],
                                                         "owner_phone": [None, "13912345678"]})

    form = form_fields(send(client, "GET", f"/houses/{house_id}/edit"))
    assert form["version"] == str(version + 1) and form["owner_name"] == "李四"
    form["tenant_name"] = "赵六"
    assert send(client, "POST", f"/houses/{house_id}/edit", form).status_code == 303
    assert counter(field.east_id) == (0, 1, 0)  # registered once, counted once
    assert changes("house", house_id)[-1] == ("update", {"tenant_name": [None, "赵六"]})
    assert [kind for kind, _f in changes("house", house_id)] == ["new", "update", "update"]
    assert fresh(House, house_id).version == version + 2


def test_saving_an_unvisited_house_unchanged_still_registers_it(field):
    house = make_house(field.east, number="6", group="2", collected=False, use="owner")
    house_id = house.id
    form = form_fields(send(field.client, "GET", f"/houses/{house_id}/edit"))
    assert send(field.client, "POST", f"/houses/{house_id}/edit", form).status_code == 303
    assert fresh(House, house_id).collected_at is not None
    assert counter(field.east_id) == (0, 1, 0)
    assert changes("house", house_id)[-1] == ("update", {"collected_at": [None, "registered"]})
    # Saving again unchanged writes nothing more (opening the form audits; the save itself writes nothing).
    form = form_fields(send(field.client, "GET", f"/houses/{house_id}/edit"))
    before = db_state()
    assert send(field.client, "POST", f"/houses/{house_id}/edit", form).status_code == 303
    assert db_state() == before


# --- people --------------------------------------------------------------------------------------

def test_fields_without_errors_are_not_marked_invalid(field):
    house = make_house(field.east, collected=True)
    form = send(field.client, "GET", f"/houses/{house.id}/people/new")
    for field_id in ("name", "id_number", "phone"):
        attrs = element(form, field_id)
        assert "aria-invalid" not in attrs, (field_id, attrs)
        assert attrs.get("aria-describedby") != "None", (field_id, attrs)


def test_add_a_person_with_a_valid_resident_id(field):
    house = make_house(field.east, number="1", group="3", collected=True)
    house_id = house.id
    number = resident_id(birth="19900715", county="431121", male=False)
    client = field.client
    assert send(client, "GET", f"/houses/{house_id}/people/new").status_code == 200
    response = send(client, "POST", f"/houses/{house_id}/people/new",
                    person_form(number, name="刘芳", phone="+86 139-1234-5678"))
    assert response.status_code == 303 and response.headers["Location"] == f"/houses/{house_id}"
    person = db.session.scalar(select(Person).where(Person.id_number == number))
    assert (person.name, person.sex, person.birth_date) == ("刘芳", "2", date(1990, 7, 15))
    assert (person.hukou_division, person.phone, person.status) == ("431121", "13912345678", "living")
    assert (person.house_id, person.village_id) == (house_id, field.east_id)
    person_id = person.id
    [residence] = person.residences
    assert (residence.house_id, residence.from_date, residence.to_date, residence.relation) == \
        (house_id, date(2016, 3, 1), None, "01")
    db.session.rollback()
    assert counter(field.east_id) == (1, 1, 0)
    [(kind, fields)] = changes("person", person_id)
    assert kind == "new"
    assert fields["id_number"] == [None, number] and fields["house_id"] == [None, house_id]
    assert fields["sex"] == [None, "2"] and fields["birth_date"] == [None, "1990-07-15"]
    page = text_of(send(client, "GET", f"/houses/{house_id}"))
    assert "刘芳" in page and number not in page


def _bad_date_id() -> str:
    body = "110105" + "19851345" + "123"
    return body + resident_id_check_digit(body)


def _bad_checksum_id() -> str:
    good = resident_id()
    return good[:-1] + ("1" if good[-1] != "1" else "2")


@pytest.mark.parametrize("typed", [_bad_checksum_id(), "11010519850312123", _bad_date_id(),
                                   "990105198503121234", "11010519850312ABCD", "110105850312123"],
                         ids=["checksum", "17-digits", "bad-date", "region", "letters", "old-15-digit"])
def test_invalid_resident_id_reshows_the_form_with_the_input_kept(field, typed):
    house = make_house(field.east, collected=True)
    house_id = house.id
    before = db_state()
    response = send(field.client, "POST", f"/houses/{house_id}/people/new",
                    person_form(typed, name="陈一", hukou_address="湖南省新化县"))
    assert response.status_code == 422
    assert db_state() == before
    assert element(response, "id_number")["value"] == typed
    assert element(response, "name")["value"] == "陈一"
    assert element(response, "hukou_address")["value"] == "湖南省新化县"
    assert_field_error(response, "id_number", id_error(typed))
    assert field_errors(response, "name") == []
    assert "Some fields need attention" in text_of(response)


def test_lower_case_x_is_accepted_and_stored_upper_case(field):
    house = make_house(field.east, collected=True)
    house_id = house.id
    number = resident_id_ending_in_x()
    response = send(field.client, "POST", f"/houses/{house_id}/people/new", person_form(" " + number.lower()))
    assert response.status_code == 303
    person = db.session.scalar(select(Person).where(Person.id_number == number))
    assert person is not None and person.id_number.endswith("X")
    db.session.rollback()
    assert db.session.scalar(select(func.count(Person.id))) == 1


def test_full_width_input_from_a_chinese_keyboard_is_accepted(field):
    house = make_house(field.east, collected=True)
    house_id = house.id
    number = resident_id()
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in number)  # "１１０１０５..." as an IME types it
    response = send(field.client, "POST", f"/houses/{house_id}/people/new",
                    person_form(full_width, phone="１３８１２３４５６７８"))
    assert response.status_code == 303
    person = db.session.scalar(select(Person).where(Person.id_number == number))
    assert person is not None and person.phone == "13812345678"


def test_invalid_id_message_is_chinese_by_default(ctx, login):
    town, (east, _west) = make_town()
    collector = make_account(town, "collector", [east])
    house = make_house(east, collected=True)
    house_id = house.id
    client = login(collector)  # no language switch: the UI opens in Chinese
    typed = _bad_checksum_id()
    response = send(client, "POST", f"/houses/{house_id}/people/new", person_form(typed))
    assert response.status_code == 422
    try:
        validate_resident_id(typed)
    except IdentifierError as error:
        assert_field_error(response, "id_number", error.message("zh"))
    assert element(response, "id_number")["value"] == typed


def test_adding_a_registered_id_at_another_house_moves_the_person(field):
    old_house = make_house(field.east, number="1", group="1", collected=True)
    number = resident_id()
    person = make_person(old_house, name="孙七", id_number=number, move_in_date=date(2016, 1, 1))
    person_id, old_house_id = person.id, old_house.id
    new_house = make_house(field.west, number="9", group="2", collected=True)
    new_house_id = new_house.id
    assert counter(field.east_id)[0] == 1 and counter(field.west_id)[0] == 0
    # A collector of both villages: the move is inside their scope (outside it is a move request,
    # tests/test_moves.py).
    west_client, _ = field.sign_in_as("collector", [field.east, field.west])

    response = send(west_client, "POST", f"/houses/{new_house_id}/people/new",
                    person_form(number, name="孙七", move_in_date="2017-05-01", relation="02"))
    assert response.status_code == 303
    followed = send(west_client, "GET", response.headers["Location"])
    assert "has been moved to this house" in text_of(followed)
    assert db.session.scalar(select(func.count(Person.id)).where(Person.id_number == number)) == 1
    person = fresh(Person, person_id)
    assert (person.house_id, person.village_id, person.status) == (new_house_id, field.west_id, "living")
    assert [(r.house_id, r.from_date, r.to_date) for r in person.residences] == [
        (old_house_id, date(2016, 1, 1), date(2017, 5, 1)), (new_house_id, date(2017, 5, 1), None)]
    db.session.rollback()
    assert counter(field.east_id)[0] == 0 and counter(field.west_id)[0] == 1
    history = changes("person", person_id)
    assert history[0][0] == "new"
    assert ("update", {"house_id": [old_house_id, new_house_id], "status": ["living", "living"]}) in history
    assert all(kind in ("new", "update") for kind, _f in history)
    # The old house no longer lists them as living there; the person page keeps both residences.
    old_page = text_of(send(field.client, "GET", f"/houses/{old_house_id}"))
    assert "孙七" not in old_page
    assert send(field.client, "GET", f"/people/{person_id}").status_code == 404  # now outside east's scope
    assert send(west_client, "GET", f"/people/{person_id}").status_code == 200


def test_adding_the_same_person_again_at_the_same_house_is_not_a_move(field):
    house = make_house(field.east, collected=True)
    house_id = house.id
    number = resident_id()
    assert send(field.client, "POST", f"/houses/{house_id}/people/new", person_form(number)).status_code == 303
    before_counter = counter(field.east_id)
    response = send(field.client, "POST", f"/houses/{house_id}/people/new", person_form(number, phone="13812345678"))
    assert response.status_code == 303
    page = text_of(send(field.client, "GET", response.headers["Location"]))
    assert "has been moved" not in page and "Person saved." in page
    assert db.session.scalar(select(func.count(Person.id))) == 1
    assert db.session.scalar(select(func.count(Residence.id))) == 1
    db.session.rollback()
    assert counter(field.east_id) == before_counter
    person_id = db.session.scalar(select(Person.id))
    assert changes("person", person_id)[-1] == ("update", {"phone": [None, "13812345678"]})


def test_mark_a_person_as_left(field):
    house = make_house(field.east, number="2", group="3", collected=True)
    person = make_person(house, name="周八", move_in_date=date(2015, 1, 1))
    person_id, house_id = person.id, house.id
    assert counter(field.east_id)[0] == 1
    client = field.client
    form = form_fields(send(client, "GET", f"/people/{person_id}/leave"))
    form.update(left_date="2017-06-30", reason="搬到县城")
    response = send(client, "POST", f"/people/{person_id}/leave", form)
    assert response.status_code == 303 and response.headers["Location"] == f"/houses/{house_id}"
    person = fresh(Person, person_id)
    assert (person.status, person.left_date, person.left_reason) == ("left", date(2017, 6, 30), "搬到县城")
    assert person.house_id == house_id  # the last residence stays
    assert [(r.from_date, r.to_date) for r in person.residences] == [(date(2015, 1, 1), date(2017, 6, 30))]
    db.session.rollback()
    assert counter(field.east_id)[0] == 0
    assert changes("person", person_id)[-1] == (
        "cancel", {"status": ["living", "left"], "left_date": [None, "2017-06-30"], "left_reason": [None, "搬到县城"]})
    assert [kind for kind, _f in changes("person", person_id)] == ["new", "cancel"]
    assert send(client, "GET", f"/people/{person_id}").status_code == 200  # history is kept
    house_page = text_of(send(client, "GET", f"/houses/{house_id}"))
    assert "Moved out (1)" in house_page and "周八" in house_page
    again = send(client, "GET", f"/people/{person_id}/leave")
    assert again.status_code == 303 and again.headers["Location"] == f"/people/{person_id}"
    before = db_state()
    assert send(client, "POST", f"/people/{person_id}/leave", form).status_code == 303
    assert db_state() == before


def test_leaving_before_moving_in_is_refused(field):
    house = make_house(field.east, collected=True)
    person = make_person(house, name="郑十一", move_in_date=date(2016, 1, 1))
    person_id = person.id
    form = form_fields(send(field.client, "GET", f"/people/{person_id}/leave"))
    form.update(left_date="2015-12-31", reason="搬走")
    before = db_state()
    response = send(field.client, "POST", f"/people/{person_id}/leave", form)
    assert response.status_code == 422
    assert_field_error(response, "left_date", "They moved in on 2016-01-01: the date they left cannot be earlier.")
    assert db_state() == shown_again(before)
    form["left_date"] = "2016-01-01"  # the same day is possible
    assert send(field.client, "POST", f"/people/{person_id}/leave", form).status_code == 303
    assert fresh(Person, person_id).status == "left"


def test_re_registering_a_known_person_keeps_what_the_form_left_empty(field):
    old_house = make_house(field.east, collected=True)
    number = resident_id()
    person = make_person(old_house, id_number=number, phone="13812345678", hukou_address="湖南省新化县某村")
    person_id = person.id
    new_house = make_house(field.west, collected=True)
    new_house_id = new_house.id
    both_client, _ = field.sign_in_as("collector", [field.east, field.west])
    registered_name = person.name
    assert send(both_client, "POST", f"/houses/{new_house_id}/people/new",
                person_form(number, name="张三丰", move_in_date="2017-05-01")).status_code == 303
    person = fresh(Person, person_id)
    assert person.house_id == new_house_id
    assert (person.phone, person.hukou_address) == ("13812345678", "湖南省新化县某村")
    # A differing name is not overwritten: it waits for the reviewer, side by side.
    assert person.name == registered_name != "张三丰"
    kept = db.session.scalars(select(Conflict).where(Conflict.entity == "person", Conflict.entity_id == person_id)).all()
    assert [(c.field, c.current, c.submitted) for c in kept] == [("name", registered_name, "张三丰")]


def test_edit_a_person(field):
    house = make_house(field.east, collected=True)
    number = resident_id()
    assert send(field.client, "POST", f"/houses/{house.id}/people/new", person_form(number)).status_code == 303
    person_id = db.session.scalar(select(Person.id).where(Person.id_number == number))
    form = form_fields(send(field.client, "GET", f"/people/{person_id}/edit"))
    assert form["id_number"] == number and form["name"] == "王小明"
    form.update(name="王晓明", category="migrant", away_duration="1y_2y", move_in_reason="work")
    assert send(field.client, "POST", f"/people/{person_id}/edit", form).status_code == 303
    assert changes("person", person_id)[-1] == ("update", {
        "name": ["王小明", "王晓明"], "category": ["local", "migrant"], "move_in_reason": [None, "work"],
        "away_duration": [None, "1y_2y"]})
    # Another person's document number is refused.
    other = resident_id()
    assert send(field.client, "POST", f"/houses/{house.id}/people/new", person_form(other)).status_code == 303
    form = form_fields(send(field.client, "GET", f"/people/{person_id}/edit"))
    form["id_number"] = other
    before = db_state()
    response = send(field.client, "POST", f"/people/{person_id}/edit", form)
    assert response.status_code == 422
    assert_field_error(response, "id_number", "Another registered person has this document number. Check the number.")
    assert db_state() == shown_again(before)


# --- concurrent edits ------------------------------------------------------------------------------

def test_concurrent_house_edits_of_different_fields_both_survive(field):
    house = make_house(field.east, number="3", group="3", collected=True, use="owner")
    house_id, version = house.id, house.version
    other, _ = field.sign_in_as()
    mine = form_fields(send(field.client, "GET", f"/houses/{house_id}/edit"))
    theirs = form_fields(send(other, "GET", f"/houses/{house_id}/edit"))
    assert mine["version"] == theirs["version"] == str(version)

    theirs["owner_name"] = "李四"
    assert send(other, "POST", f"/houses/{house_id}/edit", theirs).status_code == 303
    mine["tenant_name"] = "王五"  # submitted on the stale version, with the old (empty) owner
    assert send(field.client, "POST", f"/houses/{house_id}/edit", mine).status_code == 303

    house = fresh(House, house_id)
    assert (house.owner_name, house.tenant_name, house.version) == ("李四", "王五", version + 2)
    db.session.rollback()
    assert changes("house", house_id)[-2:] == [("update", {"owner_name": [None, "李四"]}),
                                               ("update", {"tenant_name": [None, "王五"]})]


def test_concurrent_edit_of_the_same_field_is_a_conflict_until_resubmitted(field):
    house = make_house(field.east, number="4", group="3", collected=True, use="owner")
    house_id, version = house.id, house.version
    other, _ = field.sign_in_as()
    mine = form_fields(send(field.client, "GET", f"/houses/{house_id}/edit"))
    theirs = form_fields(send(other, "GET", f"/houses/{house_id}/edit"))
    theirs["owner_name"] = "李四"
    assert send(other, "POST", f"/houses/{house_id}/edit", theirs).status_code == 303

    mine["owner_name"] = "王五"
    mine["tenant_name"] = "赵六"
    before = db_state()
    response = send(field.client, "POST", f"/houses/{house_id}/edit", mine)
    assert response.status_code == 422
    assert db_state() == shown_again(before)  # nothing written, not even the tenant
    page = text_of(response)
    assert "Someone else changed this record while you were editing. Nothing was saved" in page
    assert_field_error(response, "owner_name", "Changed meanwhile by someone else to “李四”. "
                                               "Keep your value and save again, or change it.")
    assert element(response, "owner_name")["value"] == "王五"  # the user's input is kept
    assert element(response, "version")["value"] == str(version + 1)  # now on the current version
    house = fresh(House, house_id)
    assert (house.owner_name, house.tenant_name, house.version) == ("李四", None, version + 1)
    db.session.rollback()

    again = form_fields(response)
    assert send(field.client, "POST", f"/houses/{house_id}/edit", again).status_code == 303
    house = fresh(House, house_id)
    assert (house.owner_name, house.tenant_name, house.version) == ("王五", "赵六", version + 2)
    db.session.rollback()
    assert changes("house", house_id)[-1] == ("update", {"owner_name": ["李四", "王五"],
                                                         "tenant_name": [None, "赵六"]})


def test_concurrent_person_edits_of_different_fields_both_survive(field):
    house = make_house(field.east, collected=True)
    number = resident_id()
    assert send(field.client, "POST", f"/houses/{house.id}/people/new", person_form(number)).status_code == 303
    person_id = db.session.scalar(select(Person.id).where(Person.id_number == number))
    other, _ = field.sign_in_as()
    mine = form_fields(send(field.client, "GET", f"/people/{person_id}/edit"))
    theirs = form_fields(send(other, "GET", f"/people/{person_id}/edit"))
    theirs["phone"] = "13812345678"
    assert send(other, "POST", f"/people/{person_id}/edit", theirs).status_code == 303
    mine["name"] = "王晓明"
    assert send(field.client, "POST", f"/people/{person_id}/edit", mine).status_code == 303
    person = fresh(Person, person_id)
    assert (person.name, person.phone) == ("王晓明", "13812345678")
    db.session.rollback()
    assert changes("person", person_id)[-2:] == [("update", {"phone": [None, "13812345678"]}),
                                                 ("update", {"name": ["王小明", "王晓明"]})]


def test_leaving_on_a_stale_form_is_a_conflict(field):
    house = make_house(field.east, collected=True)
    person = make_person(house, name="吴九")
    person_id = person.id
    other, _ = field.sign_in_as()
    leave = form_fields(send(field.client, "GET", f"/people/{person_id}/leave"))
    edit = form_fields(send(other, "GET", f"/people/{person_id}/edit"))
    edit["phone"] = "13812345678"
    assert send(other, "POST", f"/people/{person_id}/edit", edit).status_code == 303

    leave.update(left_date=TODAY, reason="回老家")
    before = db_state()
    response = send(field.client, "POST", f"/people/{person_id}/leave", leave)
    assert response.status_code == 422
    assert "Someone else changed this record while you were editing" in text_of(response)
    assert db_state() == shown_again(before)
    assert fresh(Person, person_id).status == "living"
    assert send(field.client, "POST", f"/people/{person_id}/leave", form_fields(response)).status_code == 303
    assert fresh(Person, person_id).status == "left"


# --- organisations -------------------------------------------------------------------------------

def test_organisation_add_edit_close(field):
    house = make_house(field.east, number="1", group="1", collected=True)
    house_id = house.id
    code = credit_code("N2")
    assert validate_uscc(code) == code
    typed = (code[:9] + "-" + code[9:]).lower()  # as read off a licence, lower case and a hyphen
    client = field.client
    assert send(client, "GET", f"/houses/{house_id}/organisations/new").status_code == 200
    response = send(client, "POST", f"/houses/{house_id}/organisations/new",
                    org_form(uscc=typed, legal_rep="郑十", phone="0738-3212345", employee_count="12"))
    assert response.status_code == 303 and response.headers["Location"] == f"/houses/{house_id}"
    org = db.session.scalar(select(Organisation).where(Organisation.house_id == house_id))
    assert (org.uscc, org.employee_count, org.status, org.village_id) == (code, 12, "open", field.east_id)
    org_id = org.id
    db.session.rollback()
    assert counter(field.east_id)[2] == 1
    [(kind, fields)] = changes("organisation", org_id)
    assert kind == "new" and fields["uscc"] == [None, code] and fields["employee_count"] == [None, 12]

    form = form_fields(send(client, "GET", f"/organisations/{org_id}/edit"))
    assert form["uscc"] == code and form["employee_count"] == "12"
    form["employee_count"] = "15"
    assert send(client, "POST", f"/organisations/{org_id}/edit", form).status_code == 303
    assert changes("organisation", org_id)[-1] == ("update", {"employee_count": [12, 15]})

    form = form_fields(send(client, "GET", f"/organisations/{org_id}/close"))
    form["closed_date"] = "2017-08-31"
    assert send(client, "POST", f"/organisations/{org_id}/close", form).status_code == 303
    org = fresh(Organisation, org_id)
    assert (org.status, org.closed_date) == ("closed", date(2017, 8, 31))
    db.session.rollback()
    assert counter(field.east_id)[2] == 0
    assert changes("organisation", org_id)[-1] == (
        "cancel", {"status": ["open", "closed"], "closed_date": [None, "2017-08-31"]})
    assert send(client, "GET", f"/organisations/{org_id}/close").status_code == 409
    before = db_state()
    assert send(client, "POST", f"/organisations/{org_id}/close", form).status_code == 409
    assert db_state() == before
    assert "closed" in text_of(send(client, "GET", f"/houses/{house_id}"))


@pytest.mark.parametrize("typed", [credit_code("N2")[:-1] + ("0" if credit_code("N2")[-1] != "0" else "1"),
                                   credit_code("N2")[:17], "Z2431121MA1234567X", "N7431121MA12345670",
                                   "N2431121MA12345I7X"],
                         ids=["checksum", "17-chars", "authority", "category", "letter-I"])
def test_invalid_credit_code_is_refused_with_its_message(field, typed):
    house = make_house(field.east, collected=True)
    before = db_state()
    response = send(field.client, "POST", f"/houses/{house.id}/organisations/new", org_form(uscc=typed))
    assert response.status_code == 422
    assert db_state() == before
    assert element(response, "uscc")["value"] == typed
    assert_field_error(response, "uscc", id_error(typed, validate_uscc))


def test_duplicate_credit_code_is_refused(field):
    first = make_house(field.east, number="1", collected=True)
    second = make_house(field.east, number="2", collected=True)
    first_id, second_id = first.id, second.id
    code = credit_code("91", "430100", "MA4L0XXX1")
    assert send(field.client, "POST", f"/houses/{first_id}/organisations/new",
                org_form(name="湘超市", kind="shop", uscc=code)).status_code == 303
    before = db_state()
    response = send(field.client, "POST", f"/houses/{second_id}/organisations/new",
                    org_form(name="又一个超市", kind="shop", uscc=code.lower()))
    assert response.status_code == 422
    assert_field_error(response, "uscc", "An organisation with this credit code is already registered. "
                                         "Search for it instead.")
    assert db_state() == before
    # Editing another organisation onto the same code is refused as well.
    assert send(field.client, "POST", f"/houses/{second_id}/organisations/new",
                org_form(name="又一个超市", kind="shop")).status_code == 303
    other_id = db.session.scalar(select(Organisation.id).where(Organisation.name == "又一个超市"))
    form = form_fields(send(field.client, "GET", f"/organisations/{other_id}/edit"))
    form["uscc"] = code
    before = db_state()
    response = send(field.client, "POST", f"/organisations/{other_id}/edit", form)
    assert response.status_code == 422
    assert_field_error(response, "uscc")
    assert db_state() == shown_again(before)


# --- malformed posts --------------------------------------------------------------------------------

LONG = "长" * 5000

# (route, form overrides or None for an empty body, field that must show the error, message or None)
MALFORMED = [
    ("new_house", None, "number", "Enter the door number."),
    ("new_house", {"number": ""}, "number", "Enter the door number."),
    ("new_house", {"use": "castle"}, "use", "Not a valid choice."),
    ("new_house", {"known_on": "yesterday"}, "known_on", "Not a valid date value."),
    ("new_house", {"known_on": "2016-02-30"}, "known_on", "Not a valid date value."),
    ("new_house", {"known_on": (date.today() + timedelta(days=30)).isoformat()}, "known_on",
     "This date is in the future. Enter the date it happened."),
    ("new_house", {"number": LONG}, "number", "Field cannot be longer than 32 characters."),
    ("new_house", {"owner_name": LONG}, "owner_name", None),
    ("new_house", {"owner_phone": "12345"}, "owner_phone", id_error("12345", validate_mobile)),
    ("new_house", {"rental_registered": "y"}, "rental_record_no",
     "Enter the rental registration number, or untick 'Rental registered'."),
    ("new_house", {"number": "1\x00"}, "number", None),
    ("edit_house", {"version": "abc"}, None, None),
    ("edit_house", {"version": ""}, None, None),
    ("edit_house", {"version": "²"}, None, None),
    ("edit_house", {"version": "99999999999999999999999"}, None, None),
    ("edit_house", {"version": "-1"}, None, None),
    ("edit_house", {"road": "幸福路\x00"}, "road", None),
    ("new_person", None, "name", "Enter the person's name."),
    ("new_person", {"name": LONG}, "name", "Field cannot be longer than 64 characters."),
    ("new_person", {"id_number": "1" * 5000}, "id_number", id_error("1" * 5000)),
    ("new_person", {"id_number": ""}, "id_number", "Enter the document number."),
    ("new_person", {"birth_date": "31/02/2016"}, "birth_date", "Not a valid date value."),
    ("new_person", {"move_in_date": "2016-13-01"}, "move_in_date", "Not a valid date value."),
    ("new_person", {"move_in_date": (date.today() + timedelta(days=30)).isoformat()}, "move_in_date",
     "This date is in the future. Enter the date it happened."),
    ("new_person", {"category": "martian"}, "category", "Not a valid choice."),
    ("new_person", {"id_type": "999"}, "id_type", "Not a valid choice."),
    ("new_person", {"sex": "1"}, "sex", "The sex does not match the ID number. Check both."),  # a woman's ID
    ("new_person", {"category": "migrant"}, "away_duration",
     "Ask how long they have lived away from their registration place."),
    ("new_person", {"hukou_division": "43112"}, "hukou_division", "Enter the 6-digit division code, e.g. 431121."),
    ("new_person", {"name": "张\x00三"}, "name", None),
    ("edit_person", {"version": "abc"}, None, None),
    ("edit_person", {"name": ""}, "name", "Enter the person's name."),
    ("leave", None, "left_date", "Enter the date they left."),
    ("leave", {"left_date": "garbage"}, "left_date", "Enter the date they left."),
    ("leave", {"reason": LONG}, "reason", "Field cannot be longer than 128 characters."),
    ("leave", {"version": "abc"}, None, None),
    ("leave", {"version": ""}, None, None),
    ("new_org", None, "name", "Enter the name."),
    ("new_org", {"employee_count": "many"}, "employee_count", "Not a valid integer value."),
    ("new_org", {"employee_count": "-5"}, "employee_count", None),
    ("new_org", {"employee_count": "9" * 30}, "employee_count", None),
    ("new_org", {"kind": "pirate"}, "kind", "Not a valid choice."),
    ("new_org", {"uscc": LONG}, "uscc", None),
    ("edit_org", {"version": "x"}, None, None),
    ("close_org", {"closed_date": "2016-02-30"}, "closed_date", "Enter the date it closed."),
    ("close_org", {"version": "x"}, None, None),
]


@pytest.mark.parametrize("route,overrides,field_id,message", MALFORMED,
                         ids=[f"{r}-{i}" for i, (r, *_rest) in enumerate(MALFORMED)])
def test_malformed_posts_are_refused_with_a_message(field, route, overrides, field_id, message):
    house = make_house(field.east, number="1", group="1", collected=True)
    person = make_person(house, id_number=resident_id(male=False))
    org_id = _org(field, house.id)
    house_id, person_id, number = house.id, person.id, person.id_number
    client = field.client
    urls = {"new_house": f"/villages/{field.east_id}/houses/new", "edit_house": f"/houses/{house_id}/edit",
            "new_person": f"/houses/{house_id}/people/new", "edit_person": f"/people/{person_id}/edit",
            "leave": f"/people/{person_id}/leave", "new_org": f"/houses/{house_id}/organisations/new",
            "edit_org": f"/organisations/{org_id}/edit", "close_org": f"/organisations/{org_id}/close"}
    url = urls[route]
    if overrides is None:
        data = None
    elif route == "new_house":
        data = house_form(**overrides)
    elif route == "new_person":
        data = {**person_form(resident_id(male=False)), **overrides}
    elif route == "new_org":
        data = org_form(**overrides)
    else:  # an edit form as the page gives it, with the change applied
        data = form_fields(send(client, "GET", url))
        data.update({"left_date": TODAY, "reason": "搬走", "closed_date": TODAY} if route in ("leave", "close_org")
                    else {})
        data.update(overrides)
    assert number  # the person on the edit forms keeps a valid number

    before = db_state()
    response = send(client, "POST", url, data)
    assert response.status_code == 422, response.status_code
    # Nothing written, except that an edit form shown again with the record's numbers (or a
    # person's name) is logged as a read, like opening it.
    shows_again = route in ("edit_house", "edit_person", "edit_org", "leave")
    assert db_state() == (shown_again(before) if shows_again else before)
    page = text_of(response)
    assert "Some fields need attention" in page or 'role="alert"' in response.get_data(as_text=True)
    if field_id is not None:
        assert_field_error(response, field_id, message)
    else:  # the hidden version: the message is shown at the top of the form
        assert "Open the record again" in page


def _org(field, house_id: int) -> int:
    assert send(field.client, "POST", f"/houses/{house_id}/organisations/new",
                org_form(name="小卖部", kind="shop")).status_code == 303
    org_id = db.session.scalar(select(Organisation.id).where(Organisation.house_id == house_id))
    db.session.rollback()
    return org_id


def test_search_input_that_the_database_cannot_take_is_not_an_error(field):
    make_house(field.east, number="1", group="3")
    for query in ("3组\x00", "\x00", "%", "_", "3组%", "'; drop table houses; --", LONG):
        response = send(field.client, "GET", f"/villages/{field.east_id}/houses", query_string={"q": query})
        assert response.status_code == 200, repr(query[:20])
    assert len(house_links(send(field.client, "GET", f"/villages/{field.east_id}/houses",
                                query_string={"q": "%"}))) == 0  # a LIKE wildcard is matched literally


# --- CSRF ------------------------------------------------------------------------------------------

def test_post_without_csrf_token_is_refused_and_writes_nothing(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        town, (east, _west) = make_town()
        collector = make_account(town, "collector", [east])
        house = make_house(east, number="1", group="1", collected=True, use="owner")
        cid, house_id, village_id = collector.collection_id, house.id, east.id
        db.session.commit()

    client = app.test_client()
    assert client.post("/login", data={"collection_id": cid, "pin": PIN}).status_code == 400
    login_page = _Page(client.get("/login").get_data(as_text=True))
    token = next(f["fields"]["csrf_token"] for f in login_page.forms if "pin" in f["fields"])
    assert client.post("/login", data={"collection_id": cid, "pin": PIN, "csrf_token": token}).status_code == 303

    edit = form_fields(client.get(f"/houses/{house_id}/edit"))  # opening it audits; what follows must not write
    assert edit["csrf_token"]
    with app.app_context():
        before = db_state()
    for url, data in ((f"/houses/{house_id}/edit", {k: v for k, v in edit.items() if k != "csrf_token"}),
                      (f"/houses/{house_id}/edit", {**edit, "csrf_token": "forged"}),
                      (f"/houses/{house_id}/people/new", person_form(resident_id())),
                      (f"/villages/{village_id}/houses/new", house_form()),
                      (f"/houses/{house_id}/organisations/new", org_form())):
        data = {**data, "owner_name": "李四"} if "edit" in url else data
        response = client.post(url, data=data)
        assert response.status_code == 400, url
        with app.app_context():
            assert db_state() == before, url
    # The same form with its token saves.
    assert client.post(f"/houses/{house_id}/edit", data={**edit, "owner_name": "李四"}).status_code == 303
    with app.app_context():
        assert db.session.get(House, house_id).owner_name == "李四"
        assert changes("house", house_id)[-1] == ("update", {"owner_name": [None, "李四"]})
