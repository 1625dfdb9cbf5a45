"""Issuing collection IDs from an uploaded list in a real browser, and their A4 activation letters:
a rejected row is shown with the input kept and corrected on the page; the issued batch's letters
print (print media, A4) as exactly one page each; each letter's QR code decodes (zxing-cpp) to the
activation address with the ID and code after "#"; opening it fills the activation form, and the
holder sets a PIN and signs in. The bulk page and the account list have no axe violations."""
from __future__ import annotations

import io
import re

import pytest
import zxingcpp
from PIL import Image

from ..builders import make_account, make_town
from ..roster_builders import list_xlsx, make_sub_area
from .conftest import axe_violations, sign_in


@pytest.fixture
def world(live_server):
    with live_server.app.app_context():
        town, (east, west) = make_town()
        make_sub_area(east, "A1", "一片区")
        make_sub_area(west, "B2", "二号楼组", kind="building_group")
        return {"admin": make_account(town, "admin").collection_id}


def _pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?!s)", pdf))


def test_clerk_issues_a_batch_from_a_file_and_prints_one_a4_letter_each(browser, live_server, world, tmp_path):
    base = live_server.base_url
    ctx = browser.new_context(viewport={"width": 1000, "height": 1400}, device_scale_factor=2)
    page = ctx.new_page()
    sign_in(page, base, world["admin"])
    page.goto(f"{base}/admin/accounts")
    page.click("a[href$='/admin/accounts/bulk']")
    rows = [["王芳", "采集员", "东村", "A1", "13812345678"],
            ["李强", "信息员", "西村", "二号楼组", "13912345678"],
            ["赵敏", "督导", None, None, None],
            ["孙丽", "采集员", "北村", None, "1391234"]]  # unknown village and a short phone
    (tmp_path / "名单.xlsx").write_bytes(list_xlsx(rows))
    page.set_input_files("#file", str(tmp_path / "名单.xlsx"))
    page.click("#run")
    page.wait_for_selector("table.bulk-rows")
    assert page.locator("tr.rejected").count() == 1
    assert page.locator("input[name='r-3-villages']").input_value() == "北村"  # the input is kept
    # Corrected on the page (no new upload), then issued.
    page.fill("input[name='r-3-villages']", "东村")
    page.fill("input[name='r-3-phone']", "13712345678")
    page.click("#run")
    page.wait_for_selector("article.letter")
    letters = page.locator("article.letter")
    assert letters.count() == 4
    page.emulate_media(media="print")
    assert page.locator("nav.tabs").is_hidden() and page.locator(".screen-only").first.is_hidden()
    # Each letter fits its A4 page: 180 x 262 mm inside the 15 mm margins (96 px per inch).
    box = letters.first.bounding_box()
    assert abs(box["width"] - 180 / 25.4 * 96) < 1.5 and abs(box["height"] - 262 / 25.4 * 96) < 1.5
    for i in range(4):
        inner = letters.nth(i).evaluate("e => e.scrollHeight <= e.clientHeight")
        assert inner, f"letter {i + 1} overflows its page"
    pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    assert _pages(pdf) == 4  # one page per person
    boxes = re.findall(rb"/MediaBox\s*\[0 0 ([\d.]+) ([\d.]+)\]", pdf)
    assert boxes and all(abs(float(w) - 595.3) < 1 and abs(float(h) - 841.9) < 1 for w, h in boxes)
    found = []
    for i in range(4):
        png = letters.nth(i).locator("svg.qr").screenshot()
        found += [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]
    assert len(found) == 4 and all(url.startswith(f"{base}/activate#id=") for url in found)
    ids = [letters.nth(i).locator(".letter-id").inner_text() for i in range(4)]
    codes = [letters.nth(i).locator(".letter-code").inner_text() for i in range(4)]
    assert found == [f"{base}/activate#id={cid}&code={code}" for cid, code in zip(ids, codes)]
    assert "东村 一片区（A1）" in letters.nth(0).inner_text()
    ctx.close()

    # The holder scans the QR code: the form is filled, the secret leaves the address bar.
    phone = browser.new_context(viewport={"width": 360, "height": 740})
    holder = phone.new_page()
    holder.goto(found[0])
    holder.wait_for_function("() => document.querySelector('#code').value.length === 8")
    assert holder.input_value("#collection_id") == ids[0] and holder.input_value("#code") == codes[0]
    assert "#" not in holder.url and codes[0] not in holder.url
    holder.fill("#pin", "583920")
    holder.fill("#pin2", "583920")
    holder.click("form.card button[type=submit]")
    holder.wait_for_url(f"{base}/login")
    sign_in(holder, base, ids[0], "583920")
    phone.close()


def test_bulk_page_and_account_list_have_no_accessibility_violations(pw, browser, live_server, world, tmp_path):
    from .conftest import phone_profile
    base = live_server.base_url
    ctx = browser.new_context(**phone_profile(pw), bypass_csp=True)
    page = ctx.new_page()
    sign_in(page, base, world["admin"])
    found = {}
    for path in ("/admin/accounts", "/admin/accounts/bulk", "/admin/accounts?q=nobody&status=revoked"):
        page.goto(base + path)
        found[path] = axe_violations(page)
    (tmp_path / "list.xlsx").write_bytes(list_xlsx([["孙丽", "厨师", "北村", None, "1391234"]]))
    page.goto(base + "/admin/accounts/bulk")
    page.set_input_files("#file", str(tmp_path / "list.xlsx"))
    page.click("#check_only")
    page.wait_for_selector("table.bulk-rows")
    found["bulk report"] = axe_violations(page)
    ctx.close()
    assert {where: v for where, v in found.items() if v} == {}
