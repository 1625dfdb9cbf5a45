"""Search over HTTP (fieldapp/search): every kind of query, scope per role, masking, paging, audit
rows, and the query kept out of URLs and logs. Runs on PostgreSQL too (FIELDAPP_TEST_DATABASE_URL)."""
from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from fieldapp import records
from fieldapp.extensions import db
from fieldapp.models import AuditEvent, House, Person
from fieldapp.rules.identifiers import mask_id, mask_phone, uscc_check_char
from fieldapp.rules.permissions import ROLES, is_town_wide

from .builders import db_state, make_account, make_house, make_other_town, make_person, make_town, resident_id, send, text_of

USCC_BODY = "91310115MA1H7XYK0"
USCC = USCC_BODY + uscc_check_char(USCC_BODY)


@dataclass
class Place:
    town: object
    east: object
    west: object
    far: object
    house: int
    west_house: int
    door_code: str
    person: int
    id_number: str
    phone: str
    west_person: int
    west_id_number: str
    far_person: int
    far_id_number: str
    abroad: int
    passport: str
    org: int


def build() -> Place:
    town, (east, west) = make_town()
    town2, far = make_other_town()
    house = make_house(east, number="27", group="3", collected=True)
    number = resident_id()
    person = make_person(house, name="张伟明", id_number=number, phone="13812345678")
    make_person(house, name="张伟", phone="0571-88881234")
    west_house = make_house(west, number="5", group="1", collected=True)
    west_person = make_person(west_house, name="张伟西", phone="13812345678")
    far_house = make_house(far, number="5", group="1", collected=True)
    far_person = make_person(far_house, name="张伟远", phone="13812345678")
    abroad = make_person(house, name="张伟约翰", id_type="414", id_number="E12345678", sex="1",
                         birth_date=__import__("datetime").date(1980, 5, 1), category="abroad", nationality="USA",
                         move_in_reason="work", ethnicity=None, hukou_type=None, phone="13812345678")
    org = records.add_organisation(records.Actor(None, "import"), house,
                                   {"name": "玉屏五金店", "kind": "shop", "uscc": USCC})
    db.session.commit()
    return Place(town, east, west, far, house.id, west_house.id, house.door_code, person.id, number, "13812345678",
                 west_person.id, west_person.id_number, far_person.id, far_person.id_number, abroad.id, "E12345678",
                 org.id)


def search(client, q: str, **extra):
    return send(client, "POST", "/search", {"q": q, **extra})


def found_people(response) -> set[int]:
    return {int(n) for n in re.findall(r'href="/people/(\d+)"', response.get_data(as_text=True))}


def found_houses(response) -> set[int]:
    section = response.get_data(as_text=True).partition('id="found-houses"')[2].partition("</section>")[0]
    return {int(n) for n in re.findall(r'href="/houses/(\d+)"', section)}


def last_audit() -> AuditEvent:
    db.session.rollback()
    return db.session.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))


@pytest.fixture
def place(ctx):
    return build()


def test_the_search_page_is_in_the_nav_of_roles_that_read_the_registry(place, login):
    for role in ROLES:
        account = make_account(place.town, role, [] if is_town_wide(role) else [place.east])
        client = login(account)
        home = send(client, "GET", "/search")
        if role in ("admin", "informant"):
            assert home.status_code == 403
            assert 'href="/search"' not in send(client, "GET", "/").get_data(as_text=True)
            continue
        assert home.status_code == 200
        page = home.get_data(as_text=True)
        assert 'href="/search"' in page and 'method="post" action="/search"' in page


def test_opening_the_page_reads_nothing_and_logs_nothing(place, login):
    client = login(make_account(place.town, "collector", [place.east]))
    before = db_state()
    assert send(client, "GET", "/search?q=张伟").status_code == 200  # a query string is ignored
    assert db_state() == before
    assert found_people(send(client, "GET", "/search?q=张伟")) == set()


def test_by_full_resident_id_masked_and_audited_without_the_number(place, login):
    client = login(make_account(place.town, "collector", [place.east]))
    before = db_state()
    response = search(client, place.id_number.lower()[:6] + " " + place.id_number.lower()[6:])
    assert response.status_code == 200
    assert found_people(response) == {place.person}
    page = text_of(response)
    assert mask_id(place.id_number) in page and mask_phone(place.phone) in page
    assert place.phone not in page  # phones are masked
    assert 'id="searched-as"' in page
    assert db_state() == {**before, "audit_events": before["audit_events"] + 1}
    row = last_audit()
    assert (row.action, row.target, row.records) == ("search", None, 1)
    assert "kind=id_number" in row.detail and "people=1(id_number)" in row.detail
    for secret in (place.id_number, place.id_number[-6:], "张伟"):
        assert secret not in (row.detail or "") and secret not in (row.target or "")


def test_by_old_15_digit_number(place, login):
    client = login(make_account(place.town, "reviewer", [place.east]))
    db.session.rollback()
    person = db.session.get(Person, place.person)
    n = person.id_number
    old = n[:6] + n[8:17]  # born 1985: the 15-digit number the card had before 1999
    response = search(client, old)
    assert found_people(response) == {place.person}
    assert 'id="search-note"' in response.get_data(as_text=True)


def test_a_tail_of_digits_finds_no_one_and_says_to_type_the_whole_number(place, login):
    client = login(make_account(place.town, "collector", [place.east]))
    response = search(client, place.id_number[-7:-1])  # six digits (the last character may be an X)
    assert response.status_code == 200 and found_people(response) == set()
    assert 'id="search-note"' in response.get_data(as_text=True)
    assert last_audit().records == 0


def test_by_mobile_in_any_form_and_by_landline(place, login):
    client = login(make_account(place.town, "collector", [place.east]))
    assert found_people(search(client, "+86 138-1234-5678")) == {place.person}
    db.session.rollback()
    landline = db.session.scalar(select(Person.id).where(Person.name == "张伟"))
    assert found_people(search(client, "0571 88881234")) == {landline}


def test_by_name_from_the_first_character_then_contained(place, login):
    client = login(make_account(place.town, "collector", [place.east]))
    db.session.rollback()
    zhang_wei = db.session.scalar(select(Person.id).where(Person.name == "张伟"))
    response = search(client, "张伟")
    assert found_people(response) == {place.person, zhang_wei}
    assert "张伟西" not in text_of(response)  # another village
    assert found_people(search(client, "张伟明")) == {place.person}
    contained = search(client, "伟明")
    assert found_people(contained) == {place.person}
    assert "name_contains" in last_audit().detail
    # A single character is not searched inside names (it would list half the village).
    assert found_people(search(client, "明")) == set()
    db.session.rollback()
    smith = make_person(db.session.get(House, place.house), name="SMITH JOHN").id
    assert found_people(search(client, "smith")) == found_people(search(client, "Smith")) == {smith}


def test_by_passport_police_only(place, login):
    police = login(make_account(place.town, "police", [place.east]))
    collector = login(make_account(place.town, "collector", [place.east]))
    assert found_people(search(police, "e1234567-8")) == {place.abroad}
    response = search(collector, "E12345678")
    assert found_people(response) == set() and "张伟约翰" not in response.get_data(as_text=True)


def test_houses_by_door_code_and_by_address(place, login):
    client = login(make_account(place.town, "village_head", [place.east]))
    code = place.door_code
    assert found_houses(search(client, code[:4].lower() + "-" + code[4:].lower())) == {place.house}
    assert found_houses(search(client, "3组27号")) == {place.house}
    assert found_houses(search(client, "3组")) == {place.house}
    assert found_houses(search(client, "1组5号")) == set()  # 西村's house: not this village head's


def test_organisations_by_name_and_credit_code(place, login):
    client = login(make_account(place.town, "reviewer", [place.east]))
    for q in ("五金", USCC.lower()):
        page = search(client, q).get_data(as_text=True)
        section = page.partition('id="found-organisations"')[2].partition("</section>")[0]
        assert "玉屏五金店" in section and f'href="/houses/{place.house}"' in section
        assert mask_id(USCC) in section and USCC not in section
    assert "organisations=1(credit_code)" in last_audit().detail


@pytest.mark.parametrize("role", ["supervisor", "village_head", "reviewer", "collector", "police"])
def test_scope_per_role(place, login, role):
    """The same phone is on people in 东村, 西村, another town and a person from abroad in 东村."""
    client = login(make_account(place.town, role, [] if is_town_wide(role) else [place.east]))
    expected = {place.person}
    if role == "supervisor":
        expected.add(place.west_person)
    if role == "police":
        expected.add(place.abroad)
    response = search(client, "13812345678")
    assert found_people(response) == expected
    page = response.get_data(as_text=True)
    assert "张伟远" not in page  # another town: never
    assert ("张伟约翰" in page) is (role == "police")
    assert last_audit().records == len(expected)
    # By document number too: another village's or town's person is not found.
    assert found_people(search(client, place.far_id_number)) == set()
    assert found_people(search(client, place.west_id_number)) == ({place.west_person} if role == "supervisor" else set())


@pytest.mark.parametrize("role", ["admin", "informant"])
def test_roles_that_do_not_read_the_registry_cannot_search(place, login, role):
    client = login(make_account(place.town, role, [] if is_town_wide(role) else [place.east]))
    before = db_state()
    response = search(client, "张伟")
    assert response.status_code == 403 and "张伟" not in response.get_data(as_text=True)
    assert db_state() == before


def test_not_signed_in_goes_to_login(place, client):
    response = search(client, "张伟")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_an_empty_query_keeps_the_form_and_says_what_to_do(place, login):
    client = login(make_account(place.town, "collector", [place.east]))
    before = db_state()
    response = search(client, "   ")
    assert response.status_code == 422 and 'id="q-error"' in response.get_data(as_text=True)
    too_long = search(client, "张" * 65)
    assert too_long.status_code == 422
    assert db_state() == before


def test_paging_one_kind_by_post(place, login):
    db.session.rollback()
    house = db.session.get(House, place.house)
    ids = [make_person(house, name=f"王{n:02d}").id for n in range(25)]
    client = login(make_account(place.town, "collector", [place.east]))
    first = search(client, "王")
    assert len(found_people(first)) == 10
    page = first.get_data(as_text=True)
    assert 'name="section" value="people"' in page  # "show all" posts the query again, not a link
    assert not re.search(r'href="[^"]*[?&]q=', page)
    one = search(client, "王", section="people", page="1")
    two = search(client, "王", section="people", page="2")
    assert len(found_people(one)) == 20 and len(found_people(two)) == 5
    assert found_people(one) | found_people(two) == set(ids)
    assert 'value="2"' in one.get_data(as_text=True)  # a "next" button
    assert "page=2" in last_audit().detail
    beyond = search(client, "王", section="people", page="99")
    assert beyond.status_code == 200 and found_people(beyond) == set()


def test_paging_names_that_contain_the_text(place, login):
    """Nothing starts with 伟明, so every page is of names containing it (page 2 too)."""
    db.session.rollback()
    house = db.session.get(House, place.house)
    ids = {make_person(house, name=f"{surname}伟明").id for surname in "王李赵钱孙周吴郑冯陈褚卫蒋沈韩杨朱秦尤许何吕施"}
    client = login(make_account(place.town, "collector", [place.east]))
    pages = [found_people(search(client, "伟明", section="people", page=str(n))) for n in (1, 2, 3)]
    assert [len(p) for p in pages] == [20, 4, 0]
    assert pages[0] | pages[1] == ids | {place.person}
    assert "page=3 people=0(name_contains)" in last_audit().detail


def test_left_people_are_found_and_marked(place, login):
    from datetime import date
    db.session.rollback()
    person = db.session.get(Person, place.person)
    records.mark_left(records.Actor(None), person, date.today(), "搬走", person.version)
    db.session.commit()
    client = login(make_account(place.town, "collector", [place.east]))
    response = search(client, place.id_number)
    assert found_people(response) == {place.person} and "已迁出" in response.get_data(as_text=True)


def test_the_query_needs_a_csrf_token(make_app, ctx):
    place = build()
    app = make_app(WTF_CSRF_ENABLED=True)
    account = make_account(place.town, "collector", [place.east])
    client = app.test_client()
    login_page = send(client, "GET", "/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
    assert send(client, "POST", "/login", {"collection_id": account.collection_id, "pin": "secret-pin-1",
                                          "csrf_token": token}).status_code == 303
    before = db_state()
    assert send(client, "POST", "/search", {"q": "张伟"}).status_code in (400, 422)
    assert db_state() == before
    page = send(client, "GET", "/search").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = send(client, "POST", "/search", {"q": "张伟", "csrf_token": token})
    assert response.status_code == 200 and place.person in found_people(response)


def test_no_searched_text_in_any_audit_row(place, login):
    client = login(make_account(place.town, "supervisor"))
    queries = ["张伟", place.id_number, "13812345678", place.door_code, USCC, "3组27号", "伟明"]
    for q in queries:
        assert search(client, q).status_code == 200
    db.session.rollback()
    rows = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "search")))
    assert len(rows) == len(queries)
    for row in rows:
        for q in queries:
            assert q not in f"{row.target} {row.detail}"


@pytest.mark.parametrize("role", ["supervisor", "collector", "police"])
def test_scope_of_substring_searches(place, login, role):
    """The substring searches read whole tables for town-wide roles (scope's scan flag): the same
    scope holds there as for the indexed lookups."""
    client = login(make_account(place.town, role, [] if is_town_wide(role) else [place.east]))
    assert found_people(search(client, "伟约")) == ({place.abroad} if role == "police" else set())
    assert found_people(search(client, "伟西")) == ({place.west_person} if role == "supervisor" else set())
    assert found_people(search(client, "伟远")) == set()  # another town
    assert found_houses(search(client, "1组5号")) == ({place.west_house} if role == "supervisor" else set())
    section = search(client, "五金").get_data(as_text=True).partition('id="found-organisations"')[2]
    assert "玉屏五金店" in section
