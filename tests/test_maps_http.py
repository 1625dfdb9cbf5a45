"""The map's pages and JSON over HTTP: scope per role, what a popup may show, ETag/304, gzip,
and the tile layer configuration with its CSP."""
from __future__ import annotations

import gzip
import json
import re

import pytest
from sqlalchemy import update

from fieldapp import live
from fieldapp.extensions import db
from fieldapp.models import Conflict, House, Tip
from fieldapp.rules.permissions import ROLES, can, is_town_wide
from fieldapp.security import CSP, csp_for, tile_origins

from .builders import make_account, make_house, make_person, make_town
from .map_builders import make_conflict, make_tip, make_visit
from .builders import make_other_town
from .test_permissions import make_abroad_person

MAP_ROLES = [r for r in ROLES if can(r, "dashboard.view")]


def world():
    town, (east, west) = make_town()
    _town2, far = make_other_town()
    houses, secrets = {}, {"房东甲", "13700001111", "13812345678"}
    for key, village in (("own", east), ("west", west), ("town2", far)):
        house = make_house(village, number="5", group="2", collected=True, lat=30.01, lon=110.02,
                           owner_name="房东甲", owner_phone="13700001111")
        person = make_person(house, name=f"{key}住户", phone="13812345678")
        houses[key] = house
        # Never on the map: names, ID numbers, phones, and the door token (it opens the door's page).
        secrets |= {person.name, person.id_number, house.door_token}
    abroad = make_abroad_person(houses["own"], "境外约翰")
    secrets |= {abroad.name, abroad.id_number}
    db.session.commit()
    return town, east, west, far, {k: h.id for k, h in houses.items()}, secrets


@pytest.mark.parametrize("role", ROLES + ("anon",))
def test_every_map_endpoint_is_scoped(ctx, app, login, role):
    town, east, west, far, houses, _secrets = world()
    client = app.test_client() if role == "anon" else login(
        make_account(town, role, [] if is_town_wide(role) else [east]))
    allowed = role in MAP_ROLES
    town_wide = role in ("admin", "supervisor")
    urls = {"/map": 200, "/map/points.json": 200, f"/map/points.json?village={east.id}": 200,
            f"/map/points.json?village={west.id}": 200 if town_wide else 404,
            f"/map/points.json?village={far.id}": 404,
            f"/map/houses/{houses['own']}.json": 200,
            f"/map/houses/{houses['west']}.json": 200 if town_wide else 404,
            f"/map/houses/{houses['town2']}.json": 404,
            f"/map/houses/{2 ** 40}.json": 404}
    for url, wanted in urls.items():
        got = client.get(url)
        if role == "anon":
            assert got.status_code == 302 and got.headers["Location"].startswith("/login"), url
        elif not allowed:
            assert got.status_code == 403, url
        else:
            assert got.status_code == wanted, (url, got.status_code)
    if allowed:
        data = client.get("/map/points.json").get_json()
        ids = {row[0] for b in data["villages"] for row in b["houses"]}
        assert houses["own"] in ids and houses["town2"] not in ids
        assert (houses["west"] in ids) is town_wide
        assert {b["id"] for b in data["villages"]} == ({east.id, west.id} if town_wide else {east.id})


@pytest.mark.parametrize("role", MAP_ROLES)
def test_popup_shows_only_what_the_role_may_see(ctx, login, role):
    town, east, _west, _far, houses, secrets = world()
    client = login(make_account(town, role, [] if is_town_wide(role) else [east]))
    make_visit(db.session.get(House, houses["own"]), make_account(town, "collector", [east]))
    response = client.get(f"/map/houses/{houses['own']}.json")
    info = response.get_json()
    body = response.get_data(as_text=True) + client.get("/map/points.json").get_data(as_text=True) \
        + client.get("/map").get_data(as_text=True)
    for secret in secrets:
        assert secret not in body, secret  # never names, ID numbers or phones
    if role == "admin":
        assert info == {"id": houses["own"], "state": "visited", "village": "东村"}
        return
    assert set(info) == {"id", "state", "village", "address", "door_code", "people", "orgs", "last_visit", "url"}
    assert info["address"] == "东村2组5号" and info["state"] == "visited"
    assert info["last_visit"] == "2016-05-03" and info["url"] == f"/houses/{houses['own']}"
    # The person from abroad living there is counted for police only, as on the house page.
    assert info["people"] == (2 if role == "police" else 1)


def test_etag_answers_304_until_something_changes(ctx, login):
    town, east, _west, _far, houses, _secrets = world()
    client = login(make_account(town, "supervisor"))
    house = db.session.get(House, houses["own"])
    collector = make_account(town, "collector", [east])

    def etag_after(change=None):
        if change:
            change()
        first = client.get("/map/points.json")
        assert first.status_code == 200 and first.headers["ETag"].startswith('W/"')
        again = client.get("/map/points.json", headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304 and again.get_data() == b""
        return first.headers["ETag"]

    seen = [etag_after()]
    tip = []
    conflict = []
    for change in (lambda: make_visit(house, collector),
                   lambda: tip.append(make_tip(db.session.get(House, houses["own"])).id),
                   lambda: (db.session.execute(update(Tip).where(Tip.id == tip[0]).values(state="valid")),
                            db.session.commit()),
                   lambda: conflict.append(make_conflict("house", houses["own"]).id),
                   lambda: (db.session.execute(update(Conflict).where(Conflict.id == conflict[0])
                                               .values(resolved_at=db.func.now())), db.session.commit()),
                   lambda: make_person(db.session.get(House, houses["own"]), name="新来的")):
        tag = etag_after(change)
        assert tag not in seen
        seen.append(tag)
    # Another village's set of points has its own tag.
    one = client.get(f"/map/points.json?village={east.id}").headers["ETag"]
    assert one not in seen


def test_large_answers_are_gzipped(ctx, login):
    town, (east, _west) = make_town()
    for n in range(200):
        make_house(east, number=str(n), lat=30 + n / 1e4, lon=110.0)
    client = login(make_account(town, "supervisor"))
    plain = client.get("/map/points.json")
    zipped = client.get("/map/points.json", headers={"Accept-Encoding": "gzip, deflate"})
    assert zipped.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in zipped.headers["Vary"]
    assert json.loads(gzip.decompress(zipped.get_data())) == plain.get_json()
    assert len(zipped.get_data()) < len(plain.get_data()) / 2


def test_map_page_without_tiles_needs_no_outside_host(ctx, login):
    town, (east, _west) = make_town()
    page = login(make_account(town, "supervisor")).get("/map")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-tile-url=""' in text and "<script>" not in text
    assert page.headers["Content-Security-Policy"] == CSP
    assert "http" not in page.headers["Content-Security-Policy"]
    assert "/static/vendor/leaflet-1.9.4/leaflet.js" in text and "/static/js/map.js" in text
    for state in ("not_visited", "visited", "tip", "flagged"):
        assert f'data-count="{state}"' in text
    # The live stream starts from the feed as the page was made: nothing between page and stream is lost.
    assert f'data-events-url="/progress/events?after={live.latest_event_id()}"' in text


def test_configured_tiles_are_the_only_outside_image_host(make_app):
    url = "https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=KEY"
    app = make_app(MAP_TILE_URL=url, MAP_TILE_SUBDOMAINS="01", MAP_ATTRIBUTION="天地图 GS(2024)0568号")
    with app.app_context():
        town, (east, _west) = make_town()
        supervisor = make_account(town, "supervisor")
        client = app.test_client()
        client.post("/login", data={"collection_id": supervisor.collection_id, "pin": "secret-pin-1"})
    page = client.get("/map")
    csp = page.headers["Content-Security-Policy"]
    img_src = re.search(r"img-src ([^;]+)", csp).group(1).split()
    assert img_src == ["'self'", "data:", "blob:", "https://t0.tianditu.gov.cn", "https://t1.tianditu.gov.cn"]
    assert csp.replace(" https://t0.tianditu.gov.cn https://t1.tianditu.gov.cn", "") == CSP  # nothing else opened
    text = page.get_data(as_text=True)
    assert "data-tile-url=\"https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&amp;TILEMATRIX={z}" in text
    assert 'data-tile-subdomains="01"' in text and "天地图 GS(2024)0568号" in text


def test_tile_origins():
    assert tile_origins("") == []
    assert tile_origins("https://tile.openstreetmap.org/{z}/{x}/{y}.png") == ["https://tile.openstreetmap.org"]
    assert tile_origins("https://{s}.tile.example.org/{z}/{x}/{y}.png") == [
        "https://a.tile.example.org", "https://b.tile.example.org", "https://c.tile.example.org"]
    for bad in ("//tile.example.org/{z}/{x}/{y}.png", "javascript:alert(1)", "https://{z}.example.org/{x}/{y}"):
        with pytest.raises(ValueError):
            tile_origins(bad)


def test_a_bad_tile_url_stops_the_app_at_start(make_app):
    with pytest.raises(ValueError):
        make_app(MAP_TILE_URL="ftp://tiles.example.org/{z}/{x}/{y}.png")


def test_cached_answer_follows_every_change(ctx, login):
    """Each process keeps answers by ETag: a second viewer gets the same bytes, and a change is
    seen at once (the version moved, so the cached answer is not used)."""
    town, east, _west, _far, houses, _secrets = world()
    first, second = login(make_account(town, "supervisor")), login(make_account(town, "supervisor"))

    def state_of_own(client):
        data = client.get("/map/points.json").get_json()
        return next(row[3] for b in data["villages"] for row in b["houses"] if row[0] == houses["own"])

    assert first.get("/map/points.json").get_data() == second.get("/map/points.json").get_data()
    assert state_of_own(first) == 0
    make_visit(db.session.get(House, houses["own"]), make_account(town, "collector", [east]))
    assert state_of_own(second) == 1 and state_of_own(first) == 1
    make_conflict("house", houses["own"])
    assert state_of_own(first) == 3


def test_scan_and_index_paths_agree(ctx):
    """points(scan=True), used for town-wide viewers, gives what the index path gives."""
    from fieldapp.maps import data
    from fieldapp.models import Village
    town, east, west, far, houses, _secrets = world()
    make_visit(db.session.get(House, houses["west"]), make_account(town, "collector", [west]))
    villages = list(db.session.scalars(db.select(Village).where(Village.town_id == town.id)))

    def normal(payload):
        for block in payload["villages"]:
            block["houses"].sort()
        return payload

    assert normal(data.points(villages, False, scan=True)) == normal(data.points(villages, False))


def test_tile_subdomains_given_as_a_number():
    """FIELDAPP_MAP_TILE_SUBDOMAINS=12 is parsed as JSON, i.e. the number 12: still subdomains 1 and 2."""
    csp = csp_for({"MAP_TILE_URL": "https://t{s}.example.org/{z}/{x}/{y}.png", "MAP_TILE_SUBDOMAINS": 12})
    assert "img-src 'self' data: blob: https://t1.example.org https://t2.example.org;" in csp
