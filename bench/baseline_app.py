"""The bare baseline for bench/ingest.py: a minimal Flask + SQLAlchemy app with one endpoint,
`POST /api/sync/push`, that upserts the rows a phone's batch describes and nothing else.

It answers the same URL, body and result shape as fieldapp's push (docs/sync-protocol.md), so the
bench drives both with the same client, and it writes into the same database fieldapp's migrations
and demo built (a copy of the same template, same tables, same indexes), under the same gunicorn
settings (`gunicorn -c gunicorn.conf.py --pythonpath bench "baseline_app:create_app()"`).

Per push it does what a bare CRUD app would: look the bearer token up (one SELECT on the devices
table by the token's SHA-256, as the devices table stores it), then in one transaction
- `house.new`  -> upsert into `houses` by uid (a fresh door code and token for a new row),
- `person.new` -> look up the houses' ids, upsert into `people` by uid, and a `residences` row for
  each person inserted,
one executemany per table, one commit. No validation beyond parsing, no change history, no
receipts, no counters. Any other op is answered `rejected`/`bad_item`.

SQLite gets the engine rules fieldapp also uses (WAL, busy timeout, synchronous NORMAL, write
transactions begun with BEGIN IMMEDIATE): without them a bare app fails "database is locked" at
once under several workers, which would make a poor baseline. The pool is Flask-SQLAlchemy's
default, as in fieldapp. The app imports nothing from fieldapp: the tables are reflected.
"""
from __future__ import annotations

import hashlib
import os
import secrets
from datetime import date, datetime, UTC

from flask import Flask, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, Table, event, select

db = SQLAlchemy()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _day(value):
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _text(value, limit):
    if value is None or value == "":
        return None
    return str(value)[:limit]


HOUSE_TEXT = {"group_name": 32, "road": 64, "lane": 32, "number": 32, "building": 32, "room": 32, "use": 16,
              "owner_name": 64, "owner_phone": 16, "tenant_name": 64, "tenant_phone": 16, "rental_record_no": 32}
PERSON_TEXT = {"name": 64, "sex": 1, "id_type": 3, "id_number": 32, "ethnicity": 2, "nationality": 3, "phone": 16,
               "hukou_division": 6, "hukou_address": 128, "hukou_type": 1, "category": 16, "move_in_reason": 16,
               "away_duration": 8}


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["BASELINE_DATABASE_URI"]
    db.init_app(app)
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            _sqlite_rules(engine)
        meta = MetaData()
        tables = {name: Table(name, meta, autoload_with=engine) for name in ("houses", "people", "residences", "devices")}
    if engine.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as upsert
    else:
        from sqlalchemy.dialects.postgresql import insert as upsert
    houses, people, residences, devices = (tables[n] for n in ("houses", "people", "residences", "devices"))
    house_update = [n for n in HOUSE_TEXT] + ["village_id", "updated_at"]
    person_update = [n for n in PERSON_TEXT] + ["birth_date", "move_in_date", "house_id", "village_id", "updated_at"]
    house_upsert = upsert(houses)
    house_upsert = house_upsert.on_conflict_do_update(
        index_elements=[houses.c.uid], set_={n: house_upsert.excluded[n] for n in house_update})
    person_upsert = upsert(people)
    person_upsert = person_upsert.on_conflict_do_update(
        index_elements=[people.c.uid], set_={n: person_upsert.excluded[n] for n in person_update}).returning(
        people.c.id, people.c.uid, people.c.created_at, sort_by_parameter_order=True)

    @app.post("/api/sync/push")
    def push():
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        digest = hashlib.sha256(token.strip().encode()).hexdigest()
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            return jsonify({"error": "bad_request", "message": "items"}), 400
        if len(body["items"]) > 200:
            return jsonify({"error": "too_many_items", "message": "at most 200"}), 413
        now = _now()
        results, house_rows, person_rows, person_meta = [], [], [], []
        for item in body["items"]:
            op = item.get("op") if isinstance(item, dict) else None
            data = item.get("data") if isinstance(item, dict) else None
            if op not in ("house.new", "person.new") or not isinstance(data, dict) or not item.get("entity_uid"):
                results.append({"uid": item.get("uid") if isinstance(item, dict) else None, "status": "rejected",
                                "code": "bad_item"})
                continue
            results.append({"uid": item["uid"], "status": "accepted", "record": {"uid": item["entity_uid"], "version": 1}})
            if op == "house.new":
                row = {n: _text(data.get(n), size) for n, size in HOUSE_TEXT.items()}
                row.update(uid=item["entity_uid"], village_id=item.get("village_id"),
                           door_code="B" + secrets.token_hex(6).upper(), door_token=secrets.token_urlsafe(24),
                           address_key=" ".join(str(data.get(n) or "") for n in ("group_name", "road", "lane",
                                                                                 "number", "building", "room")).lower(),
                           rental_registered=bool(data.get("rental_registered")), collected_at=now, created_at=now,
                           updated_at=now, version=1)
                house_rows.append(row)
            else:
                row = {n: _text(data.get(n), size) for n, size in PERSON_TEXT.items()}
                row.update(uid=item["entity_uid"], birth_date=_day(data.get("birth_date")),
                           move_in_date=_day(data.get("move_in_date")), status="living", created_at=now,
                           updated_at=now, version=1, sex=row["sex"] or "0")
                person_rows.append(row)
                person_meta.append((item.get("house_uid"), data.get("relation"), data.get("room")))
        with db.engine.begin() as conn:
            if conn.execute(select(devices.c.id).where(devices.c.token_hash == digest,
                                                       devices.c.revoked_at.is_(None))).first() is None:
                return jsonify({"error": "unknown_device", "message": "unknown device"}), 401
            if house_rows:
                conn.execute(house_upsert, house_rows)
            if person_rows:
                wanted = {h for h, _r, _m in person_meta if h}
                where = dict((uid, (hid, vid)) for hid, uid, vid in conn.execute(
                    select(houses.c.id, houses.c.uid, houses.c.village_id).where(houses.c.uid.in_(wanted))))
                keep, meta = [], []
                for row, (house_uid, relation, room) in zip(person_rows, person_meta):
                    if house_uid not in where:
                        continue  # a real app would hold it; the bench never sends one
                    row["house_id"], row["village_id"] = where[house_uid]
                    keep.append(row)
                    meta.append((relation, room))
                if keep:
                    saved = conn.execute(person_upsert, keep).all()
                    fresh = [{"person_id": pid, "house_id": row["house_id"], "from_date": row["move_in_date"],
                              "relation": _text(relation, 2), "room": _text(room, 32)}
                             for (pid, _uid, created), row, (relation, room) in zip(saved, keep, meta)
                             if created == now]
                    if fresh:
                        conn.execute(residences.insert(), fresh)
        return jsonify({"results": results})

    @app.get("/api/ping")
    def ping():
        return "", 204

    return app


def _sqlite_rules(engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA busy_timeout = 60000")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


if __name__ == "__main__":  # a quick manual check: BASELINE_DATABASE_URI=... python bench/baseline_app.py
    create_app().run(port=8099)
