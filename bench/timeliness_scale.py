"""The 及时率 figures at scale: the dashboard, the late list and the reviewer throughput over a
million collected changes.

Builds a scratch database (SQLite by default, or --url for PostgreSQL; bench/scratch.py) with 28
villages, 60 collectors, 6 reviewers and --changes collected changes (default 1,000,000) over 61
days around the 2024 National Day holiday: 70% approved, 5% returned, 25% pending (most of them
overdue), 10% collected late, 8% reviewed late. The daily figures (collector_days, reviewer_days)
are built by `recount`'s changefeed.rebuild_daily, timed too. Then times, through the test client
as a supervisor:

- GET /progress (the dashboard with the 及时率 per village, town and collector),
- GET /progress/figures (what the live page refetches after every event),
- GET /progress/late (first page of the late list, whole period),
- GET /progress/throughput?by=month and the .xlsx download per day.

    .venv/bin/python bench/timeliness_scale.py [--changes N] [--runs N]
    .venv/bin/python bench/timeliness_scale.py --url postgresql+psycopg://postgres@127.0.0.1/scratch   # wiped
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from werkzeug.security import generate_password_hash

sys.path.insert(0, str(Path(__file__).parent))
from scratch import bench_town, scratch_app  # noqa: E402

from fieldapp.changefeed import rebuild_daily  # noqa: E402
from fieldapp.extensions import db  # noqa: E402
from fieldapp.models import Account, Change  # noqa: E402
from fieldapp.rules import review  # noqa: E402

START = date(2024, 9, 1)
DAYS = 61
PERIOD = "as_of=2024-10-31&since=2024-09-01"


def fill(changes: int, seed: int = 12) -> None:
    rng = random.Random(seed)
    villages = bench_town(1_000_000, 300_000, 3_000, 28)
    pin = generate_password_hash("bench", method="pbkdf2:sha256:1000")
    town_id = villages[0].town_id
    staff = [Account(collection_id="B-SUP", name="督导", role="supervisor", town_id=town_id, password_hash=pin)]
    collectors = [Account(collection_id=f"B-C{i:02d}", name=f"采集员{i}", role="collector", town_id=town_id,
                          villages=[villages[i % 28]]) for i in range(60)]
    reviewers = [Account(collection_id=f"B-R{i}", name=f"录入员{i}", role="reviewer", town_id=town_id,
                         villages=villages) for i in range(6)]
    db.session.add_all(staff + collectors + reviewers)
    db.session.flush()
    due_of = {}
    batch = []
    for n in range(changes):
        collector = collectors[n % 60]
        day = START + timedelta(days=rng.randrange(DAYS))
        if day not in due_of:
            due_of[day] = review.review_due_on(day)
        due = due_of[day]
        r = rng.random()
        state = review.APPROVED if r < .70 else review.RETURNED if r < .75 else review.PENDING
        reviewed_day = due + timedelta(days=rng.choice((-1, -1, -1, 0, 0, 0, 0, 0, 1, 3))) if state != "pending" else None
        row = {"uid": str(uuid.UUID(int=rng.getrandbits(128))), "entity": "person", "entity_id": n + 1, "version": 1,
               "village_id": collector.villages[0].id, "kind": "new", "fields": {}, "police_only": False,
               "source": "sync", "known_on": day - timedelta(days=rng.choice((0, 1, 2, 6))),
               "collected_at": datetime.combine(day, datetime.min.time()) + timedelta(hours=2),
               "collected_by_id": collector.id, "door_proof": False, "review_state": state, "review_due_on": due,
               "collected_late": rng.random() < .10,
               "reviewed_at": datetime.combine(reviewed_day, datetime.min.time()) + timedelta(hours=3)
               if reviewed_day else None,
               "reviewed_by_id": reviewers[n % 6].id if reviewed_day else None,
               "reviewed_late": (reviewed_day > due) if reviewed_day else None}
        batch.append(row)
        if len(batch) == 20_000:
            db.session.execute(Change.__table__.insert(), batch)
            batch = []
    if batch:
        db.session.execute(Change.__table__.insert(), batch)
    db.session.commit()


def timed_get(client, url: str, runs: int) -> tuple[float, int]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times), len(response.data)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url")
    parser.add_argument("--changes", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    app, url = scratch_app(args.url, tmp.name)
    with app.app_context():
        t0 = time.perf_counter()
        fill(args.changes)
        load = time.perf_counter() - t0
        t0 = time.perf_counter()
        rebuild_daily()
        db.session.commit()
        rebuild = time.perf_counter() - t0
        if url.startswith("postgresql"):
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
        dialect = db.engine.dialect.name
    client = app.test_client()
    client.post("/login", data={"collection_id": "B-SUP", "pin": "bench"})
    print(f"backend {dialect}, {args.changes:,} changes, 28 villages, 60 collectors, 6 reviewers; "
          f"load {load:.1f} s, rebuild_daily (recount) {rebuild:.1f} s")
    for label, path in (("GET /progress", f"/progress?{PERIOD}"), ("GET /progress/figures", f"/progress/figures?{PERIOD}"),
                        ("GET /progress/late", "/progress/late?since=2024-09-01&until=2024-10-31"),
                        ("GET /progress/throughput (month)", "/progress/throughput?since=2024-09-01&until=2024-12-31&by=month"),
                        ("GET /progress/throughput.xlsx (day)", "/progress/throughput.xlsx?since=2024-09-01&until=2024-12-31")):
        median, size = timed_get(client, path, args.runs)
        print(f"{label}: median {median:.1f} ms over {args.runs} runs ({size // 1024} KB)")


if __name__ == "__main__":
    main()
