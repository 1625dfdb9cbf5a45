"""Blank door labels on the phone (issue 12, "New houses can get door proof"), in a real browser: a
collector offline creates a new house by scanning a blank label with the camera (Chromium's fake
camera films the label's QR), comes online, syncs, and the server's house has the label's code and
door proof; when another house took the label meanwhile, the house keeps a fresh code, the visit is
not a scan, and the phone says why."""
from __future__ import annotations

import re

import pytest

from playwright.sync_api import expect
from sqlalchemy import select

from fieldapp.extensions import db

from .test_pwa_offline import pending, phone_app, world
from . import test_pwa_scan
from .test_pwa_scan import _visit_items, _wired

camera_browser = test_pwa_scan.camera_browser  # the fake camera filming a door label (a fixture)


def _blank_label(server, village_id):
    from fieldapp.doors import labels
    with server.app.app_context():
        _batch, [label] = labels.issue(None, village_id, 1)
        db.session.commit()
        return label.id, label.door_code, label.door_token


def _bind_elsewhere(server, village_id, token):
    """Another collector's new house takes the label first (as its own push would)."""
    from fieldapp import records
    from fieldapp.doors import labels
    with server.app.app_context():
        status, label = labels.claim(None, village_id, token)
        house = records.create_house(records.Actor(None, "sync"), village_id, {"number": "99"},
                                     door=(label.door_code, label.door_token))
        labels.attach(label, house)
        db.session.commit()
        assert status == "bound"


@pytest.mark.parametrize("taken_meanwhile", [False, True], ids=["binds", "taken-meanwhile"])
def test_offline_new_house_binds_a_scanned_blank_label_and_gets_door_proof(live_server, camera_browser, pw,
                                                                            taken_meanwhile):
    from fieldapp.models import BlankLabel, Change, House, Visit
    base = live_server.base_url
    w = world(live_server, houses=1)
    label_id, code, token = _blank_label(live_server, w["village_id"])
    browser = camera_browser(f"{base}/d/{token}")
    with phone_app(browser, pw, base, w["collection_id"], timeout=15_000, permissions=["camera"]) as page:
        ctx = page.context
        ctx.set_offline(True)
        page.evaluate("vid => { location.hash = '#/v/' + vid; }", w["village_id"])
        page.click("#new-house")
        expect(page.locator("#label-scan-start")).to_have_text("扫描门牌标签")
        page.click("#label-scan-start")
        page.click("#scan-start")
        expect(page.locator("#label-kept")).to_be_visible()
        assert page.evaluate("document.querySelector('#scan-video') === null")  # the camera was let go
        form = page.locator("#record-form")
        form.locator("[name=group_name]").fill("6")
        form.locator("[name=number]").fill("66")
        form.locator("[name=use]").select_option("owner")
        form.locator("button[type=submit]").click()
        page.wait_for_url(re.compile(r"#/h/[0-9a-f-]{36}$"))
        house_uid = page.url.rsplit("/", 1)[1]
        # The scan of the label is this new house's door scan, offline.
        expect(page.locator("#door-proof")).to_have_attribute("data-proof", "yes")
        visits = _visit_items(page)
        assert [(v["house_uid"], v["method"], v["label_token"]) for v in visits] == [(house_uid, "scan", token)]
        [new] = [i for i in _wired(page) if i["op"] == "house.new"]
        assert new["label_token"] == token and new["entity_uid"] == house_uid
        # The label now opens the new house on this phone (its token kept as a hash only).
        page.evaluate("location.hash = '#/'")
        assert page.evaluate("async (t) => (await (await import('/static/js/package.js')).houseByToken(t))?.uid",
                             token) == house_uid

        if taken_meanwhile:
            _bind_elsewhere(live_server, w["village_id"], token)
        ctx.set_offline(False)
        page.click("#sync-now")
        expect(pending(page)).to_have_text("0", timeout=20_000)
        page.evaluate("location.hash = '#/'")
        page.evaluate("uid => { location.hash = '#/h/' + uid; }", house_uid)
        expect(page.locator("#house-title")).to_contain_text("6组66号")
        if taken_meanwhile:
            expect(page.locator("#label-refused")).to_have_text(
                "扫描的门牌标签已属于另一处房屋。本房屋已获得新的门牌码：请在门牌标签页面打印其标签。")
            expect(page.locator(".facts .code")).not_to_have_text(f"{code[:4]}-{code[4:]}")
        else:
            expect(page.locator(".facts .code")).to_have_text(f"{code[:4]}-{code[4:]}")
            expect(page.locator("#label-refused")).to_have_count(0)

    with live_server.app.app_context():
        house = db.session.scalar(select(House).where(House.uid == house_uid))
        bound_to = db.session.get(BlankLabel, label_id).bound_house_id
        method = db.session.scalar(select(Visit.method).where(Visit.uid == visits[0]["uid"]))
        created = db.session.scalar(select(Change).where(Change.entity == "house", Change.entity_id == house.id,
                                                         Change.kind == "new"))
        if taken_meanwhile:
            assert house.door_code != code and house.door_token != token and bound_to != house.id
            assert method == "list" and not created.door_proof
        else:
            assert (house.door_code, house.door_token) == (code, token) and bound_to == house.id
            assert method == "scan" and created.door_proof
        db.session.rollback()


def test_blank_label_pages_have_no_accessibility_violations(pw, browser, live_server):
    """The print page (also showing its cap error), a printed batch and an unbound label's public page."""
    from ..builders import make_account, make_town
    from .conftest import axe_violations, phone_profile, sign_in
    base = live_server.base_url
    with live_server.app.app_context():
        town, (east, _west) = make_town()
        head = make_account(town, "village_head", [east]).collection_id
        village_id = east.id
    _label_id, _code, token = _blank_label(live_server, village_id)
    ctx = browser.new_context(**phone_profile(pw), bypass_csp=True)  # axe is injected as a script
    try:
        page = ctx.new_page()
        found = {}
        page.goto(f"{base}/d/{token}")
        expect(page.locator("#label-not-bound")).to_be_visible()
        found["public"] = axe_violations(page)
        sign_in(page, base, head)
        page.goto(f"{base}/doors/villages/{village_id}/blank")
        found["print page"] = axe_violations(page)
        page.fill("#count", "999")
        page.click("form.card button[type=submit]")
        expect(page.locator("#count")).to_have_attribute("aria-invalid", "true")
        found["print page with errors"] = axe_violations(page)
        page.fill("#count", "3")
        page.click("form.card button[type=submit]")
        expect(page.locator(".door-label")).to_have_count(3)
        found["batch"] = axe_violations(page)
        assert {k: v for k, v in found.items() if v} == {}
    finally:
        ctx.close()
