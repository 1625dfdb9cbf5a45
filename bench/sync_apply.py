"""Push apply rate: 1,000 households (1 house.new + 4 person.new each = 5,000 items) through the
real sync.push() on a scratch SQLite database built by the migrations, in batches of 200 (the
protocol's limit), compared with a raw sqlite3 executemany of the same rows into a plain table.

Two more figures explain the gap: the same push through the item-by-item path (--per-item), and
the floor: raw sqlite3 executemany of exactly the rows the push wrote (houses, people, residences,
changes, receipts, daily figures) into the real, indexed tables, one commit per 200 items, with no
validation at all. --url runs the push on PostgreSQL instead (the database is wiped), with its raw
baseline on the same PostgreSQL (the floors need SQLite copies and are left out there). Each round
is a fresh database, the push, then right after it the baselines, so both see the same machine.

    .venv/bin/python bench/sync_apply.py [--households 1000] [--rounds 3] [--profile] [--per-item] [--url URL]
"""
from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

from flask_migrate import upgrade

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fieldapp import MIGRATIONS, create_app, records, sync  # noqa: E402
from fieldapp.extensions import db  # noqa: E402
from fieldapp.models import Account, Town, Village  # noqa: E402
from fieldapp.rules.identifiers import resident_id_check_digit, resident_id_sex  # noqa: E402


def resident_id(n: int) -> str:
    body = f"110105{date(1950, 1, 1).toordinal() + n % 20000:06d}"[:6] + f"1985{(n % 12) + 1:02d}{(n % 28) + 1:02d}{n % 1000:03d}"
    return body + resident_id_check_digit(body)


def items(village_id: int, households: int) -> list[dict]:
    out, n = [], 0
    for h in range(households):
        house_uid = str(uuid.uuid4())
        out.append({"uid": str(uuid.uuid4()), "op": "house.new", "entity_uid": house_uid, "house_uid": None,
                    "village_id": village_id, "base_version": None,
                    "data": {"group_name": str(h // 100 + 1), "number": str(h + 1), "use": "owner",
                             "owner_name": "户主", "owner_phone": "13812345678"},
                    "known_on": "2016-05-01", "collected_at": "2016-05-02T09:30:00Z"})
        for _ in range(4):
            n += 1
            rid = resident_id(n)
            out.append({"uid": str(uuid.uuid4()), "op": "person.new", "entity_uid": str(uuid.uuid4()),
                        "house_uid": house_uid, "base_version": None,
                        "data": {"name": "张三", "id_type": "111", "id_number": rid,
                                 "sex": str(resident_id_sex(rid)), "ethnicity": "01", "hukou_type": "1",
                                 "category": "local", "move_in_date": "2016-01-01"},
                        "known_on": "2016-05-01", "collected_at": "2016-05-02T09:30:00Z"})
    return out


def flat_rows(batch: list[dict]) -> list[tuple]:
    return [(i["uid"], i["op"], i["entity_uid"], i.get("house_uid"), json.dumps(i["data"], ensure_ascii=False))
            for i in batch]


def raw_rate(batch: list[dict], path: Path) -> float:
    """The same rows as plain tuples into one plain table, executemany, one commit per 200 (WAL)."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE items (uid TEXT PRIMARY KEY, op TEXT, entity_uid TEXT, house_uid TEXT, data TEXT)")
    rate = insert_in_batches(conn, conn, "INSERT INTO items VALUES (?, ?, ?, ?, ?)", flat_rows(batch))
    conn.close()
    return rate


def insert_in_batches(conn, cursor, sql: str, rows: list[tuple]) -> float:
    """executemany of `rows` in batches of a push's size, a commit after each: rows per second."""
    t0 = time.perf_counter()
    for start in range(0, len(rows), sync.MAX_ITEMS):
        cursor.executemany(sql, rows[start:start + sync.MAX_ITEMS])
        conn.commit()
    return len(rows) / (time.perf_counter() - t0)


WRITTEN_TABLES = ("houses", "people", "residences", "changes", "sync_receipts", "collector_days", "village_days")
# Two lower bounds for the target's decision (bench/README.md): the floor without the idempotency
# receipts, and only the batch's own rows (its houses and people) into their real, indexed tables.
FLOOR_VARIANTS = {"all rows": WRITTEN_TABLES,
                  "without receipts": tuple(t for t in WRITTEN_TABLES if t != "sync_receipts"),
                  "houses and people only": ("houses", "people")}


def floor_rate(pushed: Path, template: Path, target: Path, items: int, written=WRITTEN_TABLES) -> float:
    """Raw sqlite3 executemany of the rows the push wrote (to the `written` tables), into a copy of
    the schema as it was before the push (same indexes), in as many transactions as the push had
    batches: items per second."""
    shutil.copy(template, target)
    source = sqlite3.connect(pushed)
    tables = {}
    for name in written:
        cursor = source.execute(f"SELECT * FROM {name}")
        tables[name] = ([c[0] for c in cursor.description], cursor.fetchall())
    source.close()
    conn = sqlite3.connect(target)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    batches = -(-items // sync.MAX_ITEMS)
    t0 = time.perf_counter()
    for b in range(batches):
        for name, (columns, rows) in tables.items():
            size = -(-len(rows) // batches)
            chunk = rows[b * size:(b + 1) * size]
            if chunk:
                conn.executemany(f"INSERT OR REPLACE INTO {name} ({', '.join(columns)}) VALUES "
                                 f"({', '.join('?' * len(columns))})", chunk)
        conn.commit()
    elapsed = time.perf_counter() - t0
    conn.close()
    return items / elapsed


def _wipe_postgresql(url: str) -> None:
    from sqlalchemy import create_engine, text
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


def raw_rate_postgresql(batch: list[dict], url: str) -> float:
    """raw_rate on PostgreSQL: the same tuples into a plain table of the same database."""
    from sqlalchemy import create_engine
    engine = create_engine(url)
    conn = engine.raw_connection()
    try:
        cur = conn.cursor()
        cur.execute("CREATE TABLE bench_items (uid TEXT PRIMARY KEY, op TEXT, entity_uid TEXT, house_uid TEXT, "
                    "data TEXT)")
        conn.commit()
        rate = insert_in_batches(conn, cur, "INSERT INTO bench_items VALUES (%s, %s, %s, %s, %s)", flat_rows(batch))
        cur.execute("DROP TABLE bench_items")
        conn.commit()
    finally:
        conn.close()
        engine.dispose()
    return rate


def one_round(args, scratch: Path, profiler) -> dict:
    """A fresh database, the push, then (same round, right after) its raw baseline and floors."""
    if args.url:
        _wipe_postgresql(args.url)
    for name in ("bench.sqlite", "template.sqlite", "raw.sqlite", "floor.sqlite"):
        for suffix in ("", "-wal", "-shm", "-writer.lock"):
            (scratch / (name + suffix)).unlink(missing_ok=True)
    url = args.url or f"sqlite:///{scratch / 'bench.sqlite'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    with app.app_context():
        upgrade(directory=MIGRATIONS)
        town = Town(code="B", name="基准镇", office="基准镇")
        village = Village(town=town, code="B01", name="基准村")
        db.session.add_all([town, village])
        db.session.flush()
        records.ensure_counters([village.id])
        account = Account(collection_id="B-0001", name="采集员", role="collector", town_id=town.id, villages=[village])
        db.session.add(account)
        db.session.commit()
        if not args.url:
            db.engine.dispose()
            shutil.copy(scratch / "bench.sqlite", scratch / "template.sqlite")
        batch = items(village.id, args.households)
        t0 = time.perf_counter()
        if profiler:
            profiler.enable()
        statuses = {}
        for start in range(0, len(batch), sync.MAX_ITEMS):
            for result in sync.push(account, None, batch[start:start + sync.MAX_ITEMS], bulk=not args.per_item):
                statuses[result["status"]] = statuses.get(result["status"], 0) + 1
        if profiler:
            profiler.disable()
        elapsed = time.perf_counter() - t0
        assert statuses == {"accepted": len(batch)}, statuses
        db.engine.dispose()
    figures = {"items": len(batch), "push": len(batch) / elapsed, "seconds": elapsed}
    figures["raw"] = raw_rate_postgresql(batch, args.url) if args.url else raw_rate(batch, scratch / "raw.sqlite")
    if not args.url:
        for label, written in FLOOR_VARIANTS.items():
            figures[label] = floor_rate(scratch / "bench.sqlite", scratch / "template.sqlite",
                                        scratch / "floor.sqlite", len(batch), written)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--households", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="push, then its baselines, this many times")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--per-item", action="store_true", help="force the item-by-item path")
    parser.add_argument("--url", help="run the push on this (wiped) PostgreSQL database")
    parser.add_argument("sort", nargs="?", default="cumulative")
    parser.add_argument("--callers", action="store_true", help="with --profile: who calls the costly internals")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="fieldapp-bench-"))
    profiler = cProfile.Profile() if args.profile else None
    backend = "PostgreSQL" if args.url else "SQLite"
    path = "item by item" if args.per_item else "bulk path"
    rounds = [one_round(args, scratch, profiler) for _ in range(args.rounds)]
    print(f"items: {rounds[0]['items']} ({args.households} households: 1 house.new + 4 person.new each), "
          f"{args.rounds} rounds, each: push, then the baselines on the same {backend}")
    for n, r in enumerate(rounds, 1):
        line = (f"round {n}: sync.push ({path}) {r['push']:,.0f} items/s ({r['seconds']:.2f} s); raw executemany "
                f"into a plain table {r['raw']:,.0f} rows/s (push/raw {r['push'] / r['raw']:.4f})")
        for label in FLOOR_VARIANTS:
            if label in r:
                line += f"; floor ({label}) {r[label]:,.0f} items/s, push/floor {r['push'] / r[label]:.3f}"
        print(line)
    median = statistics.median
    print(f"median push {median(r['push'] for r in rounds):,.0f} items/s; push/raw "
          f"{median(r['push'] / r['raw'] for r in rounds):.4f}", end="")
    for label in FLOOR_VARIANTS:
        if label in rounds[0]:
            print(f"; push/floor ({label}) {median(r['push'] / r[label] for r in rounds):.3f}", end="")
    print()
    if profiler:
        pstats.Stats(profiler).sort_stats(sys.argv[-1] if sys.argv[-1] in ("tottime", "cumulative") else "cumulative").print_stats(30)
        if "--callers" in sys.argv:
            pstats.Stats(profiler).print_callers("_literal_coercion|_init_compiled|iterencode")


if __name__ == "__main__":
    main()
