"""Door labels: how long a house register import takes (check, then write every house through
records.create_house in one transaction) and how long a 120-label A4 sheet takes to render.

    .venv/bin/python bench/doors_import.py [--rows 5000] [--url sqlite:///... | postgresql+psycopg://...]

Builds a scratch database through the migrations (a temporary SQLite file by default; a PostgreSQL
URL is wiped), signs in a supervisor and drives the real pages with Flask's test client.
"""
from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.builders import make_account, make_town, sign_in  # noqa: E402
from tests.doors_builders import csv_bytes  # noqa: E402
from scratch import scratch_app  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    app, url = scratch_app(args.url, tempfile.mkdtemp(), TESTING=True, PASSWORD_HASH_METHOD="pbkdf2:sha256:1000",
                           DOOR_IMPORT_MAX_ROWS=max(args.rows, 5000))
    with app.app_context():
        town, (east, _west) = make_town()
        collection_id, village_id = make_account(town, "supervisor").collection_id, east.id
    per_group = 250
    rows = [["东村", str(1 + n // per_group), None, None, str(1 + n % per_group), None, None, "30.5", "110.3"]
            for n in range(args.rows)]
    data = csv_bytes(rows, "gb18030")
    client = app.test_client()
    sign_in(client, collection_id)

    def post(action):
        start, cpu = time.perf_counter(), time.process_time()
        response = client.post("/doors/import", data={"file": (io.BytesIO(data), "register.csv"), action: "1"},
                               content_type="multipart/form-data")
        return response.status_code, time.perf_counter() - start, time.process_time() - cpu

    status, checked, _cpu = post("check_only")
    assert status == 200, status
    status, imported, imported_cpu = post("run")
    assert status == 303, status
    timings = []
    for page in (1, 2, 3):
        start = time.perf_counter()
        response = client.get(f"/doors/villages/{village_id}/sheet?page={page}")
        timings.append(time.perf_counter() - start)
        assert response.status_code == 200
    print(f"{url.split(':', 1)[0]}: {args.rows} rows ({len(data) // 1024} KB GB18030 CSV)")
    # CPU time of this process too: on a shared, busy machine wall time mostly measures the wait.
    print(f"  check only: {checked:.2f} s; check and import: {imported:.2f} s wall, {imported_cpu:.2f} s CPU "
          f"({imported / args.rows * 1000:.1f} ms wall per house)")
    print(f"  120-label sheet: {min(timings) * 1000:.0f} ms (best of 3), {len(response.data) // 1024} KB")


if __name__ == "__main__":
    main()
