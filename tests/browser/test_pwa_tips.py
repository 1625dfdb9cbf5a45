"""A tip's whole life in a real browser, the offline part included (issue 4, "Informant tips").

The informant signs in on the phone app, loses signal, sends one tip by the door code typed off
the label (a mistyped code is refused on the phone) and one by scanning the door's QR code with the
camera (Chromium's fake camera films the label), sees both waiting, closes the app and opens it
again offline, gets signal: each tip reaches the server once. Then a collector of that village
takes the task on the web, opens the door in the phone app by its QR link (a scan visit), syncs,
verifies the tip valid on the web (which needs that visit), the village head closes it, and the
informant's valid-tip count (the reward facts) is 1. Plus axe-core over the informant's screens."""
from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import func, select

from fieldapp.extensions import db
from fieldapp.models import utcnow

from ..builders import make_account, make_house, make_town
from .conftest import axe_violations, phone_profile
from .test_pwa_offline import app_page, jpeg, open_app, pending, phone_app, unlock, wait_until
from .test_pwa_scan import camera_browser  # noqa: F401  (fixture)
from .test_tips_browser import sign_in as web_sign_in



def _world(server):
    with server.app.app_context():
        town, (east, _west) = make_town()
        typed = make_house(east, number="27", group="3", collected=True, owner_name="房东甲")
        scanned = make_house(east, number="28", group="3", collected=True)
        informant = make_account(town, "informant", [east], collection_id="YP-0960")
        informant.name = "信息员"
        db.session.commit()
        return {"typed": (typed.id, typed.door_code, typed.door_token), "scanned": (scanned.id, scanned.door_token),
                "informant": informant.collection_id, "informant_id": informant.id,
                "collector": make_account(town, "collector", [east]).collection_id,
                "head": make_account(town, "village_head", [east]).collection_id}


def _axe(page, where, found):
    found[where] = axe_violations(page)


def _tips(server):
    from fieldapp.models import Tip
    with server.app.app_context():
        rows = [(t.uid, t.house_id, t.kind, t.state, t.informant_id, t.details, t.submitted_at, t.received_at)
                for t in db.session.scalars(select(Tip).order_by(Tip.id))]
        db.session.rollback()
    return rows


def _tip_photo(server, tip_uid):
    """(width, height) of the photo attached to the tip, or None."""
    from fieldapp.models import Photo, Tip
    with server.app.app_context():
        try:
            row = db.session.execute(select(Photo.width, Photo.height).join(Tip, Tip.photo_uid == Photo.uid)
                                     .where(Tip.uid == tip_uid)).first()
            return tuple(row) if row else None
        finally:
            db.session.rollback()


def _tip_state(server, tip_id):
    from fieldapp.models import Tip
    with server.app.app_context():
        try:
            return db.session.get(Tip, tip_id).state
        finally:
            db.session.rollback()


def test_a_tips_whole_life_from_the_informants_phone(pw, live_server, camera_browser):  # noqa: F811
    from fieldapp.models import SyncReceipt, Tip, Visit
    from fieldapp.tips import service
    base, app = live_server.base_url, live_server.app
    w = _world(live_server)
    typed_id, typed_code, typed_token = w["typed"]
    scanned_id, scanned_token = w["scanned"]
    browser = camera_browser(f"{base}/d/{scanned_token}")  # the phone's camera films the second door's label
    found = {}
    with phone_app(browser, pw, base, w["informant"], timeout=15_000, permissions=["camera"], bypass_csp=True) as page:
        ctx = page.context
        expect(page.locator("#view h1")).to_have_text("我提供的信息")
        expect(page.locator("#my-tips")).to_have_text("本机还没有发送过信息。")
        _axe(page, "informant home", found)

        ctx.set_offline(True)
        # By the code typed off the label: one wrong character is caught on the phone.
        page.click("#send-tip")
        expect(page.locator("#tip-form")).to_be_visible()
        _axe(page, "tip form", found)
        wrong = typed_code[:3] + ("A" if typed_code[3] != "A" else "B") + typed_code[4:]
        page.fill("#door_code", wrong.lower())
        page.select_option("#kind", "move_in")
        page.fill("#happened_on", "2026-03-01")
        page.fill("#details", "楼上新搬来一家三口")
        page.click("#tip-form button[type=submit]")
        expect(page.locator("#door_code-jserror")).to_have_text("门牌码输入有误：有一位输错或两位颠倒。请对照门牌重新核对。")
        expect(page.locator("#door_code")).to_have_attribute("aria-invalid", "true")
        _axe(page, "tip form with errors", found)
        page.fill("#door_code", f"{typed_code[:4]}-{typed_code[4:]}".lower())
        # A camera-sized photo: shrunk on the phone, sent after the tip (resumable upload).
        page.locator("#photo").set_input_files({"name": "door.jpg", "mimeType": "image/jpeg", "buffer": jpeg()})
        expect(page.locator(".photo-note")).to_contain_text("KB", timeout=15_000)
        page.click("#tip-form button[type=submit]")
        page.wait_for_url(re.compile(r"#/$"))
        expect(page.locator("#my-tips li")).to_have_count(1)
        expect(page.locator("#my-tips li").first).to_have_attribute("data-state", "pending")
        expect(pending(page)).to_have_text("1")

        # By scanning the door's QR code with the camera (offline: the decoder is in the app's cache).
        page.click("#tip-scan-home")
        expect(page.locator("#view h1")).to_have_text("这条信息是关于哪一户？")
        _axe(page, "tip scan screen", found)
        page.click("#scan-start")
        expect(page.locator("#tip-scanned")).to_be_visible()
        expect(page.locator("#door_code")).to_be_hidden()
        page.select_option("#kind", "new_rental")
        page.click("#tip-form button[type=submit]")
        page.wait_for_url(re.compile(r"#/$"))
        expect(page.locator("#my-tips li[data-state=pending]")).to_have_count(2)
        expect(pending(page)).to_have_text("2")
        assert _tips(live_server) == []

        # Closed and opened again without signal: the tips are still waiting, nothing was lost.
        page.close()
        page = ctx.new_page()
        assert page.goto(base + "/app/").from_service_worker
        unlock(page)
        expect(page.locator("#my-tips li[data-state=pending]")).to_have_count(2)
        expect(pending(page)).to_have_text("2")

        # Signal: both are sent, once each.
        back_online = utcnow()
        ctx.set_offline(False)
        page.click("#sync-now")
        expect(pending(page)).to_have_text("0", timeout=20_000)
        # The pull after the push brings how they stand: received, to be checked.
        expect(page.locator("#my-tips li[data-state=received]")).to_have_count(2)
        expect(page.locator("#tips-valid-month")).to_have_text("本月核查属实：0 条")
        _axe(page, "informant home with sent tips", found)
        page.click("#sync-now")  # a second sync sends nothing again
        expect(page.locator("#sync-state")).to_have_class(re.compile(r"\bok\b"))
        tips = _tips(live_server)
        assert [(house, kind, state, who) for _u, house, kind, state, who, *_ in tips] == [
            (typed_id, "move_in", "new", w["informant_id"]), (scanned_id, "new_rental", "new", w["informant_id"])]
        assert tips[0][5] == "楼上新搬来一家三口"
        wait_until(lambda: _tip_photo(live_server, tips[0][0]) is not None, message="the tip's photo did not arrive")
        width, height = _tip_photo(live_server, tips[0][0])
        assert max(width, height) <= 1280  # shrunk on the phone (the camera's is 2400 px)
        # The server keeps the photo before the phone hears back and drops its copy: wait for that too.
        wait_until(lambda: page.evaluate("window.__fieldapp.dump()")["photos"] == [], message="photo kept on the phone")
        # Each carries the moment it was saved on the phone, not the moment it arrived.
        assert all(submitted < back_online <= received for *_, submitted, received in tips), tips
        with app.app_context():
            assert db.session.scalar(select(func.count(SyncReceipt.id)).where(SyncReceipt.op == "tip.new")) == 2
            tip_id = db.session.scalar(select(Tip.id).where(Tip.uid == tips[0][0]))
            db.session.rollback()
    assert {where: v for where, v in found.items() if v} == {}

    # The collector: the task on the web list, taken; the door opened on the phone by its QR link.
    web = browser.new_context(**phone_profile(pw))
    web.set_default_timeout(15_000)
    try:
        page = web.new_page()
        web_sign_in(page, base, w["collector"])
        page.goto(base + "/tips")
        page.click(f"a[href='/tips/{tip_id}']")
        expect(page.locator("#tip-photo img")).to_be_visible()  # the informant's photo came with the tip
        page.wait_for_load_state("load")  # (the photo moves the buttons as it loads)
        page.click("form[action$='/take'] button[type=submit]")
        wait_until(lambda: _tip_state(live_server, tip_id) == "assigned", message="the tip was not taken")
        open_app(page, base, first=True)
        page.goto(f"{base}/d/{typed_token}")
        unlock(page)
        expect(page.locator("#door-proof")).to_have_attribute("data-proof", "yes")
        page.click("#sync-now")

        def visited():
            with app.app_context():
                try:
                    return db.session.scalar(select(Visit.method).where(Visit.house_id == typed_id)) == "scan"
                finally:
                    db.session.rollback()
        wait_until(visited, timeout=30, message="the scan visit did not reach the server")
        page.goto(base + f"/tips/{tip_id}")
        page.check("input[value=valid]")
        page.fill("#note", "一家三口，已登记")
        page.click("form[action$='/verify'] button[type=submit]")
        expect(page.locator(".flash.success")).to_be_visible()
        # The village head sees it and closes it.
        web_sign_in(page, base, w["head"])
        page.goto(base + "/tips")
        page.click(f"a[href='/tips/{tip_id}']")
        page.click("form[action$='/close'] button[type=submit]")
        expect(page.locator(".flash.success")).to_be_visible()
    finally:
        web.close()
    with app.app_context():
        tip = db.session.get(Tip, tip_id)
        assert (tip.state, tip.verify_note) == ("closed", "一家三口，已登记")
        assert db.session.get(Visit, tip.verify_visit_id).method == "scan"
        rows = service.valid_tips_by_informant(informant_id=w["informant_id"])
        assert [(r.collection_id, r.valid_tips) for r in rows] == [(w["informant"], 1)]

    # The informant, signed in on another phone, sees how each tip was checked and the month's count.
    with phone_app(browser, pw, base, w["informant"]) as page:
        expect(page.locator(f"#my-tips li[data-state=valid][data-uid='{tips[0][0]}']")).to_contain_text("核查属实")
        expect(page.locator(f"#my-tips li[data-state=received][data-uid='{tips[1][0]}']")).to_be_visible()
        expect(page.locator("#tips-valid-month")).to_have_text("本月核查属实：1 条")


def test_a_refused_tip_comes_back_with_the_reason_and_a_door_link_starts_a_tip(live_server, phone):
    base = live_server.base_url
    with live_server.app.app_context():
        town, (east, west) = make_town()
        home_house = make_house(east, number="27", group="3", collected=True)
        elsewhere = make_house(west, number="5", group="1", collected=True)
        informant = make_account(town, "informant", [east]).collection_id
        ids = (home_house.id, home_house.door_token, elsewhere.door_code)
        db.session.rollback()
    house_id, door_token, other_code = ids
    page = app_page(phone, base, informant)
    # A real door code, but of a door outside the informant's village: only the server can tell.
    page.click("#send-tip")
    page.fill("#door_code", other_code)
    page.select_option("#kind", "move_out")
    page.click("#tip-form button[type=submit]")
    expect(page.locator("#rejected-count")).to_have_text("1", timeout=20_000)
    row = page.locator("#my-tips li[data-state=rejected]")
    expect(row.locator("p.error")).to_have_text("有些项目填写有误，请改正后重新发送。")
    # Corrected by giving the address instead: the same tip, sent.
    row.locator("a.button").click()
    expect(page.locator("#door_code-jserror")).to_have_text("您负责的村（居）中没有这个门牌编码。请核对，或改填地址。")
    expect(page.locator("#kind")).to_have_value("move_out")
    page.fill("#door_code", "")
    page.fill("#group", "3")
    page.fill("#number", "27")
    page.click("#tip-form button[type=submit]")
    expect(page.locator("#my-tips li[data-state=received]")).to_have_count(1, timeout=20_000)
    expect(page.locator("#rejected-count")).to_have_text("0")
    tips = _tips(live_server)
    assert [(house, kind) for _u, house, kind, *_ in tips] == [(house_id, "move_out")]

    # The phone's camera app opens a door's QR link: the app starts a tip about that door, offline
    # too, and what is typed survives the app being closed (a draft).
    phone.set_offline(True)
    assert page.goto(f"{base}/d/{door_token}").from_service_worker
    unlock(page)
    page.wait_for_url(re.compile(r"#/tip/new$"))
    expect(page.locator("#tip-scanned")).to_be_visible()
    page.select_option("#kind", "group_rental")
    page.fill("#details", "十几个人合租")
    # (what the app does when the phone hides it: the draft is saved at once, not after the typing pause)
    page.evaluate("import('/static/js/forms.js').then((forms) => forms.flushDrafts())")
    page.reload()
    unlock(page)
    expect(page.locator("#tip-form .flash[role=status]")).to_have_text("已恢复您未完成的填写内容。")
    expect(page.locator("#details")).to_have_value("十几个人合租")
    expect(page.locator("#tip-scanned")).to_be_visible()
    assert door_token not in str(page.evaluate("window.__fieldapp.dump()"))  # kept sealed, like the outbox
