"""An admin sets up a town from nothing in a real browser, 360 px wide (issue 11): the town is created
and the first admin's ID issued on the command line, the admin activates it at /activate, then on the
web fills in the town (county code named), adds villages and communities (a wrong code is refused
with the input kept), a sub-area, types the quotas in one table and uploads them as the seed's CSV,
and sees the town totals follow. Every set-up page fits 360 px and passes axe-core."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import Account, SubArea, Town, Village

from ..builders import PIN
from .conftest import axe_violations

WIDTH = 360


@pytest.fixture
def admin_slip(live_server):
    """A town created and an admin's ID issued from the command line: what a clerk is handed."""
    runner = live_server.app.test_cli_runner()
    made = runner.invoke(args=["town", "create", "--name", "新镇", "--code", "N100"])
    assert made.exit_code == 0, made.output
    issued = runner.invoke(args=["issue-id", "--name", "王管理", "--role", "admin"])
    assert issued.exit_code == 0, issued.output
    return re.search(r"^(\S+)\s+activation code (\S+)", issued.output).groups()


def fits(page) -> None:
    """Nothing wider than the screen: no sideways scrolling at 360 px."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH, f"{page.url} is {width} px wide"


def test_admin_sets_up_a_town_from_nothing_on_a_360px_phone(browser, live_server, admin_slip, tmp_path):
    base = live_server.base_url
    context = browser.new_context(viewport={"width": WIDTH, "height": 740}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, bypass_csp=True, locale="zh-CN")
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        collection_id, code = admin_slip
        page.goto(base + "/activate")
        page.fill("#collection_id", collection_id)
        page.fill("#code", code)
        page.fill("#pin", PIN)
        page.fill("#pin2", PIN)
        page.click("form.card button[type=submit]")
        page.wait_for_url(lambda url: "/activate" not in url)
        if "/login" in page.url:
            page.fill("#collection_id", collection_id)
            page.fill("#pin", PIN)
            page.click("form.card button[type=submit]")
            page.wait_for_url(lambda url: "/login" not in url)

        page.click("nav.tabs >> text=乡镇设置")
        page.wait_for_selector("#town-form")
        assert "还没有村居" in page.inner_text("main")
        fits(page)
        assert axe_violations(page) == []
        page.fill("#county_code", "431226")
        page.fill("#office", "新镇人民政府")
        page.fill("#orgs_quota", "400")
        page.check("#package_by_sub_area")
        page.click("#town-form button[type=submit]")
        page.wait_for_selector("#county-name")
        assert "湖南省麻阳苗族自治县" in page.inner_text("#county-name")

        page.click("text=添加村/居委")
        page.fill("#name", "甲村")
        page.fill("#code", "甲 1")  # not a code: refused, the name kept
        page.click("#village-form button[type=submit]")
        page.wait_for_selector("#code-error")
        assert page.input_value("#name") == "甲村"
        fits(page)
        page.fill("#code", "C001")
        page.click("#village-form button[type=submit]")
        page.wait_for_selector("#sub-area-form")
        fits(page)
        assert axe_violations(page) == []
        page.fill("#sub-name", "一片区")
        page.fill("#sub-code", "A1")
        page.click("#sub-area-form button[type=submit]")
        page.wait_for_selector("#sub-areas >> text=一片区")
        page.click("text=再添加一个村/居委")
        page.fill("#name", "乙居委")
        page.fill("#code", "C002")
        page.select_option("#kind", "community")
        page.click("#village-form button[type=submit]")
        page.wait_for_selector("#sub-area-form")

        page.goto(base + "/admin/town/quotas")
        fits(page)
        assert axe_violations(page) == []
        with live_server.app.app_context():
            ids = dict(db.session.execute(select(Village.code, Village.id)).all())
            db.session.rollback()
        page.fill(f"#people-{ids['C001']}", "120")
        page.fill(f"#houses-{ids['C001']}", "3O")  # a letter O: refused, every cell kept
        page.fill(f"#people-{ids['C002']}", "80")
        page.click("#quota-form button[type=submit]")
        page.wait_for_selector(f"#houses-{ids['C001']}-error")
        assert page.input_value(f"#people-{ids['C001']}") == "120"
        page.fill(f"#houses-{ids['C001']}", "30")
        page.click("#quota-form button[type=submit]")
        page.wait_for_selector("#total-people >> text=200")
        assert page.inner_text("#total-orgs") == "400"

        table = tmp_path / "quotas.csv"
        table.write_text("村居,人口,房屋,单位\n甲村,1000,250,\n乙居委,500,120,\n", encoding="utf-8")
        page.set_input_files("#quota-upload input[type=file]", str(table))
        page.click("#quota-upload #run")
        page.wait_for_selector("#total-people >> text=1500")
        assert page.inner_text("#total-houses") == "370"

        page.goto(base + "/admin/town/workbook")
        fits(page)
        assert axe_violations(page) == []
        issued = live_server.app.test_cli_runner().invoke(
            args=["issue-id", "--name", "李采集", "--role", "collector", "--village", "甲村"])
        assert issued.exit_code == 0, issued.output
        page.goto(base + "/town/assign")
        fits(page)
        assert axe_violations(page) == []
        page.check("text=甲村 · 一片区")
        page.click("form.card button[type=submit]")
        page.wait_for_selector(".flash.success")
        assert page.is_checked("text=甲村 · 一片区")

        page.goto(base + "/admin/town")
        names = page.locator("#villages-h ~ ul.list li strong")
        assert [t.strip() for t in names.all_inner_texts()] == ["甲村", "乙居委"]
        page.click("button[aria-label='将乙居委上移']")
        page.wait_for_function("document.querySelector('#villages-h ~ ul.list li strong').textContent.trim() === '乙居委'")
        fits(page)
        assert axe_violations(page) == []
    finally:
        context.close()
    with live_server.app.app_context():
        town = db.session.scalar(select(Town))
        assert (town.county_code, town.package_by_sub_area, town.people_quota, town.houses_quota) == ("431226", True, 1500, 370)
        assert [s.name for s in db.session.scalars(select(SubArea))] == ["一片区"]
        collector = db.session.scalar(select(Account).where(Account.role == "collector"))
        assert [s.name for s in collector.sub_areas] == ["一片区"]
