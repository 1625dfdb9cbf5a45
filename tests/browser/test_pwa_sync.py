"""The collector app against a server that misbehaves or refuses: lost answers, a server restart,
a revoked device, two collectors editing the same house, an app update while records wait."""
from __future__ import annotations

import json
import re
import threading
from pathlib import Path

from playwright.sync_api import expect
from sqlalchemy import func, select
from werkzeug.serving import make_server

from fieldapp.extensions import db

from fieldapp.models import Village

from ..builders import make_account, make_house, make_person, resident_id
from .test_pwa_offline import (DUMP_AS_TEXT, add_person, app_page, pending, people_with_uids, record_items, sign_in, unlock,
                                wait_until, world)


def _evaluate_quietly(page, expression):
    try:
        return page.evaluate(expression)
    except Exception:  # the page is navigating
        return False


def entity_uids(page):
    return [i["entity_uid"] for i in record_items(page.evaluate("window.__fieldapp.dump()")["outbox"])]


def test_lost_answer_and_server_restart_lose_nothing_and_duplicate_nothing(live_server, phone):
    base = live_server.base_url
    w = world(live_server, houses=2)
    page = app_page(phone, base, w["collection_id"])

    # 1. The server applies the push but its answer never reaches the phone.
    phone.set_offline(True)
    add_person(page, w["houses"][0][0], "甲", resident_id())
    uids = entity_uids(page)
    dropped = []

    def drop_first_answer(route):
        if not dropped:
            route.fetch()          # the server receives and applies the batch...
            dropped.append(True)
            route.abort("connectionreset")  # ...and the phone never hears back
        else:
            route.continue_()

    page.route("**/api/sync/push", drop_first_answer)
    phone.set_offline(False)
    expect(pending(page)).to_have_text("0", timeout=20_000)  # the retry is answered "duplicate"
    assert dropped and people_with_uids(live_server, uids) == {uids[0]: 1}
    page.unroute("**/api/sync/push")

    # 2. The server goes away in the middle of the work and comes back on the same address.
    phone.set_offline(True)
    add_person(page, w["houses"][1][0], "乙", resident_id())
    uids2 = entity_uids(page)
    live_server.shutdown()
    phone.set_offline(False)
    page.click("#sync-now")
    expect(page.locator("#sync-state")).to_have_class("sync-state warn")
    assert pending(page).text_content() == "1"
    again = make_server("127.0.0.1", live_server.server_port, live_server.app, threaded=True)
    thread = threading.Thread(target=again.serve_forever, daemon=True)
    thread.start()
    try:
        page.click("#sync-now")
        expect(pending(page)).to_have_text("0", timeout=20_000)
        assert people_with_uids(live_server, uids + uids2) == {uids[0]: 1, uids2[0]: 1}
    finally:
        again.shutdown()
        thread.join(5)


def test_revoked_device_stops_wipes_the_package_and_keeps_unsent_records(live_server, phone):
    from fieldapp.models import Device
    from fieldapp.devices import revoke_device
    base = live_server.base_url
    w = world(live_server, houses=2)
    page = app_page(phone, base, w["collection_id"])
    assert len(page.evaluate("window.__fieldapp.dump()")["houses"]) == 2
    phone.set_offline(True)
    add_person(page, w["houses"][0][0], "丙", resident_id())
    with live_server.app.app_context():
        for device in db.session.scalars(select(Device)):
            revoke_device(device)
        db.session.commit()
    phone.set_offline(False)
    page.click("#sync-now")
    expect(page.locator("#fatal")).to_be_visible()
    expect(page.locator("#fatal a[href*='/login']")).to_be_visible()
    dump = page.evaluate("window.__fieldapp.dump()")
    assert dump["houses"] == [] and dump["people"] == [] and len(record_items(dump["outbox"])) == 1
    expect(pending(page)).to_have_text("1")
    page.click("#sync-now")  # stopped: never retried against a revoked token
    expect(pending(page)).to_have_text("1")
    # The last resort: the unsent records as a file.
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_download() as download:
        page.click("#export")
    exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert [(i["op"], i["data"]["name"], i["state"]) for i in record_items(exported["items"])] == [("person.new", "丙", "pending")]
    assert [(i["op"], i["method"]) for i in exported["items"] if i["op"] == "visit.new"] == [("visit.new", "list")]
    # Signing in again registers a new device; the same PIN opens the kept records, which then go.
    sign_in(page, base, w["collection_id"])
    page.goto(base + "/app/")
    unlock(page)
    expect(pending(page)).to_have_text("0", timeout=20_000)
    expect(page.locator("#fatal")).to_be_hidden()


def test_two_collectors_edit_the_same_house_offline(pw, browser, live_server):
    from fieldapp.models import House, Town, Village
    from .conftest import phone_profile
    base = live_server.base_url
    w = world(live_server, houses=1)
    with live_server.app.app_context():
        village = db.session.scalar(select(Village).where(Village.id == w["village_id"]))
        town = db.session.scalar(select(Town))
        second = make_account(town, "collector", villages=[village]).collection_id
    house_uid = w["houses"][0][0]
    phones = [browser.new_context(**phone_profile(pw)) for _ in range(2)]
    try:
        pages = []
        for ctx, cid in zip(phones, (w["collection_id"], second)):
            ctx.set_default_timeout(10_000)
            page = app_page(ctx, base, cid)
            ctx.set_offline(True)
            pages.append(page)
        edits = [{"owner_name": "王一", "tenant_name": "租客甲"}, {"owner_name": "李二", "room": "302"}]
        for page, edit in zip(pages, edits):
            page.evaluate("uid => { location.hash = '#/h/' + uid + '/edit'; }", house_uid)
            page.locator("#record-form [name=use]").select_option("rented")
            for name, value in edit.items():
                page.locator(f"#record-form [name={name}]").fill(value)
            page.click("#record-form button[type=submit]")
            page.wait_for_url(re.compile(f"#/h/{house_uid}$"))
            expect(pending(page)).to_have_text("1")
        for ctx, page in zip(phones, pages):
            ctx.set_offline(False)
            expect(pending(page)).to_have_text("0", timeout=20_000)
        # The second push met the first: merged where they differ, conflict kept for the reviewer.
        pages[1].evaluate("location.hash = '#/outbox'")
        expect(pages[1].locator("#outbox-conflict li")).to_have_count(1)
        label = pages[1].evaluate("document.getElementById('form-house').content.querySelector('label[for=owner_name]').textContent")
        expect(pages[1].locator("#outbox-conflict li")).to_contain_text(label.strip())
        with live_server.app.app_context():
            house = db.session.scalar(select(House).where(House.uid == house_uid))
            assert (house.owner_name, house.tenant_name, house.room) == ("王一", "租客甲", "302")
            db.session.rollback()
    finally:
        for ctx in phones:
            ctx.close()


def test_app_update_while_records_wait_loses_nothing(live_server, phone):
    base = live_server.base_url
    w = world(live_server, houses=2)
    page = app_page(phone, base, w["collection_id"])
    first_version = page.evaluate("document.querySelector('meta[name=shell-version]').content")

    # Records wait (the API is unreachable), and the collector is typing in a form.
    page.route("**/api/**", lambda route: route.abort("internetdisconnected"))
    add_person(page, w["houses"][0][0], "丁", resident_id())
    add_person(page, w["houses"][1][0], "戊", resident_id())
    page.evaluate("uid => { location.hash = '#/h/' + uid + '/person'; }", w["houses"][0][0])
    page.locator("#record-form [name=name]").fill("正在输入")
    page.evaluate("window.__stillHere = true")

    # A new version is deployed; the phone finds it and it waits.
    live_server.app.config["PWA_SHELL_VERSION"] = "test-v2"
    page.evaluate("navigator.serviceWorker.getRegistration().then(r => r.update())")
    expect(page.locator("#update-banner")).to_be_visible()
    assert page.evaluate("window.__stillHere") is True  # never reloaded under the collector
    assert page.locator("#record-form [name=name]").input_value() == "正在输入"

    page.click("#update-now")
    wait_until(lambda: _evaluate_quietly(page, "window.__stillHere === undefined && document.readyState === 'complete'"))
    assert page.evaluate("document.querySelector('meta[name=shell-version]').content") == "test-v2" != first_version
    expect(pending(page)).to_have_text("2")
    unlock(page)
    page.evaluate("uid => { location.hash = '#/h/' + uid + '/person'; }", w["houses"][0][0])
    expect(page.locator("#record-form [name=name]")).to_have_value("正在输入")  # the draft survived
    page.unroute("**/api/**")
    page.click("#sync-now")
    expect(pending(page)).to_have_text("0", timeout=20_000)


def test_rejected_record_stays_with_its_reason_until_fixed(live_server, phone):
    base = live_server.base_url
    w = world(live_server, houses=1)
    page = app_page(phone, base, w["collection_id"])
    phone.set_offline(True)
    page.evaluate("uid => { location.hash = '#/h/' + uid + '/person'; }", w["houses"][0][0])
    form = page.locator("#record-form")
    form.locator("[name=name]").fill("己")
    form.locator("[name=id_number]").fill(resident_id())
    form.locator("[name=move_in_date]").fill("2099-01-01")  # the server's rule: not in the future
    form.locator("button[type=submit]").click()
    expect(pending(page)).to_have_text("1")
    uids = entity_uids(page)
    phone.set_offline(False)
    expect(page.locator("#rejected-note")).to_be_visible(timeout=20_000)
    expect(pending(page)).to_have_text("0")
    page.evaluate("location.hash = '#/outbox'")
    item = page.locator("#outbox-rejected li")
    expect(item).to_have_count(1)
    label = page.evaluate("document.getElementById('form-person').content.querySelector('label[for=move_in_date]').textContent")
    expect(item.locator(".error").last).to_contain_text(label.strip())
    item.locator("a.button").click()
    form = page.locator("#record-form")
    expect(form.locator("[name=move_in_date]")).to_have_attribute("aria-invalid", "true")
    form.locator("[name=move_in_date]").fill("2016-05-01")
    form.locator("button[type=submit]").click()
    # (The bar may read 0 for a moment between the refused item's removal and its correction's
    # saving: the server is asked until the correction is there.)
    wait_until(lambda: people_with_uids(live_server, uids) == {uids[0]: 1}, message="the correction did not arrive")
    expect(page.locator("#rejected-note")).to_be_hidden(timeout=20_000)
    expect(pending(page)).to_have_text("0", timeout=20_000)


def test_person_update_leave_and_new_organisation_reach_the_server(live_server, phone):
    from fieldapp.models import Organisation, Person
    base = live_server.base_url
    w = world(live_server, houses=1, people_per_house=2)
    house_uid = w["houses"][0][0]
    with live_server.app.app_context():
        first, second = db.session.scalars(select(Person).order_by(Person.id)).all()
        first_uid, second_uid = first.uid, second.uid
        db.session.rollback()
    page = app_page(phone, base, w["collection_id"])
    phone.set_offline(True)

    page.evaluate("uid => { location.hash = '#/p/' + uid + '/edit'; }", first_uid)
    page.locator("#record-form [name=phone]").fill("13566667777")
    page.click("#record-form button[type=submit]")
    page.wait_for_url(re.compile(f"#/h/{house_uid}$"))
    expect(pending(page)).to_have_text("1")

    page.evaluate("uid => { location.hash = '#/p/' + uid + '/leave'; }", second_uid)
    page.locator("#record-form [name=left_date]").fill("2026-11-01")
    page.locator("#record-form [name=reason]").fill("搬到外地")
    page.click("#record-form button[type=submit]")
    page.wait_for_url(re.compile(f"#/h/{house_uid}$"))
    expect(pending(page)).to_have_text("2")
    expect(page.locator("#residents li")).to_have_count(1)  # shown at once, before any signal

    page.evaluate("uid => { location.hash = '#/h/' + uid + '/org'; }", house_uid)
    page.locator("#record-form [name=name]").fill("东村小卖部")
    page.locator("#record-form [name=kind]").select_option("shop")
    page.click("#record-form button[type=submit]")
    page.wait_for_url(re.compile(f"#/h/{house_uid}$"))
    expect(pending(page)).to_have_text("3")
    org_uid = [i["entity_uid"] for i in page.evaluate("window.__fieldapp.dump()")["outbox"] if i["op"] == "organisation.new"][0]

    phone.set_offline(False)
    expect(pending(page)).to_have_text("0", timeout=20_000)
    with live_server.app.app_context():
        first, second = (db.session.scalar(select(Person).where(Person.uid == u)) for u in (first_uid, second_uid))
        org = db.session.scalar(select(Organisation).where(Organisation.uid == org_uid))
        assert first.phone == "13566667777" and first.name == "住户1"  # only the changed field was sent
        assert second.status == "left"
        assert (org.name, org.kind) == ("东村小卖部", "shop")
        db.session.rollback()


def test_signing_out_removes_household_data_but_keeps_unsent_records(live_server, phone):
    from fieldapp.models import Device, Person
    base = live_server.base_url
    w = world(live_server, houses=2)
    page = app_page(phone, base, w["collection_id"])
    assert len(page.evaluate("window.__fieldapp.dump()")["houses"]) == 2
    number = resident_id()
    phone.set_offline(True)
    add_person(page, w["houses"][0][0], "丁", number)
    expect(pending(page)).to_have_text("1")
    page.once("dialog", lambda dialog: dialog.accept())  # names the unsent record and asks
    page.click("#sign-out")
    expect(page.locator("#setup")).to_be_visible()  # offline: the app says it needs signal once
    dump = page.evaluate("window.__fieldapp.dump()")
    assert dump["houses"] == [] and dump["people"] == [] and len(record_items(dump["outbox"])) == 1
    assert page.evaluate("window.__fieldapp.meta('device')") is None
    # Signing in again: the same PIN opens the kept record, which is then sent once.
    phone.set_offline(False)
    sign_in(page, base, w["collection_id"])
    page.goto(base + "/app/")
    unlock(page)
    expect(pending(page)).to_have_text("0", timeout=20_000)
    with live_server.app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Person).where(Person.id_number == number)) == 1
    # Online, signing out also revokes the phone's credential and ends the web session.
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#sign-out")
    expect(page.locator("#setup")).to_be_visible()
    with live_server.app.app_context():
        devices = db.session.scalars(select(Device).order_by(Device.created_at)).all()
        assert devices[-1].revoked_at is not None
    assert page.evaluate("fetch('/api/session').then(r => r.json())")["signed_in"] is False
    assert page.evaluate("window.__fieldapp.dump()")["houses"] == []


def test_a_document_registered_in_another_village_is_saved_offline_then_answered_as_a_request(live_server, phone):
    """Offline, the collector registers someone whose ID number is registered in 西村: the phone saves
    it; at sync the server answers with a move request (迁入待核实) that names nothing about the
    registered person, the phone's own copy of the person goes, and nobody moved on the server."""
    from fieldapp.models import MoveRequest, Person
    base = live_server.base_url
    w = world(live_server, houses=1)
    with live_server.app.app_context():
        west = db.session.scalar(select(Village).where(Village.name == "西村"))
        elsewhere = make_person(make_house(west, number="8", collected=True), name="西村居民")
        number, registered_house = elsewhere.id_number, elsewhere.house_id
    page = app_page(phone, base, w["collection_id"])
    house_uid = w["houses"][0][0]
    phone.set_offline(True)
    add_person(page, house_uid, "冒用号码", number)  # saved on the phone, listed at the house
    phone.set_offline(False)
    expect(pending(page)).to_have_text("0", timeout=20_000)
    page.evaluate("location.hash = '#/outbox'")
    requested = page.locator("#outbox-requested")
    expect(requested).to_contain_text("此证件号码已在别处登记，已提交核实")
    expect(requested).not_to_contain_text("西村")
    page.evaluate("uid => { location.hash = '#/h/' + uid; }", house_uid)
    expect(page.locator("#residents")).to_be_visible()
    expect(page.locator("#residents", has_text="冒用号码")).to_have_count(0)  # the phone's copy went
    assert "西村居民" not in page.evaluate(DUMP_AS_TEXT)
    with live_server.app.app_context():
        assert db.session.scalar(select(Person.house_id).where(Person.id_number == number)) == registered_house
        assert db.session.scalar(select(func.count()).select_from(MoveRequest)) == 1
