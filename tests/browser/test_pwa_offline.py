"""The collector app offline, end to end in a real browser (Debian Chromium, phone profile):
sign in online, work offline across a closed tab and a browser restart, sync once back online,
and check on the server's database that each record arrived exactly once.

Helpers here are shared by the other test_pwa_*.py files. Waits are on page state, never sleeps."""
from __future__ import annotations

import contextlib
import io
import json
import random
import re
import time

from playwright.sync_api import expect
from sqlalchemy import func, select

from fieldapp.extensions import db

from ..builders import PIN, db_state, make_account, make_house, make_person, make_town, resident_id
from .conftest import CHROMIUM, CHROMIUM_ARGS, phone_profile, sign_in

SYNCED = re.compile(r"\bok\b")


# --- helpers -------------------------------------------------------------------------------------

def wait_until(predicate, timeout=15.0, message="condition not met in time"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(message)


def world(server, houses=3, people_per_house=1, role="collector"):
    """A town, one village with `houses` houses and their residents, and an account that collects there."""
    with server.app.app_context():
        town, (village, other) = make_town()
        account = make_account(town, role, villages=[village])
        made, id_numbers = [], []
        for n in range(1, houses + 1):
            house = make_house(village, number=str(n), collected=True, owner_name=f"房东{n}", owner_phone="13800138000")
            for _ in range(people_per_house):
                id_numbers.append(make_person(house, name=f"住户{n}", phone="13912345678").id_number)
            made.append((house.uid, house.door_code))
        return {"collection_id": account.collection_id, "village": village.name, "village_id": village.id,
                "houses": made, "id_numbers": id_numbers}


def unlock(page, first=False, pin=PIN):
    expect(page.locator("#unlock")).to_be_visible()
    page.fill("#pin", pin)
    if first:
        page.fill("#pin2", pin)
    page.click("#unlock button[type=submit]")
    expect(page.locator("#main-app")).to_be_visible()


def open_app(page, base, first=False):
    """Open /app/ on a signed-in browser, set the PIN, wait for the work package."""
    page.goto(base + "/app/")
    unlock(page, first=first)
    expect(page.locator("#sync-state")).to_have_class(SYNCED, timeout=20_000)
    # Polled from Python: wait_for_function polls with eval(), which the app's CSP refuses.
    wait_until(lambda: page.evaluate("navigator.serviceWorker.controller !== null"), message="no service worker")


def app_page(ctx, base, collection_id):
    """A new page of the phone `ctx`, signed in as `collection_id`, the app opened with its work
    package (the PIN set for the first time)."""
    page = ctx.new_page()
    sign_in(page, base, collection_id)
    open_app(page, base, first=True)
    return page


@contextlib.contextmanager
def phone_app(browser, pw, base, collection_id, timeout=15_000, **context_args):
    """A fresh phone (a browser context with the phone profile and `context_args`), signed in, the
    app opened and unlocked with its work package: yields the page, closes the phone after."""
    ctx = browser.new_context(**phone_profile(pw), **context_args)
    ctx.set_default_timeout(timeout)
    try:
        page = app_page(ctx, base, collection_id)
        yield page
    finally:
        ctx.close()


def pending(page):
    return page.locator("#pending-count")


def record_items(outbox):
    """The outbox's records in the order they were saved, without the door visits that go with them
    (op visit.new)."""
    return sorted((i for i in outbox if i["op"] != "visit.new"), key=lambda i: i.get("created", 0))


def jpeg(width=2400, height=1800, seed=1) -> bytes:
    """A camera-sized JPEG (over 1 MB: the phone must shrink it)."""
    from PIL import Image
    rnd = random.Random(seed)
    small = Image.new("RGB", (40, 30))
    small.putdata([(rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)) for _ in range(40 * 30)])
    buf = io.BytesIO()
    small.resize((width, height), Image.BICUBIC).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def add_person(page, house_uid, name, id_number, photo: bytes | None = None, phone="13700001111"):
    page.evaluate("uid => { location.hash = '#/h/' + uid + '/person'; }", house_uid)
    form = page.locator("#record-form")
    expect(form).to_be_visible()
    form.locator("[name=name]").fill(name)
    form.locator("[name=id_number]").fill(id_number)
    form.locator("[name=phone]").fill(phone)
    if photo is not None:
        form.locator("#photo").set_input_files({"name": "p.jpg", "mimeType": "image/jpeg", "buffer": photo})
        expect(form.locator(".photo-note")).to_contain_text("KB", timeout=15_000)
    before = int(pending(page).text_content())
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(f"#/h/{house_uid}$"))  # saved: back on the house page
    expect(page.locator("#residents", has_text=name)).to_be_visible()
    expect(pending(page)).to_have_text(str(before + 1))


DUMP_AS_TEXT = """async () => {
  const dec = new TextDecoder('utf-8');
  const text = (v) => dec.decode(v instanceof ArrayBuffer ? new Uint8Array(v) : v);
  return JSON.stringify(await window.__fieldapp.dump(),
    (k, v) => (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) ? text(v) : v);
}"""


def assert_no_plaintext(page, secrets, present):
    """Everything in IndexedDB (ciphertext decoded as text too) holds none of `secrets`; `present`
    (stored in the clear on purpose, e.g. a door code) proves the dump is the real thing."""
    text = page.evaluate(DUMP_AS_TEXT)
    assert present in text
    leaks = [s for s in secrets if s in text]
    assert not leaks, leaks


def launch_phone(pw, user_data_dir, offline=False):
    ctx = pw.chromium.launch_persistent_context(
        str(user_data_dir), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
        service_workers="allow", **phone_profile(pw))
    ctx.set_default_timeout(10_000)
    ctx.on("weberror", lambda e: print("page error:", e.error))  # shown with a failing test's output
    if offline:
        ctx.set_offline(True)
    return ctx


def people_with_uids(server, uids):
    from fieldapp.models import Person
    with server.app.app_context():
        rows = db.session.execute(select(Person.uid, func.count()).where(Person.uid.in_(uids)).group_by(Person.uid)).all()
        db.session.rollback()
        return dict(rows)


def photo_count(server):
    from fieldapp.models import Photo
    with server.app.app_context():
        n = db.session.scalar(select(func.count(Photo.id)))
        db.session.rollback()
        return n


# --- the flow ------------------------------------------------------------------------------------

def test_offline_work_survives_tab_and_browser_restart_then_syncs_once(pw, live_server, tmp_path):
    base = live_server.base_url
    w = world(live_server)
    profile = tmp_path / "profile"
    pushes = []

    ctx = launch_phone(pw, profile)
    page = app_page(ctx, base, w["collection_id"])
    assert page.evaluate("isSecureContext") is True

    # Offline: the shell comes from the service worker; the key must be unlocked again.
    ctx.set_offline(True)
    response = page.reload()
    assert response.from_service_worker
    unlock(page)
    page.evaluate("vid => { location.hash = '#/v/' + vid; }", w["village_id"])
    expect(page.locator("#houses li")).to_have_count(3)
    page.fill("#q", w["houses"][1][1])  # search by door code
    expect(page.locator("#houses li")).to_have_count(1)
    code = w["houses"][1][1]
    page.fill("#q", f"{code[:4]}-{code[4:]}".lower())  # as printed on the label, typed in lower case
    expect(page.locator("#houses li")).to_have_count(1)

    new_ids = [resident_id(birth=f"1990010{i}") for i in range(1, 4)]
    for i, (house_uid, _code) in enumerate(w["houses"]):
        add_person(page, house_uid, f"新住户{i}", new_ids[i], photo=jpeg(seed=i))
    expect(page.locator("#residents li", has_text="新住户2")).to_be_visible()
    dump = page.evaluate("window.__fieldapp.dump()")
    assert len(record_items(dump["outbox"])) == 3 and len(dump["photos"]) == 3
    assert {i["house_uid"] for i in dump["outbox"] if i["op"] == "visit.new"} == {u for u, _c in w["houses"]}
    secrets = [*new_ids, *w["id_numbers"], "13700001111", "13800138000", "13912345678", "新住户", "住户1", "房东1", "JFIF"]
    assert_no_plaintext(page, secrets, present=w["houses"][0][1])
    assert all(p["size"] <= 210 * 1024 for p in dump["photos"])

    # Close the tab, reopen offline: still pending (shown before the PIN is asked).
    page.close()
    page = ctx.new_page()
    assert page.goto(base + "/app/").from_service_worker
    expect(pending(page)).to_have_text("3")
    ctx.close()

    # Restart the browser (same profile), still offline: still pending.
    ctx = launch_phone(pw, profile, offline=True)
    page = ctx.new_page()
    assert page.goto(base + "/app/").from_service_worker
    expect(pending(page)).to_have_text("3")
    unlock(page)
    assert people_with_uids(live_server, [p["entity_uid"] for p in record_items(dump["outbox"])]) == {}

    # Back online: everything goes, once.
    page.on("request", lambda r: pushes.append(r) if r.url.endswith("/api/sync/push") else None)
    ctx.set_offline(False)
    expect(pending(page)).to_have_text("0", timeout=20_000)
    entity_uids = [p["entity_uid"] for p in record_items(dump["outbox"])]
    assert people_with_uids(live_server, entity_uids) == {u: 1 for u in entity_uids}
    wait_until(lambda: photo_count(live_server) == 3, message="photos not uploaded")
    # The server stores a photo before the phone hears back and drops its copy: wait for that too.
    wait_until(lambda: page.evaluate("window.__fieldapp.dump()")["photos"] == [], message="photos kept on the phone")
    expect(page.locator("#sync-state")).to_have_class(SYNCED)
    assert len(page.evaluate("window.__fieldapp.dump()")["people"]) == 6  # the package holds them now
    assert_no_plaintext(page, secrets, present=w["houses"][0][1])

    # Replaying the same batch creates nothing.
    with live_server.app.app_context():
        before = db_state()
    batch = pushes[0]
    answer = page.evaluate("""([body, auth]) => fetch('/api/sync/push', {method: 'POST',
        headers: {'Content-Type': 'application/json', 'Authorization': auth}, body}).then(r => r.json())""",
                           [batch.post_data, batch.headers["authorization"]])
    sent = json.loads(batch.post_data)["items"]
    assert len(record_items(sent)) == 3 and [r["status"] for r in answer["results"]] == ["duplicate"] * len(sent)
    with live_server.app.app_context():
        assert db_state() == before
    ctx.close()
