"""The collector app's forms for a new house and for updating and closing an organisation, offline,
in a real browser: the phone checks what it can with the server forms' own messages, keeps the
records in the outbox, shows them at once, and the server holds each exactly once after the sync.
A record the server refuses is shown with its reason and corrected on the phone."""
from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import func, select

from fieldapp import records
from fieldapp.extensions import db
from fieldapp.rules.identifiers import uscc_check_char

from ..builders import resident_id
from .test_pwa_offline import add_person, app_page, pending, record_items, wait_until, world


def _go(page, hash_):
    page.evaluate("h => { location.hash = h; }", hash_)


def _error_of(page, name):
    return page.locator(f"#record-form [name={name}]").locator("xpath=ancestor::div[contains(@class,'field')]").locator(".js-error")


def test_new_house_then_a_person_in_it_offline_reach_the_server_once(live_server, phone):
    from fieldapp.models import House, Person, Residence
    base = live_server.base_url
    w = world(live_server, houses=1)
    page = app_page(phone, base, w["collection_id"])
    phone.set_offline(True)

    _go(page, f"#/v/{w['village_id']}")
    page.click("#new-house")
    form = page.locator("#record-form")
    expect(form.locator("[name=village_id]")).to_have_value(str(w["village_id"]))
    expect(form.locator("[name=village_id] option")).to_have_count(1)  # only the collector's village
    # Checked on the phone, with the web form's own messages; what was typed is kept.
    form.locator("[name=group_name]").fill("5")
    form.locator("[name=rental_registered]").check()
    form.locator("button[type=submit]").click()
    expect(_error_of(page, "number")).to_have_text("请填写门牌号。")
    expect(_error_of(page, "use")).to_have_text("请选择房屋用途。")
    expect(_error_of(page, "rental_record_no")).to_have_text("请填写租赁备案号，或取消勾选“已租赁备案”。")
    expect(form.locator("[name=number]")).to_have_attribute("aria-invalid", "true")
    expect(form.locator("[name=group_name]")).to_have_value("5")
    assert page.evaluate("window.__fieldapp.counts()")["pending"] == 0

    # Leaving the form keeps what was typed as a draft (sealed); opening it again restores it.
    form.locator("[name=owner_name]").fill("新房东")
    wait_until(lambda: page.evaluate("window.__fieldapp.dump()")["drafts"], message="no draft saved")
    _go(page, f"#/v/{w['village_id']}")
    page.click("#new-house")
    form = page.locator("#record-form")
    expect(form.locator(".flash")).to_be_visible()
    expect(form.locator("[name=owner_name]")).to_have_value("新房东")
    expect(form.locator("[name=group_name]")).to_have_value("5")
    form.locator("[name=number]").fill("88")
    form.locator("[name=use]").select_option("rented")
    form.locator("[name=rental_record_no]").fill("ZL-2016-001")
    form.locator("[name=owner_phone]").fill("13811112222")
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"#/h/[0-9a-f-]{36}$"))
    house_uid = page.url.rsplit("/", 1)[1]
    expect(page.locator("#house-title")).to_have_text(f"{w['village']}5组88号")
    expect(pending(page)).to_have_text("1")

    add_person(page, house_uid, "新户主", resident_id(birth="19800101"))
    # Corrected before it was ever sent: an update of the phone's own new house.
    _go(page, f"#/h/{house_uid}/edit")
    page.locator("#record-form [name=room]").fill("101")
    page.click("#record-form button[type=submit]")
    page.wait_for_url(re.compile(f"#/h/{house_uid}$"))
    expect(page.locator("#house-title")).to_have_text(f"{w['village']}5组88号101室")
    _go(page, f"#/v/{w['village_id']}")
    expect(page.locator("#houses li")).to_have_count(2)  # the new house is listed offline too
    assert page.evaluate("window.__fieldapp.dump()")["drafts"] == []  # saved: the draft is gone
    items = record_items(page.evaluate("window.__fieldapp.dump()")["outbox"])
    assert [(i["op"], i["house_uid"] if i["op"] == "person.new" else i["village_id"]) for i in items] == [
        ("house.new", w["village_id"]), ("person.new", house_uid), ("house.update", None)]
    person_uid = items[1]["entity_uid"]
    # Opening the new house began a visit (from the list); without GPS permission it has no position
    # and nobody waited for one. The person carries the visit.
    visits = page.evaluate("""async () => { const outbox = await import('/static/js/outbox.js');
        return Promise.all((await outbox.all()).filter((i) => i.op === 'visit.new').map((i) => outbox.wire(i))); }""")
    assert [(v["house_uid"], v["method"], v["lat"], v["lon"]) for v in visits] == [(house_uid, "list", None, None)]
    assert page.evaluate("""async (uid) => { const outbox = await import('/static/js/outbox.js');
        return (await outbox.wire(await outbox.get(uid))).visit_uid; }""", items[1]["uid"]) == visits[0]["uid"]

    phone.set_offline(False)
    page.click("#sync-now")
    expect(pending(page)).to_have_text("0", timeout=20_000)
    assert page.evaluate("window.__fieldapp.counts()") == {"pending": 0, "rejected": 0, "conflict": 0}
    with live_server.app.app_context():
        houses = db.session.scalars(select(House).where(House.uid == house_uid)).all()
        assert len(houses) == 1
        house = houses[0]
        assert (house.village_id, house.group_name, house.number, house.room, house.use, house.owner_name,
                house.rental_record_no, house.rental_registered) == (
            w["village_id"], "5", "88", "101", "rented", "新房东", "ZL-2016-001", True)
        assert house.collected_at is not None and house.door_code
        door_code = house.door_code
        people = db.session.scalars(select(Person).where(Person.uid == person_uid)).all()
        assert len(people) == 1 and people[0].name == "新户主"
        assert db.session.scalar(select(func.count()).select_from(Residence).where(
            Residence.person_id == people[0].id, Residence.house_id == house.id, Residence.to_date.is_(None))) == 1
        db.session.rollback()
    # After the sync the phone holds the server's copy: the house has its door code now.
    _go(page, f"#/h/{house_uid}")
    expect(page.locator(".facts .code")).to_have_text(f"{door_code[:4]}-{door_code[4:]}")  # as on the label


def test_organisation_update_and_close_offline_with_a_refusal_corrected(live_server, phone):
    from fieldapp.models import House, Organisation
    base = live_server.base_url
    w = world(live_server, houses=1)
    house_uid = w["houses"][0][0]
    with live_server.app.app_context():
        house = db.session.scalar(select(House).where(House.uid == house_uid))
        shop = records.add_organisation(records.Actor(None), house, {"name": "东村小卖部", "kind": "shop", "phone": "13800001111"})
        mill = records.add_organisation(records.Actor(None), house, {"name": "米厂", "kind": "factory", "employee_count": 12})
        db.session.commit()
        shop_uid, mill_uid = shop.uid, mill.uid
    page = app_page(phone, base, w["collection_id"])
    phone.set_offline(True)

    _go(page, f"#/h/{house_uid}")
    orgs = page.locator("#organisations li")
    expect(orgs).to_have_count(2)
    orgs.filter(has_text="东村小卖部").get_by_role("link", name="修改").click()
    form = page.locator("#record-form")
    expect(form.locator("[name=name]")).to_have_value("东村小卖部")
    form.locator("[name=employee_count]").fill("3")
    body = "91350100M000100Y4"
    good = body + uscc_check_char(body)
    bad = body + ("A" if good[-1] != "A" else "B")
    form.locator("[name=uscc]").fill(bad)  # a wrong check character: the server refuses it
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(f"#/h/{house_uid}$"))
    expect(pending(page)).to_have_text("1")

    orgs.filter(has_text="米厂").get_by_role("link", name="登记停业").click()
    form = page.locator("#record-form")
    form.locator("button[type=submit]").click()
    expect(_error_of(page, "closed_date")).to_have_text("请填写停业日期。")
    form.locator("[name=closed_date]").fill("2026-11-01")
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(f"#/h/{house_uid}$"))
    expect(pending(page)).to_have_text("2")
    expect(orgs).to_have_count(1)  # closed: gone from the house at once
    items = record_items(page.evaluate("window.__fieldapp.dump()")["outbox"])
    assert [(i["op"], i["entity_uid"]) for i in items] == [("organisation.update", shop_uid), ("organisation.close", mill_uid)]

    phone.set_offline(False)
    page.click("#sync-now")
    expect(page.locator("#rejected-note")).to_be_visible(timeout=20_000)
    expect(pending(page)).to_have_text("0")
    _go(page, "#/outbox")
    refused = page.locator("#outbox-rejected li")
    expect(refused).to_have_count(1)
    label = page.evaluate("document.getElementById('form-organisation').content.querySelector('label[for=uscc]').textContent")
    expect(refused).to_contain_text(label.strip())
    refused.locator("a.button").click()
    form = page.locator("#record-form")
    expect(form.locator("[name=uscc]")).to_have_attribute("aria-invalid", "true")
    expect(form.locator("[name=employee_count]")).to_have_value("3")  # the collector's input is kept
    form.locator("[name=uscc]").fill(good)
    form.locator("button[type=submit]").click()
    # (The bar may read 0 for a moment between the refused item's removal and its correction's
    # saving: the server is asked until the correction is there.)
    wait_until(lambda: _uscc_of(live_server, shop_uid) == good, message="the correction did not arrive")
    expect(page.locator("#rejected-note")).to_be_hidden(timeout=20_000)
    expect(pending(page)).to_have_text("0", timeout=20_000)

    with live_server.app.app_context():
        shop = db.session.scalar(select(Organisation).where(Organisation.uid == shop_uid))
        mill = db.session.scalar(select(Organisation).where(Organisation.uid == mill_uid))
        assert (shop.name, shop.phone, shop.employee_count, shop.uscc, shop.status) == ("东村小卖部", "13800001111", 3, good, "open")
        assert (mill.status, mill.closed_date.isoformat()) == ("closed", "2026-11-01")
        db.session.rollback()



def _uscc_of(server, uid):
    from fieldapp.models import Organisation
    with server.app.app_context():
        value = db.session.scalar(select(Organisation.uscc).where(Organisation.uid == uid))
        db.session.rollback()
    return value

def test_uid_reused_answer_is_shown_for_fixing_like_a_refusal(live_server, phone):
    """The server answers a uid re-used with other content as conflict/uid_reused, applied: false:
    nothing was kept for the reviewer, so the phone shows it as a record to correct."""
    base = live_server.base_url
    w = world(live_server, houses=1)
    page = app_page(phone, base, w["collection_id"])
    counts = page.evaluate("""async (houseUid) => {
        const outbox = await import('/static/js/outbox.js');
        const item = await outbox.add({ op: 'house.update', entity_uid: houseUid, base_version: 1, data: { room: '1' } });
        await outbox.settle([{ uid: item.uid, status: 'conflict', code: 'uid_reused', applied: false,
                               reason: 'uid used for different content' }]);
        return outbox.counts();
    }""", w["houses"][0][0])
    assert counts == {"pending": 0, "rejected": 1, "conflict": 0}
    _go(page, "#/outbox")
    expect(page.locator("#outbox-rejected li")).to_contain_text("uid used for different content")
    expect(page.locator("#outbox-conflict li")).to_have_count(0)


def test_phone_number_check_on_the_phone_agrees_with_the_server_form(live_server, phone):
    """The phone refuses a phone number only when the web form would (fieldapp/forms.py phone())."""
    import re as _re

    from fieldapp.forms import LANDLINE
    from fieldapp.rules.identifiers import IdentifierError, validate_mobile

    def server_accepts(text):
        if LANDLINE.match(_re.sub(r"\s", "", text)):
            return True
        try:
            validate_mobile(text)
            return True
        except IdentifierError:
            return False

    inputs = ["13800138000", "138 0013 8000", "138-0013-8000", "+86 138 0013 8000", "0086 13800138000", "8613800138000",
              "１３８００１３８０００", "0731-1234567", "07311234567", "010-12345678", "12800138000", "1380013800",
              "138001380001", "+8513800138000", "86138001380", "0731-123456", "abc", "1380013800x", "+86-138-0013-8000",
              "23800138000", "0086-139-1234-5678", "861380013800"]
    page = phone.new_page()
    page.goto(live_server.base_url + "/app/")
    got = page.evaluate("async (xs) => { const f = await import('/static/js/forms.js'); return xs.map((x) => f.phoneOk(x)); }",
                        inputs)
    expected = [server_accepts(x) for x in inputs]
    assert dict(zip(inputs, got)) == dict(zip(inputs, expected))
    assert True in expected and False in expected
