"""The public door page /d/<token>: what anyone who scans a label sees. It shows the short code, the
village and the town's office, and nothing personal: no names, ID numbers, phone numbers, not even
the house's address. Retired tokens answer 410, unknown ones 404, with the same look."""
from __future__ import annotations

import re

import pytest

from fieldapp.extensions import db
from fieldapp.rules.doorcode import format_door_code

from .builders import english, make_account, make_house, make_person, make_town


@pytest.fixture
def door(ctx):
    town, (east, west) = make_town()
    house = make_house(east, number="327", group="14", road="幸福路", lane="8", building="6", room="502",
                       use="rented", owner_name="房东欧阳", owner_phone="13987654321",
                       tenant_name="租客司马", tenant_phone="13712345678", rental_record_no="ZL2016-0042")
    people = [make_person(house, name="居民诸葛", phone="13612345678"),
              make_person(house, name="居民上官", phone="15912345678")]
    return {"town": town, "east": east, "west": west, "house": house, "people": people,
            "token": house.door_token, "code": house.door_code}


def _secrets(house, people) -> list[str]:
    """Everything about the house and its people that must not appear on the public page."""
    values = [house.owner_name, house.owner_phone, house.tenant_name, house.tenant_phone, house.rental_record_no,
              house.road, "327号", "14组", "502室", "8弄", "6栋", house.uid]
    for person in people:
        values += [person.name, person.id_number, person.id_number[-6:], person.phone, person.phone[-4:], person.uid]
    return values


def _visible_text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


@pytest.mark.parametrize("query", ["", "?public=1"])
def test_public_page_shows_code_village_office_and_nothing_personal(door, client, query):
    response = client.get(f"/d/{door['token']}{query}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert format_door_code(door["code"]) in html
    assert door["east"].name in html and door["town"].office in html
    for secret in _secrets(door["house"], door["people"]):
        assert secret not in html, secret
    # No house numbers at all in what a reader sees, and no link into the registry.
    assert "327" not in _visible_text(html) and "/houses/" not in html
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "noindex" in response.headers["X-Robots-Tag"]
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_signed_in_reader_in_scope_gets_a_link_to_the_house(door, login):
    in_scope = login(make_account(door["town"], "collector", [door["east"]]))
    html = in_scope.get(f"/d/{door['token']}").get_data(as_text=True)
    assert f'href="/houses/{door["house"].id}"' in html
    other = login(make_account(door["town"], "collector", [door["west"]]))
    response = other.get(f"/d/{door['token']}")
    assert response.status_code == 200 and "/houses/" not in response.get_data(as_text=True)
    informant = login(make_account(door["town"], "informant", [door["east"]]))  # no registry.read
    assert "/houses/" not in informant.get(f"/d/{door['token']}").get_data(as_text=True)
    for secret in _secrets(door["house"], door["people"]):
        assert secret not in response.get_data(as_text=True)


def test_unknown_and_malformed_tokens_answer_404_with_the_door_page(door, client):
    english(client)
    for token in ("A" * 27, "short", "x" * 65, "abc%00def" * 3, "a.b" * 9):
        response = client.get(f"/d/{token}")
        assert response.status_code == 404, token
        html = response.get_data(as_text=True)
        assert "not one of the register's door labels" in html
        assert response.headers["Cache-Control"] == "no-store"


def test_retired_token_answers_410_and_shows_nothing_of_the_house(door, client):
    from fieldapp.doors import codes
    from fieldapp.models import House
    house = db.session.get(House, door["house"].id)
    codes.retire_and_replace(None, house, "stolen")
    db.session.commit()
    english(client)
    response = client.get(f"/d/{door['token']}")
    assert response.status_code == 410
    html = response.get_data(as_text=True)
    assert "was retired" in html and door["town"].office in html
    assert format_door_code(door["code"]) not in html and format_door_code(house.door_code) not in html
    for secret in _secrets(house, door["people"]):
        assert secret not in html
    assert client.get(f"/d/{house.door_token}").status_code == 200
