"""The map's points endpoint at scale: 300,000 houses over 28 villages (the whole town's map).

Builds a scratch database (SQLite by default, or --url for PostgreSQL; it is wiped) through the
migrations and fills it with plain executemany: houses (2 % without a position), visits for 60 %
of them (one in ten typed in by code, half of those with a record collected without door proof),
open and closed tips, unresolved and resolved conflicts. Then, as a signed-in supervisor through
the real app (test client: routing, session, scope, JSON, gzip):

- GET /map/points.json with Accept-Encoding: gzip: time, bytes raw and gzipped, computed afresh
  (the process's answer cache emptied first: the first viewer after a change) and from that cache
  (every other viewer of the same villages until the next change);
- the same request with If-None-Match (the 304 a refresh costs);
- GET /map/points.json?village=<id> (one village, what a live update fetches);
- and data.points() alone (the queries and the state rule, without JSON or gzip).

    .venv/bin/python bench/map_points.py                       # 300,000 houses, SQLite
    .venv/bin/python bench/map_points.py --houses 30000 --url postgresql+psycopg://postgres@127.0.0.1/bench
    .venv/bin/python bench/map_points.py --houses 20000 --browser   # + the page in Chromium, phone CPU

--browser also opens /map in headless Chromium (Pixel 7 profile, CPU throttled 4x like a cheap
phone) and times: page start to all points clustered and counted (data-ready), and a zoom in
and out (until the clusters are redrawn).
"""
from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
import tempfile
import time
from datetime import date, datetime

from sqlalchemy import func, insert, select, text
from werkzeug.security import generate_password_hash

from fieldapp import records
from scratch import scratch_app
from fieldapp.extensions import db
from fieldapp.maps import data
from fieldapp.models import Account, Change, Conflict, House, Tip, Town, Village, Visit

BATCH = 20_000
PIN = "bench-pin-1"


def fill(houses: int, villages: int = 28, seed: int = 5) -> dict:
    rng = random.Random(seed)
    town = Town(code="B", name="基准镇", office="基准镇", people_quota=houses * 3, houses_quota=houses, orgs_quota=400)
    db.session.add(town)
    db.session.flush()
    vs = [Village(town_id=town.id, code=f"B{i:02d}", name=f"村{i}", people_quota=houses * 3 // villages,
                  houses_quota=houses // villages, sort_order=i, lat=27.9 + (i % 6) * 0.02,
                  lon=110.5 + (i // 6) * 0.02) for i in range(villages)]
    db.session.add_all(vs)
    db.session.flush()
    records.ensure_counters([v.id for v in vs])
    supervisor = Account(collection_id="B-0001", name="督导", role="supervisor", town_id=town.id,
                         password_hash=generate_password_hash(PIN, method="pbkdf2:sha256:1000"))
    collector = Account(collection_id="B-0002", name="采集员", role="collector", town_id=town.id, villages=vs)
    db.session.add_all([supervisor, collector])
    db.session.flush()
    vids = [(v.id, v.lat, v.lon) for v in vs]
    for start in range(0, houses, BATCH):
        rows = []
        for n in range(start, min(start + BATCH, houses)):
            vid, lat, lon = vids[n % villages]
            placed = rng.random() >= 0.02
            rows.append({"uid": f"h{n}", "village_id": vid, "door_code": f"{n:08d}", "door_token": f"t{n}",
                         "number": str(n), "address_key": f"k{n}", "rental_registered": False, "version": 1,
                         "lat": lat + rng.gauss(0, 0.004) if placed else None,
                         "lon": lon + rng.gauss(0, 0.004) if placed else None})
        db.session.execute(insert(House.__table__), rows)
    first = db.session.scalar(select(func.min(House.id)))
    house_village = {first + n: vids[n % villages][0] for n in range(houses)}
    visits, changes = [], []
    at = datetime(2016, 5, 10, 9)
    for house_id, vid in house_village.items():
        if rng.random() < 0.6:
            method = "code" if rng.random() < 0.1 else "scan"
            uid = f"v{house_id}"
            visits.append({"uid": uid, "house_id": house_id, "village_id": vid, "account_id": collector.id,
                           "method": method, "at": at, "received_at": at})
            if method == "code" and rng.random() < 0.5:
                changes.append({"uid": f"c{house_id}", "entity": "house", "entity_id": house_id, "version": 2,
                                "village_id": vid, "kind": "update", "fields": {}, "police_only": False,
                                "source": "sync", "collected_at": at, "visit_uid": uid, "door_proof": False})
    for start in range(0, len(visits), BATCH):
        db.session.execute(insert(Visit.__table__), visits[start:start + BATCH])
    for start in range(0, len(changes), BATCH):
        db.session.execute(insert(Change.__table__), changes[start:start + BATCH])
    ids = list(house_village)
    tips = [{"uid": f"t{i}", "house_id": h, "village_id": house_village[h], "kind": "move_in", "source": "informant",
             "submitted_at": at, "received_at": at, "due_on": date(2016, 5, 13),
             "state": rng.choice(("new", "assigned", "valid", "closed")), "version": 1}
            for i, h in enumerate(rng.sample(ids, max(1, houses // 50)))]
    db.session.execute(insert(Tip.__table__), tips)
    conflicts = [{"entity": "house", "entity_id": h, "field": "use", "base": None, "current": None, "submitted": None,
                  "created_at": at, "resolved_at": at if i % 3 else None}
                 for i, h in enumerate(rng.sample(ids, max(1, houses // 500)))]
    db.session.execute(insert(Conflict.__table__), conflicts)
    db.session.commit()
    return {"visits": len(visits), "undocumented": len(changes), "tips": len(tips), "conflicts": len(conflicts),
            "village": vs[0].id}


def timed(fn, runs: int, cpu: list | None = None) -> list[float]:
    """Wall-clock ms per run; with `cpu`, this process's CPU ms per run too (the machine is shared:
    CPU time shows the work itself; SQLite runs in-process, so it is counted)."""
    out = []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
        if cpu is not None:
            cpu.append((time.process_time() - c0) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--houses", type=int, default=300_000)
    parser.add_argument("--url", help="database URL (default: a temporary SQLite file); it is wiped")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--browser", action="store_true", help="also time the page in Chromium")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    app, url = scratch_app(args.url, tmp.name)
    with app.app_context():
        t0 = time.perf_counter()
        facts = fill(args.houses)
        load = time.perf_counter() - t0
        if url.startswith("postgresql"):
            with db.engine.begin() as conn:
                conn.execute(text("ANALYZE"))
        villages = list(db.session.scalars(select(Village).order_by(Village.sort_order)))
        only_cpu: list[float] = []
        only = timed(lambda: data.points(villages, False, scan=True), args.runs, only_cpu)
        db.session.remove()

    client = app.test_client()
    assert client.post("/login", data={"collection_id": "B-0001", "pin": PIN}).status_code == 303
    gz = {"Accept-Encoding": "gzip"}
    first = client.get("/map/points.json", headers=gz)
    assert first.status_code == 200 and first.headers["Content-Encoding"] == "gzip"
    zipped = first.get_data()
    raw = gzip.decompress(zipped)
    payload = json.loads(raw)
    drawn = sum(len(b["houses"]) for b in payload["villages"])
    assert sum(payload["counts"]) == args.houses and drawn + payload["unplaced"] == args.houses
    cache = app.extensions["fieldapp.map_points"]

    def cold():
        cache.clear()
        return client.get("/map/points.json", headers=gz)

    full_cpu: list[float] = []
    full = timed(cold, args.runs, full_cpu)
    warm_cpu: list[float] = []
    warm = timed(lambda: client.get("/map/points.json", headers=gz), args.runs * 4, warm_cpu)
    etag = first.headers["ETag"]
    nm_cpu: list[float] = []
    not_modified = timed(lambda: client.get("/map/points.json", headers={**gz, "If-None-Match": etag}), args.runs * 4,
                         nm_cpu)
    assert client.get("/map/points.json", headers={"If-None-Match": etag}).status_code == 304
    one = client.get(f"/map/points.json?village={facts['village']}", headers=gz)

    def one_cold():
        cache.clear()
        return client.get(f"/map/points.json?village={facts['village']}", headers=gz)

    one_village = timed(one_cold, args.runs)

    med = statistics.median
    print(f"backend {url.split(':')[0]}, {args.houses:,} houses in 28 villages, {facts['visits']:,} visits, "
          f"{facts['undocumented']:,} records without door proof, {facts['tips']:,} tips, "
          f"{facts['conflicts']:,} conflicts; load {load:.1f} s")
    print(f"counts per state {dict(zip(payload['states'], payload['counts']))}, drawn {drawn:,}, "
          f"unplaced {payload['unplaced']:,}")
    print(f"GET /map/points.json (gzip, afresh): median {med(full):.0f} ms wall ({med(full_cpu):.0f} ms CPU), "
          f"max {max(full):.0f} ms over {len(full)} runs; "
          f"{len(raw):,} bytes raw, {len(zipped):,} bytes gzipped ({len(raw) / drawn:.1f} / {len(zipped) / drawn:.1f} per point)")
    print(f"  of which data.points() alone: median {med(only):.0f} ms wall ({med(only_cpu):.0f} ms CPU)")
    print(f"GET again, same version (from the process's cache): median {med(warm):.1f} ms wall "
          f"({med(warm_cpu):.1f} ms CPU) over {len(warm)} runs")
    print(f"GET with If-None-Match (304): median {med(not_modified):.1f} ms wall ({med(nm_cpu):.1f} ms CPU), "
          f"max {max(not_modified):.1f} ms "
          f"over {len(not_modified)} runs")
    print(f"GET ?village= (one village, afresh): median {med(one_village):.0f} ms, {len(one.get_data()):,} bytes gzipped")
    if args.browser:
        browser_figures(app, args.runs)


def browser_figures(app, runs: int) -> None:
    import threading

    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]
    ready, zoom = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=args)
        device = dict(p.devices["Pixel 7"])
        device.pop("default_browser_type", None)
        for _ in range(runs):
            ctx = browser.new_context(**device)
            page = ctx.new_page()
            page.goto(base + "/login")
            page.fill("#collection_id", "B-0001")
            page.fill("#pin", PIN)
            page.click("form.card button[type=submit]")
            page.wait_for_url(lambda url: "/login" not in url)
            ctx.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": 4})
            page.goto(base + "/map")
            page.wait_for_selector("#map[data-ready=true]", state="attached", timeout=300_000)
            ready.append(page.evaluate("performance.now()"))
            zoom.append(page.evaluate("""() => new Promise((done) => {
                const {map} = window.fieldappMap; const t0 = performance.now(); const z = map.getZoom();
                map.once('zoomend', () => { map.once('zoomend', () => requestAnimationFrame(
                    () => done(performance.now() - t0))); map.setZoom(z, {animate: false}); });
                map.setZoom(z + 2, {animate: false}); })"""))
            drawn = sum(json.loads(page.get_attribute("#map", "data-drawn")).values())
            ctx.close()
        browser.close()
    server.shutdown()
    print(f"browser (Pixel 7, CPU 4x slower): {drawn:,} points ready {statistics.median(ready):.0f} ms after start "
          f"(median of {runs}); zoom in and out {statistics.median(zoom):.0f} ms")


if __name__ == "__main__":
    main()
