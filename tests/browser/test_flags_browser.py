"""A reviewer on a 360 px phone reads a house's open flags in words and clears one with a note: an
empty note is refused with the reason what to do, the note is kept, and the page comes back without
the flag. The page fits the screen, the form's controls are at least 48 px tall, and axe finds no
accessibility violation on the house page with its flags."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import Flag

from ..builders import make_account, make_house, make_town
from ..flags_builders import make_flag
from .conftest import axe_violations, sign_in

WIDTH = 360


@pytest.fixture
def world(live_server):
    with live_server.app.app_context():
        town, (east, _west) = make_town()
        house = make_house(east, number="12", group="2", collected=True)
        collector = make_account(town, "collector", [east])
        reviewer = make_account(town, "reviewer", [east])
        gps = make_flag(east.id, "gps_far", house_id=house.id, account_id=collector.id)
        night = make_flag(east.id, "night", house_id=house.id, account_id=collector.id)
        return {"house": house.id, "reviewer": reviewer.collection_id, "gps": gps.id, "night": night.id}


def fits_the_screen(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    for selector in ("form.flag-clear input[name=note]", "form.flag-clear button"):
        for i in range(page.locator(selector).count()):
            box = page.locator(selector).nth(i).bounding_box()
            assert box is not None and box["height"] >= 47.5, (selector, box)


def test_reviewer_clears_a_flag_from_the_house_page(pw, browser, live_server, world):
    base = live_server.base_url
    ctx = browser.new_context(viewport={"width": WIDTH, "height": 740}, device_scale_factor=3, is_mobile=True,
                              has_touch=True, bypass_csp=True)
    ctx.set_default_timeout(10_000)
    page = ctx.new_page()
    sign_in(page, base, world["reviewer"])
    page.goto(f"{base}/houses/{world['house']}")
    flags = page.locator("#house-flags")
    flags.wait_for()
    assert "GPS 位置距房屋 312 米" in flags.inner_text() and "夜间采集（2 时）" in flags.inner_text()
    fits_the_screen(page)
    assert axe_violations(page) == []

    item = page.locator(f"#flag-{world['gps']}")
    # The browser itself refuses an empty note (required): nothing is sent, the flag stays.
    item.locator("button").click()
    assert page.url == f"{base}/houses/{world['house']}"
    assert page.locator(f"#flag-{world['gps']} input[name=note]").evaluate("e => !e.validity.valid")
    item.locator("input[name=note]").fill("已到现场核实，楼道内定位漂移")
    item.locator("button").click()
    page.wait_for_url(f"{base}/houses/{world['house']}")
    page.locator(f"#flag-{world['gps']}").wait_for(state="detached")
    assert page.locator(f"#flag-{world['night']}").count() == 1
    assert "标记已解除" in page.content()
    fits_the_screen(page)
    assert axe_violations(page) == []
    with live_server.app.app_context():
        flag = db.session.scalar(select(Flag).where(Flag.id == world["gps"]))
        assert flag.cleared_at is not None and flag.clear_note == "已到现场核实，楼道内定位漂移"
    # The village's list of open flags: the one left, with its filters, on the same phone.
    page.goto(f"{base}/flags")
    assert page.locator("ul.flags li.flag").count() == 1 and page.locator(f"#flag-{world['night']}").count() == 1
    page.select_option("#flags-kind", "gps_far")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(lambda url: "kind=gps_far" in url)
    assert page.locator("ul.flags li.flag").count() == 0
    fits_the_screen(page)
    assert axe_violations(page) == []
    ctx.close()


def test_the_map_filters_to_flagged_houses(pw, browser, live_server):
    with live_server.app.app_context():
        town, (east, _west) = make_town()
        flagged, quiet = make_house(east, number="1"), make_house(east, number="2")
        for house, lon in ((flagged, 110.001), (quiet, 110.002)):
            house.lat, house.lon = 30.001, lon
        db.session.commit()
        make_flag(east.id, "no_scan", house_id=flagged.id)
        supervisor = make_account(town, "supervisor", []).collection_id
    ctx = browser.new_context(viewport={"width": WIDTH, "height": 740}, device_scale_factor=3, is_mobile=True,
                              has_touch=True, bypass_csp=True)
    ctx.set_default_timeout(10_000)
    page = ctx.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(page, live_server.base_url, supervisor)
    page.goto(live_server.base_url + "/map")
    page.wait_for_selector("#map[data-ready=true]")
    drawn = "() => JSON.parse(document.getElementById('map').dataset.drawn)"
    assert page.evaluate(drawn) == {"not_visited": 1, "visited": 0, "tip": 0, "flagged": 1}
    page.check("#map-only-flagged")
    page.wait_for_function(f"({drawn})().not_visited === 0")
    assert page.evaluate(drawn) == {"not_visited": 0, "visited": 0, "tip": 0, "flagged": 1}
    assert page.inner_text('#map-legend [data-count="not_visited"]') == "1"  # counts stay the village's
    box = page.locator(".map-filter label").bounding_box()
    assert box is not None and box["height"] >= 47.5
    page.uncheck("#map-only-flagged")
    page.wait_for_function(f"({drawn})().not_visited === 1")
    assert axe_violations(page) == [] and errors == []
    ctx.close()
