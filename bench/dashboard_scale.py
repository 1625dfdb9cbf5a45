"""The town dashboard's data at scale: everything a /progress request computes for a supervisor.

Builds a scratch database (SQLite by default, or --url for PostgreSQL) with bench/progress_scale.py's
fill (1,000,000 people, 300,000 houses, 28 villages), then adds what the dashboard reads besides
the counters: a 65-day campaign's daily rows per village (village_days), 60 collectors' daily work
(collector_days), 3,000 tips (300 open), 5,000 dashboard events. Times:

- data: scope.villages + progress.data.overview (as of a day inside the campaign, so the daily
  rows are summed too) + collectors() + daily_series() + chart.build() + the event cursor;
- page: the whole GET /progress through the test client (data + template), for reference.

And prints the query plans (EXPLAIN) of the three aggregates, to show they use indexes.

    .venv/bin/python bench/dashboard_scale.py
    .venv/bin/python bench/dashboard_scale.py --url postgresql+psycopg://postgres@127.0.0.1/scratch   # wiped
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import case, func, insert, select, text
from werkzeug.security import generate_password_hash

sys.path.insert(0, str(Path(__file__).parent))
from progress_scale import fill, scale_args  # noqa: E402
from scratch import scratch_app, timed  # noqa: E402

from fieldapp import live, scope  # noqa: E402
from fieldapp.extensions import db  # noqa: E402
from fieldapp.models import (Account, Campaign, CollectorDay, DashboardEvent, Phase, Tip, Town, Village,  # noqa: E402
                             VillageCounter, VillageDay)
from fieldapp.progress import chart, data  # noqa: E402
from fieldapp.rules.campaign import YUPING_2016  # noqa: E402

AS_OF = date(2016, 5, 20)


def add_dashboard_rows(collectors: int = 60, tips: int = 3000, events: int = 5000) -> None:
    town = db.session.scalar(select(Town))
    db.session.add(Campaign(town_id=town.id, name=YUPING_2016.name, start_date=YUPING_2016.start,
                            end_date=YUPING_2016.end,
                            phases=[Phase(name=p.name, start_date=p.start, end_date=p.end, target_share=p.target_share)
                                    for p in YUPING_2016.phases]))
    villages = list(db.session.scalars(select(Village).order_by(Village.sort_order)))
    counters = {c.village_id: c for c in db.session.scalars(select(VillageCounter))}
    days = [date(2016, 4, 27) + timedelta(days=i) for i in range(65)]
    db.session.execute(VillageDay.__table__.delete())
    rows = []
    for v in villages:  # spread each village's counters over the campaign's days
        c = counters[v.id]
        for i, day in enumerate(days):
            last = i == len(days) - 1
            rows.append({"village_id": v.id, "day": day,
                         "people": c.people // 65 + (c.people % 65 if last else 0),
                         "houses": c.houses // 65 + (c.houses % 65 if last else 0),
                         "orgs": c.orgs // 65 + (c.orgs % 65 if last else 0)})
    db.session.execute(insert(VillageDay.__table__), rows)
    pin = generate_password_hash("bench", method="pbkdf2:sha256:1000")
    accounts = [Account(collection_id=f"B-{n:04d}", name=f"采集员{n}", role="collector", town_id=town.id,
                        password_hash=pin, villages=[villages[n % len(villages)]]) for n in range(collectors)]
    supervisor = Account(collection_id="B-SUP", name="督导", role="supervisor", town_id=town.id, password_hash=pin)
    db.session.add_all([*accounts, supervisor])
    db.session.flush()
    db.session.execute(insert(CollectorDay.__table__), [
        {"account_id": a.id, "village_id": villages[n % len(villages)].id, "day": day, "records": 40 + n % 30,
         "door_proof": 30 + n % 10, "visits": 12, "scans": 10} for n, a in enumerate(accounts) for day in days])
    db.session.execute(insert(Tip.__table__), [
        {"uid": f"tip{n}", "village_id": villages[n % len(villages)].id, "kind": "move_in", "source": "informant",
         "submitted_at": datetime(2016, 5, 1), "received_at": datetime(2016, 5, 1), "due_on": date(2016, 5, 4 + n % 20),
         "state": "assigned" if n % 10 == 0 else "closed", "assigned_to_id": accounts[n % collectors].id,
         "version": 1} for n in range(tips)])
    db.session.execute(insert(DashboardEvent.__table__), [
        {"village_id": villages[n % len(villages)].id, "kind": "change", "at": datetime.utcnow()} for n in range(events)])
    db.session.commit()


def dashboard_data(account_id: int):
    """What GET /progress computes before rendering (progress/views.py overview)."""
    account = db.session.get(Account, account_id)
    villages = scope.villages(account)
    figures = data.overview(account.town, villages, AS_OF, with_total=True)
    ids = [v.id for v in villages]
    series = data.daily_series(ids, account.town.people_quota, figures.campaign, AS_OF)
    return figures, data.collectors(account.town_id, ids, AS_OF), chart.build(series), live.latest_event_id()


def explain(dialect: str, ids: list[int]) -> None:
    week = AS_OF - timedelta(days=AS_OF.weekday())
    queries = {
        "collector_days (per collector, this week)": select(
            CollectorDay.account_id, func.sum(case((CollectorDay.day == AS_OF, CollectorDay.records), else_=0)),
            func.sum(CollectorDay.records)).where(CollectorDay.village_id.in_(ids), CollectorDay.day >= week,
                                                  CollectorDay.day <= AS_OF).group_by(CollectorDay.account_id),
        "tips (open, per assignee)": select(Tip.assigned_to_id, func.count()).where(
            Tip.village_id.in_(ids), Tip.state.in_(("new", "assigned"))).group_by(Tip.assigned_to_id),
        "village_days (after as-of, per village)": select(VillageDay.village_id, func.sum(VillageDay.people)).where(
            VillageDay.village_id.in_(ids), VillageDay.day > AS_OF).group_by(VillageDay.village_id),
    }
    prefix = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN "
    for name, query in queries.items():
        sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
        plan = db.session.execute(text(prefix + sql)).all()
        print(f"  {name}:")
        for row in plan:
            print("    " + " | ".join(str(c) for c in row))


def main() -> None:
    args = scale_args()
    tmp = tempfile.TemporaryDirectory()
    app, url = scratch_app(args.url, tmp.name)
    with app.app_context():
        t0 = time.perf_counter()
        fill(args.people, args.houses)
        add_dashboard_rows()
        if url.startswith("postgresql"):
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
        load = time.perf_counter() - t0
        supervisor = db.session.scalar(select(Account.id).where(Account.collection_id == "B-SUP"))
        figures, collectors, _chart, _cursor = dashboard_data(supervisor)
        assert len(figures.rows) == 28 and len(collectors.rows) == 60
        assert figures.total.people.collected > 0
        fast, fast_cpu = timed(lambda: dashboard_data(supervisor), args.runs)
        dialect = db.engine.dialect.name
        ids = [r.village_id for r in figures.rows]
        db.session.rollback()
    client = app.test_client()
    client.post("/login", data={"collection_id": "B-SUP", "pin": "bench"})
    pages = []
    for _ in range(max(5, args.runs // 5)):
        t0 = time.perf_counter()
        response = client.get(f"/progress?as_of={AS_OF.isoformat()}")
        pages.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, response.status_code
    print(f"backend {dialect}, {args.people:,} people, {args.houses:,} houses, 28 villages, 60 collectors, "
          f"load {load:.1f} s")
    print(f"dashboard data: median {statistics.median(fast):.2f} ms, p95 {sorted(fast)[int(len(fast) * .95) - 1]:.2f} ms, "
          f"max {max(fast):.2f} ms over {len(fast)} runs; CPU time median {statistics.median(fast_cpu):.2f} ms")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"whole GET /progress (incl. template, {len(response.data) // 1024} KB): median "
          f"{statistics.median(pages):.1f} ms over {len(pages)} runs")
    with app.app_context():
        print("query plans:")
        explain(dialect, ids)


if __name__ == "__main__":
    main()
