"""The phone warns before saving a new house at an address its work package already holds
(static/js/dupes.js, the rule of rules/address.py): it offers the house there, and a collector who
saves anyway gets the house kept on the server and flagged duplicate_house for a reviewer."""
from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.rules.address import address_identity

from .test_pwa_offline import app_page, pending, world

ADDRESSES = [
    {"group_name": "1组", "number": "1号"}, {"group_name": "１", "number": "01"}, {"group_name": "1 组", "number": " 1 "},
    {"road": "人民路", "lane": "12弄", "number": "3号", "building": "2栋", "room": "201室"},
    {"road": "人民路 ", "lane": "１２", "number": "3", "building": "2幢", "room": "201"},
    {"road": "人民路", "number": "3", "building": "3号楼"}, {"number": "１２ａ号"}, {"number": "B-3"},
    {"group_name": "3组", "number": ""}, {"number": "0"}, {"number": "000"}, {"room": "室", "number": "号"},
]


def test_phone_identity_rule_agrees_with_python(live_server, phone):
    page = phone.new_page()
    page.goto(live_server.base_url + "/app/")
    got = page.evaluate("""async (list) => { const d = await import('/static/js/dupes.js');
        return list.map((parts) => d.identity(7, parts)); }""", ADDRESSES)
    assert got == [address_identity(7, parts) for parts in ADDRESSES]


def test_new_house_at_a_known_address_is_warned_then_flagged(live_server, phone):
    from fieldapp.models import Flag, House
    w = world(live_server, houses=1)  # 1组1号
    page = app_page(phone, live_server.base_url, w["collection_id"])
    page.evaluate("h => { location.hash = h; }", f"#/v/{w['village_id']}")
    page.click("#new-house")
    form = page.locator("#record-form")
    form.locator("[name=group_name]").fill("１组")
    form.locator("[name=number]").fill("01号")
    form.locator("[name=use]").select_option("owner")
    form.locator("button[type=submit]").click()
    warning = page.locator("#dupe-warning")
    expect(warning).to_be_visible()
    expect(page.locator("#dupe-open")).to_have_attribute("href", f"#/h/{w['houses'][0][0]}")
    assert page.evaluate("window.__fieldapp.counts()")["pending"] == 0  # nothing saved yet
    form.locator("button[type=submit]").click()  # save anyway
    page.wait_for_url(re.compile(r"#/h/[0-9a-f-]{36}$"))
    new_uid = page.url.rsplit("/", 1)[1]
    page.click("#sync-now")
    expect(pending(page)).to_have_text("0", timeout=20_000)
    with live_server.app.app_context():
        house = db.session.scalar(select(House).where(House.uid == new_uid))
        assert house.address_identity is None
        flag = db.session.scalar(select(Flag).where(Flag.kind == "duplicate_house"))
        original = db.session.scalar(select(House).where(House.uid == w["houses"][0][0]))
        assert (flag.entity_id, flag.detail) == (house.id, {"other_house_id": original.id})
        db.session.rollback()


def test_opening_the_offered_house_saves_nothing(live_server, phone):
    w = world(live_server, houses=1)
    page = app_page(phone, live_server.base_url, w["collection_id"])
    page.evaluate("h => { location.hash = h; }", f"#/v/{w['village_id']}")
    page.click("#new-house")
    form = page.locator("#record-form")
    form.locator("[name=group_name]").fill("1")
    form.locator("[name=number]").fill("1")
    form.locator("[name=use]").select_option("owner")
    form.locator("button[type=submit]").click()
    page.click("#dupe-open")
    page.wait_for_url(re.compile(f"#/h/{w['houses'][0][0]}$"))
    expect(page.locator("#house-title")).to_be_visible()
    assert page.evaluate("window.__fieldapp.counts()")["pending"] == 0
