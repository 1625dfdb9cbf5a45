"""A collector checks tips on the phone, offline (fieldapp/tips/phone.py, static/js/tasks.js).

The work package brings two tasks: a new tip about a known door (overdue) and one that named only
a place. Offline, the collector opens the first, is told to visit the door first, opens the house,
finds the way back to the task from the house page and records it valid; then opens a house for
the second and records it invalid (a note is required). Meanwhile the village head hands the
second to a colleague on the server. Back online: the first is verified on the server with the
visit as proof; the second is refused with the tip pages' reason, and fixing it shows that the
tip is no longer this collector's and lets the collector remove it. Plus axe-core over the screens."""
from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import expect
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import Account, Tip, Village, Visit, utcnow

from ..builders import make_account
from ..tips_builders import make_tip
from .conftest import axe_violations
from .test_pwa_offline import SYNCED, pending, phone_app, world



def _tasks_world(server):
    w = world(server, houses=2)
    with server.app.app_context():
        from fieldapp.models import House
        village = db.session.get(Village, w["village_id"])
        h1 = db.session.scalar(select(House).where(House.uid == w["houses"][0][0]))
        known = make_tip(village, h1, received_at=utcnow() - timedelta(days=10), details="楼上新搬来一家三口")
        unplaced = make_tip(village, None, address_text="2号旁边的平房", kind="group_rental")
        colleague = make_account(village.town, "collector", [village])
        head = make_account(village.town, "village_head", [village])
        return {**w, "known": known.uid, "unplaced": unplaced.uid, "colleague_id": colleague.id,
                "head_id": head.id}


def _tip(server, uid):
    with server.app.app_context():
        tip = db.session.scalar(select(Tip).where(Tip.uid == uid))
        visit = db.session.get(Visit, tip.verify_visit_id) if tip.verify_visit_id else None
        row = (tip.state, tip.verdict, tip.verify_note, visit.method if visit else None)
        db.session.rollback()
    return row


def test_a_collector_checks_tips_offline(pw, browser, live_server):
    from fieldapp.tips import service
    base = live_server.base_url
    w = _tasks_world(live_server)
    (h1, _c1), (h2, _c2) = w["houses"]
    found = {}
    with phone_app(browser, pw, base, w["collection_id"], timeout=10_000) as page:
        ctx = page.context
        ctx.set_offline(True)

        # Home: the way in, with how many are overdue.
        expect(page.locator("#tasks-link")).to_contain_text("待核实线索（2）")
        expect(page.locator("#tasks-link .tag")).to_have_text("1 条逾期")
        page.click("#tasks-link")
        expect(page.locator(f"#tasks li[data-uid='{w['known']}']")).to_have_attribute("data-overdue", "true")
        found["task list"] = axe_violations(page)
        page.click(f"#tasks a[href='#/task/{w['known']}']")

        # No visit yet: saving is refused, saying what to do, and the input is kept.
        expect(page.locator("#task-visit")).to_have_attribute("data-visit", "no")
        expect(page.locator("main")).to_contain_text("楼上新搬来一家三口")
        page.check("#verify-form input[value=valid]")
        page.fill("#verify-form [name=note]", "一家三口")
        page.click("#verify-form button[type=submit]")
        expect(page.locator("#verify-form .flash.error")).to_contain_text("请先上门")
        expect(page.locator("#verify-form [name=note]")).to_have_value("一家三口")
        found["task without a visit"] = axe_violations(page)

        # The house (opened from the task: a list visit) leads back to the task, which now counts it.
        page.click("#task-house")
        page.wait_for_url(re.compile(f"#/h/{h1}$"))
        page.click("#house-tasks a")
        expect(page.locator("#task-visit")).to_have_attribute("data-visit", "yes")
        expect(page.locator("#verify-form [name=note]")).to_have_value("一家三口")  # the draft
        expect(page.locator("#verify-form input[value=valid]")).to_be_checked()
        page.click("#verify-form button[type=submit]")
        page.wait_for_url(re.compile("#/tasks$"))
        expect(page.locator(f"#tasks li[data-uid='{w['known']}'] .tag.pending")).to_have_text("已核实，待发送")
        expect(pending(page)).to_have_text("1")

        # The place-only tip: checked at the house the collector has open.
        page.evaluate("uid => { location.hash = '#/h/' + uid; }", h2)
        expect(page.locator("#house-title")).to_be_visible()
        page.evaluate("uid => { location.hash = '#/task/' + uid; }", w["unplaced"])
        expect(page.locator("#task-visit")).to_have_attribute("data-visit", "yes")
        page.check("#verify-form input[value=invalid]")
        page.click("#verify-form button[type=submit]")
        expect(page.locator("#verify-form [name=note]")).to_have_attribute("aria-invalid", "true")
        page.fill("#verify-form [name=note]", "只有一户人家")
        page.click("#verify-form button[type=submit]")
        page.wait_for_url(re.compile("#/tasks$"))
        expect(pending(page)).to_have_text("2")
        expect(page.locator("#tasks-link")).to_have_count(0)  # (the list page has no link to itself)
        page.evaluate("location.hash = '#/'")
        expect(page.locator("#tasks-link")).to_contain_text("待核实线索（0）")

        # Meanwhile, on the server, the village head gives the second tip to a colleague.
        with live_server.app.app_context():
            tip = db.session.scalar(select(Tip).where(Tip.uid == w["unplaced"]))
            service.assign(tip, db.session.get(Account, w["head_id"]), db.session.get(Account, w["colleague_id"]))
            db.session.commit()

        ctx.set_offline(False)
        page.click("#sync-now")
        expect(pending(page)).to_have_text("0", timeout=20_000)
        # The push is answered before the package's new task list arrives: wait for the whole sync.
        expect(page.locator("#sync-state")).to_have_class(SYNCED, timeout=20_000)
        assert _tip(live_server, w["known"]) == ("valid", "valid", "一家三口", "list")
        assert _tip(live_server, w["unplaced"])[:2] == ("assigned", None)

        # The refused one says why; fixing it shows the tip is gone from this phone's list.
        page.evaluate("location.hash = '#/outbox'")
        refused = page.locator("#outbox-rejected li")
        expect(refused).to_contain_text("线索核实")
        expect(refused).to_contain_text("只有被分派")  # the tip pages' own reason (not_assignee)
        refused.locator("a.button").click()
        expect(page.locator("#task-gone")).to_be_visible()
        found["task gone"] = axe_violations(page)
        page.click("#task-drop")
        page.wait_for_url(re.compile("#/outbox$"))
        expect(page.locator("#view h1")).to_have_text("待发送")  # the outbox drawn, not the task left
        expect(page.locator("#outbox-rejected")).to_have_count(0)
        # The package's new list: neither tip is this collector's task any more.
        page.evaluate("location.hash = '#/'")
        expect(page.locator("#scan-button")).to_be_visible()  # the home screen drawn
        expect(page.locator("#tasks-link")).to_have_count(0)
    assert {where: v for where, v in found.items() if v} == {}
