"""What every database benchmark starts from: the app on a scratch database, wiped and migrated."""
from __future__ import annotations

import time
from pathlib import Path

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import text

from fieldapp import MIGRATIONS, create_app
from fieldapp.extensions import db
from fieldapp.models import Town, Village


def scratch_app(url: str | None, tmp_dir: str, **config) -> tuple[Flask, str]:
    """The app on `url` (PostgreSQL: its public schema is dropped first) or, without one, on a new
    SQLite file in `tmp_dir`; migrated to the newest schema. `config`: more app settings (TESTING,
    PASSWORD_HASH_METHOD, ...). Returns the app and the URL used."""
    url = url or f"sqlite:///{Path(tmp_dir) / 'bench.sqlite'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False, **config})
    with app.app_context():
        if url.startswith("postgresql"):
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade(directory=MIGRATIONS)
    return app, url


def bench_town(people: int, houses: int, orgs: int, villages: int) -> list[Village]:
    """The scale benchmarks' town 基准镇 (code B) with these quotas and `villages` villages 村0, 村1, ...
    (codes B00, B01, ...) sharing them; flushed, not committed."""
    town = Town(code="B", name="基准镇", office="基准镇", people_quota=people, houses_quota=houses, orgs_quota=orgs)
    db.session.add(town)
    db.session.flush()
    vs = [Village(town_id=town.id, code=f"B{i:02d}", name=f"村{i}", people_quota=people // villages,
                  houses_quota=houses // villages, sort_order=i) for i in range(villages)]
    db.session.add_all(vs)
    db.session.flush()
    return vs


def timed(fn, runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock and this process's CPU milliseconds of each of `runs` calls of `fn`, each on a fresh
    session (expired before, rolled back after). CPU time stays meaningful when other work shares the
    machine; on SQLite it is the whole work (the database runs in this process), on PostgreSQL the
    server's time is only in the wall clock."""
    wall, cpu = [], []
    for _ in range(runs):
        db.session.expire_all()
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        db.session.rollback()
    return wall, cpu
