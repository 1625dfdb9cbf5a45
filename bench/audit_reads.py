"""What logging every read costs: person pages per second through gunicorn, each one now an audit
row inserted at commit under the chain's lock (fieldapp/audit.py).

Migrates --database with the demo (`flask --app fieldapp setup`; the database is dropped first),
serves it with gunicorn.conf.py (--workers, --threads), signs the demo collector YP-0042 in, then
--clients threads ask for the collector's people's pages (/people/<id>, round robin) for --seconds
seconds. Prints requests/s, latency percentiles, and audit rows written. Run it on a commit before
the audit log and on one after to compare (same machine, same load).

    .venv/bin/python bench/audit_reads.py --database postgresql+psycopg://postgres@127.0.0.1/scratch
"""
from __future__ import annotations

import argparse
import http.client
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.server_process import AppServer, flask_cli  # noqa: E402

SECRET = "bench-audit-reads"


def wipe(database_url: str) -> None:
    """Drop every table (PostgreSQL: the public schema; SQLite: the file), so that a commit from
    before a migration can be measured on the same database as one after it."""
    from sqlalchemy import create_engine, text
    if database_url.startswith("sqlite"):
        Path(database_url.split("///", 1)[1]).unlink(missing_ok=True)
        return
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


def sign_in(port: int) -> str:
    """The session cookie of YP-0042, signed in through the login form (CSRF token and all)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/login")
    page = conn.getresponse()
    cookie = page.getheader("Set-Cookie").split(";", 1)[0]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.read().decode()).group(1)
    conn.request("POST", "/login", urlencode({"csrf_token": token, "collection_id": "YP-0042", "pin": "yuping2016"}),
                 {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    answer = conn.getresponse()
    answer.read()
    assert answer.status == 303, answer.status
    return answer.getheader("Set-Cookie").split(";", 1)[0]


def person_ids(port: int, cookie: str, limit: int = 200) -> list[int]:
    """People on the collector's first houses, read off the house pages (the bench reads what it may)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/villages", headers={"Cookie": cookie})
    response = conn.getresponse()
    location = response.getheader("Location") or ""
    response.read()
    conn.request("GET", location or "/villages", headers={"Cookie": cookie})
    houses = re.findall(r'href="/houses/(\d+)"', conn.getresponse().read().decode())
    ids: list[int] = []
    for house in houses:
        conn.request("GET", f"/houses/{house}", headers={"Cookie": cookie})
        ids += [int(i) for i in re.findall(r'href="/people/(\d+)"', conn.getresponse().read().decode())]
        if len(ids) >= limit:
            break
    return ids[:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()

    wipe(args.database)
    flask_cli(args.database, SECRET, "setup")
    server = AppServer(args.database, SECRET, Path(tempfile.mkdtemp()) / "gunicorn.log",
                       workers=args.workers, threads=args.threads)
    server.start()
    try:
        cookie = sign_in(server.port)
        ids = person_ids(server.port, cookie)
        assert ids, "no people visible to YP-0042"
        latencies: list[float] = []
        failures = [0]
        lock = threading.Lock()
        stop_at = time.monotonic() + args.seconds

        def client(n: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            mine, i = [], n
            while time.monotonic() < stop_at:
                started = time.monotonic()
                conn.request("GET", f"/people/{ids[i % len(ids)]}", headers={"Cookie": cookie})
                response = conn.getresponse()
                response.read()
                mine.append(time.monotonic() - started)
                if response.status != 200:
                    with lock:
                        failures[0] += 1
                i += args.clients
            with lock:
                latencies.extend(mine)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
        began = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - began
        latencies.sort()
        print(f"{len(latencies)} person pages in {elapsed:.1f} s: {len(latencies) / elapsed:.1f} req/s, "
              f"{failures[0]} not 200; latency p50 {statistics.median(latencies) * 1000:.0f} ms, "
              f"p95 {latencies[int(len(latencies) * 0.95)] * 1000:.0f} ms "
              f"({args.workers} workers x {args.threads} threads, {args.clients} clients)")
    finally:
        server.stop()
    try:
        out = flask_cli(args.database, SECRET, "audit", "verify")
        print("audit verify:", out.strip())
    except RuntimeError as error:  # a commit before the audit log has no such command
        print("audit verify: not available", str(error).splitlines()[0])


if __name__ == "__main__":
    main()
