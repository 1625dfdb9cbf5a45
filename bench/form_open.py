"""Opening a house form offline on the phone, from a realistic work package.

Builds a scratch SQLite database through the migrations with one village of --houses houses
(default 600) and --people people (default 2,500) written through fieldapp.records, serves the app
on 127.0.0.1, and in Debian's Chromium with the Pixel 7 profile: signs in, sets the PIN, downloads
the work package into IndexedDB (timed), goes offline, then times --runs times each of: the
village's house list (all houses, search-ready), a house page (its residents decrypted), and the
house's update form (the record decrypted, the form filled), from the hash change to the next
frame. Repeated with CPU throttling x4 (a cheap phone). Target: the form < 200 ms.

    .venv/bin/python bench/form_open.py [--houses 600 --people 2500 --runs 20]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

from flask_migrate import upgrade
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fieldapp import create_app, records  # noqa: E402
from fieldapp.extensions import db  # noqa: E402
from fieldapp.rules.identifiers import resident_id_check_digit  # noqa: E402
from tests.builders import PIN, make_account, make_town  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"


def fill(n_houses: int, n_people: int):
    town, (village, _other) = make_town(villages=("余坪村", "上新村"), people_quota=n_people, houses_quota=n_houses)
    account = make_account(town, "collector", villages=[village])
    actor = records.Actor(None, "import")
    houses = []
    for n in range(n_houses):
        houses.append(records.create_house(actor, village.id, {
            "group_name": str(n // 40 + 1), "number": str(n % 40 + 1), "use": "owner",
            "owner_name": SURNAMES[n % 20] + GIVEN[n % 23], "owner_phone": f"139{n:08d}"}, collected=True))
        if n % 100 == 99:
            db.session.commit()
    db.session.commit()
    born = date(1950, 1, 1)
    for i in range(n_people):
        body = f"431121{(born + timedelta(days=i * 7)).strftime('%Y%m%d')}{i % 1000:03d}"
        records.add_person(actor, houses[i % n_houses], {
            "name": SURNAMES[i % 20] + GIVEN[(i * 7) % 23] + GIVEN[(i * 3) % 23], "id_type": "111",
            "id_number": body + resident_id_check_digit(body), "sex": "1" if int(body[-1]) % 2 else "2",
            "birth_date": born + timedelta(days=i * 7), "ethnicity": "01", "nationality": None, "phone": f"137{i:08d}",
            "hukou_division": "431121", "hukou_address": "湖南省祁东县", "hukou_type": "1", "category": "local",
            "move_in_date": date(2015, 1, 1), "move_in_reason": None, "away_duration": None, "employer_id": None})
        if i % 200 == 199:
            db.session.commit()
    db.session.commit()
    return account.collection_id, village.id, [h.uid for h in houses]


TIME_ROUTE = """async ([hash, selector]) => {
  const t0 = performance.now();
  location.hash = hash;
  await new Promise((resolve) => { const poll = () => document.querySelector(selector) ? resolve() : setTimeout(poll, 1); poll(); });
  await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));  // painted
  return performance.now() - t0;
}"""


def measure(page, village_id, house_uids, runs):
    out = {"house list (village)": [], "house page": [], "house form": []}
    for i in range(runs):
        uid = house_uids[(i * 37) % len(house_uids)]
        page.evaluate("location.hash = '#/'")
        page.wait_for_selector("#view h1")
        out["house list (village)"].append(page.evaluate(TIME_ROUTE, [f"#/v/{village_id}", "#houses li"]))
        out["house page"].append(page.evaluate(TIME_ROUTE, [f"#/h/{uid}", "#residents"]))
        out["house form"].append(page.evaluate(TIME_ROUTE, [f"#/h/{uid}/edit", "#record-form [name=number]"]))
        page.evaluate("location.hash = '#/'")
    return out


def report(title, figures):
    print(title)
    for name, values in figures.items():
        print(f"  {name:<22} median {statistics.median(values):6.1f} ms   p90 {sorted(values)[int(len(values) * 0.9) - 1]:6.1f} ms"
              f"   max {max(values):6.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--houses", type=int, default=600)
    parser.add_argument("--people", type=int, default=2500)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--profile", action="store_true", help="also time the parts of the house list")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite",
                          "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
        with app.app_context():
            upgrade()
            t0 = time.monotonic()
            collection_id, village_id, house_uids = fill(args.houses, args.people)
            print(f"filled {args.houses} houses, {args.people} people in {time.monotonic() - t0:.1f} s")
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
            device = dict(pw.devices["Pixel 7"])
            device.pop("default_browser_type", None)
            ctx = browser.new_context(**device)
            ctx.set_default_timeout(120_000)
            page = ctx.new_page()
            page.goto(base + "/login")
            page.fill("#collection_id", collection_id)
            page.fill("#pin", PIN)
            page.click("button[type=submit].primary")
            page.wait_for_url(lambda url: "/login" not in url)
            page.goto(base + "/app/")
            page.fill("#pin", PIN)
            page.fill("#pin2", PIN)
            t0 = time.monotonic()
            page.click("#unlock button[type=submit]")
            page.wait_for_selector("#sync-state.ok")
            print(f"PIN + first download of the work package into IndexedDB: {time.monotonic() - t0:.1f} s")
            usage = page.evaluate("navigator.storage.estimate().then(e => e.usage)")
            print(f"IndexedDB + cache usage: {usage / 1048576:.1f} MB")
            ctx.set_offline(True)
            page.reload()
            page.fill("#pin", PIN)
            t0 = time.monotonic()
            page.click("#unlock button[type=submit]")
            page.wait_for_selector("#main-app:not([hidden])")
            print(f"offline reload, PIN check (PBKDF2 210,000): {(time.monotonic() - t0) * 1000:.0f} ms")
            if "--profile" in sys.argv:
                print(page.evaluate("""async (vid) => {
                  const db = await import('/static/js/db.js'); const pkg = await import('/static/js/package.js');
                  let t = performance.now(); const hs = await pkg.houses(vid); const a = performance.now() - t;
                  t = performance.now(); const c = await pkg.livingCounts(); const b = performance.now() - t;
                  t = performance.now(); hs.sort((x, y) => (x.address || '').localeCompare(y.address || '', 'zh-Hans-CN', { numeric: true })); const d = performance.now() - t;
                  const coll = new Intl.Collator('zh-Hans-CN', { numeric: true });
                  t = performance.now(); hs.sort((x, y) => coll.compare(x.address || '', y.address || '')); const e = performance.now() - t;
                  return {houses: a, counts: b, sortLocale: d, sortCollator: e}; }""", village_id))
            report(f"offline, Pixel 7 profile, {args.runs} runs:", measure(page, village_id, house_uids, args.runs))
            cdp = ctx.new_cdp_session(page)
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})
            report(f"offline, CPU throttled x4 (a cheap phone), {args.runs} runs:",
                   measure(page, village_id, house_uids, args.runs))
            ctx.close()
            browser.close()
        server.shutdown()


if __name__ == "__main__":
    main()
