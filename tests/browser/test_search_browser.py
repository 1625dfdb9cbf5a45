"""A reviewer searching on a 360 px phone: by name from the nav, through the pages of a common
surname, by resident ID, into the person's page. Nothing typed ever appears in a URL the browser
requests; the page does not scroll sideways, its buttons and result rows are at least 48 px tall,
and axe finds no accessibility violation on the results."""
from __future__ import annotations

import pytest

from fieldapp.rules.identifiers import mask_id

from ..builders import make_account, make_house, make_person, make_town, resident_id
from .conftest import axe_violations, sign_in

WIDTH = 360


@pytest.fixture
def world(live_server):
    with live_server.app.app_context():
        town, (east, west) = make_town()
        house = make_house(east, number="27", group="3", collected=True)
        number = resident_id()
        target = make_person(house, name="诸葛明亮", id_number=number, phone="13612345678")
        for n in range(23):
            make_person(house, name=f"诸葛{n:02d}")
        hidden = make_person(make_house(west, number="5", collected=True), name="诸葛西村")
        reviewer = make_account(town, "reviewer", [east])
        return {"person": target.id, "id_number": number, "hidden_id_number": hidden.id_number,
                "reviewer": reviewer.collection_id}


def fits_the_screen(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    for selector in ("form.search button[type=submit]", "#q", "#found-people .list li",
                     "nav.pager button, section p form button"):
        for box in [page.locator(selector).nth(i).bounding_box() for i in range(page.locator(selector).count())]:
            if box is not None:
                assert box["height"] >= 47.5, (selector, box)


def test_reviewer_searches_on_a_phone(pw, browser, live_server, world):
    base = live_server.base_url
    ctx = browser.new_context(viewport={"width": WIDTH, "height": 740}, device_scale_factor=3, is_mobile=True,
                              has_touch=True, bypass_csp=True)
    ctx.set_default_timeout(10_000)
    page = ctx.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    sign_in(page, base, world["reviewer"])

    page.click("nav.tabs a[href='/search']")
    page.wait_for_url(base + "/search")
    fits_the_screen(page)
    page.fill("#q", "诸葛")
    page.press("#q", "Enter")
    page.wait_for_selector("#found-people")
    assert page.url == base + "/search"  # POSTed: the name is not in the address bar
    assert page.locator("#found-people .list li").count() == 10
    assert "诸葛西村" not in page.content()  # another village's person
    fits_the_screen(page)
    assert axe_violations(page) == []

    # Through the pages of the surname: "show all", then "next".
    page.click("#found-people form button:has-text('显示全部')")
    page.wait_for_selector("nav.pager")
    assert page.locator("#found-people .list li").count() == 20
    fits_the_screen(page)
    page.click("nav.pager button:has-text('下一页')")
    page.wait_for_selector("nav.pager :text('第2页')")
    assert page.locator("#found-people .list li").count() == 4  # 24 people named 诸葛…

    # By resident ID, as read off the card with spaces: the one person, the number masked.
    spaced = world["id_number"][:6] + " " + world["id_number"][6:14] + " " + world["id_number"][14:]
    page.fill("#q", spaced)
    page.press("#q", "Enter")
    page.wait_for_selector("#searched-as")
    rows = page.locator("#found-people .list li")
    assert rows.count() == 1
    assert mask_id(world["id_number"]) in rows.inner_text() and "136****5678" in rows.inner_text()
    assert world["id_number"] not in rows.inner_text()
    fits_the_screen(page)

    # Another village's document number: nothing, and a message saying what to try.
    page.fill("#q", world["hidden_id_number"])
    page.press("#q", "Enter")
    page.wait_for_selector("#nothing-found")

    page.fill("#q", world["id_number"])
    page.press("#q", "Enter")
    page.click("#found-people .list a")
    page.wait_for_url(f"{base}/people/{world['person']}")
    assert "诸葛明亮" in page.locator("h1").inner_text()

    typed = ("诸葛", world["id_number"], world["id_number"][:6], world["hidden_id_number"])
    leaks = [url for url in requested for text in typed if text in url or "%E8%AF%B8" in url]
    assert leaks == []
    ctx.close()
