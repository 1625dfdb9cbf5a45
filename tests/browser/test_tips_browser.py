"""Tips and badges in a real browser (Chromium, phone size): a tip's life on the web (a resident at
the door's page, the collector taking and verifying it after a visit, the village head closing it),
axe-core over every tips and badges page, and the badge printed as one 85.6 x 54 mm card whose QR
decodes to the verification URL."""
from __future__ import annotations

import io
import re

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import Account, Tip

from ..builders import make_account, make_house, make_person, make_town
from ..tips_builders import make_tip, make_visit
from .conftest import axe_violations, phone_profile
from .conftest import sign_in as web_login



@pytest.fixture
def world(live_server):
    with live_server.app.app_context():
        town, (east, _west) = make_town()
        house = make_house(east, number="7", group="2", collected=True, owner_name="李四", owner_phone="13812345678")
        make_person(house, name="住户王五", phone="13912345678")
        holder = make_account(town, "collector", [east])
        holder.name, holder.badge_token = "采集员甲", "browser-badge-token-0123456789abcd"
        db.session.commit()
        ids = {"village": east.id, "house": house.id, "door_token": house.door_token,
               "collector": holder.collection_id, "collector_id": holder.id,
               "head": make_account(town, "village_head", [east]).collection_id,
               "informant": make_account(town, "informant", [east]).collection_id,
               "admin": make_account(town, "admin").collection_id}
    return ids


def sign_in(page, base, collection_id, in_english=False):
    # Leave the previous page first: an image it was still loading, asked for after the cookies are
    # cleared, is redirected to /login, and that response's new session (a new CSRF token) would
    # replace the one of the form filled in below (a 400 seen in CI).
    page.goto("about:blank")
    page.context.clear_cookies()
    web_login(page, base, collection_id)
    if in_english:
        to_english(page)


def to_english(page):
    """Switch the current page to English with the header's language button."""
    page.click("header form.inline button[lang=en]")
    page.wait_for_selector("html[lang=en]")


def english(page, base):
    page.goto(base + "/login")
    to_english(page)


def test_a_tips_life_on_the_web(browser, pw, live_server, world):
    base, app = live_server.base_url, live_server.app
    ctx = browser.new_context(**phone_profile(pw))
    ctx.set_default_timeout(10_000)
    page = ctx.new_page()
    english(page, base)
    # A resident scans the door: the door page carries the tip form, and shows nothing of the house.
    page.goto(base + f"/d/{world['door_token']}")
    body = page.content()
    assert "李四" not in body and "13812345678" not in body and "住户王五" not in body
    page.select_option("#kind", "move_in")
    page.fill("#details", "楼上新搬来一家三口")
    page.fill("#contact_phone", "13700001111")
    page.click("form.tip-form button[type=submit]")
    page.wait_for_selector("text=Thank you: your tip was sent")
    with app.app_context():
        tip = db.session.scalar(select(Tip))
        assert (tip.state, tip.source, tip.house_id) == ("new", "public", world["house"])
        tip_id = tip.id
    # The collector sees it as a task and takes it.
    sign_in(page, base, world["collector"], in_english=True)
    page.goto(base + "/tips")
    page.click(f"a[href='/tips/{tip_id}']")
    page.click("text=Take this tip")
    page.wait_for_selector("text=The tip is yours now")
    assert "13700001111" in page.content()  # the assignee may call the resident back
    # Verifying before a visit is refused with what to do next.
    page.check("input[value=valid]")
    page.click("text=Save what I found")
    page.wait_for_selector(".flash.error >> text=Visit the door first")
    # The phone records the visit (scan at the door); then verifying works.
    with app.app_context():
        make_visit(db.session.get(Tip, tip_id).house, db.session.get(Account, world["collector_id"]))
    page.goto(base + f"/tips/{tip_id}")
    page.wait_for_selector("text=counts as the visit to this door")
    page.check("input[value=valid]")
    page.fill("#note", "一家三口，已登记")
    page.click("text=Save what I found")
    page.wait_for_selector("text=Tip verified.")
    # The village head closes it.
    sign_in(page, base, world["head"], in_english=True)
    page.goto(base + f"/tips/{tip_id}")
    page.click("text=Close this tip")
    page.wait_for_selector("text=Tip closed.")
    with app.app_context():
        tip = db.session.get(Tip, tip_id)
        assert (tip.state, tip.verify_note, tip.version) == ("closed", "一家三口，已登记", 4)
    ctx.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_tips_and_badge_pages_have_no_accessibility_violations(browser, pw, live_server, world, lang):
    base, app = live_server.base_url, live_server.app
    with app.app_context():
        from fieldapp.models import House, Village
        house = db.session.get(House, world["house"])
        village = db.session.get(Village, world["village"])
        collector = db.session.get(Account, world["collector_id"])
        late = make_tip(village, house, state="assigned", assigned_to=collector,
                        received_at=__import__("fieldapp.models", fromlist=["utcnow"]).utcnow()
                        - __import__("datetime").timedelta(days=20))
        make_tip(village, None, address_text="东村3组后面", kind="group_rental")
        make_visit(house, collector)
        late_id = late.id
    ctx = browser.new_context(**phone_profile(pw), bypass_csp=True)
    page = ctx.new_page()
    found = {}

    def check(path, who):
        page.goto(base + path)
        found[f"{who} {path}"] = axe_violations(page)

    if lang == "en":
        english(page, base)
    check(f"/d/{world['door_token']}/tip", "anonymous")
    page.fill("#contact_phone", "123")
    page.click("form.tip-form button[type=submit]")
    page.wait_for_selector("[aria-invalid=true], .flash.error")  # the answer, not the form it replaces
    found["public form with errors"] = axe_violations(page)
    check("/b/browser-badge-token-0123456789abcd", "anonymous")
    for who, paths in (("informant", ["/tips", "/tips/new"]),
                       ("collector", ["/tips", f"/tips/{late_id}"]),
                       ("head", ["/tips", f"/tips/{late_id}", "/tips/rewards"]),
                       ("admin", ["/badges", f"/badges/{world['collector_id']}"])):
        sign_in(page, base, world[who], in_english=lang == "en")
        for path in paths:
            check(path, who)
        if who == "informant":
            page.goto(base + "/tips/new")
            page.fill("#door_code", "K7M3-Q9PY")
            page.click("form.card button[type=submit]")
            page.wait_for_selector("[aria-invalid=true], .flash.error")  # the answer, not the form it replaces
            found["informant form with errors"] = axe_violations(page)
    ctx.close()
    assert {where: v for where, v in found.items() if v} == {}


def test_badge_prints_as_one_id1_card_with_a_qr_that_decodes(browser, live_server, world):
    base = live_server.base_url
    ctx = browser.new_context(viewport={"width": 800, "height": 900}, device_scale_factor=3)
    page = ctx.new_page()
    sign_in(page, base, world["admin"])
    page.goto(base + f"/badges/{world['collector_id']}")
    card = page.locator("article.badge-card")
    # The QR as shown (a screenshot of the card at print-like resolution) decodes to the exact URL.
    shot = Image.open(io.BytesIO(card.screenshot()))
    decoded = [r.text for r in zxingcpp.read_barcodes(shot)]
    assert decoded == [f"{base}/b/browser-badge-token-0123456789abcd"]
    # Printed: one page of exactly 85.6 x 54 mm (242.6 x 153.1 pt), with the card and not the page chrome.
    pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    assert len(boxes) == 1, boxes
    width, height = (float(v) for v in boxes[0])
    assert abs(width - 85.6 / 25.4 * 72) < 1 and abs(height - 54 / 25.4 * 72) < 1
    page.emulate_media(media="print")
    assert page.locator("header.bar").is_hidden() and page.locator("form").first.is_hidden()
    box = card.bounding_box()
    assert abs(box["width"] - 85.6 / 25.4 * 96) < 2 and abs(box["height"] - 54 / 25.4 * 96) < 2
    ctx.close()
