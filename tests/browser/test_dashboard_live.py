"""The live dashboard in a real browser: a collector's sync in one browser context changes an open
dashboard in another within 2 seconds, with no reload; and axe-core finds nothing on the dashboard,
village and campaign pages (phone size, Chinese and English)."""
from __future__ import annotations

from datetime import datetime, UTC

import pytest
from playwright.sync_api import expect

from ..builders import make_account, make_house, make_person, make_town
from ..dashboard_builders import make_campaign
from ..sync_builders import device_token, house_new, person_new
from .conftest import axe_violations, phone_profile, serve, sign_in


@pytest.fixture
def live_dashboard_server(make_app):
    """The app as in production for streams (45 s each would do; 20 s keeps the test short), with a
    fast poll so the test's 2 s budget is mostly the browser's."""
    # A short keep-alive: a stream whose page has closed notices at its next write, and the fixture
    # waits for open requests before emptying the tables.
    yield from serve(make_app(WTF_CSRF_ENABLED=True, DASHBOARD_STREAM_SECONDS=20, DASHBOARD_POLL_SECONDS=0.2,
                              DASHBOARD_KEEPALIVE_SECONDS=1))


@pytest.fixture
def world(live_dashboard_server):
    with live_dashboard_server.app.app_context():
        town, (east, west) = make_town(people_quota=100, houses_quota=40)
        make_campaign(town)
        make_person(make_house(east, number="1", collected=True))
        make_house(east, number="2")  # not yet visited
        collector = make_account(town, "collector", [east])
        return {"east": east.id, "west": west.id, "token": device_token(collector),
                "collector": collector.collection_id,
                "supervisor": make_account(town, "supervisor").collection_id,
                "head": make_account(town, "village_head", [east]).collection_id,
                "admin": make_account(town, "admin").collection_id}


def test_a_collectors_sync_changes_open_dashboards_within_two_seconds(pw, browser, live_dashboard_server, world):
    base = live_dashboard_server.base_url
    supervisor = browser.new_context(viewport={"width": 1024, "height": 900})
    head = browser.new_context(**phone_profile(pw))
    phone = browser.new_context(**phone_profile(pw))
    try:
        town_page = supervisor.new_page()
        sign_in(town_page, base, world["supervisor"])
        town_page.goto(base + "/progress")
        village_page = head.new_page()
        sign_in(village_page, base, world["head"])
        village_page.goto(base + f"/progress/villages/{world['east']}")
        for page in (town_page, village_page):
            expect(page.locator("#dashboard")).to_have_attribute("data-connected", "1", timeout=5000)
        row = town_page.locator(f"tr[data-village='{world['east']}']")
        expect(row.locator("[data-fig=people] [data-text]")).to_have_text("1 / 100 · 1.0%")

        # The collector's phone syncs a new household: a house and two people.
        house = house_new(world["east"], number="9")
        items = [house, person_new(house["entity_uid"]), person_new(house["entity_uid"])]
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for item in items:
            item["collected_at"] = now  # collected just now on the phone: today's work
        response = phone.request.post(base + "/api/sync/push", data={"items": items},
                                      headers={"Authorization": f"Bearer {world['token']}"})
        assert response.ok, response.text()

        expect(row.locator("[data-fig=people] [data-text]")).to_have_text("3 / 100 · 3.0%", timeout=2000)
        expect(row.locator("[data-fig=houses] [data-text]")).to_have_text("2 / 40 · 5.0%", timeout=2000)
        expect(town_page.locator("[data-total] [data-fig=people] [data-text]")).to_have_text(
            "3 / 200 · 1.5%", timeout=2000)
        # The collectors' table is re-rendered too: three records today (a house and two people).
        today_cell = town_page.locator(f"#live-panels tr:has(th:has-text('{world['collector']}')) td").first
        expect(today_cell).to_have_text("3", timeout=2000)
        card = village_page.locator(f"section[data-village='{world['east']}']")
        expect(card.locator("[data-fig=people] [data-text]")).to_have_text("3 / 100 · 3.0%", timeout=2000)
        # Told to screen readers too: the polite live region now names the time of the update.
        updated = town_page.locator("#dashboard").get_attribute("data-updated")
        assert updated and updated in town_page.locator("#live-status").inner_text()
        # A push to a village outside the head's scope never reaches their page.
        other = house_new(world["west"], number="5")
        assert phone.request.post(base + "/api/sync/push", data={"items": [other]},
                                  headers={"Authorization": f"Bearer {world['token']}"}).status == 200
        expect(town_page.locator(f"tr[data-village='{world['west']}'] [data-fig=houses] [data-text]")).to_have_text(
            "0 / 40 · 0.0%")  # the collector may not write there: the item is refused, nothing changes
    finally:
        for ctx in (supervisor, head, phone):
            ctx.close()


@pytest.mark.parametrize("english", [False, True], ids=["zh", "en"])
def test_dashboard_pages_have_no_accessibility_violations(pw, browser, live_dashboard_server, world, english):
    base = live_dashboard_server.base_url
    ctx = browser.new_context(**phone_profile(pw), bypass_csp=True)  # axe is injected as a script
    page = ctx.new_page()
    found = {}

    def check(label):
        found[label] = axe_violations(page)

    page.goto(base + "/login")
    if english:
        page.click("header form.inline button[lang]")
        page.wait_for_selector("html[lang=en]")
    sign_in(page, base, world["supervisor"])
    for path in ("/progress", "/progress?as_of=2016-05-20&sort=people&dir=desc", "/progress?as_of=nonsense",
                 f"/progress/villages/{world['east']}?as_of=2016-05-20"):
        page.goto(base + path)
        page.locator("figure.chart details summary").first.click()  # the chart's table too
        check(path)
    page.context.clear_cookies()
    sign_in(page, base, world["admin"])
    page.goto(base + "/admin/campaigns/new")
    check("/admin/campaigns/new")
    page.fill("#name", "x")
    page.fill("#start_date", "2017-05-01")
    page.fill("#end_date", "2017-04-01")
    page.click("form.card button[type=submit]")
    page.wait_for_selector("[aria-invalid=true], .flash.error")  # the answer, not the form it replaces
    check("campaign form with errors")
    ctx.close()
    assert {k: v for k, v in found.items() if v} == {}


def test_sorting_headers_reorder_rows_without_a_reload(browser, live_dashboard_server, world):
    base = live_dashboard_server.base_url
    ctx = browser.new_context(viewport={"width": 1024, "height": 900})
    try:
        page = ctx.new_page()
        sign_in(page, base, world["supervisor"])
        page.goto(base + "/progress")
        expect(page.locator("#villages tbody tr").first).to_have_attribute("data-village", str(world["east"]))
        page.evaluate("window.__notReloaded = true")
        page.locator("#villages th[data-sort=people] a").click()  # first click: most collected first
        expect(page.locator("#villages th[data-sort=people]")).to_have_attribute("aria-sort", "descending")
        expect(page.locator("#villages tbody tr").first).to_have_attribute("data-village", str(world["east"]))
        page.locator("#villages th[data-sort=people] a").click()
        expect(page.locator("#villages th[data-sort=people]")).to_have_attribute("aria-sort", "ascending")
        expect(page.locator("#villages tbody tr").first).to_have_attribute("data-village", str(world["west"]))
        assert page.evaluate("window.__notReloaded") is True
        assert "sort=people" in page.url and "dir=asc" in page.url
        # The same address without JavaScript gives the same order from the server.
        page.reload()
        expect(page.locator("#villages tbody tr").first).to_have_attribute("data-village", str(world["west"]))
    finally:
        ctx.close()
