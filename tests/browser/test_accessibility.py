"""axe-core (WCAG 2.1 A/AA and best practice) finds nothing on the server-rendered pages, at phone
size, in Chinese and in English, including a form showing its errors."""
from __future__ import annotations

import pytest

from fieldapp import records
from fieldapp.extensions import db
from fieldapp.models import Conflict

from ..builders import make_account, make_house, make_person, make_town
from .conftest import axe_violations, phone_profile, sign_in



@pytest.fixture
def world(live_server):
    with live_server.app.app_context():
        town, (east, _west) = make_town()
        house = make_house(east, number="7", group="2", use="rented", owner_name="李四", owner_phone="13812345678")
        person = make_person(house, phone="13912345678")
        records.add_organisation(records.Actor(None), house, {"name": "东村便利店", "kind": "shop"})
        # A conflict sync kept for the reviewer: a phone number two collectors changed differently.
        db.session.add(Conflict(entity="person", entity_id=person.id, field="phone", base="13912345678",
                                current="13900001111", submitted="13900002222"))
        db.session.commit()
        ids = {"village": east.id, "house": house.id, "person": person.id,
               "reviewer": make_account(town, "reviewer", [east]).collection_id,
               "collector": make_account(town, "collector", [east]).collection_id,
               "supervisor": make_account(town, "supervisor").collection_id,
               "admin": make_account(town, "admin").collection_id}
    return ids




@pytest.mark.parametrize("english", [False, True], ids=["zh", "en"])
def test_pages_have_no_accessibility_violations(pw, browser, live_server, world, english):
    base = live_server.base_url
    # axe is injected as a script: the app's CSP (script-src 'self') would refuse it otherwise.
    ctx = browser.new_context(**phone_profile(pw), bypass_csp=True)
    page = ctx.new_page()
    found = {}

    def check(path, who=None):
        page.goto(base + path)
        found[f"{who or 'anonymous'} {path}"] = axe_violations(page)

    page.goto(base + "/login")
    if english:
        page.click("header form.inline button[lang]")  # the language switch
        page.wait_for_selector("html[lang=en]")
    check("/login")
    check("/activate")
    page.fill("#collection_id", "YP-9999")
    page.click("form.card button[type=submit]")  # a form showing its errors
    page.wait_for_selector("[aria-invalid=true], .flash.error")  # the answer, not the form it replaces
    found["activate with errors"] = axe_violations(page)

    sign_in(page, base, world["collector"])
    for path in (f"/villages/{world['village']}/houses", f"/houses/{world['house']}", f"/people/{world['person']}",
                 f"/houses/{world['house']}/edit", f"/houses/{world['house']}/people/new",
                 f"/houses/{world['house']}/organisations/new", f"/people/{world['person']}/leave"):
        check(path, "collector")
    page.goto(base + f"/houses/{world['house']}/people/new")
    page.fill("#name", "王五")
    page.fill("#id_number", "110105198503120000")
    page.click("form.card button[type=submit]")
    page.wait_for_selector("[aria-invalid=true], .flash.error")  # the answer, not the form it replaces
    found["collector: person form with errors"] = axe_violations(page)
    page.context.clear_cookies()

    sign_in(page, base, world["reviewer"])
    check("/review/conflicts", "reviewer")
    page.context.clear_cookies()

    sign_in(page, base, world["supervisor"])
    check("/progress", "supervisor")
    page.context.clear_cookies()
    sign_in(page, base, world["admin"])
    check("/admin/accounts", "admin")
    check("/admin/accounts/new", "admin")
    ctx.close()
    assert {where: v for where, v in found.items() if v} == {}
