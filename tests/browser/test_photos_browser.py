"""Photos in a real browser (Chromium at 360 px): a reviewer sees a person's portrait (the thumbnail
really decodes), taps it to enlarge it in the page and closes it; the house page shows the
residents' small portraits; nothing is wider than the phone; axe-core finds nothing to fix."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import AuditEvent

from ..builders import make_account, make_house, make_person, make_town
from ..photo_builders import add_photo
from .conftest import axe_violations, serve, sign_in


@pytest.fixture
def photo_server(make_app, tmp_path):
    yield from serve(make_app(WTF_CSRF_ENABLED=True, PHOTO_DIR=str(tmp_path / "photos")))


@pytest.fixture
def world(photo_server):
    with photo_server.app.app_context():
        town, (east, _west) = make_town()
        house = make_house(east, number="7", group="2", collected=True)
        person = make_person(house, name="住户王五")
        make_person(house, name="没照片的人")
        portrait = add_photo("person", person.uid, size=(1200, 1600))
        house_photo = add_photo("house", house.uid)
        reviewer = make_account(town, "reviewer", [east])
        return {"person": person.id, "house": house.id, "portrait": portrait.uid, "house_photo": house_photo.uid,
                "reviewer": reviewer.collection_id, "reviewer_id": reviewer.id}


@pytest.fixture
def small_phone(browser):
    ctx = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True,
                              has_touch=True, bypass_csp=False)
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


def natural_width(page, selector: str) -> int:
    page.wait_for_function("s => { const i = document.querySelector(s); return i && i.complete && i.naturalWidth > 0 }",
                           arg=selector)
    return page.eval_on_selector(selector, "i => i.naturalWidth")


def test_a_reviewer_sees_the_portrait_and_enlarges_it(small_phone, photo_server, world):
    base = photo_server.base_url
    page = small_phone.new_page()
    sign_in(page, base, world["reviewer"])
    page.goto(f"{base}/people/{world['person']}")
    # The portrait decodes: on a 2x screen at 160 CSS px the browser takes the 640 px file.
    assert natural_width(page, "#portrait img") in (120, 480)
    box = page.eval_on_selector("#portrait img", "i => { const r = i.getBoundingClientRect(); return [r.width, r.height] }")
    assert box == [120, 160]  # the size given in the page: nothing jumps while it loads
    assert page.eval_on_selector("#portrait img", "i => i.alt") == "住户王五的照片"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    # Tap to enlarge: the 640 px photo in the page's dialog, closed by its button.
    page.tap("#portrait a.photo-link")
    page.wait_for_selector("#photo-dialog[open]")
    assert natural_width(page, "#photo-dialog img") == 480  # 640 px tall, 480 px wide
    assert page.eval_on_selector("#photo-full", "a => a.getAttribute('href')") == f"/photos/{world['portrait']}"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.click("#photo-dialog button[type=submit]")
    page.wait_for_selector("#photo-dialog:not([open])", state="attached")
    assert page.url.endswith(f"/people/{world['person']}")  # still on the page
    with photo_server.app.app_context():
        rows = db.session.execute(select(AuditEvent.account_id, AuditEvent.target).where(
            AuditEvent.action == "view_photo")).all()
    assert rows == [(world["reviewer_id"], f"person:{world['person']}")]  # 160/640 and the enlarged view: one row


def test_the_house_page_shows_small_portraits_and_house_photos(small_phone, photo_server, world):
    base = photo_server.base_url
    page = small_phone.new_page()
    sign_in(page, base, world["reviewer"])
    page.goto(f"{base}/houses/{world['house']}")
    assert natural_width(page, "img.avatar") == 120  # the 160 px file, shown at 48 px
    assert page.eval_on_selector("img.avatar", "i => i.getBoundingClientRect().width") == 48
    assert natural_width(page, "#house-photos img") > 0
    assert page.locator(".avatar-none").count() == 1  # the resident without a photo keeps the column
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_photo_pages_pass_axe(browser, pw, photo_server, world):
    ctx = browser.new_context(viewport={"width": 360, "height": 740}, bypass_csp=True)
    page = ctx.new_page()
    try:
        sign_in(page, photo_server.base_url, world["reviewer"])
        for path in (f"/people/{world['person']}", f"/houses/{world['house']}"):
            page.goto(photo_server.base_url + path)
            natural_width(page, "img.photo-thumb, img.avatar")
            assert axe_violations(page) == [], path
        page.goto(f"{photo_server.base_url}/people/{world['person']}")
        page.click("#portrait a.photo-link")
        page.wait_for_selector("#photo-dialog[open]")
        assert axe_violations(page) == [], "the enlarged photo"
    finally:
        ctx.close()
