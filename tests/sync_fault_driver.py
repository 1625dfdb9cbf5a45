"""Simulated phones that push to real fieldapp servers over HTTP, with faults, and the checks that end a run.

Used by tests/test_sync_faults.py (bounded, in CI) and bench/sync_soak.py (long soak). Everything goes
through the HTTP API of docs/sync-protocol.md (sign-in, device registration, push, pull, photos); the
results are read back from the database with plain SQL and the `recount` command, never through
fieldapp.sync, whose internals are being rewritten.

Each phone is a thread with its own account and device and its own model of what it has sent: the
houses, people, visits, updates and photos it made, the server version it knows of each record, and an
outbox. Faults, all seeded (random.Random(seed, phone)):
- duplicated batches: the same batch sent again at once after its answer, or twice at the same time
  (a retry racing the original);
- reordered items: a batch that leaves its house.new items for later (people, visits and photos of the
  house arrive first and are answered `held`), and batches whose new items are shuffled;
- dropped answers: a batch (or photo chunk) sent and its answer thrown away; the items stay in the
  outbox and are sent again later;
- reused uids: an acknowledged item's uid sent again with other content (must be `conflict`
  `uid_reused`, `applied: false`, and nothing of it applied);
- damaged items mixed into batches (must be `rejected`, never fail the batch);
- kill -9 of the whole server (master and workers) while pushes are in flight, then a restart; phones
  retry everything not acknowledged.
A phone drops an item from its outbox when the server acknowledges it (accepted, duplicate, held, or a
field conflict, which the protocol counts as sent). At the end every phone sends what is left, then
sends every item it was answered `held` for once more ("the final retries").
"""
from __future__ import annotations

import html
import http.client
import io
import json
import random
import re
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, UTC
from http.cookies import SimpleCookie
from urllib.parse import urlencode

PIN = "secret-pin-1"
# The first two digits of a resident ID number name a province (checked by the server's forms).
PROVINCES = ("11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42",
             "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65")
NEW_OPS = ("house.new", "person.new", "organisation.new")
UPDATE_OPS = ("house.update", "person.update", "person.leave")


# --- HTTP -------------------------------------------------------------------------------------------

@dataclass
class Answer:
    status: int | None  # None: no answer (connection refused/reset, timeout)
    body: bytes = b""
    error: str | None = None
    crashed: bool = False  # the server was killed or restarted while this request was out
    seconds: float = 0.0

    def json(self):
        return json.loads(self.body)

    def text(self, limit: int = 600) -> str:
        return self.body[:limit].decode("utf-8", "replace")


def call(server, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
         timeout: float = 45.0) -> Answer:
    """One request on a fresh connection (a kill -9 leaves no stale keep-alive connection behind)."""
    generation = server.generation
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers={"Connection": "close", **(headers or {})})
        response = conn.getresponse()
        data = response.read()
        answer = Answer(response.status, data, seconds=time.monotonic() - started)
        answer.headers = response.getheaders()
        return answer
    except (OSError, http.client.HTTPException) as error:
        # Down (even generation) when sent, or restarted meanwhile: the crash explains the missing answer.
        crashed = generation % 2 == 0 or server.generation != generation
        return Answer(None, error=f"{type(error).__name__}: {error}", crashed=crashed,
                      seconds=time.monotonic() - started)
    finally:
        conn.close()


class Browser:
    """A signed-in web session (cookie + CSRF), enough to sign in and register a device."""

    def __init__(self, server):
        self.server = server
        self.cookies: dict[str, str] = {}

    def request(self, method, path, body=None, headers=None, timeout=45.0) -> Answer:
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        answer = call(self.server, method, path, body, headers, timeout)
        for name, value in getattr(answer, "headers", []):
            if name.lower() == "set-cookie":
                for key, morsel in SimpleCookie(value).items():
                    self.cookies[key] = morsel.value
        return answer

    def sign_in(self, collection_id: str, pin: str = PIN) -> None:
        page = self.request("GET", "/login")
        assert page.status == 200, (page.status, page.text())
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.body.decode())
        form = {"collection_id": collection_id, "pin": pin}
        if token:
            form["csrf_token"] = html.unescape(token.group(1))
        done = self.request("POST", "/login", urlencode(form).encode(),
                            {"Content-Type": "application/x-www-form-urlencoded"})
        assert done.status == 303, (done.status, done.text())

    def register_device(self, name: str) -> str:
        state = self.request("GET", "/api/session").json()
        assert state["signed_in"], state
        answer = self.request("POST", "/api/devices", json.dumps({"name": name}).encode(),
                              {"Content-Type": "application/json", "X-CSRFToken": state["csrf_token"]})
        assert answer.status == 201, (answer.status, answer.text())
        return answer.json()["token"]


# --- identities ---------------------------------------------------------------------------------------

def resident_id(county: str, birth: str, serial: int, male: bool) -> str:
    """A valid 18-character resident ID number (GB 11643: ISO 7064 MOD 11-2 check character)."""
    body = f"{county}{birth}{(2 * serial + (1 if male else 0)) % 1000:03d}"
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(body))
    return body + "10X98765432"[total % 11]


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def small_jpeg(rng: random.Random) -> bytes:
    from PIL import Image
    image = Image.new("RGB", (rng.randint(40, 120), rng.randint(40, 120)),
                      (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    for _ in range(20):
        image.putpixel((rng.randrange(image.width), rng.randrange(image.height)), (rng.randrange(256),) * 3)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()


BAD_ITEMS = {
    # Each must be answered `rejected` on its own while the rest of the batch is applied.
    "op_list": lambda uid, house: {"uid": uid, "op": [], "entity_uid": str(uuid.uuid4()), "data": {}},
    "op_object": lambda uid, house: {"uid": uid, "op": {}, "entity_uid": str(uuid.uuid4()), "data": {}},
    "data_list": lambda uid, house: {"uid": uid, "op": "person.new", "entity_uid": str(uuid.uuid4()),
                                     "house_uid": house, "data": [], "known_on": "2016-05-01"},
    "uid_not_uuid": lambda uid, house: {"uid": "not-a-uuid-" + uid[:8], "op": "house.new", "data": {}},
    "entity_uid_long": lambda uid, house: {"uid": uid, "op": "house.update", "entity_uid": "e" * 300,
                                           "base_version": 1, "data": {"owner_name": "x"}},
    "not_an_object": lambda uid, house: ["house.new", uid],
}


# --- configuration and report ---------------------------------------------------------------------

@dataclass
class FaultConfig:
    phones: int = 12
    rounds: int = 14               # push rounds per phone (then the final drain)
    seed: int = 20161121
    max_batch: int = 30
    p_duplicate: float = 0.12      # send the same batch again right after its answer
    p_race_duplicate: float = 0.05  # send the same batch twice at the same time
    p_defer_houses: float = 0.2    # leave this batch's house.new items for a later batch
    p_shuffle: float = 0.2         # shuffle the new items inside the batch
    p_drop: float = 0.15           # throw the answer away (items stay in the outbox)
    p_reuse: float = 0.08          # an acknowledged uid sent again with other content
    p_bad_item: float = 0.03       # a damaged item in the batch
    p_photo: float = 0.35          # take a photo this round (uploaded in chunks)
    p_pull: float = 0.12           # pull the work package this round
    kills: int = 1                 # kill -9 of the server while pushes are in flight
    kill_server: int = 0           # which server (index) is killed
    alternate_servers: bool = True  # with several servers: each request goes to the next one
    deadline_seconds: float = 240.0
    request_timeout: float = 45.0


@dataclass
class Report:
    items_sent: Counter = field(default_factory=Counter)      # by op, items put in pushes (with repeats)
    items_made: Counter = field(default_factory=Counter)      # by op, distinct items made
    answers: Counter = field(default_factory=Counter)         # by status
    faults: Counter = field(default_factory=Counter)          # by kind, injected
    pushes: int = 0
    photo_requests: int = 0
    pulls: int = 0
    server_errors: list = field(default_factory=list)         # 5xx: (where, status, body)
    unexpected: list = field(default_factory=list)            # answers the protocol does not allow here
    no_reply: list = field(default_factory=list)              # lost connections not explained by a kill
    crash_errors: int = 0                                     # lost connections explained by a kill
    kills: list = field(default_factory=list)                 # (in flight at the kill, seconds down)
    abandoned: list = field(default_factory=list)             # items given up after repeated 5xx
    unfinished: list = field(default_factory=list)            # phones that ran out of time
    seconds: float = 0.0
    lock = threading.Lock()

    def add(self, name, value):
        with self.lock:
            getattr(self, name).append(value)

    def count(self, name, key, n=1):
        with self.lock:
            getattr(self, name)[key] += n

    def summary(self) -> dict:
        return {"seconds": round(self.seconds, 1), "pushes": self.pushes, "photo_requests": self.photo_requests,
                "pulls": self.pulls, "items_made": dict(self.items_made), "items_sent": dict(self.items_sent),
                "answers": dict(self.answers), "faults": dict(self.faults), "kills": self.kills,
                "5xx": len(self.server_errors), "unexpected_answers": len(self.unexpected),
                "no_reply": len(self.no_reply), "crash_errors": self.crash_errors,
                "abandoned": len(self.abandoned), "unfinished": self.unfinished}


# --- one phone --------------------------------------------------------------------------------------

@dataclass
class Entry:
    item: dict
    kind: str = "normal"  # normal | reuse | bad
    fails: int = 0        # 5xx answers to batches holding it
    bad: str = ""


class Phone:
    def __init__(self, index: int, account: dict, token: str, servers: list, config: FaultConfig, report: Report,
                 clock):
        self.index = index
        self.account_id = account["id"]
        self.villages = account["villages"]
        self.token = token
        self.servers = servers
        self.config = config
        self.report = report
        self.clock = clock  # shared: in-flight counts and push totals for the kill controller
        self.rng = random.Random(f"{config.seed}/{index}")
        self.requests = 0
        self.outbox: list[Entry] = []
        self.serial = 0
        # The phone's model of what it made. Values are the phone's latest (what must end on the server).
        self.houses: dict[str, dict] = {}     # uid -> {village_id, number, group_name, owner_name}
        self.people: dict[str, dict] = {}     # uid -> {house_uid, name, id_number, phone, status}
        self.visits: dict[str, str] = {}      # uid -> house uid
        self.photos: dict[str, dict] = {}     # uid -> {of, data, received, complete}
        self.version: dict[str, int] = {}     # record uid -> highest version the server told
        self.updates: Counter = Counter()     # record uid -> update items made
        self.acked: dict[str, dict] = {}      # item uid -> the item, for items the server acknowledged
        self.status: dict[str, str] = {}      # item uid -> last status the phone saw for it
        self.held: dict[str, dict] = {}       # item uid -> item answered held (dropped from the outbox)
        self.conflicted: dict[str, dict] = {}  # item uid -> field-conflict result (each one is spurious here)
        self.reused: list[tuple[dict, dict]] = []  # (the original item, the other content under its uid)
        self.rejected: dict[str, dict] = {}   # item uid -> result, for normal items the server refused
        self.cursor = 0

    # -- making work
    def _uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _now(self) -> datetime:
        return datetime.now(UTC) - timedelta(seconds=self.rng.randint(1, 120))

    def _record_item(self, op, entity_uid, data, house_uid=None, base=None, village_id=None) -> dict:
        item = {"uid": self._uid(), "op": op, "entity_uid": entity_uid, "base_version": base, "data": data,
                "known_on": (datetime.now(UTC) - timedelta(days=1)).date().isoformat(),
                "collected_at": utc_text(self._now())}
        if op.endswith(".new"):
            item["house_uid"] = house_uid
        if village_id is not None:
            item["village_id"] = village_id
        return item

    def _queue(self, item: dict, kind: str = "normal", bad: str = "") -> None:
        self.outbox.append(Entry(item, kind, bad=bad))
        self.report.count("items_made", f"bad:{bad}" if kind == "bad" else item["op"])

    def make_work(self) -> None:
        rng = self.rng
        for _ in range(rng.choice((0, 1, 1, 2))):
            self._new_house()
        # updates of records whose creation the phone saw accepted (it knows a version to start from)
        known_houses = [u for u in self.houses if u in self.version]
        known_people = [u for u, p in self.people.items() if u in self.version and p["status"] == "living"]
        for _ in range(rng.choice((0, 1, 2))):
            if known_houses and rng.random() < 0.5:
                self._update_house(rng.choice(known_houses))
            elif known_people:
                self._update_person(rng.choice(known_people))
        if known_people and rng.random() < 0.1:
            self._leave(rng.choice(known_people))
        if self.acked and rng.random() < self.config.p_reuse:
            self._reuse()
        if rng.random() < self.config.p_bad_item and self.houses:
            kind = rng.choice(sorted(BAD_ITEMS))
            self._queue(BAD_ITEMS[kind](self._uid(), rng.choice(list(self.houses))), "bad", bad=kind)
            self.report.count("faults", f"bad_item:{kind}")

    def _new_house(self) -> None:
        rng = self.rng
        uid = self._uid()
        village = rng.choice(self.villages)
        self.serial += 1
        data = {"group_name": str(rng.randint(1, 9)), "number": f"P{self.index}-{self.serial}", "use": "owner",
                "owner_name": f"户主{self.index}-{self.serial}"}
        self._queue(self._record_item("house.new", uid, data, None, None, village))
        self.houses[uid] = {"village_id": village, "number": data["number"], "group_name": data["group_name"],
                            "owner_name": data["owner_name"]}
        for _ in range(rng.choice((0, 1, 1, 2))):
            self._visit(uid)
        for _ in range(rng.randint(0, 3)):
            self._new_person(uid)
        if rng.random() < self.config.p_photo:
            self._photo(f"house:{uid}")

    def _visit(self, house_uid: str) -> None:
        rng = self.rng
        uid = self._uid()
        item = {"uid": uid, "op": "visit.new", "house_uid": house_uid, "method": rng.choice(("scan", "code", "list")),
                "at": utc_text(self._now())}
        if rng.random() < 0.6:
            item.update(lat=30.0 + rng.random() / 100, lon=110.0 + rng.random() / 100,
                        accuracy_m=rng.choice((8, 20, 45, 120)))
        self._queue(item)
        self.visits[uid] = house_uid

    def _new_person(self, house_uid: str) -> None:
        rng = self.rng
        self.serial += 1
        male = rng.random() < 0.5
        birth = f"{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        # A division per phone keeps documents apart across phones (no "already registered").
        province = PROVINCES[self.config.seed % len(PROVINCES)]
        number = resident_id(f"{province}{self.index % 100:02d}{self.serial // 450 % 100:02d}", birth,
                             self.serial % 450, male)
        data = {"name": f"居民{self.index}-{self.serial}", "id_type": "111", "id_number": number,
                "sex": "1" if male else "2", "birth_date": f"{birth[:4]}-{birth[4:6]}-{birth[6:]}",
                "ethnicity": "01", "hukou_type": "1", "category": "local", "move_in_date": "2016-01-01"}
        uid = self._uid()
        item = self._record_item("person.new", uid, data, house_uid)
        visit = [v for v, h in self.visits.items() if h == house_uid]
        if visit and rng.random() < 0.5:
            item["visit_uid"] = rng.choice(visit)
        self._queue(item)
        self.people[uid] = {"house_uid": house_uid, "name": data["name"], "id_number": number, "phone": None,
                            "status": "living"}
        if rng.random() < self.config.p_photo / 3:
            self._photo(f"person:{uid}")

    def _update_house(self, uid: str) -> None:
        self.serial += 1
        name = f"新户主{self.index}-{self.serial}"
        self._queue(self._record_item("house.update", uid, {"owner_name": name}, base=self.version[uid]))
        self.houses[uid]["owner_name"] = name
        self.updates[uid] += 1

    def _update_person(self, uid: str) -> None:
        self.serial += 1
        phone = f"139{self.index:02d}{self.serial:06d}"[-11:]
        self._queue(self._record_item("person.update", uid, {"phone": phone}, base=self.version[uid]))
        self.people[uid]["phone"] = phone
        self.updates[uid] += 1

    def _leave(self, uid: str) -> None:
        data = {"left_date": (datetime.now(UTC) - timedelta(days=1)).date().isoformat(), "reason": "搬走"}
        self._queue(self._record_item("person.leave", uid, data, base=self.version[uid]))
        self.people[uid]["status"] = "left"
        self.updates[uid] += 1

    def _reuse(self) -> None:
        """An acknowledged uid with other content: a new record under the old item uid, or the same
        record with other values."""
        candidates = [i for i in self.acked.values() if i["op"] in ("house.new", "person.new", "house.update",
                                                                     "visit.new")]
        if not candidates:
            return
        original = self.rng.choice(candidates)
        other = json.loads(json.dumps(original))
        if original["op"] == "house.new":
            other["data"]["number"] = "REUSED-" + other["data"]["number"]
            if self.rng.random() < 0.5:
                other["entity_uid"] = self._uid()  # would be a second house
        elif original["op"] == "person.new":
            other["data"]["name"] = "冒用" + other["data"]["name"]
            other["entity_uid"] = self._uid()  # would be a second person
        elif original["op"] == "house.update":
            other["data"]["owner_name"] = "REUSED"
        else:
            other["method"] = "list" if other["method"] != "list" else "scan"
            other["lat"], other["lon"], other["accuracy_m"] = 31.5, 111.5, 5
        self.reused.append((original, other))
        self._queue(other, "reuse")
        self.report.count("faults", "reused_uid")

    def _photo(self, of: str) -> None:
        uid = self._uid()
        self.photos[uid] = {"of": of, "data": small_jpeg(self.rng), "received": 0, "complete": False}
        self.report.count("items_made", "photo")

    # -- talking to the servers
    def server(self):
        self.requests += 1
        if self.config.alternate_servers and len(self.servers) > 1:
            return self.servers[(self.index + self.requests) % len(self.servers)]
        return self.servers[0]

    def _request(self, method, path, body=None, headers=None, where="") -> Answer:
        server = self.server()
        with self.clock.lock:
            self.clock.in_flight += 1
        try:
            answer = call(server, method, path, body, {"Authorization": f"Bearer {self.token}", **(headers or {})},
                          self.config.request_timeout)
        finally:
            with self.clock.lock:
                self.clock.in_flight -= 1
        if answer.status is None:
            if answer.crashed:
                with self.report.lock:
                    self.report.crash_errors += 1
            else:
                self.report.add("no_reply", (where, method, path[:80], answer.error, round(answer.seconds, 1)))
        elif answer.status >= 500:
            self.report.add("server_errors", (where, server.port, answer.status, answer.text(800)))
        return answer

    def _backoff(self) -> None:
        time.sleep(0.05 + self.rng.random() * 0.15)

    def push(self, entries: list[Entry], where: str, drop: bool = False) -> Answer:
        items = [e.item for e in entries]
        body = json.dumps({"items": items, "sent_at": utc_text(datetime.now(UTC))}).encode()
        for entry in entries:
            self.report.count("items_sent", f"bad:{entry.bad}" if entry.kind == "bad" else entry.item["op"])
        answer = self._request("POST", "/api/sync/push", body, {"Content-Type": "application/json"},
                               f"{where}: push of {len(entries)}" + "".join(f", bad item {e.bad}" for e in entries if e.bad))
        with self.report.lock:
            self.report.pushes += 1
        with self.clock.lock:
            self.clock.pushes += 1
        if answer.status == 200 and not drop:
            self.take(entries, answer.json()["results"], where)
        elif answer.status is not None and answer.status >= 500:
            for entry in entries:
                entry.fails += 1
        elif answer.status is not None and answer.status != 200:
            self.report.add("unexpected", (where, "batch", answer.status, answer.text()))
        return answer

    def take(self, entries: list[Entry], results: list, where: str) -> None:
        """Read a push's answer as the phone does: acknowledged items leave the outbox."""
        if len(results) != len(entries):
            self.report.add("unexpected", (where, "result count", len(entries), len(results)))
            return
        done = set()
        for entry, result in zip(entries, results):
            status = result.get("status")
            self.report.count("answers", status if entry.kind == "normal" else f"{entry.kind}:{status}")
            item = entry.item
            if entry.kind == "bad":
                if status != "rejected":
                    self.report.add("unexpected", (where, f"bad item {entry.bad}", result))
                done.add(id(entry))
                continue
            uid = item["uid"]
            if entry.kind == "reuse":
                if not (status == "conflict" and result.get("code") == "uid_reused" and result.get("applied") is False
                        and "record" not in result):
                    self.report.add("unexpected", (where, "reused uid not refused", item["op"], result))
                done.add(id(entry))
                continue
            if result.get("uid") != uid:
                self.report.add("unexpected", (where, "result for another uid", uid, result))
                continue
            effective = result
            if status == "duplicate":
                effective = result.get("original") or {}
            final = effective.get("status")
            if status not in ("accepted", "duplicate", "held", "conflict", "rejected"):
                self.report.add("unexpected", (where, "unknown status", item["op"], result))
                continue
            if status == "conflict" and result.get("code") == "uid_reused":
                self.report.add("unexpected", (where, "own item answered uid_reused", item["op"], result))
                self.rejected[uid] = {"op": item["op"], **result}
                done.add(id(entry))
                continue
            if final == "rejected":
                # A valid item: refused now, or held earlier and refused when it was released (lost).
                self.report.add("unexpected", (where, f"valid item rejected ({status})", item["op"], result))
                self.rejected[uid] = {"op": item["op"], **result}
                done.add(id(entry))
                continue
            done.add(id(entry))
            self.acked[uid] = item
            self.status[uid] = final
            if final == "held":
                self.held[uid] = item
            else:
                self.held.pop(uid, None)
            if final == "conflict":
                self.conflicted[uid] = effective
            record = effective.get("record")
            if record and final in ("accepted", "conflict") and item["op"] != "visit.new":
                target = item["entity_uid"]
                if record.get("uid") != target:
                    self.report.add("unexpected", (where, "record re-keyed", item["op"], result))
                self.version[target] = max(self.version.get(target, 0), int(record.get("version") or 0))
        self.outbox = [e for e in self.outbox if id(e) not in done]

    def next_batch(self, faults: bool = True) -> list[Entry]:
        rng = self.rng
        size = rng.randint(1, self.config.max_batch) if faults else 50
        # Damaged items that failed the batch they were in go alone (the phone isolates them).
        if any(e.fails for e in self.outbox):
            return [next(e for e in self.outbox if e.fails)]
        defer = faults and rng.random() < self.config.p_defer_houses
        if defer:
            self.report.count("faults", "houses_deferred")
        batch = [e for e in self.outbox if not (defer and isinstance(e.item, dict) and e.item.get("op") == "house.new")]
        batch = batch[:size]
        if faults and len(batch) > 1 and rng.random() < self.config.p_shuffle:
            # Shuffle the new items among themselves; updates keep their order (they build on each other).
            slots = [i for i, e in enumerate(batch) if not (isinstance(e.item, dict) and e.item.get("op") in UPDATE_OPS)]
            moved = [batch[i] for i in slots]
            rng.shuffle(moved)
            for i, e in zip(slots, moved):
                batch[i] = e
            self.report.count("faults", "shuffled_batch")
        return batch

    def push_round(self) -> None:
        rng = self.rng
        batch = self.next_batch()
        if not batch:
            return
        if rng.random() < self.config.p_race_duplicate:
            self.report.count("faults", "racing_duplicate")
            twin_answer = []
            twin = threading.Thread(target=lambda: twin_answer.append(self._raw_push(batch)))
            twin.start()
            answer = self.push(batch, "race")
            twin.join()
            if twin_answer and twin_answer[0].status == 200:
                self.take(list(batch), twin_answer[0].json()["results"], "race-twin")
            self._after_failure(answer)
            return
        drop = rng.random() < self.config.p_drop
        if drop:
            self.report.count("faults", "dropped_answer")
        answer = self.push(batch, "round", drop=drop)
        if answer.status == 200 and rng.random() < self.config.p_duplicate:
            self.report.count("faults", "duplicated_batch")
            self.push(batch, "duplicate")
        self._after_failure(answer)

    def _raw_push(self, entries: list[Entry]) -> Answer:
        """The racing twin: same body, its answer read by take() after both finished."""
        body = json.dumps({"items": [e.item for e in entries]}).encode()
        answer = self._request("POST", "/api/sync/push", body, {"Content-Type": "application/json"}, "race-twin")
        if answer.status is not None and answer.status != 200 and answer.status < 500:
            self.report.add("unexpected", ("race-twin", "batch", answer.status, answer.text()))
        return answer

    def _after_failure(self, answer: Answer) -> None:
        if answer.status is None or answer.status >= 500:
            self._backoff()
        self._abandon_poison()

    def _abandon_poison(self) -> None:
        # An item that alone keeps failing with 5xx is given up (and reported): the test must end.
        for entry in [e for e in self.outbox if e.fails >= 3]:
            self.report.add("abandoned", (entry.kind, entry.bad or (entry.item.get("op") if isinstance(entry.item, dict) else "?")))
            self.outbox.remove(entry)

    def photo_step(self, faults: bool = True) -> None:
        pending = [u for u, p in self.photos.items() if not p["complete"]]
        if not pending:
            return
        uid = self.rng.choice(pending)
        photo = self.photos[uid]
        if faults and self.rng.random() < 0.3 or photo.get("unsure"):
            status = self._request("GET", f"/api/photos/{uid}/status", where="photo-status")
            self._photo_count()
            if status.status == 200:
                body = status.json()
                photo["received"] = body["received"]
                photo["complete"] = bool(body.get("complete"))
                photo.pop("unsure", None)
                if photo["complete"]:
                    photo["photo"] = body.get("photo")
                    return
            elif status.status is not None and status.status < 500:
                self.report.add("unexpected", ("photo-status", status.status, status.text()))
            if status.status != 200:
                self._backoff()
                return
        data = photo["data"]
        start = photo["received"]
        end = min(len(data), start + max(200, len(data) // 2)) - 1
        drop = faults and self.rng.random() < self.config.p_drop
        if drop:
            self.report.count("faults", "dropped_photo_answer")
        answer = self._request("PUT", f"/api/photos/{uid}", data[start:end + 1],
                               {"Content-Range": f"bytes {start}-{end}/{len(data)}", "X-Photo-Of": photo["of"],
                                "Content-Type": "application/octet-stream"}, "photo")
        self._photo_count()
        if answer.status is None or drop:
            photo["unsure"] = True  # ask the server how much arrived before going on
            if answer.status is None:
                self._backoff()
            return
        body = answer.json() if answer.body.startswith(b"{") else {}
        if answer.status == 200:
            photo["received"] = body["received"]
            if body.get("complete"):
                photo["complete"], photo["photo"] = True, body.get("photo")
        elif answer.status == 416:
            photo["received"] = body.get("received", 0)
        elif answer.status < 500:
            self.report.add("unexpected", ("photo", answer.status, answer.text()))
        else:
            self._backoff()

    def _photo_count(self):
        with self.report.lock:
            self.report.photo_requests += 1

    def bad_requests(self) -> None:
        """Requests a damaged phone (or a fuzzer) makes: each must be a 4xx, never a 5xx."""
        answer = self._request("GET", "/api/photos/" + "p" * 300 + "/status", where="bad-photo-uid")
        if answer.status is not None and not 400 <= answer.status < 500:
            self.report.add("unexpected", ("bad-photo-uid", answer.status, answer.text()))
        self.report.count("faults", "bad_photo_uid")

    def pull(self) -> None:
        for _ in range(50):
            answer = self._request("GET", f"/api/sync/package?cursor={self.cursor}&limit=500", where="pull")
            with self.report.lock:
                self.report.pulls += 1
            if answer.status != 200:
                if answer.status is not None and answer.status < 500:
                    self.report.add("unexpected", ("pull", answer.status, answer.text()))
                return
            body = answer.json()
            for record in body["houses"] + body["people"]:
                if record["uid"] in self.houses or record["uid"] in self.people:
                    self.version[record["uid"]] = max(self.version.get(record["uid"], 0), record["version"])
            self.cursor = body["cursor"]
            if not body["more"]:
                return

    # -- the phone's day
    def run(self, deadline: float) -> None:
        rng = self.rng
        self.bad_requests()
        for _ in range(self.config.rounds):
            if time.monotonic() > deadline:
                self.report.add("unfinished", (self.index, "rounds"))
                return
            self.make_work()
            self.push_round()
            if self.photos and rng.random() < 0.7:
                self.photo_step()
            if rng.random() < self.config.p_pull:
                self.pull()

    def drain(self, deadline: float) -> None:
        """Send everything left, without faults, until the outbox is empty and every photo is complete."""
        while self.outbox or any(not p["complete"] for p in self.photos.values()):
            if time.monotonic() > deadline:
                self.report.add("unfinished", (self.index, f"drain: {len(self.outbox)} items left"))
                return
            if self.outbox:
                answer = self.push(self.next_batch(faults=False), "drain")
                self._after_failure(answer)
            if any(not p["complete"] for p in self.photos.values()):
                self.photo_step(faults=False)

    def retry_held(self, deadline: float) -> None:
        """The final retries: every item answered `held` is sent once more; the answer must be a
        duplicate (its original now final, or still held)."""
        pending = [Entry(item) for item in self.held.values()]
        while pending and time.monotonic() < deadline:
            batch, pending = pending[:50], pending[50:]
            answer = self.push(batch, "final-held-retry")
            if answer.status != 200:
                pending = batch + pending
                self._backoff()


class Clock:
    """What the kill controller watches."""

    def __init__(self):
        self.lock = threading.Lock()
        self.in_flight = 0
        self.pushes = 0


# --- setting up accounts and devices ---------------------------------------------------------------

def make_accounts(database_url: str, phones: int, villages: int = 3, secret_key: str = "fault-test") -> dict:
    """A town with `villages` villages, one collector per phone (each in one or two villages), and a
    supervisor for the dashboard. Written with the test builders (which use fieldapp.records and
    fieldapp.accounts, not fieldapp.sync). Returns {"collectors": [{id, collection_id, villages}],
    "supervisor": collection_id, "villages": [ids]}."""
    from fieldapp import create_app
    from fieldapp.extensions import db

    from .builders import make_account, make_town
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": secret_key, "TESTING": True})
    with app.app_context():
        town, made = make_town(villages=tuple(f"故障村{i}" for i in range(villages)), people_quota=10_000,
                               houses_quota=5_000)
        collectors = []
        for n in range(phones):
            mine = [made[n % villages]] + ([made[(n + 1) % villages]] if n % 3 == 0 and villages > 1 else [])
            account = make_account(town, "collector", mine, collection_id=f"F-{n:04d}")
            collectors.append({"id": account.id, "collection_id": account.collection_id,
                               "villages": [v.id for v in mine]})
        supervisor = make_account(town, "supervisor", collection_id="F-SUPER").collection_id
        village_ids = [v.id for v in made]
        db.session.remove()
        db.engine.dispose()
    return {"collectors": collectors, "supervisor": supervisor, "villages": village_ids}


def register_devices(servers: list, collectors: list) -> list[str]:
    tokens = []
    for n, collector in enumerate(collectors):
        browser = Browser(servers[n % len(servers)])
        browser.sign_in(collector["collection_id"])
        tokens.append(browser.register_device(f"fault phone {n}"))
    return tokens


# --- the run ------------------------------------------------------------------------------------------

def run_phones(servers: list, accounts: dict, tokens: list, config: FaultConfig,
               log=lambda *a: None) -> tuple[list[Phone], Report]:
    report = Report()
    clock = Clock()
    phones = [Phone(n, accounts["collectors"][n], tokens[n], servers, config, report, clock)
              for n in range(config.phones)]
    started = time.monotonic()
    deadline = started + config.deadline_seconds
    expected_pushes = config.phones * config.rounds  # about one push per round (plus repeats and retries)
    stop_controller = threading.Event()

    def controller():
        # kill -9 at evenly spaced points of the run, each while at least one request is in flight
        for k in range(config.kills):
            threshold = expected_pushes * (k + 1) / (config.kills + 1)
            while clock.pushes < threshold and not stop_controller.is_set():
                time.sleep(0.01)
            if stop_controller.is_set():
                report.add("kills", {"skipped": True, "reason": "phones finished first"})
                return
            while not stop_controller.is_set():
                with clock.lock:
                    busy = clock.in_flight
                if busy:
                    break
                time.sleep(0.001)
            server = servers[config.kill_server]
            down_at = time.monotonic()
            server.kill9()
            try:
                server.start()
            except Exception as error:  # reported; the phones then fail to reach it and the run ends
                report.add("kills", {"restart_failed": repr(error)})
                return
            report.add("kills", {"in_flight": busy, "after_pushes": clock.pushes,
                                 "seconds_down": round(time.monotonic() - down_at, 2)})
            log(f"killed server {config.kill_server} with {busy} requests in flight; back after "
                f"{time.monotonic() - down_at:.1f} s")

    threads_done = threading.Barrier(config.phones + 1)

    def life(phone: Phone):
        try:
            phone.run(deadline)
            phone.drain(deadline)
        except Exception as error:
            report.add("unexpected", (f"phone {phone.index}", "driver error", repr(error)))
        finally:
            threads_done.wait()

    ctl = threading.Thread(target=controller, name="kill-controller", daemon=True)
    ctl.start()
    workers = [threading.Thread(target=life, args=(p,), name=f"phone-{p.index}", daemon=True) for p in phones]
    for w in workers:
        w.start()
    threads_done.wait()
    stop_controller.set()
    ctl.join(120)
    # Every server is up again: the last outboxes (emptied before a late kill?) are sent once more.
    for phone in phones:
        phone.drain(deadline + 30)
    retry = [threading.Thread(target=p.retry_held, args=(deadline + 60,), daemon=True) for p in phones]
    for t in retry:
        t.start()
    for t in retry:
        t.join()
    report.seconds = time.monotonic() - started
    return phones, report


# --- checking the end state -----------------------------------------------------------------------------

def _rows(conn, sql, **params):
    from sqlalchemy import text
    return conn.execute(text(sql), params).all()


def database_state(database_url: str) -> dict:
    """Counters and daily figures as stored: what `recount` must leave unchanged."""
    from sqlalchemy import create_engine
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            counters = {r[0]: tuple(r[1:]) for r in _rows(conn, "SELECT village_id, people, houses, orgs "
                                                                "FROM village_counters ORDER BY village_id")}
            village_days = defaultdict(lambda: [0, 0, 0])
            for village_id, people, houses, orgs in _rows(conn, "SELECT village_id, people, houses, orgs FROM village_days"):
                totals = village_days[village_id]
                totals[0] += people
                totals[1] += houses
                totals[2] += orgs
            collector_days = {(r[0], r[1], str(r[2])[:10]): tuple(r[3:]) for r in _rows(
                conn, "SELECT account_id, village_id, day, records, door_proof, visits, scans FROM collector_days")}
    finally:
        engine.dispose()
    return {"counters": counters, "village_day_totals": {k: tuple(v) for k, v in village_days.items()},
            "collector_days": collector_days}


def check_counters(database_url: str, recount) -> list[str]:
    """Counters as the pushes left them must equal what `flask --app fieldapp recount` computes."""
    problems = []
    before = database_state(database_url)
    output = recount()
    after = database_state(database_url)
    drifted = re.search(r"(\d+) had drifted", output)
    if not drifted or drifted.group(1) != "0":
        problems.append(f"recount: {output.strip()}")
    for name in ("counters", "village_day_totals", "collector_days"):
        if before[name] != after[name]:
            keys = sorted(set(before[name]) | set(after[name]), key=str)
            diff = [(k, before[name].get(k), after[name].get(k)) for k in keys if before[name].get(k) != after[name].get(k)]
            problems.append(f"{name} differ from recount ({len(diff)} rows; (key, stored, recounted)): {diff[:8]}")
    return problems


def check_records(database_url: str, phones: list[Phone]) -> tuple[list[str], dict]:
    """Every item a phone considers sent applied exactly once; nothing held forever; no duplicates;
    reused uids applied nothing. Returns (problems, figures)."""
    from sqlalchemy import create_engine
    engine = create_engine(database_url)
    problems: list[str] = []
    figures: Counter = Counter()
    try:
        with engine.connect() as conn:
            houses = {r.uid: r for r in _rows(conn, "SELECT id, uid, village_id, number, group_name, owner_name, "
                                                    "version, position_visit_id, collected_at FROM houses")}
            house_uid_by_id = {r.id: r.uid for r in houses.values()}
            people = {r.uid: r for r in _rows(conn, "SELECT uid, name, id_number, phone, status, house_id, version "
                                                    "FROM people")}
            visits = {r.uid: r for r in _rows(conn, "SELECT uid, account_id, house_id FROM visits")}
            photos = {r.uid: r for r in _rows(conn, "SELECT uid, of_entity, of_uid, account_id FROM photos")}
            receipts = {r.item_uid: r for r in _rows(conn, "SELECT item_uid, status, waits_for, op, account_id "
                                                           "FROM sync_receipts")}
            new_changes = Counter((r[0], r[1]) for r in _rows(
                conn, "SELECT collected_by_id, entity FROM changes WHERE kind = 'new'"))
            visits_by = Counter(r.account_id for r in visits.values())
            photos_by = Counter(r.account_id for r in photos.values())
            conflicts = _rows(conn, "SELECT entity, field, item_uid FROM conflicts")
            dup_docs = _rows(conn, "SELECT id_number, COUNT(*) FROM people GROUP BY id_number HAVING COUNT(*) > 1")
    finally:
        engine.dispose()

    def problem(kind: str, text: str):
        figures[kind] += 1
        if figures[kind] <= 6:
            problems.append(f"{kind}: {text}")

    for phone in phones:
        p = f"phone {phone.index}"
        conflicted_targets = {i["entity_uid"] for u, i in phone.acked.items() if u in phone.conflicted}
        for uid, house in phone.houses.items():
            row = houses.get(uid)
            if row is None:
                problem("lost house", f"{p} house {uid}")
                continue
            if (row.number, row.group_name, row.village_id) != (house["number"], house["group_name"], house["village_id"]):
                problem("wrong house content", f"{p} {uid}: {row.number} {row.group_name} {row.village_id} != {house}")
            if uid not in conflicted_targets:
                if row.owner_name != house["owner_name"]:
                    problem("update lost or misordered", f"{p} house {uid} owner_name {row.owner_name!r} != {house['owner_name']!r}")
                expected_version = 1 + phone.updates[uid] + (1 if row.position_visit_id is not None else 0)
                if row.version != expected_version:
                    problem("house version != 1 + updates (+ position)", f"{p} {uid}: {row.version} != {expected_version}")
        for uid, person in phone.people.items():
            row = people.get(uid)
            if row is None:
                problem("lost person", f"{p} person {uid} (item status {phone.status.get(_new_item(phone, uid))})")
                continue
            if (row.name, row.id_number) != (person["name"], person["id_number"]):
                problem("wrong person content", f"{p} {uid}: {row.name} {row.id_number}")
            if row.house_id is not None and house_uid_by_id.get(row.house_id) != person["house_uid"] and row.status == "living":
                problem("person in wrong house", f"{p} {uid}")
            if uid not in conflicted_targets:
                if (row.phone, row.status) != (person["phone"], person["status"]):
                    problem("update lost or misordered", f"{p} person {uid}: {(row.phone, row.status)} != "
                                                         f"{(person['phone'], person['status'])}")
                if row.version != 1 + phone.updates[uid]:
                    problem("person version != 1 + updates", f"{p} {uid}: {row.version} != {1 + phone.updates[uid]}")
        for uid, house_uid in phone.visits.items():
            row = visits.get(uid)
            if row is None:
                problem("lost visit", f"{p} visit {uid} (status {phone.status.get(uid)})")
            elif house_uid_by_id.get(row.house_id) != house_uid or row.account_id != phone.account_id:
                problem("wrong visit", f"{p} visit {uid}")
        for uid, photo in phone.photos.items():
            row = photos.get(uid)
            if not photo["complete"]:
                problem("photo never completed", f"{p} photo {uid}")
            if row is None:
                problem("lost photo", f"{p} photo {uid}")
            elif f"{row.of_entity}:{row.of_uid}" != photo["of"] or row.account_id != phone.account_id:
                problem("wrong photo", f"{p} photo {uid}: {row.of_entity}:{row.of_uid}")
        # exactly once: no record beyond the phone's own
        for entity, mine in (("house", phone.houses), ("person", phone.people)):
            made = new_changes[(phone.account_id, entity)]
            if made != len(mine):
                problem(f"{entity} records created != phone's", f"{p}: {made} created, phone made {len(mine)}")
        if visits_by[phone.account_id] != len(phone.visits):
            problem("visits stored != phone's", f"{p}: {visits_by[phone.account_id]} != {len(phone.visits)}")
        if photos_by[phone.account_id] != len(phone.photos):
            problem("photos stored != phone's", f"{p}: {photos_by[phone.account_id]} != {len(phone.photos)}")
        # every acknowledged item has its receipt, applied
        for uid, item in phone.acked.items():
            receipt = receipts.get(uid)
            if receipt is None:
                problem("acknowledged item without receipt", f"{p} {item['op']} {uid}")
            elif receipt.status == "held":
                problem("held forever", f"{p} {item['op']} {uid} waits for {receipt.waits_for}")
            elif receipt.status == "rejected":
                problem("held, then refused (lost)", f"{p} {item['op']} {uid}")
        for uid, result in phone.conflicted.items():
            problem("spurious conflict (own change on own record)", f"{p} {phone.acked[uid]['op']} {uid}: "
                                                                  f"{sorted(result.get('conflicts') or {'status': 1})}")
        for original, other in phone.reused:
            if other["op"] in ("house.new", "person.new") and other["entity_uid"] != original["entity_uid"]:
                if other["entity_uid"] in houses or other["entity_uid"] in people:
                    problem("reused uid applied", f"{p} {other['op']} {other['uid']} created {other['entity_uid']}")
            if other["op"] == "house.new" and other["entity_uid"] == original["entity_uid"]:
                row = houses.get(original["entity_uid"])
                if row is not None and row.number.startswith("REUSED"):
                    problem("reused uid applied", f"{p} house number {row.number}")
            if other["op"] == "house.update":
                row = houses.get(original["entity_uid"])
                if row is not None and row.owner_name == "REUSED":
                    problem("reused uid applied", f"{p} owner_name REUSED")
        for uid, result in phone.rejected.items():
            problem("valid item refused", f"{p} {result.get('op')} {uid}: {str(result)[:200]}")

    existing = set(houses) | set(people)
    held = [r for r in receipts.values() if r.status == "held"]
    stuck = [r for r in held if r.waits_for in existing]
    figures["held receipts"] = len(held)
    if stuck:
        problem("held receipts whose target exists", f"{len(stuck)}: " + ", ".join(f"{r.op} waits for {r.waits_for}" for r in stuck[:5]))
        figures["held receipts whose target exists"] = len(stuck)
    if conflicts:
        figures["conflict rows for reviewers"] = len(conflicts)
    if dup_docs:
        problem("duplicate people (same document)", str(dup_docs[:5]))
    return problems, dict(figures)


def _new_item(phone: Phone, entity_uid: str) -> str | None:
    for uid, item in phone.acked.items():
        if item.get("entity_uid") == entity_uid and item["op"].endswith(".new"):
            return uid
    return None


def report_problems(report: Report) -> list[str]:
    problems = []
    if report.server_errors:
        kinds = Counter(_error_kind(body) for _w, _port, _status, body in report.server_errors)
        places = Counter(w.split(":")[0] + (" (batch with a damaged item)" if "bad item" in w else "")
                         for w, _p, _s, _b in report.server_errors)
        problems.append(f"{len(report.server_errors)} answers 5xx ({dict(kinds)}) in {dict(places)}; first: "
                        + " | ".join(f"{w} -> {s}: {b[:200]}" for w, _p, s, b in report.server_errors[:4]))
    if report.unexpected:
        kinds: dict = {}
        for u in report.unexpected:
            key = (str(u[0]).split(":")[0], str(u[1])[:60])
            kinds.setdefault(key, []).append(u)
        problems.append(f"{len(report.unexpected)} unexpected answers: " + "; ".join(
            f"{len(found)} x {where} {what}, e.g. {str(found[0][2:])[:240]}" for (where, what), found in kinds.items()))
    if report.no_reply:
        problems.append(f"{len(report.no_reply)} requests without a reply while the server was up; first: "
                        + " | ".join(str(u)[:200] for u in report.no_reply[:3]))
    if report.abandoned:
        problems.append(f"{len(report.abandoned)} items abandoned after repeated 5xx: {Counter(report.abandoned)}")
    if report.unfinished:
        problems.append(f"ran out of time: {report.unfinished[:5]}")
    if any("restart_failed" in k for k in report.kills):
        problems.append(f"restart after kill -9 failed: {report.kills}")
    return problems


def _error_kind(body: str) -> str:
    if "locked" in body:
        return "database is locked"
    try:
        return json.loads(body).get("error", "?")
    except ValueError:
        return body[:40]


def log_kinds(text: str) -> dict:
    """What the servers' logs say went wrong (tracebacks by exception line)."""
    kinds = Counter()
    lines = text.splitlines()
    for n, line in enumerate(lines):
        if line.startswith("Traceback"):
            for m in range(n + 1, min(len(lines), n + 400)):
                follow = lines[m]
                if follow and not follow.startswith((" ", "Traceback", "The above", "During handling")):
                    # Count a chain once, by its end (an error's DETAIL lines may come before the next part).
                    rest = lines[m + 1:m + 15]
                    chained = next((x for x in rest if x.startswith(("The above", "During handling", "Traceback"))), "")
                    if not chained.startswith(("The above", "During handling")):
                        kinds[follow[:160]] += 1
                    break
    return dict(kinds.most_common(12))
