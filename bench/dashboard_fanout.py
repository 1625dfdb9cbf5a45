"""Live dashboards under load: >= 200 open dashboards receiving updates while phones push at once.

Starts the real app under gunicorn (gunicorn.conf.py: gthread, several worker processes) on a
scratch SQLite database and opens N Server-Sent Events streams as a supervisor (plain sockets, the
same request a browser's EventSource makes, reconnecting with Last-Event-ID). Then P phones, each a
collector in a village of its own, push at the same time through the real sync API, each batch a
new house and two visits to it (so a push writes in several savepoints, as real pushes do), with a
random pause of up to --think seconds between a phone's pushes: pushes overlap all the time.

Which dashboard event carries which push is exact, not guessed from timing: a phone's village
gets feed rows (DashboardEvent) only from that phone's pushes, one after the other, so the rows of
a push are those of its village written while it was being answered. A push is delivered to a
dashboard by the first message whose id reaches the push's last row (a `change` naming the
village, or a `reset`). Delivery latency is shown from the moment the push was sent (what a
supervisor watching a phone would see) and from the moment its answer arrived (the commit: what
the fan-out itself adds, since under parallel load a push may wait for the database first). A
delivery later than 5 s after the push's answer, or none, is missed; a push that failed writes
nothing and is counted apart.

    .venv/bin/python bench/dashboard_fanout.py                        # database poll, 200 dashboards
    .venv/bin/python bench/dashboard_fanout.py --redis redis://127.0.0.1:6379/9

Only loopback traffic; every loop is bounded in count and time.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def setup(db_url: str, phones: int) -> list[tuple[str, int]]:
    """Migrate, create a town with one village per phone, a supervisor and one collector per village
    with a device token; returns (token, village_id) per phone."""
    from flask_migrate import upgrade
    from werkzeug.security import generate_password_hash

    from fieldapp import MIGRATIONS, create_app, devices, records
    from fieldapp.extensions import db
    from fieldapp.models import Account, Town, Village

    app = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "SECRET_KEY": "bench"})
    tokens = []
    with app.app_context():
        upgrade(directory=MIGRATIONS)
        town = Town(code="F", name="基准镇", office="基准镇", people_quota=10000, houses_quota=3000, orgs_quota=10)
        villages = [Village(town=town, code=f"F{i}", name=f"村{i}", people_quota=1000, houses_quota=300, sort_order=i)
                    for i in range(phones)]
        db.session.add_all([town, *villages])
        db.session.flush()
        records.ensure_counters([v.id for v in villages])
        pin = generate_password_hash("bench-pin", method="pbkdf2:sha256:1000")
        db.session.add(Account(collection_id="F-SUP", name="督导", role="supervisor", town_id=town.id,
                               password_hash=pin))
        for n, village in enumerate(villages):
            account = Account(collection_id=f"F-{n:03d}", name=f"采集员{n}", role="collector", town_id=town.id,
                              password_hash=pin, villages=[village])
            db.session.add(account)
            db.session.flush()
            _device, token = devices.register_device(account, "bench")
            tokens.append((token, village.id))
        db.session.commit()
        db.engine.dispose()
    return tokens


def start_gunicorn(db_url: str, port: int, workers: int, threads: int, redis_url: str | None, log: Path):
    env = {**os.environ, "FIELDAPP_SQLALCHEMY_DATABASE_URI": db_url, "FIELDAPP_SECRET_KEY": "bench",
           "GUNICORN_BIND": f"{HOST}:{port}", "GUNICORN_WORKERS": str(workers), "GUNICORN_THREADS": str(threads)}
    if redis_url:
        env["FIELDAPP_REDIS_URL"] = redis_url
    proc = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"),
                             "fieldapp:create_app()"], cwd=ROOT, env=env, stdout=log.open("w"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/api/ping")
            if conn.getresponse().status == 204:
                return proc
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise SystemExit(f"gunicorn did not start; see {log}")


def login(port: int) -> str:
    """Sign in as the supervisor like a browser (CSRF token from the form); returns the cookie."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    conn.request("GET", "/login")
    response = conn.getresponse()
    page = response.read().decode()
    cookie = response.getheader("Set-Cookie", "").split(";")[0]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or \
        re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    body = urllib.parse.urlencode({"csrf_token": token.group(1), "collection_id": "F-SUP", "pin": "bench-pin"})
    conn.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    response = conn.getresponse()
    response.read()
    assert response.status == 303, response.status
    return response.getheader("Set-Cookie").split(";")[0]


class Dashboard(threading.Thread):
    """One open dashboard: an SSE stream that reconnects with Last-Event-ID, like EventSource. It
    keeps every message it gets with its id: (time received, id, event, villages)."""

    def __init__(self, port: int, cookie: str, until: float):
        super().__init__(daemon=True)
        self.port, self.cookie, self.until = port, cookie, until
        self.last_id = None
        self.connected = threading.Event()
        self.messages: list[tuple[float, int, str | None, list[int]]] = []
        self.busy = 0
        self.reconnects = 0

    def run(self):
        while time.time() < self.until:
            try:
                self._stream()
            except OSError:
                time.sleep(0.2)
            self.reconnects += time.time() < self.until

    def _stream(self):
        sock = socket.create_connection((HOST, self.port), timeout=5)
        headers = f"GET /progress/events{'' if self.last_id else '?after=0'} HTTP/1.0\r\nHost: {HOST}\r\n" \
                  f"Cookie: {self.cookie}\r\nAccept: text/event-stream\r\n"
        if self.last_id:
            headers += f"Last-Event-ID: {self.last_id}\r\n"
        sock.sendall((headers + "\r\n").encode())
        buffer = b""
        sock.settimeout(1.0)
        try:
            while time.time() < self.until:
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    return
                now = time.time()
                buffer += chunk
                while b"\n\n" in buffer:
                    block, buffer = buffer.split(b"\n\n", 1)
                    self._message(block.decode(), now)
        finally:
            sock.close()

    def _message(self, block: str, now: float):
        fields = {}
        for line in block.split("\n"):
            if line.startswith("HTTP/") or not line or line.startswith(":"):
                continue
            if ": " in line:
                key, value = line.split(": ", 1)
                fields[key] = value
        if "retry" in fields and fields.get("event") != "busy":
            self.connected.set()
        if fields.get("event") == "busy":
            self.busy += 1
            time.sleep(1.0)  # the browser would wait the retry hint; the bench retries sooner
        if "id" in fields:
            self.last_id = fields["id"]
            villages = json.loads(fields["data"])["villages"] if fields.get("event") == "change" else []
            self.messages.append((now, int(fields["id"]), fields.get("event"), villages))

    def delivered(self, last_row: int, village: int, after: float) -> tuple[float | None, bool]:
        """When this dashboard learnt of a push whose last feed row is `last_row`: the first message
        received after `after` whose id reaches it. Also whether that message told the right thing
        (named the village, or said reset); a message that skips it would be a fan-out bug."""
        for at, event_id, event, villages in self.messages:
            if at >= after and event_id >= last_row:
                return at, event == "reset" or village in villages
        return None, True


class Phone(threading.Thread):
    """One collector's phone: pushes one batch after another through the sync API, with a random
    pause between them, and keeps (village, sent, answered, HTTP status, item statuses) per push."""

    def __init__(self, port: int, token: str, village_id: int, pushes: int, think: float, start: threading.Event):
        super().__init__(daemon=True)
        self.port, self.token, self.village_id, self.pushes, self.think, self.start_gate = \
            port, token, village_id, pushes, think, start
        self.done: list[tuple[int, float, float, int, list[str]]] = []

    def run(self):
        self.start_gate.wait()
        for _ in range(self.pushes):
            time.sleep(random.uniform(0, self.think))
            self.done.append(push(self.port, self.token, self.village_id))


def push(port: int, token: str, village_id: int) -> tuple[int, float, float, int, list[str]]:
    """A new house and two visits to it: the house goes through the bulk path, each visit through
    its own savepoint, so one push commits after several savepoints were released."""
    house_uid = str(uuid.uuid4())
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    items = [{"uid": str(uuid.uuid4()), "op": "house.new", "entity_uid": house_uid, "house_uid": None,
              "village_id": village_id, "base_version": None,
              "data": {"group_name": "1", "number": str(uuid.uuid4().int % 100000), "use": "owner"},
              "known_on": time.strftime("%Y-%m-%d"), "collected_at": now}]
    items += [{"uid": str(uuid.uuid4()), "op": "visit.new", "house_uid": house_uid, "method": method, "at": now,
               "lat": None, "lon": None, "accuracy_m": None} for method in ("list", "scan")]
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    sent = time.time()
    conn.request("POST", "/api/sync/push", json.dumps({"items": items}),
                 {"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    body = response.read()
    answered = time.time()
    statuses = [r.get("status") for r in json.loads(body)["results"]] if response.status == 200 else []
    return village_id, sent, answered, response.status, statuses


def feed_rows(db_path: Path) -> dict[int, list[tuple[int, float]]]:
    """village_id -> [(DashboardEvent id, written at as a Unix time)], from the scratch database."""
    rows: dict[int, list[tuple[int, float]]] = {}
    with sqlite3.connect(db_path) as conn:
        for event_id, village_id, at in conn.execute("SELECT id, village_id, at FROM dashboard_events ORDER BY id"):
            moment = datetime.fromisoformat(str(at)).replace(tzinfo=UTC).timestamp()  # stored naive UTC
            rows.setdefault(village_id, []).append((event_id, moment))
    return rows


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dashboards", type=int, default=200)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=80)
    parser.add_argument("--phones", type=int, default=20, help="phones pushing at the same time")
    parser.add_argument("--pushes", type=int, default=8, help="pushes per phone")
    parser.add_argument("--think", type=float, default=1.0, help="a phone's longest pause between pushes (s)")
    parser.add_argument("--redis", help="FIELDAPP_REDIS_URL for the Redis fan-out (optional)")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fanout-"))
    db_path = tmp / "fanout.sqlite"
    db_url = f"sqlite:///{db_path}"
    tokens = setup(db_url, args.phones)
    proc = start_gunicorn(db_url, args.port, args.workers, args.threads, args.redis, tmp / "gunicorn.log")
    try:
        # The same concurrent load with no dashboard open: do open streams slow the phones down?
        gate = threading.Event()
        baseline = [Phone(args.port, token, village, 2, args.think, gate) for token, village in tokens]
        for phone in baseline:
            phone.start()
        gate.set()
        for phone in baseline:
            phone.join(120)
        cookie = login(args.port)
        until = time.time() + 600  # moved to "now" once the phones are done
        dashboards = [Dashboard(args.port, cookie, until) for _ in range(args.dashboards)]
        t_open = time.time()
        for d in dashboards:
            d.start()
        for d in dashboards:
            d.connected.wait(max(0.1, t_open + 60 - time.time()))
        connected = [d for d in dashboards if d.connected.is_set()]
        open_s = time.time() - t_open
        time.sleep(1.0)
        gate = threading.Event()
        phones = [Phone(args.port, token, village, args.pushes, args.think, gate) for token, village in tokens]
        for phone in phones:
            phone.start()
        t_push = time.time()
        gate.set()
        for phone in phones:
            phone.join(300)
        push_s = time.time() - t_push
        time.sleep(6.0)  # the 5 s window of the last pushes, and a little more
        for d in dashboards:
            d.until = 0  # each closes its stream within a second
        for d in dashboards:
            d.join(5)
    finally:
        os.killpg(proc.pid, signal.SIGQUIT)  # quick shutdown: streams need not end gracefully
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    rows = feed_rows(db_path)
    pushes = [p for phone in phones for p in phone.done]
    failed = [p for p in pushes if p[3] != 200 or any(s not in ("accepted", "duplicate") for s in p[4])]
    failed_http = [p for p in pushes if p[3] != 200]
    latencies, after_commit, missed, wrong, rowless = [], [], 0, 0, 0
    for village, sent, answered, status, _statuses in pushes:
        # This push's rows: its village's, written while it was being answered (the phone's pushes
        # are one after the other; 50 ms of slack for the two clocks' rounding).
        mine = [event_id for event_id, at in rows.get(village, []) if sent - 0.05 <= at <= answered + 0.05]
        if status != 200:
            continue  # nothing was written, nothing to deliver (counted as a failed push above)
        if not mine:
            rowless += 1  # a push that changed a village but told no dashboard: all missed
            missed += len(connected)
            continue
        for d in connected:
            at, right = d.delivered(max(mine), village, sent)
            wrong += not right
            if at is None or at - answered > 5:
                missed += 1
            else:
                latencies.append((at - sent) * 1000)
                # The answer travels after the commit too: a dashboard can be told first (0 then).
                after_commit.append(max(0.0, at - answered) * 1000)
    push_ms = [(p[2] - p[1]) * 1000 for p in pushes]
    base_ms = [(p[2] - p[1]) * 1000 for phone in baseline for p in phone.done]
    busy = sum(d.busy for d in dashboards)
    reconnects = sum(d.reconnects for d in connected)
    print("command:", os.path.relpath(sys.executable, ROOT), *sys.argv)
    print(f"gunicorn gthread: {args.workers} workers x {args.threads} threads; SQLite; "
          f"{'Redis ' + args.redis if args.redis else 'database poll 0.5 s'}; {os.cpu_count()} cores")
    print(f"dashboards: {len(connected)}/{args.dashboards} connected in {open_s:.1f} s; busy answers {busy}; "
          f"stream reconnects {reconnects}")
    print(f"phones: {args.phones} pushing at once, {len(pushes)} pushes in {push_s:.1f} s "
          f"({len(pushes) / push_s:.1f}/s), failed {len(failed)} (HTTP {sorted({p[3] for p in failed}) or '-'}), "
          f"without a feed row {rowless}")
    print(f"deliveries: {(len(pushes) - len(failed_http)) * len(connected)} expected, {len(latencies)} within 5 s "
          f"of the push's answer, "
          f"missed {missed}, wrong message {wrong}")
    if latencies:
        print(f"delivery latency (push sent -> dashboard has the event): p50 {pct(latencies, 50):.0f} ms, "
              f"p99 {pct(latencies, 99):.0f} ms, max {max(latencies):.0f} ms")
        print(f"delivery after the push's answer (the fan-out alone): p50 {pct(after_commit, 50):.0f} ms, "
              f"p99 {pct(after_commit, 99):.0f} ms, max {max(after_commit):.0f} ms")
    print(f"push latency with dashboards open: p50 {statistics.median(push_ms):.0f} ms, "
          f"p99 {pct(push_ms, 99):.0f} ms, max {max(push_ms):.0f} ms; "
          f"same load with none open: p50 {statistics.median(base_ms):.0f} ms, p99 {pct(base_ms, 99):.0f} ms")
    if failed:
        print(f"note: {len(failed)} pushes failed: the database's doing, not the fan-out's; see {tmp / 'gunicorn.log'}")
    # The verdict is the fan-out's: every committed push reached every open dashboard in time.
    ok = missed == 0 and wrong == 0 and len(connected) == args.dashboards
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
