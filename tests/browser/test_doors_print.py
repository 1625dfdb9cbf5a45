"""Door label sheets in a real browser: printed (print media, A4) they give pages whose every QR
code decodes with zxing-cpp to exactly its door's URL; the PDF has one A4 page per 12 labels; the
downloaded SVG renders and decodes; axe finds nothing on the door pages in Chinese and English."""
from __future__ import annotations

import io
import re

import pytest
import zxingcpp
from PIL import Image

from fieldapp.doors import codes
from fieldapp.extensions import db
from fieldapp.models import House

from ..builders import make_account, make_house, make_person, make_town
from ..doors_builders import csv_bytes
from .conftest import axe_violations, sign_in

LABELS = 14  # two A4 pages: 12 + 2


@pytest.fixture
def world(live_server):
    with live_server.app.app_context():
        town, (east, _west) = make_town()
        houses = [make_house(east, number=str(n), group="3") for n in range(1, LABELS + 1)]
        make_person(houses[0], name="居民诸葛", phone="13612345678")
        retired = make_house(east, number="99", group="9")
        old_token = retired.door_token
        codes.retire_and_replace(None, db.session.get(House, retired.id), "stolen")
        db.session.commit()
        return {"village": east.id, "house": houses[0].id, "tokens": {h.door_token for h in houses},
                "token": houses[0].door_token, "old_token": old_token,
                "supervisor": make_account(town, "supervisor").collection_id}


def _decode(png: bytes) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def test_printed_sheet_scans_and_paginates_on_a4(browser, live_server, world):
    base = live_server.base_url
    ctx = browser.new_context(viewport={"width": 1000, "height": 1400}, device_scale_factor=2)
    page = ctx.new_page()
    sign_in(page, base, world["supervisor"])
    page.goto(f"{base}/doors/villages/{world['village']}/sheet?g=3&r=")
    page.emulate_media(media="print")
    assert page.locator("nav.tabs").is_hidden() and page.locator("header.bar").is_hidden()
    sections = page.locator("section.a4")
    assert sections.count() == 2
    # The print grid is fixed in millimetres: three 63 mm columns (at 96 px per inch).
    box = page.locator("section.a4 .door-label").first.bounding_box()
    assert abs(box["width"] - 63 / 25.4 * 96) < 1.5 and abs(box["height"] - 69 / 25.4 * 96) < 1.5
    found = []
    for i in range(sections.count()):
        found += _decode(sections.nth(i).screenshot())
    expected = {f"{base}/d/{token}" for token in world["tokens"]}
    assert sorted(found) == sorted(expected)  # every label decodes, to exactly its door
    # Save as PDF: one A4 page per 12 labels, the CSS page size honoured.
    pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    assert len(re.findall(rb"/Type\s*/Page(?!s)", pdf)) == 2
    boxes = re.findall(rb"/MediaBox\s*\[0 0 ([\d.]+) ([\d.]+)\]", pdf)
    assert boxes and all(abs(float(w) - 595.3) < 1 and abs(float(h) - 841.9) < 1 for w, h in boxes)  # A4, points
    ctx.close()


def test_downloaded_svg_renders_and_decodes_in_the_browser(browser, live_server, world):
    base = live_server.base_url
    ctx = browser.new_context(viewport={"width": 400, "height": 400})
    page = ctx.new_page()
    sign_in(page, base, world["supervisor"])
    svg = page.request.get(f"{base}/doors/houses/{world['house']}/qr.svg").text()
    page.set_content(f'<div id="qr" style="width:300px;height:300px">{svg.split("?>", 1)[1]}</div>')
    page.locator("#qr svg").evaluate("e => { e.setAttribute('width', 300); e.setAttribute('height', 300); }")
    assert _decode(page.locator("#qr").screenshot()) == [f"{base}/d/{world['token']}"]
    ctx.close()


@pytest.mark.parametrize("english", [False, True], ids=["zh", "en"])
def test_door_pages_have_no_accessibility_violations(pw, browser, live_server, world, english):
    from .conftest import phone_profile, sign_in
    base = live_server.base_url
    ctx = browser.new_context(**phone_profile(pw), bypass_csp=True)
    page = ctx.new_page()
    found = {}

    def check(path, who="anonymous"):
        page.goto(base + path)
        found[f"{who} {path}"] = axe_violations(page)

    page.goto(base + "/login")
    if english:
        page.click("header form.inline button[lang]")
        page.wait_for_selector("html[lang=en]")
    check(f"/d/{world['token']}")
    check(f"/d/{world['old_token']}")
    check("/d/" + "A" * 27)
    sign_in(page, base, world["supervisor"])
    for path in ("/doors", f"/doors/villages/{world['village']}", f"/doors/villages/{world['village']}/sheet?g=3&r=",
                 f"/doors/houses/{world['house']}", "/doors/import", f"/d/{world['token']}"):
        check(path, "supervisor")
    page.goto(base + "/doors/import")  # a report with rejected rows
    page.set_input_files("#file", files=[{"name": "register.csv", "mimeType": "text/csv",
                                          "buffer": csv_bytes([["北村", "1", None, None, "1", None, None, None, None],
                                                               ["东村", "3", None, None, "1", None, None, None, None]])}])
    page.click("#check_only")
    page.wait_for_selector("table.report")
    found["supervisor import report"] = axe_violations(page)
    ctx.close()
    assert {where: v for where, v in found.items() if v} == {}
