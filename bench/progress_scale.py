"""Progress figures at scale: the supervisor page's data with N people and M houses.

Builds a scratch database (SQLite by default, or --url for PostgreSQL) through the migrations,
fills it with synthetic rows using plain executemany, keeps the counters consistent with
records.recount(), then times progress.data.overview() (what the page calls: maintained counters)
against the naive alternative (COUNT(*) ... GROUP BY village over the people table).

    .venv/bin/python bench/progress_scale.py                 # 1,000,000 people, 300,000 houses
    .venv/bin/python bench/progress_scale.py --people 100000 --url postgresql+psycopg://postgres@127.0.0.1/bench
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import date

from sqlalchemy import func, insert, select

from fieldapp import records
from scratch import bench_town, scratch_app
from fieldapp.extensions import db
from fieldapp.models import House, Person, Town, Village
from fieldapp.progress.data import overview

BATCH = 20_000


def fill(people: int, houses: int, villages: int = 28) -> None:
    vs = bench_town(people, houses, 400, villages)
    vids = [v.id for v in vs]
    for start in range(0, houses, BATCH):
        db.session.execute(insert(House.__table__), [
            {"uid": f"h{n}", "village_id": vids[n % villages], "door_code": f"{n:08d}", "door_token": f"t{n}",
             "number": str(n), "address_key": f"k{n}", "rental_registered": False, "version": 1,
             "collected_at": None if n % 3 else date(2016, 5, 1)} for n in range(start, min(start + BATCH, houses))])
    first_house = db.session.scalar(select(func.min(House.id)))
    for start in range(0, people, BATCH):
        db.session.execute(insert(Person.__table__), [
            {"uid": f"p{n}", "name": "某", "sex": "1", "id_type": "111", "id_number": f"{n:018d}", "category": "local",
             "status": "living" if n % 10 else "left", "house_id": first_house + n % houses,
             "village_id": vids[n % villages], "version": 1} for n in range(start, min(start + BATCH, people))])
    records.recount()
    db.session.commit()


def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        db.session.expire_all()
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
        db.session.rollback()
    return out


def scale_args() -> argparse.Namespace:
    """The command line of the scale benchmarks (this one and dashboard_scale.py)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--houses", type=int, default=300_000)
    parser.add_argument("--url", help="database URL (default: a temporary SQLite file); it is wiped")
    parser.add_argument("--runs", type=int, default=50)
    return parser.parse_args()


def main() -> None:
    args = scale_args()
    tmp = tempfile.TemporaryDirectory()
    app, url = scratch_app(args.url, tmp.name)
    with app.app_context():
        t0 = time.perf_counter()
        fill(args.people, args.houses)
        load = time.perf_counter() - t0
        town_id = db.session.scalar(select(Town.id))
        today = date(2016, 5, 20)

        def counters():
            """What a progress request does: load the town and its villages, read the counters."""
            town = db.session.get(Town, town_id)
            villages = list(db.session.scalars(select(Village).where(Village.town_id == town_id)
                                               .order_by(Village.sort_order)))
            return overview(town, villages, today, with_total=True, today=today)  # as of today: no roll-back

        def naive():
            return db.session.execute(select(Person.village_id, func.count()).where(Person.status == "living")
                                      .group_by(Person.village_id)).all()

        fast, slow = timed(counters, args.runs), timed(naive, max(3, args.runs // 10))
        check = counters()
        assert check.total.people.collected == sum(n for _v, n in naive())
    print(f"backend {url.split(':')[0]}, {args.people:,} people, {args.houses:,} houses, load {load:.1f} s")
    print(f"overview (counters): median {statistics.median(fast):.2f} ms, max {max(fast):.2f} ms over {len(fast)} runs")
    print(f"naive GROUP BY count: median {statistics.median(slow):.1f} ms over {len(slow)} runs")


if __name__ == "__main__":
    main()
