"""The installable shell: manifest, service worker headers and scope, precache, what the service
worker must never touch, and the message for browsers that cannot work offline."""
from __future__ import annotations

import io

from playwright.sync_api import expect

from .test_pwa_offline import app_page, sign_in, world


def test_manifest_and_service_worker_headers(live_server):
    client = live_server.app.test_client()
    r = client.get("/manifest.webmanifest")
    assert r.status_code == 200 and r.mimetype == "application/manifest+json"
    m = r.get_json(force=True)
    assert (m["name"], m["id"], m["start_url"], m["scope"], m["display"]) == ("三实采集", "/app/", "/app/", "/", "standalone")
    assert m["short_name"] and m["theme_color"]
    from PIL import Image
    sizes = set()
    for icon in m["icons"]:
        img = Image.open(io.BytesIO(client.get(icon["src"]).data))
        assert img.format == "PNG" and f"{img.width}x{img.height}" == icon["sizes"]
        sizes.add(img.width)
    assert sizes == {192, 512}
    sw = client.get("/sw.js")
    assert sw.status_code == 200 and "javascript" in sw.mimetype
    assert sw.headers["Cache-Control"] == "no-cache" and sw.headers["Service-Worker-Allowed"] == "/"
    shell = client.get("/app/")
    assert shell.status_code == 200 and shell.headers["X-Shell-Version"] in sw.get_data(as_text=True)
    text = shell.get_data(as_text=True)
    assert 'rel="manifest"' in text and 'id="i18n"' in text and "<script>" not in text  # CSP: no inline script


def test_shell_has_no_personal_data_and_is_the_same_for_everyone(live_server):
    w = world(live_server, houses=1)
    anonymous = live_server.app.test_client().get("/app/").get_data(as_text=True)
    signed_in = live_server.app.test_client()
    signed_in.post("/login", data={"collection_id": w["collection_id"], "pin": "secret-pin-1"})
    mine = signed_in.get("/app/").get_data(as_text=True)
    assert "住户1" not in mine and "房东1" not in mine and w["collection_id"] not in mine
    assert mine == anonymous


def test_precache_offline_and_api_never_intercepted(live_server, phone):
    w = world(live_server, houses=2)
    page = app_page(phone, live_server.base_url, w["collection_id"])
    cached = page.evaluate("caches.keys().then(ks => Promise.all(ks.map(k => caches.open(k).then(c => c.keys()))))"
                           ".then(all => all.flat().map(r => new URL(r.url).pathname))")
    for path in ("/app/", "/static/js/app.js", "/static/js/db.js", "/static/css/app.css", "/static/icons/icon-512.png",
                 "/manifest.webmanifest"):
        assert path in cached
    assert not [p for p in cached if p.startswith("/api/")]
    # The SW answers the shell, never the API or server pages (personal data, no-store).
    for path in ("/api/ping", "/villages"):
        with page.expect_response(lambda r, path=path: r.url.endswith(path)) as answer:
            page.evaluate("path => fetch(path).then(r => r.status)", path)
        assert answer.value.from_service_worker is False, path
    phone.set_offline(True)
    assert page.evaluate("fetch('/api/ping').then(() => 'answered', () => 'network error')") == "network error"
    assert page.evaluate("fetch('/static/js/sync.js').then(r => r.status)") == 200  # from the precache


def test_browser_without_service_workers_gets_the_web_pages(pw, browser, live_server):
    from .conftest import phone_profile
    ctx = browser.new_context(**phone_profile(pw), service_workers="block")
    try:
        page = ctx.new_page()
        page.add_init_script("delete Navigator.prototype.serviceWorker")
        page.goto(live_server.base_url + "/app/")
        expect(page.locator("#unsupported")).to_be_visible()
        expect(page.locator("#unsupported a[href='/villages']")).to_be_visible()
        expect(page.locator("#main-app")).to_be_hidden()
    finally:
        ctx.close()


def test_app_screens_have_no_accessibility_violations(pw, browser, live_server):
    from .conftest import axe_violations, phone_profile
    from sqlalchemy import select

    from fieldapp import records
    from fieldapp.extensions import db
    from fieldapp.models import House
    w = world(live_server, houses=2)
    with live_server.app.app_context():
        house = db.session.scalar(select(House).where(House.uid == w["houses"][0][0]))
        org_uid = records.add_organisation(records.Actor(None), house, {"name": "东村小卖部", "kind": "shop"}).uid
        db.session.commit()
    # axe is injected as a script: the CSP (script-src 'self') would refuse it otherwise.
    ctx = browser.new_context(**phone_profile(pw), bypass_csp=True)
    ctx.set_default_timeout(10_000)
    try:
        page = ctx.new_page()
        sign_in(page, live_server.base_url, w["collection_id"])
        page.goto(live_server.base_url + "/app/")
        expect(page.locator("#unlock")).to_be_visible()
        problems = {}

        def check(name):
            found = axe_violations(page)
            if found:
                problems[name] = found

        check("unlock")
        page.fill("#pin", "secret-pin-1")
        page.fill("#pin2", "secret-pin-1")
        page.click("#unlock button[type=submit]")
        expect(page.locator("#sync-state")).to_have_class("sync-state ok")
        check("home")
        # Each `ready` is found only on its own screen: axe must not scan the screen before it.
        for name, hash_, ready in (("village", f"#/v/{w['village_id']}", "#houses li"),
                                   ("house", f"#/h/{w['houses'][0][0]}", "#residents"),
                                   ("person form", f"#/h/{w['houses'][0][0]}/person", "#record-form [name=id_number]"),
                                   ("house form", f"#/h/{w['houses'][0][0]}/edit", "#record-form [name=owner_name]"),
                                   ("new house form", f"#/v/{w['village_id']}/new", "#record-form [name=village_id]"),
                                   ("organisation form", f"#/o/{org_uid}/edit", "#record-form [name=uscc]"),
                                   ("organisation close form", f"#/o/{org_uid}/close", "#record-form [name=closed_date]"),
                                   ("scan screen", "#/scan", "#code-form"),
                                   ("outbox", "#/outbox", "#view h1:text-is('待发送')")):
            page.evaluate("h => { location.hash = h; }", hash_)
            page.wait_for_selector(ready)
            check(name)
        # The scan screen refusing a typed code, and a form showing the errors found on the phone.
        page.evaluate("location.hash = '#/scan'")
        page.fill("#door-code", "K7M3")
        page.click("#code-form button[type=submit]")
        page.wait_for_selector("#door-code[aria-invalid=true]")
        check("scan screen with an error")
        page.evaluate("h => { location.hash = h; }", f"#/v/{w['village_id']}/new")
        page.wait_for_selector("#record-form [name=village_id]")
        page.click("#record-form button[type=submit]")
        page.wait_for_selector("#record-form .js-error")
        check("new house form with errors")
        assert not problems, problems
    finally:
        ctx.close()
