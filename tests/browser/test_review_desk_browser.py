"""The entry clerk on a 360 px phone: opens the review queue, returns one item to its collector with
a reason, bulk-approves the rest (a flagged one stays). No sideways scrolling, 48 px targets, and
axe finds no accessibility violation on the queue or the item."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import Change

from ..builders import make_account, make_town
from ..desk_builders import collected_person, flag
from .conftest import axe_violations, sign_in

WIDTH = 360


@pytest.fixture
def world(live_server):
    with live_server.app.app_context():
        town, (east, _west) = make_town()
        collector = make_account(town, "collector", [east])
        reviewer = make_account(town, "reviewer", [east])
        changes = [collected_person(east, collector, days_ago=d, name=f"王{d}号")[1].id for d in (6, 2, 1, 0)]
        flag(db.session.get(Change, changes[-1]))
        return {"reviewer": reviewer.collection_id, "changes": changes}


def fits_the_screen(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    for selector in ("#queue .pick", "#queue .body > a", "main button[type=submit]"):
        for i in range(page.locator(selector).count()):
            box = page.locator(selector).nth(i).bounding_box()
            if box is not None:
                assert box["height"] >= 47.5, (selector, box)


def test_reviewer_returns_one_and_approves_the_rest(pw, browser, live_server, world):
    base = live_server.base_url
    ctx = browser.new_context(viewport={"width": WIDTH, "height": 740}, device_scale_factor=2, is_mobile=True,
                              has_touch=True)
    ctx.set_default_timeout(10_000)
    page = ctx.new_page()
    sign_in(page, base, world["reviewer"])
    page.goto(base + "/review/queue")
    oldest, *rest = world["changes"]
    assert page.locator("#queue li.desk-row").count() == 4
    assert page.locator("#queue li.desk-row").first.get_attribute("data-change") == str(oldest)  # overdue first
    assert page.locator("#review-waiting").inner_text() == "4"
    fits_the_screen(page)
    assert axe_violations(page) == []

    page.click(f"#entry-{oldest} .body > a")
    page.wait_for_url(f"{base}/review/entries/{oldest}")
    assert axe_violations(page) == []
    page.click("#return")  # no reason yet: told what to do, nothing sent back
    page.wait_for_selector("#return-error")
    page.fill("#reason-name", "名字与证件不符")
    page.click("#return")
    page.wait_for_url(base + "/review/queue")
    assert page.locator(f"#entry-{oldest}").count() == 0
    fits_the_screen(page)

    flagged = rest[-1]
    assert not page.locator(f"#pick-{flagged}").is_checked()
    page.click("#bulk-approve")
    page.wait_for_selector(".flash.success")
    assert page.locator("#queue li.desk-row").count() == 1  # the flagged one waits
    assert axe_violations(page) == []

    with live_server.app.app_context():
        states = dict(db.session.execute(select(Change.id, Change.review_state).where(Change.id.in_(world["changes"]))).all())
        reasons = db.session.get(Change, oldest).return_reasons
    assert states == {oldest: "returned", rest[0]: "approved", rest[1]: "approved", flagged: "pending"}
    assert reasons == {"name": "名字与证件不符"}
    ctx.close()
