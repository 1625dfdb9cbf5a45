"""The map's house states (rules.map_state) and the points endpoint's counts per state."""
from __future__ import annotations

import json
from datetime import date

import pytest

from fieldapp import records
from fieldapp.extensions import db
from fieldapp.rules.map_state import FLAGGED, NOT_VISITED, STATES, TIP, VISITED, state_of, states_by_house

from .builders import make_account, make_house, make_person, make_town
from .map_builders import make_conflict, make_tip, make_undocumented_change, make_visit
from .test_permissions import make_abroad_person


@pytest.mark.parametrize("visited, tip, flagged, expected", [
    (False, False, False, NOT_VISITED), (True, False, False, VISITED), (False, True, False, TIP),
    (True, True, False, TIP), (False, False, True, FLAGGED), (True, True, True, FLAGGED), (True, False, True, FLAGGED),
])
def test_state_precedence(visited, tip, flagged, expected):
    """Flagged beats an open tip, which beats visited, which beats not visited; the bulk form agrees."""
    assert state_of(visited, tip, flagged) == expected
    bulk = states_by_house({7} if visited else set(), {7} if tip else set(), {7} if flagged else set())
    assert bulk.get(7, NOT_VISITED) == expected


def build_states_world():
    """One house per case in 东村 (expected state by number), and one house in 西村."""
    town, (east, west) = make_town()
    collector = make_account(town, "collector", [east])
    expect: dict[int, str] = {}

    def house(n, state, **position):
        h = make_house(east, number=str(n), collected=True, **({"lat": 30.0 + n / 1000, "lon": 110.0} | position))
        expect[h.id] = state
        return h

    house(1, "not_visited")
    make_visit(house(2, "visited"), collector)
    h = house(3, "tip")
    make_visit(h, collector)
    make_tip(h, "new")
    make_tip(house(4, "tip"), "assigned")  # a tip with no visit yet
    h = house(5, "visited")
    make_visit(h, collector)
    make_tip(h, "valid")  # verified: no longer open
    make_tip(h, "closed")
    h = house(6, "flagged")
    make_visit(h, collector)
    make_conflict("house", h.id)
    h = house(7, "visited")
    make_visit(h, collector)
    make_conflict("house", h.id, resolved=True)
    h = house(8, "flagged")  # a conflict on a person living there
    make_conflict("person", make_person(h).id)
    h = house(9, "flagged")  # a record collected without door proof (code typed, not scanned)
    make_undocumented_change(h, make_visit(h, collector, method="code"))
    h = house(10, "visited")  # opened from the list, nothing collected there
    make_visit(h, collector, method="list")
    h = house(11, "visited")  # collected under a scanned visit: door proof
    make_undocumented_change(h, make_visit(h, collector, method="scan"), door_proof=True)
    h = house(12, "visited", lat=None, lon=None)  # no position: counted, not drawn
    make_visit(h, collector)
    h = house(13, "not_visited")  # a person who moved out has a conflict: not this house's business
    gone = make_person(h)
    records.mark_left(records.Actor(None), gone, date(2016, 5, 2), "搬走", gone.version)
    db.session.commit()
    make_conflict("person", gone.id)
    h = house(14, "flagged")  # flagged with an open tip too: flagged wins
    make_tip(h)
    make_conflict("house", h.id)
    abroad_house = house(15, "not_visited")  # a conflict on a person from abroad: police only
    make_conflict("person", make_abroad_person(abroad_house, "境外约翰").id)
    other = make_house(west, number="1", collected=True, lat=31.0, lon=111.0)
    make_visit(other, make_account(town, "collector", [west]))
    db.session.commit()
    return town, east, west, expect, abroad_house.id, other.id


def counts_of(states: dict[int, str]) -> list[int]:
    return [sum(1 for s in states.values() if s == name) for name in STATES]


@pytest.mark.parametrize("role", ["supervisor", "police"])
def test_points_states_and_counts(ctx, login, role):
    town, east, west, expect, abroad_house, other = build_states_world()
    if role == "police":
        expect[abroad_house] = "flagged"
    viewer = make_account(town, role, [east] if role == "police" else [])
    response = login(viewer).get("/map/points.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    data = response.get_json()
    assert data["states"] == list(STATES)
    blocks = {b["id"]: b for b in data["villages"]}
    got = {row[0]: STATES[row[3]] for row in blocks[east.id]["houses"]}
    drawn = {k: v for k, v in expect.items() if k != min(expect) + 11}  # house 12 has no position
    assert got == drawn
    east_counts = counts_of(expect)
    assert blocks[east.id]["counts"] == east_counts
    assert blocks[east.id]["unplaced"] == 1
    if role == "supervisor":
        assert set(blocks) == {east.id, west.id}
        assert blocks[west.id]["counts"] == [0, 1, 0, 0]
        assert [row[0] for row in blocks[west.id]["houses"]] == [other]
        assert data["counts"] == [a + b for a, b in zip(east_counts, [0, 1, 0, 0])]
    else:
        assert set(blocks) == {east.id}  # the police ID names 东村 only
        assert data["counts"] == east_counts
    assert data["unplaced"] == 1
    # Rows are [id, lat, lon, state]: compact, rounded to 5 decimals.
    first = blocks[east.id]["houses"][0]
    assert len(first) == 4 and first[1] == round(first[1], 5)


def test_village_markers_carry_progress(ctx, login):
    town, east, _west, _expect, _abroad, _other = build_states_world()
    viewer = make_account(town, "supervisor")
    data = login(viewer).get("/map/points.json").get_json()
    block = next(b for b in data["villages"] if b["id"] == east.id)
    # People living in 东村 now (the maintained counter): houses 8, 13 (moved out: not counted), 15.
    assert (block["people"], block["quota"]) == (2, 100)
    assert block["percent"] == 2.0
    assert (block["name"], block["lat"], block["lon"]) == ("东村", 30.0, 110.0)


def test_points_for_one_village(ctx, login):
    town, east, west, expect, _abroad, _other = build_states_world()
    client = login(make_account(town, "supervisor"))
    data = client.get(f"/map/points.json?village={west.id}").get_json()
    assert [b["id"] for b in data["villages"]] == [west.id]
    assert data["counts"] == [0, 1, 0, 0]
    assert client.get("/map/points.json?village=abc").status_code == 404


def test_points_payload_is_compact(ctx, login):
    """No keys per house: 1,000 houses cost about 30 bytes each before compression."""
    town, (east, _west) = make_town()
    for n in range(1000):
        records.create_house(records.Actor(None, "import"), east.id,
                             {"group_name": "1", "number": str(n), "lat": 30 + n / 1e4, "lon": 110 + n / 1e4})
    db.session.commit()
    raw = login(make_account(town, "supervisor")).get("/map/points.json", headers={"Accept-Encoding": "identity"})
    body = raw.get_data()
    assert raw.headers.get("Content-Encoding") is None
    assert len(json.loads(body)["villages"][0]["houses"]) == 1000
    assert len(body) < 1000 * 36
