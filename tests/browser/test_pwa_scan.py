"""Door labels on the collector's phone, in a real browser: the door-code rule ported to the phone
agrees with fieldapp/rules/doorcode.py; a door QR link (/d/<token>) opens the house in the app,
offline too; the scan screen reads a real QR code (jsQR fallback) from an image and from a camera
stream, and takes a typed code, refusing a mistyped one; opening a house records a visit (scan,
code or list, with the phone's position), and after the sync the server holds the visits and the
records' door proof."""
from __future__ import annotations

import io
import random
import re
import unicodedata

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.rules import doorcode

from ..builders import PIN, resident_id
from .conftest import CHROMIUM, CHROMIUM_ARGS, phone_profile
from .test_pwa_offline import (add_person, app_page, assert_no_plaintext, pending, phone_app, unlock, wait_until,
                                world)

POSITION = {"latitude": 28.2282, "longitude": 112.9388, "accuracy": 12}


def _tokens(server, house_uids):
    from fieldapp.models import House
    with server.app.app_context():
        rows = dict(db.session.execute(select(House.uid, House.door_token).where(House.uid.in_(house_uids))).all())
        db.session.rollback()
    return [rows[u] for u in house_uids]


def _outbox(page):
    return sorted(page.evaluate("window.__fieldapp.dump()")["outbox"], key=lambda i: i["created"])


def _visit_items(page):
    """The visit items as the server will get them (opened with the PIN: their bodies are sealed),
    once every visit's position request has settled: amending a visit with its position drops its
    wait_until, and the collector's next screen never waits for that."""
    wait_until(lambda: page.evaluate("""async () => {
        const outbox = await import('/static/js/outbox.js');
        return (await outbox.all()).every((i) => i.op !== 'visit.new' || !i.wait_until || i.wait_until <= Date.now());
    }"""), message="a visit's position request never settled")
    return page.evaluate("""async () => {
        const outbox = await import('/static/js/outbox.js');
        const items = (await outbox.all()).filter((i) => i.op === 'visit.new').sort((a, b) => a.created - b.created);
        return Promise.all(items.map((i) => outbox.wire(i)));
    }""")


def _wired(page):
    return page.evaluate("""async () => {
        const outbox = await import('/static/js/outbox.js');
        const items = (await outbox.all()).sort((a, b) => a.created - b.created);
        return Promise.all(items.map((i) => outbox.wire(i)));
    }""")


# --- the door-code rule: the phone's port against the Python rule --------------------------------

def _inputs(n=2500, seed=7):
    rnd = random.Random(seed)
    codes = [doorcode.new_door_code(rnd) for _ in range(n // 10)]
    fullwidth = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-"})
    odd = ["ß", "ﬁ", "\u0301", "Ⅻ", "①", "ı", "ǅ", "\u00b7", "\u2014", "\u2212", "ｏ", "Ｌ", "İ", "ŉ", "\u3000", "_", "\t",
           "ᵃ", "㎏", "Ⓚ", "𝐀", "é", "Å", "u", "v", "V", "U", "*", "中"]
    out = ["", "   ", "K7M3-Q9PX", "k7m3 q9px", "O0IL-1LIO"]
    for code in codes:
        out += [code, code.lower(), f"{code[:4]}-{code[4:]}", " ".join(code), code.translate(fullwidth),
                code.replace("0", "O").replace("1", "l"), code[:-1], code + "0"]
        i = rnd.randrange(8)
        out.append(code[:i] + rnd.choice(doorcode.ALPHABET) + code[i + 1:])               # one wrong character
        j = rnd.randrange(7)
        out.append(code[:j] + code[j + 1] + code[j] + code[j + 2:])                        # two swapped
        k = rnd.randrange(9)
        out.append(code[:k] + rnd.choice(odd) + code[k:])                                  # something odd inside
    while len(out) < n:
        out.append("".join(rnd.choice(doorcode.ALPHABET + "UVOILoil -" + "".join(odd)) for _ in range(rnd.randrange(5, 12))))
    return out


def test_phone_door_code_rule_agrees_with_python(live_server, phone):
    page = phone.new_page()
    page.goto(live_server.base_url + "/app/")
    inputs = _inputs()
    assert any(doorcode.is_valid_door_code(t) for t in inputs) and not all(doorcode.is_valid_door_code(t) for t in inputs)
    got = page.evaluate("""async (inputs) => {
        const dc = await import('/static/js/doorcode.js');
        return inputs.map((t) => [dc.normalise(t), dc.isValid(t)]);
    }""", inputs)
    expected = [[doorcode.normalise_door_code(t), doorcode.is_valid_door_code(t)] for t in inputs]
    mismatches = [(t, g, e) for t, g, e in zip(inputs, got, expected) if g != e]
    assert not mismatches, mismatches[:10]
    # Every single wrong character and every swap of two different characters is caught.
    code = doorcode.new_door_code(random.Random(3))
    variants = [code[:i] + c + code[i + 1:] for i in range(8) for c in doorcode.ALPHABET if c != code[i]]
    variants += [code[:i] + code[j] + code[i + 1:j] + code[i] + code[j + 1:]
                 for i in range(8) for j in range(i + 1, 8) if code[i] != code[j]]
    problems = page.evaluate("""async (vs) => { const dc = await import('/static/js/doorcode.js');
        return vs.map((v) => dc.problem(v)); }""", variants)
    assert set(problems) == {"check"} and len(problems) == len(variants)
    assert unicodedata.normalize("NFKC", "Ⅻ") == "XII"  # the inputs above really exercise NFKC


# --- decoding a real QR code --------------------------------------------------------------------

def _door_qr_png(url: str) -> bytes:
    from fieldapp.doors import qr
    return qr.png(url, box_size=6)


def test_decoder_reads_a_server_made_door_qr(live_server, phone):
    import base64
    url = "https://sanshi.example.gov.cn/d/" + doorcode.new_door_token()
    data = "data:image/png;base64," + base64.b64encode(_door_qr_png(url)).decode()
    page = phone.new_page()
    page.goto(live_server.base_url + "/app/")
    text = page.evaluate("""async (src) => {
        const img = new Image(); img.src = src; await img.decode();
        const scan = await import('/static/js/scan.js');
        return [await scan.decode(img, { force: 'js' }), await scan.decode(img), 'jsQR' in self];
    }""", data)
    assert text == [url, url, True]  # jsQR was loaded on demand, not with the app
    tokens = page.evaluate("""async (u) => { const dc = await import('/static/js/doorcode.js');
        return [dc.tokenFromUrl(u), dc.tokenFromUrl('https://example.com/other'), dc.tokenFromUrl('K7M3-Q9PX')]; }""", url)
    assert tokens == [url.rsplit("/", 1)[1], None, None]


# --- door links, typed codes and visits, end to end ------------------------------------------------

def test_door_link_offline_typed_code_and_visits_reach_the_server(pw, browser, live_server):
    from fieldapp.models import Change, Person, Visit
    base = live_server.base_url
    w = world(live_server, houses=3)
    (h1, code1), (h2, code2), (h3, _c3) = w["houses"]
    token1, = _tokens(live_server, [h1])
    with phone_app(browser, pw, base, w["collection_id"], timeout=10_000, permissions=["geolocation"],
                   geolocation=POSITION) as page:
        ctx = page.context
        ctx.set_offline(True)

        # The phone's camera app opens the door's link: the app opens that house, offline.
        response = page.goto(f"{base}/d/{token1}")
        assert response.from_service_worker
        unlock(page)
        page.wait_for_url(re.compile(f"/app/#/h/{h1}$"))
        expect(page.locator("#door-proof")).to_have_attribute("data-proof", "yes")
        expect(page.locator("#door-proof")).to_have_text("已扫码到户")
        scan_person = resident_id(birth="19700101")
        add_person(page, h1, "扫码登记", scan_person)

        # A typed code: one wrong character is refused, saying what to do; the right one opens the house.
        page.evaluate("location.hash = '#/scan'")
        expect(page.locator("#scan-start")).to_be_visible()
        expect(page.locator("#scan-stop")).to_be_hidden()  # no camera running yet
        wrong = code2[:3] + ("A" if code2[3] != "A" else "B") + code2[4:]
        page.fill("#door-code", wrong.lower())
        page.click("#code-form button[type=submit]")
        expect(page.locator("#door-code-error")).to_have_text(
            "门牌码输入有误：有一位输错或两位颠倒。请对照门牌重新核对。")
        expect(page.locator("#door-code")).to_have_attribute("aria-invalid", "true")
        page.fill("#door-code", f"{code2[:4]}-{code2[4:]}".lower())
        page.click("#code-form button[type=submit]")
        page.wait_for_url(re.compile(f"#/h/{h2}$"))
        expect(page.locator("#door-proof")).to_have_attribute("data-proof", "no")
        expect(page.locator("#door-proof")).to_have_text("无扫码凭证")
        code_person = resident_id(birth="19710101")
        add_person(page, h2, "输码登记", code_person)

        # Picked from the list.
        page.evaluate("vid => { location.hash = '#/v/' + vid; }", w["village_id"])
        page.locator(f"#houses a[href='#/h/{h3}']").click()
        expect(page.locator("#door-proof")).to_have_attribute("data-proof", "no")

        visits = _visit_items(page)
        assert [(v["house_uid"], v["method"]) for v in visits] == [(h1, "scan"), (h2, "code"), (h3, "list")]
        # The phone keeps door tokens only as hashes, and visits' positions sealed.
        assert_no_plaintext(page, [token1, "112.9388", "28.2282"], present=code1)
        assert all((v["lat"], v["lon"], v["accuracy_m"]) == (28.2282, 112.9388, 12) for v in visits), visits
        wired = {i["uid"]: i for i in _wired(page)}
        people = [i for i in wired.values() if i["op"] == "person.new"]
        assert {p["house_uid"]: p["visit_uid"] for p in people} == {h1: visits[0]["uid"], h2: visits[1]["uid"]}
        assert pending(page).text_content() == "2"  # visits are sent with the records but are not records

        ctx.set_offline(False)
        page.click("#sync-now")
        expect(pending(page)).to_have_text("0", timeout=20_000)
        with live_server.app.app_context():
            rows = {v.uid: v for v in db.session.scalars(select(Visit))}
            assert {u: rows[u].method for u in (v["uid"] for v in visits)} == {
                visits[0]["uid"]: "scan", visits[1]["uid"]: "code", visits[2]["uid"]: "list"}
            assert (rows[visits[0]["uid"]].lat, rows[visits[0]["uid"]].lon, rows[visits[0]["uid"]].accuracy_m) == (28.2282, 112.9388, 12)
            proof = {}
            for number in (scan_person, code_person):
                person = db.session.scalar(select(Person).where(Person.id_number == number))
                change = db.session.scalar(select(Change).where(Change.entity == "person", Change.entity_id == person.id))
                proof[number] = (change.visit_uid, change.door_proof)
            assert proof == {scan_person: (visits[0]["uid"], True), code_person: (visits[1]["uid"], False)}
            db.session.rollback()
        assert [i for i in _outbox(page) if i["op"] == "visit.new"] == []


def test_unknown_door_goes_to_the_public_page_and_no_app_means_the_network(live_server, phone, pw, browser):
    from fieldapp.models import Village
    base = live_server.base_url
    w = world(live_server, houses=1)
    with live_server.app.app_context():
        other = db.session.scalar(select(Village).where(Village.id != w["village_id"]))
        from ..builders import make_house
        outside = make_house(other, number="9")
        outside_token = outside.door_token
        db.session.rollback()
    page = app_page(phone, base, w["collection_id"])
    page.goto(f"{base}/d/{outside_token}")
    page.fill("#pin", PIN)
    page.click("#unlock button[type=submit]")
    page.wait_for_url(f"{base}/d/{outside_token}?public=1")  # a door not in this phone's villages
    expect(page.locator("main h1")).to_be_visible()
    # Offline, the app says so instead of failing.
    phone.set_offline(True)
    assert page.goto(f"{base}/d/{outside_token}").from_service_worker
    unlock(page)
    expect(page.locator("#view .flash.error")).to_have_text("本机的工作数据中没有这个门牌。请连接网络后再查询。")
    # A phone without the app signed in: the server's page, not the app.
    fresh = browser.new_context(**phone_profile(pw))
    try:
        p2 = fresh.new_page()
        p2.goto(base + "/app/")  # installs the service worker, nobody signed in
        wait_until(lambda: p2.evaluate("navigator.serviceWorker.controller !== null"), message="no service worker")
        token, = _tokens(live_server, [w["houses"][0][0]])
        r = p2.goto(f"{base}/d/{token}")
        # (the service worker passes it on to the network: the server's page, not the app shell)
        assert r.status == 200 and p2.url == f"{base}/d/{token}"
        assert p2.locator("#main-app").count() == 0 and "X-Shell-Version".lower() not in r.headers
    finally:
        fresh.close()


# --- the camera ------------------------------------------------------------------------------------

def _y4m(png: bytes, path, width=640, height=480, frames=4):
    """A short YUV4MPEG2 clip of the image on white, for Chromium's fake camera."""
    from PIL import Image
    qr_img = Image.open(io.BytesIO(png)).convert("RGB")
    qr_img.thumbnail((height - 40, height - 40))
    canvas = Image.new("RGB", (width, height), "white")
    canvas.paste(qr_img, ((width - qr_img.width) // 2, (height - qr_img.height) // 2))
    y, u, v = canvas.convert("YCbCr").split()
    u, v = (c.resize((width // 2, height // 2)) for c in (u, v))
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + y.tobytes() + u.tobytes() + v.tobytes())


@pytest.fixture
def camera_browser(pw, live_server, tmp_path, request):
    """A browser whose camera films a door label (the QR of the first house of `world`)."""
    made = {}

    def launch(url):
        clip = tmp_path / "door.y4m"
        _y4m(_door_qr_png(url), clip)
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS + [
            "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={clip}"])
        made["browser"] = b
        return b

    yield launch
    if "browser" in made:
        made["browser"].close()


def test_camera_scan_opens_the_house_and_a_refused_camera_says_what_to_do(live_server, camera_browser, pw):
    base = live_server.base_url
    w = world(live_server, houses=2)
    h2 = w["houses"][1][0]
    token2, = _tokens(live_server, [h2])
    browser = camera_browser(f"{base}/d/{token2}")
    with phone_app(browser, pw, base, w["collection_id"], timeout=15_000, permissions=["camera"]) as page:
        ctx = page.context
        ctx.set_offline(True)
        page.evaluate("location.hash = '#/scan'")
        page.click("#scan-start")
        page.wait_for_url(re.compile(f"#/h/{h2}$"))
        expect(page.locator("#door-proof")).to_have_attribute("data-proof", "yes")
        assert [(v["house_uid"], v["method"]) for v in _visit_items(page)] == [(h2, "scan")]
        assert page.evaluate("document.querySelector('#scan-video') === null")  # the camera was let go
    # Camera not allowed: a clear message, and typing the code still works.
    with phone_app(browser, pw, base, w["collection_id"]) as page:
        page.evaluate("location.hash = '#/scan'")
        page.click("#scan-start")
        expect(page.locator("#scan-status")).to_have_text(
            "应用没有使用摄像头的权限。请在浏览器的网站设置中允许使用摄像头，或在下方输入门牌码。")
        expect(page.locator("#door-code")).to_be_focused()
