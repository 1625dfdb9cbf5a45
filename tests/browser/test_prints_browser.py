"""Printed forms in a real Chromium: in print media every form fits the A4 content box (nothing
wider, no cell overflowing), a batch saved as A4 PDF has one page per house, and the archive
command (`print-archive`, the system's Chromium in a subprocess) writes a valid PDF with one page
per house."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from fieldapp.extensions import db
from fieldapp.models import AuditEvent

from ..builders import make_account, make_town
from ..prints_builders import furnished_house, informant_with_tips, make_sub_area
from .conftest import CHROMIUM, REQUIRED, axe_violations, phone_profile, sign_in

MM = 96 / 25.4  # CSS px per millimetre
CONTENT_WIDTH_MM = 210 - 2 * 12  # A4 less the 12 mm margins of css/prints.css


def pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?!s)", pdf))


def a4_media_boxes(pdf: bytes) -> bool:
    boxes = re.findall(rb"/MediaBox\s*\[0 0 ([\d.]+) ([\d.]+)\]", pdf)
    return bool(boxes) and all(abs(float(w) - 595.3) < 1 and abs(float(h) - 841.9) < 1 for w, h in boxes)


@pytest.fixture
def world(live_server):
    with live_server.app.app_context():
        town, (east, west) = make_town()
        collector = make_account(town, "collector", [east])
        area = make_sub_area(east, code="B3", name="3号楼组", kind="building_group")
        houses = [furnished_house(east, collector, number=str(n), people=1 + n % 3, sub_area=area if n <= 2 else None)[0]
                  for n in range(1, 6)]
        informant, _tips = informant_with_tips(east, west, collector, houses[0])
        return {"village": east.id, "village_code": east.code, "area": area.id, "houses": len(houses),
                "informant": informant.id, "reviewer": make_account(town, "reviewer", [east]).collection_id,
                "head": make_account(town, "village_head", [east]).collection_id}


# Every element of a sheet, measured in print media: its right edge against the sheet's (which must
# be the A4 content width), and whether its content is wider than its box (a cell overflowing).
MEASURE = """(maxWidth) => {
  const out = {sheets: [], wider: [], overflowing: []};
  for (const sheet of document.querySelectorAll('.sheet')) {
    const box = sheet.getBoundingClientRect();
    out.sheets.push(box.width);
    for (const el of sheet.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      if (r.left < box.left - 0.5 || r.right > box.left + maxWidth + 0.5) out.wider.push(el.tagName + '.' + el.className + ' ' + r.left + '-' + r.right);
      if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflow === 'visible' && el.clientWidth > 0)
        out.overflowing.push(el.tagName + '.' + el.className + ' ' + el.scrollWidth + '>' + el.clientWidth);
    }
  }
  return out;
}"""


def _print_check(page, url: str) -> bytes:
    page.goto(url)
    page.emulate_media(media="print")
    assert page.locator(".print-controls").is_hidden()  # the controls bar is not printed
    found = page.evaluate(MEASURE, CONTENT_WIDTH_MM * MM)
    assert found["sheets"] and all(abs(w - CONTENT_WIDTH_MM * MM) < 1 for w in found["sheets"])
    assert found["wider"] == [] and found["overflowing"] == []
    pdf = page.pdf(format="A4", prefer_css_page_size=True, print_background=True)
    assert pdf[:5] == b"%PDF-" and a4_media_boxes(pdf)
    return pdf


def test_batch_prints_fit_a4_with_one_page_per_house(browser, live_server, world):
    base = live_server.base_url
    ctx = browser.new_context(viewport={"width": 1000, "height": 1400})
    page = ctx.new_page()
    sign_in(page, base, world["reviewer"])
    pdf = _print_check(page, f"{base}/prints/villages/{world['village']}")
    assert page.locator("section.sheet").count() == world["houses"]
    assert pdf_pages(pdf) == world["houses"]
    pdf = _print_check(page, f"{base}/prints/sub-areas/{world['area']}")
    assert pdf_pages(pdf) == 2
    ctx.close()


def test_one_house_and_the_informant_form_fit_one_a4_page(browser, live_server, world):
    base = live_server.base_url
    ctx = browser.new_context(viewport={"width": 390, "height": 844})  # printed from a phone: same A4 page
    page = ctx.new_page()
    sign_in(page, base, world["head"])
    page.goto(f"{base}/prints")
    page.click("text=东村")
    page.wait_for_url(re.compile(r"/prints/villages/\d+"))
    with live_server.app.app_context():
        house_id = db.session.scalar(db.select(AuditEvent.target).where(AuditEvent.action == "print_house")
                                     .order_by(AuditEvent.seq).limit(1)).split(":")[1]
        db.session.rollback()
    assert pdf_pages(_print_check(page, f"{base}/prints/houses/{house_id}")) == 1
    assert pdf_pages(_print_check(page, f"{base}/prints/informants/{world['informant']}")) == 1
    ctx.close()


def test_print_archive_command_writes_a_pdf_with_a_page_per_house(live_server, world, tmp_path):
    if not Path(CHROMIUM).exists():
        if REQUIRED:
            pytest.fail(f"BROWSER TESTS ARE REQUIRED BUT CANNOT RUN: no Chromium at {CHROMIUM}")
        pytest.skip(f"no Chromium at {CHROMIUM}")
    app = live_server.app
    app.config["PRINT_CHROMIUM"] = CHROMIUM
    runner = app.test_cli_runner()
    out = tmp_path / "archive" / "east.pdf"
    result = runner.invoke(args=["print-archive", "--village", world["village_code"], str(out)])
    assert result.exit_code == 0, result.output
    pdf = out.read_bytes()
    assert pdf[:5] == b"%PDF-" and b"%%EOF" in pdf[-1024:]
    assert pdf_pages(pdf) == world["houses"] and a4_media_boxes(pdf)
    assert f"{world['houses']} houses" in result.output
    with app.app_context():
        rows = list(db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "print_house")))
        assert len(rows) == world["houses"] and {r.account_id for r in rows} == {None}
        assert all("archive pdf" in r.detail for r in rows)
        db.session.rollback()
    result = runner.invoke(args=["print-archive", "--village", world["village_code"], "--sub-area", "B3",
                                 str(tmp_path / "b3.pdf")])
    assert result.exit_code == 0, result.output
    assert pdf_pages((tmp_path / "b3.pdf").read_bytes()) == 2


@pytest.mark.parametrize("english", [False, True], ids=["zh", "en"])
def test_print_pages_have_no_accessibility_violations(pw, browser, live_server, world, english):
    base = live_server.base_url
    ctx = browser.new_context(**phone_profile(pw), bypass_csp=True)  # axe is injected as a script
    page = ctx.new_page()
    sign_in(page, base, world["head"])
    if english:
        page.click("header form.inline button[lang]")
        page.wait_for_selector("html[lang=en]")
    found = {}
    for path in ("/prints", f"/prints/villages/{world['village']}", f"/prints/sub-areas/{world['area']}",
                 f"/prints/informants/{world['informant']}"):
        page.goto(base + path)
        found[path] = axe_violations(page)
    ctx.close()
    assert {path: v for path, v in found.items() if v} == {}
