"""Backup and restore at scale: `flask --app fieldapp backup` and `restore` (docs/backup.md) on a
database of N people and M houses with P photo files, as an operator runs them (separate processes).

Fills a scratch database like progress_scale.py (SQLite by default, or --url for PostgreSQL, which is
wiped; the restore goes into <database>_restore, made and dropped), writes P random 100 KB "photos",
then times the backup and a restore into a fresh instance folder, with each process's peak memory.

    .venv/bin/python bench/backup_scale.py --people 300000 --houses 90000 --photos 1000
    .venv/bin/python bench/backup_scale.py --url postgresql+psycopg://postgres@127.0.0.1/scratch_bench
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from fieldapp.extensions import db
from progress_scale import fill
from scratch import scratch_app

ROOT = Path(__file__).resolve().parent.parent


def run(args: list[str], env: dict) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (MB) of the child, its output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "fieldapp", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{args} failed:\n{done.stdout}\n{done.stderr}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) // 1024, done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--houses", type=int, default=300_000)
    parser.add_argument("--photos", type=int, default=1_000)
    parser.add_argument("--url", help="PostgreSQL URL (wiped); default a temporary SQLite file")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    work = Path(tmp.name)
    app, url = scratch_app(args.url, tmp.name)
    t0 = time.perf_counter()
    with app.app_context():
        fill(args.people, args.houses)
        db.engine.dispose()
    photos = work / "photos"
    photos.mkdir()
    for n in range(args.photos):
        (photos / f"{n:08d}-0000-4000-8000-000000000000.jpg").write_bytes(os.urandom(100_000))
    print(f"filled {args.people} people, {args.houses} houses, {args.photos} photos in {time.perf_counter() - t0:.0f} s")

    base = {k: v for k, v in os.environ.items() if not k.startswith("FIELDAPP_")}
    source = {**base, "FIELDAPP_SQLALCHEMY_DATABASE_URI": url, "FIELDAPP_SECRET_KEY": "bench",
              "FIELDAPP_INSTANCE_PATH": str(work / "source"), "FIELDAPP_PHOTO_DIR": str(photos)}
    archive = work / "bench.tar.gz"
    seconds, rss, out = run(["backup", str(archive)], source)
    print(out)
    print(f"backup: {seconds:.1f} s, peak RSS {rss} MB, archive {archive.stat().st_size / 1e6:.0f} MB")

    admin = None
    if url.startswith("postgresql"):
        target_url = make_url(url).set(database=make_url(url).database + "_restore")
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{target_url.database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{target_url.database}"'))
        target_url = target_url.render_as_string(hide_password=False)
    else:
        (work / "target").mkdir()
        target_url = f"sqlite:///{work / 'target' / 'fieldapp.sqlite'}"
    target = {**base, "FIELDAPP_SQLALCHEMY_DATABASE_URI": target_url, "FIELDAPP_INSTANCE_PATH": str(work / "target"),
              "FIELDAPP_PHOTO_DIR": str(work / "target-photos")}
    try:
        seconds, rss, out = run(["restore", str(archive)], target)
        print(out)
        print(f"restore: {seconds:.1f} s, peak RSS {rss} MB")
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(target_url).database}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
