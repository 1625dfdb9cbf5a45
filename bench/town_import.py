"""Town set-up: how long `flask --app fieldapp town import` takes for a big town's workbook (check only,
first import, the same workbook again), through the real command.

    .venv/bin/python bench/town_import.py [--villages 300] [--sub-areas 20] [--url sqlite:///... | postgresql+psycopg://...]

Builds a scratch database through the migrations (a temporary SQLite file by default; a PostgreSQL
URL is wiped) and a workbook with one town, `--villages` villages with their quotas and
`--sub-areas` sub-areas (片区/楼组) in each.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select  # noqa: E402

from fieldapp.extensions import db  # noqa: E402
from fieldapp.models import SubArea, Town  # noqa: E402
from tests.test_townsetup import xlsx  # noqa: E402
from scratch import scratch_app  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--villages", type=int, default=300)
    parser.add_argument("--sub-areas", type=int, default=20)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    app, url = scratch_app(args.url, tempfile.mkdtemp(), TESTING=True)
    villages = [[f"V{i:05d}", f"第{i}村", "村"] for i in range(1, args.villages + 1)]
    sub_areas = [[v[0], f"{'A' if j % 2 else 'L'}{j}", f"{j}号{'片区' if j % 2 else '楼组'}", "片区" if j % 2 else "楼组"]
                 for v in villages for j in range(1, args.sub_areas + 1)]
    quotas = [[v[0], 1000 + n, 250 + n, None] for n, v in enumerate(villages)]
    data = xlsx({"town": [["name", "code", "county_code"], ["测试镇", "431226100", "431226"]],
                 "villages": [["code", "name", "kind"], *villages],
                 "sub_areas": [["village", "code", "name", "kind"], *sub_areas],
                 "quotas": [["village", "people", "houses", "organisations"], *quotas]})
    path = Path(tempfile.mkdtemp()) / "town.xlsx"
    path.write_bytes(data)
    runner = app.test_cli_runner()

    def run(*extra):
        start = time.perf_counter()
        result = runner.invoke(args=["town", "import", str(path), *extra])
        assert result.exit_code == 0, result.output
        return time.perf_counter() - start

    checked, first, again = run("--check"), run(), run()
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(SubArea))
        people = db.session.scalar(select(Town.people_quota))
    print(f"{url.split(':')[0]}: {args.villages} villages, {count} sub-areas, {len(data) // 1024} KB workbook; "
          f"check {checked:.2f} s, first import {first:.2f} s, same workbook again {again:.2f} s; town people quota {people:,}")


if __name__ == "__main__":
    main()
