"""Live dashboards under load: >= 200 open dashboards receiving updates while collectors sync.

Starts the real app under gunicorn (gunicorn.conf.py: gthread, several worker processes) on a
scratch SQLite database, opens N Server-Sent Events streams as a supervisor (plain sockets, the
same request a browser's EventSource makes), then has collectors push households through the sync
API every --interval seconds. For every push it measures, per open dashboard, the time from the
moment the push was sent to the moment that dashboard received the `change` event naming the
village (delivery latency), and the push request's own latency. A baseline of pushes with no
dashboard open shows whether the open streams slow the collectors down.

    .venv/bin/python bench/dashboard_fanout.py                        # 200 dashboards, 4 workers
    .venv/bin/python bench/dashboard_fanout.py --dashboards 240 --pushes 40 --redis redis://127.0.0.1:6379/9

Only loopback traffic; every loop is bounded in count and time.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def setup(db_url: str, collectors: int) -> list[tuple[str, int]]:
    """Migrate, create a town with villages, a supervisor and collectors with device tokens."""
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
                    for i in range(10)]
        db.session.add_all([town, *villages])
        db.session.flush()
        records.ensure_counters([v.id for v in villages])
        pin = generate_password_hash("bench-pin", method="pbkdf2:sha256:1000")
        db.session.add(Account(collection_id="F-SUP", name="督导", role="supervisor", town_id=town.id,
                               password_hash=pin))
        for n in range(collectors):
            village = villages[n % len(villages)]
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
    """One open dashboard: an SSE stream that reconnects with Last-Event-ID, like EventSource."""

    def __init__(self, port: int, cookie: str, until: float, received: dict, lock: threading.Lock, index: int):
        super().__init__(daemon=True)
        self.port, self.cookie, self.until, self.received, self.lock, self.index = port, cookie, until, received, lock, index
        self.last_id = None
        self.connected = threading.Event()
        self.busy = 0
        self.reconnects = 0

    def run(self):
        while time.time() < self.until:
            try:
                self._stream()
            except OSError:
                time.sleep(0.2)
            self.reconnects += 1

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
        if "retry" in fields:
            self.connected.set()
        if fields.get("event") == "busy":
            self.busy += 1
            time.sleep(1.0)  # the browser would wait the retry hint; the bench retries sooner
        if "id" in fields:
            self.last_id = fields["id"]
        if fields.get("event") == "change":
            villages = json.loads(fields["data"])["villages"]
            with self.lock:
                for v in villages:
                    self.received.setdefault(v, []).append((self.index, now))


def push(port: int, token: str, village_id: int) -> float:
    house_uid = str(uuid.uuid4())
    items = [{"uid": str(uuid.uuid4()), "op": "house.new", "entity_uid": house_uid, "house_uid": None,
              "village_id": village_id, "base_version": None,
              "data": {"group_name": "1", "number": str(uuid.uuid4().int % 100000), "use": "owner"},
              "known_on": time.strftime("%Y-%m-%d"), "collected_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}]
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    t0 = time.time()
    conn.request("POST", "/api/sync/push", json.dumps({"items": items}),
                 {"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    response.read()
    assert response.status == 200, response.status
    return (time.time() - t0) * 1000


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dashboards", type=int, default=200)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=80)
    parser.add_argument("--pushes", type=int, default=30)
    parser.add_argument("--interval", type=float, default=0.7, help="seconds between pushes")
    parser.add_argument("--collectors", type=int, default=10)
    parser.add_argument("--redis", help="FIELDAPP_REDIS_URL for the Redis fan-out (optional)")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fanout-"))
    db_url = f"sqlite:///{tmp / 'fanout.sqlite'}"
    tokens = setup(db_url, args.collectors)
    proc = start_gunicorn(db_url, args.port, args.workers, args.threads, args.redis, tmp / "gunicorn.log")
    try:
        baseline = [push(args.port, *tokens[n % len(tokens)]) for n in range(10)]
        cookie = login(args.port)
        received: dict[int, list] = {}
        lock = threading.Lock()
        until = time.time() + 25 + args.pushes * args.interval
        dashboards = [Dashboard(args.port, cookie, until, received, lock, i) for i in range(args.dashboards)]
        t_open = time.time()
        for d in dashboards:
            d.start()
        for d in dashboards:
            d.connected.wait(max(0.1, t_open + 60 - time.time()))
        connected = sum(d.connected.is_set() for d in dashboards)
        open_s = time.time() - t_open
        time.sleep(1.0)
        latencies, push_ms, missed = [], [], 0
        for n in range(args.pushes):
            token, village = tokens[n % len(tokens)]
            with lock:
                received.pop(village, None)
            sent = time.time()
            push_ms.append(push(args.port, token, village))
            deadline = sent + 5
            while time.time() < deadline:
                with lock:
                    got = {i: t for i, t in received.get(village, [])}
                if len(got) >= connected:
                    break
                time.sleep(0.02)
            latencies += [(t - sent) * 1000 for t in got.values()]
            missed += connected - len(got)
            time.sleep(max(0.0, args.interval - (time.time() - sent)))
        busy = sum(d.busy for d in dashboards)
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
    print(f"gunicorn gthread: {args.workers} workers x {args.threads} threads; SQLite; "
          f"{'Redis ' + args.redis if args.redis else 'database poll 0.5 s'}")
    print(f"dashboards: {connected}/{args.dashboards} connected in {open_s:.1f} s; busy answers {busy}")
    print(f"pushes: {args.pushes}, deliveries {len(latencies)} (missed within 5 s: {missed})")
    print(f"delivery latency (push sent -> dashboard has the event): p50 {pct(latencies, 50):.0f} ms, "
          f"p95 {pct(latencies, 95):.0f} ms, max {max(latencies):.0f} ms")
    print(f"sync push latency with dashboards open: p50 {statistics.median(push_ms):.0f} ms, "
          f"p95 {pct(push_ms, 95):.0f} ms, max {max(push_ms):.0f} ms; "
          f"baseline without dashboards p50 {statistics.median(baseline):.0f} ms, max {max(baseline):.0f} ms")
    sys.exit(0 if missed == 0 and connected == args.dashboards else 1)


if __name__ == "__main__":
    main()
