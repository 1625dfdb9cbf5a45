"""The map in a real browser (Chromium, phone size): the points drawn per state match the houses,
the legend counts them, a tapped point opens its popup, and axe finds nothing on the page."""
from __future__ import annotations

import json
import re

import pytest

from fieldapp.extensions import db
from fieldapp.models import Account, House

from ..builders import make_account, make_house, make_person, make_town
from ..map_builders import make_conflict, make_tip, make_visit
from .conftest import axe_violations, phone_profile, sign_in


# Houses per state in 东村, drawn (with a position); plus two visited houses without one.
PLACED = {"not_visited": 5, "visited": 4, "tip": 2, "flagged": 3}
UNPLACED_VISITED = 2


@pytest.fixture
def map_world(live_server):
    with live_server.app.app_context():
        town, (east, west) = make_town()
        west.lat, west.lon = 31.0, 111.0  # about 140 km away: apart at town zoom, grouped further out
        collector = make_account(town, "collector", [east])
        n = 0

        def house(lat=None, lon=None):
            nonlocal n
            n += 1
            return make_house(east, number=str(n), collected=True,
                              lat=None if lat is None else lat, lon=None if lon is None else lon)

        def placed():
            # Spread over about 1 km so some points cluster and some stand alone.
            return house(30.0 + (n % 4) * 0.003, 110.0 + (n // 4) * 0.003)

        for _ in range(PLACED["not_visited"]):
            placed()
        for _ in range(PLACED["visited"]):
            make_visit(placed(), collector)
        for _ in range(PLACED["tip"]):
            make_tip(placed())
        for _ in range(PLACED["flagged"]):
            h = placed()
            make_visit(h, collector)
            make_conflict("house", h.id)
        for _ in range(UNPLACED_VISITED):
            make_visit(house(), collector)
        target = placed()  # one more visited house, the one the test taps
        make_visit(target, collector)
        make_person(target, name="住户甲", phone="13812345678")
        make_house(west, number="1", lat=31.0, lon=111.0)  # another village: not on a village head's map
        db.session.commit()
        return {"supervisor": make_account(town, "supervisor").collection_id,
                "head": make_account(town, "village_head", [east]).collection_id,
                "target": target.id}


def test_map_shows_the_points_per_state(pw, browser, live_server, map_world):
    ctx = browser.new_context(**phone_profile(pw), bypass_csp=True)  # bypass: only for injecting axe
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(page, live_server.base_url, map_world["head"])
    page.goto(live_server.base_url + "/map")
    page.wait_for_selector("#map[data-ready=true]")

    drawn = {**PLACED, "visited": PLACED["visited"] + 1}  # + the target house
    counted = {**drawn, "visited": drawn["visited"] + UNPLACED_VISITED}
    assert json.loads(page.get_attribute("#map", "data-drawn")) == drawn
    assert json.loads(page.get_attribute("#map", "data-counts")) == counted
    for state, n in counted.items():
        assert page.inner_text(f'#map-legend [data-count="{state}"]') == str(n)
    assert page.get_attribute("#map", "data-unplaced") == str(UNPLACED_VISITED)
    assert str(UNPLACED_VISITED) in page.inner_text("#map-status")  # "2 houses have no position..."
    # What is on screen: every drawn point is either inside a cluster bubble or a single canvas point.
    bubbles = sum(int(t) for t in page.eval_on_selector_all(".house-cluster span[aria-hidden]",
                                                             "els => els.map(e => e.textContent)"))
    singles = page.evaluate("""() => { const {map, cluster} = window.fieldappMap; let n = 0;
        cluster.eachLayer(l => { if (map.hasLayer(l)) n += 1; }); return n; }""")  # points on the canvas
    assert bubbles + singles == sum(drawn.values())
    assert page.locator(".village-marker").count() == 1  # the village head's one village
    assert "东村" in page.inner_text(".village-marker")

    # Tap the target house on the canvas: its popup comes from the server.
    point = page.evaluate("""(id) => new Promise((done) => {
        const {map, cluster} = window.fieldappMap;
        const m = cluster.getLayers().find(l => l.options.houseId === id);
        cluster.zoomToShowLayer(m, () => { const p = map.latLngToContainerPoint(m.getLatLng()); done([p.x, p.y]); });
    })""", map_world["target"])
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + point[0], box["y"] + point[1])
    popup = page.locator(".leaflet-popup-content dl")
    popup.wait_for()
    text = popup.inner_text()
    assert "东村" in text and "13812345678" not in text and "住户甲" not in text
    assert page.locator(".leaflet-popup-content a.popup-link").get_attribute("href") == f"/houses/{map_world['target']}"

    # Leaflet fades popups in: colour contrast is only measurable once the fade has finished.
    from playwright.sync_api import expect
    expect(page.locator(".leaflet-popup")).to_have_css("opacity", "1")
    assert axe_violations(page) == []
    assert errors == []
    ctx.close()


def test_map_for_the_town_and_with_no_tiles_loads_nothing_from_outside(pw, browser, live_server, map_world):
    ctx = browser.new_context(**phone_profile(pw))
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live_server.base_url) else None)
    sign_in(page, live_server.base_url, map_world["supervisor"])
    page.goto(live_server.base_url + "/map")
    page.wait_for_selector("#map[data-ready=true]")
    counts = json.loads(page.get_attribute("#map", "data-counts"))
    assert counts["not_visited"] == PLACED["not_visited"] + 1  # 西村's house too
    assert page.locator(".village-marker").count() == 2
    assert page.locator("#map.plain .leaflet-tile").count() == 0
    assert outside == []
    ctx.close()


def test_map_refreshes_a_changed_village_from_the_live_stream(pw, browser, live_server, map_world):
    """A visit recorded elsewhere (and noted in the dashboard feed) turns its point from 'not yet
    visited' to 'visited' on an open map without a reload; only that village is fetched again."""
    if "progress.events" not in live_server.app.view_functions:
        pytest.skip("no live dashboard stream in this build")
    from playwright.sync_api import expect

    from fieldapp import changefeed
    ctx = browser.new_context(**phone_profile(pw))
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    fetched = []
    page.on("request", lambda r: fetched.append(r.url) if "/map/points.json" in r.url else None)
    sign_in(page, live_server.base_url, map_world["supervisor"])
    page.goto(live_server.base_url + "/map")
    page.wait_for_selector("#map[data-ready=true]")
    page.wait_for_function("document.querySelector('#map').dataset.eventsUrl !== ''")
    before = json.loads(page.get_attribute("#map", "data-counts"))
    with live_server.app.app_context():
        house = db.session.scalar(db.select(House).where(House.number == "1").order_by(House.id))  # 东村, not visited
        collector = db.session.scalar(db.select(Account).where(Account.role == "collector"))
        make_visit(house, collector)
        changefeed.note_village_changed(house.village_id, "visit")
        db.session.commit()
        village_id = house.village_id
    expect(page.locator('#map-legend [data-count="visited"]')).to_have_text(str(before["visited"] + 1))
    expect(page.locator('#map-legend [data-count="not_visited"]')).to_have_text(str(before["not_visited"] - 1))
    assert any(url.endswith(f"?village={village_id}") for url in fetched)
    ctx.close()


def test_zoomed_out_the_map_shows_villages_grouped_and_zooming_in_shows_houses(pw, browser, live_server, map_world):
    """A phone's width cannot hold house bubbles and village markers at town scale: below the
    detail zoom the houses are hidden and villages too close to tell apart form one group with
    their combined progress; a tap on a village zooms to its houses."""
    from playwright.sync_api import expect
    ctx = browser.new_context(**phone_profile(pw), bypass_csp=True)  # bypass: only for injecting axe
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    sign_in(page, live_server.base_url, map_world["supervisor"])
    page.goto(live_server.base_url + "/map")
    page.wait_for_selector("#map[data-ready=true]")
    page.evaluate("window.fieldappMap.map.setZoom(4, {animate: false})")
    expect(page.locator("#map")).to_have_class(re.compile(r"\bfar\b"))
    expect(page.locator(".village-group")).to_have_count(1)
    group = page.locator(".village-group")
    assert group.locator("b").inner_text() == "2"
    assert "东村" in group.inner_text() and "西村" in group.inner_text()  # (the screen reader's words)
    assert page.locator(".house-cluster").first.is_hidden()
    # Markercluster fades markers in after a zoom: contrast is measurable once that is over.
    expect(group).to_have_css("opacity", "1")
    assert axe_violations(page) == []

    # Zoomed in to one village: it stands alone with its name, and a tap on it (still zoomed out
    # below the detail zoom) brings its houses.
    page.evaluate("""() => { const {map} = window.fieldappMap; map.setView([30.005, 110.005], 12, {animate: false}); }""")
    single = page.locator(".village-marker:not(.village-group)", has_text="%")
    expect(single).to_have_count(1)
    single.click()
    expect(page.locator("#map")).not_to_have_class(re.compile(r"\bfar\b"))
    assert page.evaluate("window.fieldappMap.map.getZoom()") >= 14
    expect(page.locator(".village-marker strong", has_text="东村")).to_be_visible()
    expect(page.locator(".leaflet-overlay-pane canvas")).to_be_visible()  # the single houses' layer
    # Where the houses stand (the tap's zoom may already show them all as single points):
    page.evaluate("window.fieldappMap.map.setView([30.006, 110.006], 14, {animate: false})")
    expect(page.locator(".house-cluster").first).to_be_visible()
    ctx.close()
