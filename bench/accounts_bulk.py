"""Collection IDs in bulk: how long issuing a list takes on the web page with the production hash
(scrypt), how much of it is the activation codes' slow hashes (made with no transaction open), and
how long the write transaction that issues the IDs holds the database.

    .venv/bin/python bench/accounts_bulk.py [--rows 200] [--url sqlite:///... | postgresql+psycopg://...]

Builds a scratch database through the migrations (a temporary SQLite file by default; a PostgreSQL
URL is wiped), signs in an admin and posts a list to /admin/accounts/bulk with Flask's test client.
"""
from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event  # noqa: E402

from fieldapp import accounts  # noqa: E402
from fieldapp.extensions import db  # noqa: E402
from tests.builders import make_account, make_town, sign_in  # noqa: E402
from tests.roster_builders import list_csv  # noqa: E402
from scratch import scratch_app  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    app, url = scratch_app(args.url, tempfile.mkdtemp())
    with app.app_context():
        town, _villages = make_town()
        admin_id = make_account(town, "admin").collection_id
    rows = [[f"采集员{n:04d}", "采集员", "东村", None, f"138{n:08d}"] for n in range(args.rows)]
    client = app.test_client()
    sign_in(client, admin_id)

    hashing = []
    original = accounts.new_activations

    def timed(count):
        started = time.perf_counter()
        try:
            return original(count)
        finally:
            hashing.append(time.perf_counter() - started)

    transactions = []
    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.info["bench_began"] = time.perf_counter()

    @event.listens_for(engine, "commit")
    def _commit(conn):
        began = conn.info.pop("bench_began", None)
        if began is not None:
            transactions.append(time.perf_counter() - began)

    accounts.new_activations = timed
    started = time.perf_counter()
    response = client.post("/admin/accounts/bulk", data={"file": (io.BytesIO(list_csv(rows, "gbk")), "list.csv"),
                                                         "run": "1"}, content_type="multipart/form-data")
    total = time.perf_counter() - started
    accounts.new_activations = original
    assert response.status_code == 200, response.status_code
    letters = response.get_data(as_text=True).count('class="letter"')
    assert letters == args.rows
    print(f"{args.rows} IDs issued, {letters} letters, {len(response.get_data()) / 1024:.0f} KiB page: "
          f"{total:.1f} s in all; slow hashes {sum(hashing):.1f} s (no transaction open); "
          f"longest transaction {max(transactions):.2f} s")


if __name__ == "__main__":
    main()
