"""Ingest: the Yuping campaign pushed by many phones at once, fieldapp against a bare baseline.

What it measures (issue #9, Speed): households and items per second, push latency and failed
pushes when many phones push at the same time through **gunicorn as shipped**
(`gunicorn -c gunicorn.conf.py "fieldapp:create_app()"`), against a bare baseline
(bench/baseline_app.py: a minimal Flask + SQLAlchemy endpoint upserting the same house, person and
residence rows into the same tables) under the same gunicorn settings, in the same run:
baseline and fieldapp alternate (B F B F ...), each run on a fresh copy of the same database.

Scenarios (all phones start at the same moment, every phone pushes its own share in order):
- campaign: the whole Yuping 2016 campaign, 10,831 households / 41,115 people (the quota table in
  fieldapp/data/, every person with a valid resident ID number) from 50 phones, ~217 households
  (~1,040 items, 6 batches) each;
- burst:    500 phones pushing 10 households each (5,000 households), one batch each.

A phone is a registered device of its own collector (issued, activated, signed in and registered
through the web pages and the API, like a real one), scoped to the villages of its households.
It sends `house.new` then the household's `person.new` items, in batches of at most 200 items like
the phone app (static/js/outbox.js), one batch after the other on a keep-alive connection, with
`sent_at`. A push that fails (HTTP 5xx, connection error, or no answer within 30 s, like the app's
timeout) is retried with the same batch and uids after a full-jitter exponential backoff (2 s
doubling, as static/js/sync.js), at most --max-attempts times; every failure is counted. Any other
4xx stops that phone (it would stop a real one: 401) and is counted.

Only the HTTP API, the web pages and the public CLI (`flask --app fieldapp setup`) are used, so the
bench survives rewrites of fieldapp's internals. Setup is done once per database kind and scenario
into a template (SQLite file / PostgreSQL template database) cached under --workdir, keyed by the
git tree of fieldapp/; --fresh rebuilds it.

    .venv/bin/python bench/ingest.py --scenario burst --db both --runs 3
    .venv/bin/python bench/ingest.py --scenario campaign --db sqlite --runs 3
    .venv/bin/python bench/ingest.py --db both --phones 6 --households 60 --runs 1      # smoke

Only loopback traffic; every run is bounded (--run-timeout, --max-attempts).
"""
from __future__ import annotations

import argparse
import concurrent.futures
import csv
import http.client
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from datetime import date, datetime, timedelta, UTC
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
HOST = "127.0.0.1"
QUOTAS = ROOT / "fieldapp" / "data" / "yuping_2016_quotas.csv"
STATION = "余坪派出所"
ADMIN, DEMO_PIN = "YP-0001", "yuping2016"  # the demo's administrator (fieldapp/demo.py)
BATCH_ITEMS = 200  # static/js/outbox.js MAX_ITEMS
SCENARIOS = {"campaign": {"phones": 50, "households": 10_831}, "burst": {"phones": 500, "households": 5_000}}
# What the server's log says went wrong: each "Exception on" block by its cause, plus gunicorn's own.
LOG_CAUSES = (("locked", "database is locked"), ("pool_timeout", "QueuePool limit"), ("deadlock", "deadlock detected"),
              ("closed", "server closed the connection"))


# --------------------------------------------------------------------------------------- the data

def _check_digit(body: str) -> str:
    """ISO 7064 MOD 11-2, the resident ID number's check character (GB 11643)."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(c) * w for c, w in zip(body, weights)) % 11]


def villages_scaled(households: int) -> list[dict]:
    """The quota table's villages, scaled to `households` in all (largest remainder); people keep
    each village's people per household, so the full size is exactly 10,831 / 41,115."""
    rows = [r for r in csv.DictReader(QUOTAS.read_text(encoding="utf-8").splitlines()) if r["unit"] != STATION]
    total = sum(int(r["housing_quota"]) for r in rows)
    shares = [households * int(r["housing_quota"]) / total for r in rows]
    counts = [int(s) for s in shares]
    for i in sorted(range(len(rows)), key=lambda i: shares[i] - counts[i], reverse=True)[:households - sum(counts)]:
        counts[i] += 1
    out = []
    for r, h in zip(rows, counts):
        quota_h, quota_p = int(r["housing_quota"]), int(r["population_quota"])
        people = quota_p if h == quota_h else max(h, round(quota_p * h / quota_h))
        out.append({"name": r["unit"], "households": h, "people": people})
    return out


class Campaign:
    """Every household of the run (village name, house item, person items), in village order, and
    the phones' shares: contiguous, near-equal slices of that list."""

    def __init__(self, households: int, phones: int, seed: int = 2016):
        rng = random.Random(seed)
        self.households = []  # (village name, index in village, size)
        for v in villages_scaled(households):
            sizes = [1] * v["households"]
            for _ in range(v["people"] - v["households"]):
                sizes[rng.randrange(len(sizes))] += 1
            self.households += [(v["name"], i, s) for i, s in enumerate(sizes)]
        self.rng = rng
        n = len(self.households)
        self.shares = [self.households[n * p // phones: n * (p + 1) // phones] for p in range(phones)]
        self.people = sum(s for _v, _i, s in self.households)

    def phone_villages(self) -> list[list[str]]:
        return [sorted({v for v, _i, _s in share}) for share in self.shares]

    def items(self, village_ids: dict[str, int]) -> list[list[dict]]:
        """Each phone's items in the order it saved them. Deterministic (same uids every run: every
        run starts from a fresh copy of the template)."""
        rng = random.Random(7)
        now = datetime.now(UTC)
        known_on = (now - timedelta(days=1)).date().isoformat()
        person_no = 0
        out = []

        def uid():
            return str(uuid.UUID(int=rng.getrandbits(128), version=4))

        for share in self.shares:
            items = []
            for village, index, size in share:
                collected = (now - timedelta(minutes=rng.randint(5, 600))).strftime("%Y-%m-%dT%H:%M:%SZ")
                use = rng.choices(("owner", "rented", "group_rental"), (80, 17, 3))[0]
                house = {"uid": uid(), "op": "house.new", "entity_uid": uid(), "house_uid": None,
                         "village_id": village_ids[village], "base_version": None,
                         "data": {"group_name": str(100 + index // 30), "number": str(index % 30 + 1), "use": use,
                                  **({"owner_name": _name(rng)} if use != "owner" else {})},
                         "known_on": known_on, "collected_at": collected}
                items.append(house)
                for member in range(size):
                    items.append({"uid": uid(), "op": "person.new", "entity_uid": uid(),
                                  "house_uid": house["entity_uid"], "base_version": None,
                                  "data": _person(rng, person_no, member, use, now.date()),
                                  "known_on": known_on, "collected_at": collected})
                    person_no += 1
            out.append(items)
        return out


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华红玉萍建国志文辉宇浩然欣怡子涵梓轩雨桐"


def _name(rng) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _person(rng, number: int, member: int, use: str, today: date) -> dict:
    """A valid resident: a county code the demo never uses (4312 30-89: no collision with the demo's
    people, so every person is new), a birth date and serial unique per `number`, the check digit."""
    county = f"4312{30 + number % 60:02d}"
    born = date(1950, 1, 1) + timedelta(days=(number // 60) % 17_000)
    male = (member == 0 and rng.random() < 0.7) or (member > 0 and rng.random() < 0.5)
    serial = f"{1 + number // (60 * 17_000)}{rng.randrange(10)}{rng.choice('13579' if male else '02468')}"
    body = f"{county}{born:%Y%m%d}{serial}"
    category = "local" if use == "owner" else rng.choices(("migrant", "separated"), (85, 15))[0]
    data = {"name": _name(rng), "id_type": "111", "id_number": body + _check_digit(body), "sex": "1" if male else "2",
            "birth_date": born.isoformat(), "ethnicity": "01" if rng.random() < 0.93 else "09",
            "hukou_type": "2" if category == "local" else rng.choice(("1", "2")), "category": category,
            "move_in_date": (today - timedelta(days=rng.randint(30, 3000))).isoformat(),
            "relation": "02" if member == 0 else ("10" if member == 1 else "20")}
    if rng.random() < 0.8:
        data["phone"] = f"17{rng.randrange(10**9):09d}"
    if category != "local":
        data["move_in_reason"] = rng.choice(("work", "work", "business", "family", "study"))
        data["away_duration"] = rng.choice(("lt6m", "6m_1y", "1y_2y", "2y_5y", "gt5y"))
    return data


def batches(items: list[dict]) -> list[tuple[bytes, int, int]]:
    """(items as JSON, item count, house count) per batch, at most BATCH_ITEMS items each."""
    out = []
    for start in range(0, len(items), BATCH_ITEMS):
        chunk = items[start:start + BATCH_ITEMS]
        out.append((json.dumps(chunk, ensure_ascii=False).encode(), len(chunk),
                    sum(i["op"] == "house.new" for i in chunk)))
    return out


# ------------------------------------------------------------------------------ servers and DBs

class Backend:
    """A database kind: how to make the template, copy it for a run, count rows."""

    def __init__(self, kind: str, workdir: Path, pg_base: str, key: str):
        self.kind, self.workdir, self.pg_base, self.key = kind, workdir, pg_base.rstrip("/"), key

    @property
    def template(self) -> str:
        return (f"sqlite:///{self.workdir / f'tmpl-{self.key}.sqlite'}" if self.kind == "sqlite"
                else f"{self.pg_base}/ingest_tmpl_{self.key.replace('-', '_')}")

    def run_url(self, name: str) -> str:
        return (f"sqlite:///{self.workdir / f'run-{name}.sqlite'}" if self.kind == "sqlite"
                else f"{self.pg_base}/ingest_run_{name}")

    def _pg(self, *args):
        parts = urllib.parse.urlsplit(self.pg_base.replace("+psycopg", ""))
        cmd = [args[0], "-h", parts.hostname or HOST, "-p", str(parts.port or 5432), "-U", parts.username or "postgres",
               *args[1:]]
        subprocess.run(cmd, check=True, capture_output=True)

    def drop(self, url: str) -> None:
        if self.kind == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
        else:
            self._pg("dropdb", "--if-exists", "--force", url.rsplit("/", 1)[1])

    def create_empty(self, url: str) -> None:
        self.drop(url)
        if self.kind == "postgres":
            self._pg("createdb", url.rsplit("/", 1)[1])

    def copy_template(self, url: str) -> None:
        self.drop(url)
        if self.kind == "sqlite":
            shutil.copy(self.template.removeprefix("sqlite:///"), url.removeprefix("sqlite:///"))
        else:
            self._pg("createdb", "-T", self.template.rsplit("/", 1)[1], url.rsplit("/", 1)[1])

    def exists(self, url: str) -> bool:
        if self.kind == "sqlite":
            return Path(url.removeprefix("sqlite:///")).exists()
        try:
            self.count(url, "houses")
            return True
        except Exception:  # noqa: BLE001 - no such database
            return False

    def count(self, url: str, table: str) -> int:
        if self.kind == "sqlite":
            conn = sqlite3.connect(url.removeprefix("sqlite:///"))
            try:
                return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            finally:
                conn.close()
        import psycopg
        with psycopg.connect(url.replace("+psycopg", "")) as conn:
            return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    def settle(self, url: str) -> None:
        """SQLite: fold the WAL into the file so that a copy is the whole database."""
        if self.kind == "sqlite":
            conn = sqlite3.connect(url.removeprefix("sqlite:///"))
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()


class Server:
    """A gunicorn master started with the repo's gunicorn.conf.py, for fieldapp or the baseline."""

    def __init__(self, kind: str, db_url: str, port: int, log: Path, workers: int | None, extra_env=None):
        env = {**os.environ, "GUNICORN_BIND": f"{HOST}:{port}", "FIELDAPP_SECRET_KEY": "ingest-bench",
               "FIELDAPP_SQLALCHEMY_DATABASE_URI": db_url, "BASELINE_DATABASE_URI": db_url, **(extra_env or {})}
        if workers:
            env["GUNICORN_WORKERS"] = str(workers)
        self.workers = workers or max(2, 2 * (os.cpu_count() or 1))  # gunicorn.conf.py's default
        app = ["fieldapp:create_app()"] if kind == "fieldapp" else ["--pythonpath", str(ROOT / "bench"),
                                                                    "baseline_app:create_app()"]
        self.log, self.port = log, port
        self.proc = subprocess.Popen([str(VENV_BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), *app],
                                     cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"gunicorn exited; see {self.log}")
            booted = self.log.read_text(errors="replace").count("Booting worker")
            if booted >= self.workers:
                try:
                    conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
                    conn.request("GET", "/api/ping")
                    if conn.getresponse().status == 204:
                        # Every worker loads the app itself (preload_app = False): give the last ones time.
                        for _ in range(2 * self.workers):
                            c = http.client.HTTPConnection(HOST, self.port, timeout=10)
                            c.request("GET", "/api/ping")
                            c.getresponse().read()
                            c.close()
                        time.sleep(1.5)
                        return
                except OSError:
                    pass
            time.sleep(0.3)
        self.stop()
        raise SystemExit(f"gunicorn did not start; see {self.log}")

    def warm_up(self, token: str) -> None:
        """Empty pushes over fresh connections, so that every worker has answered a push (its lazy
        imports and first queries) before the clock starts; the same for both apps."""
        for _ in range(3 * self.workers):
            conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
            conn.request("POST", "/api/sync/push", b'{"items": []}',
                         {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            conn.getresponse().read()
            conn.close()

    def worker_pids(self) -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                    pids.append(int(entry.name))
        return pids

    def worker_rss_mb(self) -> list[float]:
        out = []
        for pid in self.worker_pids():
            try:
                text = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            match = re.search(r"VmRSS:\s+(\d+) kB", text)
            if match:
                out.append(int(match.group(1)) / 1024)
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def log_marks(self) -> dict[str, int]:
        return log_causes(self.log.read_text(errors="replace"))


def log_causes(text: str) -> dict[str, int]:
    """Server errors in a gunicorn log by cause (one count per logged exception)."""
    out: dict[str, int] = {}
    for block in text.split("ERROR in app: Exception on")[1:]:
        cause = next((k for k, mark in LOG_CAUSES if mark in block), "other")
        out[cause] = out.get(cause, 0) + 1
    if text.count("WORKER TIMEOUT"):
        out["worker_timeout"] = text.count("WORKER TIMEOUT")
    return out


# ------------------------------------------------------------------------- web setup of phones

class Browser:
    """One signed-in person: a cookie jar over a keep-alive connection."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection(HOST, port, timeout=60)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | list | None = None, json_body=None, headers=None):
        head = dict(headers or {})
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form, doseq=True)
            head["Content-Type"] = "application/x-www-form-urlencoded"
        elif json_body is not None:
            body = json.dumps(json_body)
            head["Content-Type"] = "application/json"
        if self.cookies:
            head["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.conn.request(method, path, body, head)
        response = self.conn.getresponse()
        data = response.read().decode("utf-8", "replace")
        for header in response.msg.get_all("Set-Cookie") or []:
            name, _, value = header.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value.strip()
        return response.status, data

    @staticmethod
    def csrf(page: str) -> str:
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or \
            re.search(r'value="([^"]+)"[^>]*name="csrf_token"', page)
        if not match:
            raise RuntimeError("no CSRF token on the page")
        return match.group(1)

    def sign_in(self, collection_id: str, pin: str) -> None:
        _status, page = self.request("GET", "/login")
        status, page = self.request("POST", "/login", {"csrf_token": self.csrf(page), "collection_id": collection_id,
                                                       "pin": pin})
        if status != 303:
            raise RuntimeError(f"sign-in of {collection_id} answered {status}")


def setup_phones(port: int, villages_per_phone: list[list[str]]) -> tuple[dict[str, int], list[str]]:
    """Issue one collector per phone (admin pages), activate it, sign in and register its device
    (API). Returns the village ids by name and the device tokens."""
    admin = Browser(port)
    admin.sign_in(ADMIN, DEMO_PIN)
    _status, page = admin.request("GET", "/admin/accounts/new")
    village_ids = {}
    for value, ident in re.findall(r'<input[^>]*id="(villages-\d+)"[^>]*value="(\d+)"', page):
        label = re.search(rf'<label for="{value}">([^<]+)</label>', page)
        village_ids[label.group(1).strip()] = int(ident)
    if not village_ids:  # attribute order differs
        for ident, value in re.findall(r'<input[^>]*value="(\d+)"[^>]*id="(villages-\d+)"', page):
            label = re.search(rf'<label for="{value}">([^<]+)</label>', page)
            village_ids[label.group(1).strip()] = int(ident)
    csrf = admin.csrf(page)
    lock = threading.Lock()

    def issue(index: int) -> tuple[str, str]:
        form = [("csrf_token", csrf), ("name", f"采集员{index + 1:03d}"), ("role", "collector"), ("office", ""),
                ("valid_until", "")] + [("villages", village_ids[v]) for v in villages_per_phone[index]]
        with lock:  # one admin connection
            status, page = admin.request("POST", "/admin/accounts/new", form)
        if status != 200:
            raise RuntimeError(f"issuing a collection ID answered {status}")
        cid = re.search(r"([A-Z]+-\d{4,})", re.search(r"<h1>(.*?)</h1>", page, re.S).group(1)).group(1)
        code = re.search(r'<p class="card big code"[^>]*>\s*([^<\s]+)\s*</p>', page).group(1)
        return cid, code

    def phone(index: int) -> str:
        cid, code = issue(index)
        pin = f"Bench-{index:04d}-pin"
        person = Browser(port)
        _s, page = person.request("GET", "/activate")
        status, _page = person.request("POST", "/activate", {"csrf_token": person.csrf(page), "collection_id": cid,
                                                             "code": code, "pin": pin, "pin2": pin})
        if status != 303:
            raise RuntimeError(f"activation of {cid} answered {status}")
        person.sign_in(cid, pin)
        _s, session = person.request("GET", "/api/session")
        status, answer = person.request("POST", "/api/devices", json_body={"name": f"bench phone {index + 1}"},
                                        headers={"X-CSRFToken": json.loads(session)["csrf_token"]})
        if status != 201:
            raise RuntimeError(f"device registration answered {status}: {answer[:200]}")
        return json.loads(answer)["token"]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        tokens = list(pool.map(phone, range(len(villages_per_phone))))
    return village_ids, tokens


def prepare_template(backend: Backend, campaign: Campaign, args) -> dict:
    """Migrated database + demo (`flask --app fieldapp setup`) + one collector and device per phone."""
    meta_path = args.workdir / f"tmpl-{backend.key}.json"
    if not args.fresh and meta_path.exists() and backend.exists(backend.template):
        return json.loads(meta_path.read_text())
    t0 = time.time()
    backend.create_empty(backend.template)
    env = {**os.environ, "FIELDAPP_SQLALCHEMY_DATABASE_URI": backend.template, "FIELDAPP_SECRET_KEY": "ingest-bench"}
    subprocess.run([str(VENV_BIN / "flask"), "--app", "fieldapp", "setup"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    # Setup only: cheap PIN hashes, so that 500 collectors are issued and activated in seconds.
    server = Server("fieldapp", backend.template, args.port, args.workdir / f"setup-{backend.key}.log", None,
                    {"FIELDAPP_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    try:
        village_ids, tokens = setup_phones(args.port, campaign.phone_villages())
    finally:
        server.stop()
    backend.settle(backend.template)
    meta = {"village_ids": village_ids, "tokens": tokens, "houses": backend.count(backend.template, "houses"),
            "people": backend.count(backend.template, "people"),
            "residences": backend.count(backend.template, "residences")}
    meta_path.write_text(json.dumps(meta))
    print(f"  template {backend.key}: demo + {len(tokens)} collectors with devices in {time.time() - t0:.0f} s",
          flush=True)
    return meta


# --------------------------------------------------------------------------------------- phones

class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.ok = self.client_errors = self.server_errors = self.conn_errors = 0
        self.retries = self.gave_up_batches = 0
        self.items_done = self.houses_done = 0
        self.statuses: dict[str, int] = {}
        self.errors: dict[str, int] = {}
        self.first_error: dict[str, str] = {}

    def error(self, key: str, detail: str) -> None:
        self.errors[key] = self.errors.get(key, 0) + 1
        self.first_error.setdefault(key, detail[:300])


def phone(port: int, token: str, work: list[tuple[bytes, int, int]], tally: Tally, start: threading.Barrier,
          deadline: float, args, seed: int) -> None:
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    conn, last_used = None, 0.0
    start.wait()
    for b, (items_json, n_items, n_houses) in enumerate(work):
        attempt = 0
        while True:
            if time.time() > deadline:
                with tally.lock:
                    tally.gave_up_batches += len(work) - b
                return
            if conn is None or time.monotonic() - last_used > 3:  # gunicorn keepalive = 5 s
                if conn is not None:
                    conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=args.timeout)
            sent_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ").encode()
            body = b'{"sent_at": "' + sent_at + b'", "items": ' + items_json + b"}"
            t0 = time.perf_counter()
            status, data, failure = None, b"", ""
            try:
                conn.request("POST", "/api/sync/push", body, headers)
                response = conn.getresponse()
                status, data = response.status, response.read()
            except (OSError, http.client.HTTPException) as exc:
                failure = f"{type(exc).__name__}: {exc}"
                conn.close()
                conn = None
            elapsed = time.perf_counter() - t0
            last_used = time.monotonic()
            with tally.lock:
                tally.latencies.append(elapsed)
                if status == 200:
                    tally.ok += 1
                elif status is None:
                    tally.conn_errors += 1
                    tally.error("conn " + failure.split(":")[0], failure)
                elif status >= 500:
                    tally.server_errors += 1
                    tally.error(f"{status} {_code(data)}", data.decode("utf-8", "replace"))
                else:
                    tally.client_errors += 1
                    tally.error(f"{status} {_code(data)}", data.decode("utf-8", "replace"))
            if status == 200:
                results = json.loads(data)["results"]
                done = sum(r["status"] in ("accepted", "duplicate") for r in results)
                with tally.lock:
                    for r in results:
                        tally.statuses[r["status"]] = tally.statuses.get(r["status"], 0) + 1
                    tally.items_done += done
                    tally.houses_done += n_houses if done == n_items else 0
                break
            if status is not None and status < 500 and status not in (408, 429):
                with tally.lock:
                    tally.gave_up_batches += len(work) - b
                return  # a 401 stops a real phone; nothing else is expected
            attempt += 1
            if attempt >= args.max_attempts:
                with tally.lock:
                    tally.gave_up_batches += len(work) - b
                return
            with tally.lock:
                tally.retries += 1
            time.sleep(rng.uniform(0, min(300.0, 2.0 * 2 ** (attempt - 1))))  # static/js/sync.js: full jitter
            if conn is not None:
                conn.close()
                conn = None
    if conn is not None:
        conn.close()


def _code(data: bytes) -> str:
    try:
        return str(json.loads(data).get("error"))
    except (ValueError, AttributeError):
        return "non-json"


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def one_run(kind: str, backend: Backend, meta: dict, work: list[list], args, name: str) -> dict:
    url = backend.run_url(name)
    backend.copy_template(url)
    server = Server(kind, url, args.port, args.workdir / f"gunicorn-{name}.log", args.workers)
    tally = Tally()
    server.warm_up(meta["tokens"][0])
    items_total = sum(n for w in work for _j, n, _h in w)
    houses_total = sum(h for w in work for _j, _n, h in w)
    try:
        start = threading.Barrier(len(work) + 1)
        deadline = time.time() + args.run_timeout
        threads = [threading.Thread(target=phone, args=(args.port, token, w, tally, start, deadline, args, i),
                                    daemon=True) for i, (token, w) in enumerate(zip(meta["tokens"], work))]
        for t in threads:
            t.start()
        start.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join(max(1.0, deadline + args.timeout + 5 - time.time()))
        wall = time.perf_counter() - t0
        rss = server.worker_rss_mb()
    finally:
        server.stop()
    marks = server.log_marks()
    added = {t: backend.count(url, t) - meta[t] for t in ("houses", "people", "residences")}
    if not args.keep:
        backend.drop(url)
    pushes = tally.ok + tally.client_errors + tally.server_errors + tally.conn_errors
    return {"kind": kind, "db": backend.kind, "name": name, "phones": len(work), "wall_s": wall,
            "households": houses_total, "items": items_total, "households_done": tally.houses_done,
            "items_done": tally.items_done, "households_per_s": tally.houses_done / wall,
            "items_per_s": tally.items_done / wall, "pushes": pushes, "ok": tally.ok, "4xx": tally.client_errors,
            "5xx": tally.server_errors, "conn": tally.conn_errors, "retries": tally.retries,
            "gave_up_batches": tally.gave_up_batches, "p50_ms": 1000 * pct(tally.latencies, 50),
            "p99_ms": 1000 * pct(tally.latencies, 99), "max_ms": 1000 * max(tally.latencies, default=0),
            "rss_mb": sorted(round(r, 1) for r in rss), "statuses": tally.statuses, "errors": tally.errors,
            "first_error": tally.first_error, "log": marks, "rows_added": added}


def show(r: dict) -> str:
    rss = r["rss_mb"]
    return (f"  {r['name']:<24} {r['households_per_s']:8.1f} hh/s {r['items_per_s']:8.0f} items/s  "
            f"wall {r['wall_s']:6.1f} s  pushes ok {r['ok']} 4xx {r['4xx']} 5xx {r['5xx']} conn {r['conn']} "
            f"(retries {r['retries']}, gave up {r['gave_up_batches']})  p50 {r['p50_ms']:.0f} ms p99 {r['p99_ms']:.0f} ms  "
            f"RSS max {max(rss, default=0):.0f} MB ({len(rss)} workers)  rows +{r['rows_added']['houses']}/"
            f"+{r['rows_added']['people']}/+{r['rows_added']['residences']}"
            + f"  results {r['statuses']}" + (f"  errors {r['errors']}" if r["errors"] else "") + (f"  log {r['log']}" if r["log"] else ""))


def summary(results: list[dict]) -> str:
    lines = ["", "| db | scenario | run | kind | households/s | items/s | pushes ok / 4xx / 5xx / conn err "
             "| failed attempts | retries | p50 / p99 ms | worker RSS max MB | load | fieldapp/baseline throughput "
             "| p99 ratio |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    pairs = {}
    for r in results:
        pairs.setdefault((r["db"], r["scenario"], r["run"]), {})[r["kind"]] = r
    ratios = {}
    for (db, scenario, run), pair in pairs.items():
        for kind in ("baseline", "fieldapp"):
            r = pair.get(kind)
            if not r:
                continue
            ratio = p99 = ""
            if kind == "fieldapp" and "baseline" in pair:
                b = pair["baseline"]
                tr = r["households_per_s"] / b["households_per_s"] if b["households_per_s"] else float("nan")
                pr = r["p99_ms"] / b["p99_ms"] if b["p99_ms"] else float("nan")
                ratios.setdefault((db, scenario), []).append((tr, pr))
                ratio, p99 = f"**{tr:.2f}×**", f"{pr:.1f}×"
            lines.append(f"| {db} | {scenario} ({r['phones']} phones, {r['households']} hh) | {run} | {kind} | "
                         f"{r['households_per_s']:.1f} | {r['items_per_s']:.0f} | {r['ok']} / {r['4xx']} / {r['5xx']} / "
                         f"{r['conn']} | {100 * (r['5xx'] + r['conn']) / max(1, r['pushes']):.0f} % | {r['retries']} | "
                         f"{r['p50_ms']:.0f} / {r['p99_ms']:.0f} | {max(r['rss_mb'], default=0):.0f} | "
                         f"{r.get('load', float('nan')):.0f} | {ratio} | {p99} |")
    for (db, scenario), values in ratios.items():
        trs, prs = [v[0] for v in values], [v[1] for v in values]
        lines.append(f"\n{db} {scenario}: fieldapp/baseline throughput median {statistics.median(trs):.2f}× "
                     f"(range {min(trs):.2f}-{max(trs):.2f}), p99 ratio median {statistics.median(prs):.1f}×")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=("campaign", "burst", "both"), default="campaign")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--phones", type=int, help="default: 50 (campaign), 500 (burst)")
    parser.add_argument("--households", type=int, help="households in all; default 10,831 (campaign), 5,000 (burst)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each kind, alternating baseline and fieldapp")
    parser.add_argument("--only", choices=("baseline", "fieldapp"), help="run one kind only (no ratio)")
    parser.add_argument("--max-attempts", type=int, default=8, help="tries per batch before the phone gives up")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds a phone waits for an answer (app: 30)")
    parser.add_argument("--run-timeout", type=float, default=900.0, help="seconds after which phones stop trying")
    parser.add_argument("--workers", type=int, help="GUNICORN_WORKERS (default: gunicorn.conf.py's 2 x cores)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432",
                        help="PostgreSQL server (databases ingest_tmpl_* and ingest_run_* are created and dropped)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/fieldapp-ingest"))
    parser.add_argument("--fresh", action="store_true", help="rebuild the cached templates")
    parser.add_argument("--keep", action="store_true", help="keep each run's database")
    parser.add_argument("--json", type=Path, help="also write every run's figures here")
    parser.add_argument("--report", type=Path, nargs="+", help="only print the table of earlier --json files")
    args = parser.parse_args()
    if args.report:
        print(summary([r for path in args.report for r in json.loads(path.read_text())]))
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip() or "nogit"
    # Templates are reused while fieldapp/ (migrations, demo, pages) is the same tree.
    tree = subprocess.run(["git", "rev-parse", "--short", "HEAD:fieldapp"], cwd=ROOT, capture_output=True,
                          text=True).stdout.strip() or commit
    dbs = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    scenarios = ("burst", "campaign") if args.scenario == "both" else (args.scenario,)
    kinds = (args.only,) if args.only else ("baseline", "fieldapp")
    print(f"fieldapp {commit}; {os.cpu_count()} cores; gunicorn.conf.py as shipped"
          f"{f' (GUNICORN_WORKERS={args.workers})' if args.workers else ''}; load {os.getloadavg()[0]:.1f}", flush=True)
    results = []
    for scenario in scenarios:
        phones = args.phones or SCENARIOS[scenario]["phones"]
        households = args.households or SCENARIOS[scenario]["households"]
        campaign = Campaign(households, phones)
        for db in dbs:
            backend = Backend(db, args.workdir, args.pg, f"{db}-{phones}p-{households}h-{tree}")
            meta = prepare_template(backend, campaign, args)
            work = [batches(items) for items in campaign.items(meta["village_ids"])]
            n_items = sum(n for w in work for _j, n, _h in w)
            print(f"{db}, {scenario}: {phones} phones, {len(campaign.households)} households, {campaign.people} people,"
                  f" {n_items} items, {sum(len(w) for w in work)} batches", flush=True)
            for run in range(1, args.runs + 1):
                for kind in kinds:
                    r = one_run(kind, backend, meta, work, args, f"{db}-{scenario}-{kind}-{run}")
                    r.update(scenario=scenario, run=run, commit=commit, load=os.getloadavg()[0])
                    results.append(r)
                    print(show(r), flush=True)
                    if args.json:
                        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False))
    print(summary(results))


if __name__ == "__main__":
    sys.exit(main())
