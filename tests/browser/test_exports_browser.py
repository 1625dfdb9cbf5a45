"""A supervisor downloads an export in a real browser (CSRF on): the page at phone width, the
download (Playwright expect_download), and the file opens with openpyxl with the village's people."""
from __future__ import annotations

import openpyxl
import pytest

from fieldapp.rules.export_columns import layout

from ..builders import make_account, make_house, make_person, make_town
from .conftest import axe_violations, sign_in


@pytest.fixture
def world(live_server):
    with live_server.app.app_context():
        town, (east, west) = make_town()
        house = make_house(east, number="27", group="3", collected=True)
        make_person(house, name="东村张三", phone="13812345678")
        make_person(make_house(west, number="1", collected=True), name="西村李四")
        return {"supervisor": make_account(town, "supervisor").collection_id, "east": str(east.id)}


def test_supervisor_downloads_a_people_workbook_that_opens(browser, pw, live_server, world, tmp_path):
    base = live_server.base_url
    ctx = browser.new_context(viewport={"width": 360, "height": 800}, accept_downloads=True)
    page = ctx.new_page()
    sign_in(page, base, world["supervisor"])
    page.goto(base + "/exports")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling at 360 px
    assert not axe_violations(page)
    page.select_option("#village", world["east"])
    page.check("input[name=preset][value=police]")
    with page.expect_download() as info:
        page.click("#export-form button[type=submit]")
    download = info.value
    assert download.suggested_filename.endswith(".xlsx") and "东村" in download.suggested_filename
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    book = openpyxl.load_workbook(path)
    rows = [[c.value for c in row] for row in book.active.iter_rows()]
    assert rows[0] == layout("people", "police").headers
    names = [r[rows[0].index("姓名")] for r in rows[1:]]
    assert names == ["东村张三"]  # the chosen village only
    assert rows[1][rows[0].index("联系电话")] == "138****5678"
    assert page.url == base + "/exports"  # nothing personal put in the URL
    ctx.close()
