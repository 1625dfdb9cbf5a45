"""退回修改 on the phone (fieldapp/returned.py, static/js/returns.js): a change a reviewer returned
reaches its collector's phone with the reasons, offline too, and the correction goes back to the
entry desk.

The collector registers a person (online) and syncs; a reviewer returns that change with a reason
per field and one for the whole record; the phone syncs and shows "退回修改 (1)"; offline, after a
reload, the list and the reasons are still there; the edit form shows each reason beside its
field; the collector corrects the name, the item reads "已修改，待同步"; back online the
correction is pending at the desk naming the returned change; the reviewer approves it and after
the next sync the phone's list is gone. Plus axe-core over the list and the annotated form."""
from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import Change, Person, Village

from ..builders import make_account, resident_id
from .conftest import axe_violations, sign_in
from .test_pwa_offline import SYNCED, add_person, pending, phone_app, unlock, world

REASONS = {"name": "姓名与证件不符，请核对", "phone": "号码少一位", "_": "请带证件重新核对"}


def _desk_page(browser, base: str, reviewer_cid: str):
    """The reviewer's own browser (a 360 px phone, as entry clerks often are), signed in."""
    ctx = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    ctx.set_default_timeout(10_000)
    page = ctx.new_page()
    sign_in(page, base, reviewer_cid)
    return page


def return_at_desk(browser, base: str, reviewer_cid: str, change_id: int, reasons: dict) -> None:
    """The reviewer opens the item at the entry desk and returns it with a reason per field."""
    page = _desk_page(browser, base, reviewer_cid)
    try:
        page.goto(f"{base}/review/entries/{change_id}")
        for field, reason in reasons.items():
            page.fill(f"#reason-{field}", reason)
        page.click("#return")
        page.wait_for_url(base + "/review/queue")
    finally:
        page.context.close()


def approve_at_desk(browser, base: str, reviewer_cid: str, change_id: int) -> None:
    page = _desk_page(browser, base, reviewer_cid)
    try:
        page.goto(f"{base}/review/entries/{change_id}")
        page.click("#approve")
        page.wait_for_url(base + "/review/queue")
    finally:
        page.context.close()


def _changes(server, person_uid):
    with server.app.app_context():
        person = db.session.scalar(select(Person).where(Person.uid == person_uid))
        rows = [(c.id, c.kind, c.review_state, c.corrects_id) for c in db.session.scalars(
            select(Change).where(Change.entity == "person", Change.entity_id == person.id).order_by(Change.id))]
        db.session.rollback()
    return rows


def _sync(page):
    """Press sync and wait for this sync (not the last one) to finish: the state is cleared on start."""
    page.evaluate("document.getElementById('sync-state').className = 'sync-state'")
    page.click("#sync-now")
    expect(page.locator("#sync-state")).to_have_class(SYNCED, timeout=20_000)


def test_a_returned_change_is_corrected_on_the_phone(pw, browser, live_server):
    base = live_server.base_url
    w = world(live_server, houses=1)
    (house_uid, _code), = w["houses"]
    with live_server.app.app_context():
        village = db.session.get(Village, w["village_id"])
        reviewer_cid = make_account(village.town, "reviewer", [village]).collection_id
    found = {}
    with phone_app(browser, pw, base, w["collection_id"], timeout=10_000) as page:
        ctx = page.context
        add_person(page, house_uid, "张三丰", resident_id(birth="19800101"))
        expect(pending(page)).to_have_text("0", timeout=20_000)
        person_uid = page.evaluate("async () => (await window.__fieldapp.dump()).people.find((p) => p.local)?.uid "
                                   "|| null")
        if person_uid is None:  # the server's copy already replaced the phone's: find it by name
            with live_server.app.app_context():
                person_uid = db.session.scalar(select(Person.uid).where(Person.name == "张三丰"))
        [(change_id, kind, state, _)] = _changes(live_server, person_uid)
        assert (kind, state) == ("new", "pending")

        return_at_desk(browser, base, reviewer_cid, change_id, REASONS)
        page.evaluate("location.hash = '#/'")
        _sync(page)
        expect(page.locator("#returns-link")).to_contain_text("退回修改 (1)")

        # Offline, after a reload: the list and the reasons come from the phone's own storage.
        ctx.set_offline(True)
        response = page.reload()
        assert response.from_service_worker
        unlock(page)
        expect(page.locator("#returns-link")).to_contain_text("退回修改 (1)")
        page.click("#returns-link")
        item = page.locator(f"#returns li[data-record='{person_uid}']")
        expect(item).to_have_attribute("data-state", "open")
        expect(item).to_contain_text("张三丰")
        expect(item).to_contain_text(REASONS["name"])
        expect(item).to_contain_text(REASONS["_"])
        found["returns list"] = axe_violations(page)

        # The edit form: the reasons beside their fields, the whole-record reason on top.
        item.locator("a.button").click()
        page.wait_for_url(re.compile(f"#/p/{person_uid}/edit$"))
        form = page.locator("#record-form")
        expect(form.locator("#returned-banner")).to_contain_text(REASONS["_"])
        name_box = form.locator(".field.returned", has=page.locator("[name=name]"))
        expect(name_box).to_contain_text(REASONS["name"])
        expect(form.locator(".field.returned", has=page.locator("[name=phone]"))).to_contain_text(REASONS["phone"])
        expect(form.locator(".field.returned")).to_have_count(2)
        found["returned form"] = axe_violations(page)
        form.locator("[name=name]").fill("张山峰")
        form.locator("button[type=submit]").click()
        page.wait_for_url(re.compile(f"#/h/{house_uid}$"))
        expect(pending(page)).to_have_text("1")
        page.evaluate("location.hash = '#/returns'")
        expect(item).to_have_attribute("data-state", "fixed")
        expect(item.locator(".tag.pending")).to_have_text("已修改，待同步")
        page.evaluate("location.hash = '#/'")
        expect(page.locator("#returns-link")).to_contain_text("退回修改 (0)")

        # Online: the correction reaches the desk, pending, naming the returned change.
        ctx.set_offline(False)
        _sync(page)
        expect(pending(page)).to_have_text("0")
        rows = _changes(live_server, person_uid)
        assert rows[0] == (change_id, "new", "corrected", None)
        [correction] = [r for r in rows if r[3] == change_id]
        assert correction[1:3] == ("update", "pending")
        with live_server.app.app_context():
            assert db.session.scalar(select(Person.name).where(Person.uid == person_uid)) == "张山峰"

        approve_at_desk(browser, base, reviewer_cid, correction[0])
        _sync(page)
        expect(page.locator("#scan-button")).to_be_visible()
        expect(page.locator("#returns-link")).to_have_count(0)
    assert {where: v for where, v in found.items() if v} == {}
