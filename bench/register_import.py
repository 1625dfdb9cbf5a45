"""People register import: time and peak memory of `flask --app fieldapp import-people FILE` for a
big register (100,000 people by default), --check and the import itself, each in a fresh process.

    .venv/bin/python bench/register_import.py [--people 100000] [--url sqlite:///... | postgresql+psycopg://...]

Builds a scratch database through the migrations (a temporary SQLite file by default; a PostgreSQL
URL is wiped), two villages with one house per four people (registered through records.insert_new,
as imported or collected houses are; with --new-houses none, and the import creates them), and a GB18030 CSV of the people as a clerk's register would
have them (every column of the template filled, a quarter of them migrants). Then it runs the real
command (through Flask's CLI runner) in a child process per phase and reports wall time, CPU time and
the child's peak RSS. Finally it checks the counters against `records.recount()`.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PER_HOUSE = 4


def _app(url: str):
    from fieldapp import create_app
    return create_app({"TESTING": True, "SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": url})


def build(url: str, people: int, path: Path, new_houses: bool = False) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import create_engine, text

    from fieldapp import records
    from fieldapp.extensions import db
    from fieldapp.models import new_uid
    from fieldapp.rules.identifiers import resident_id_check_digit
    from tests.builders import make_town
    from tests.register_builders import PEOPLE_HEADER, csv_bytes, person_row

    if url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
    app = _app(url)
    with app.app_context():
        upgrade()
        _town, villages = make_town()
        houses = 0 if new_houses else people // PER_HOUSE + 1
        actor = records.Actor(None, "import")
        for start in range(0, houses, 5000):
            batch = [records.NewRecord(entity="house", actor=actor, uid=new_uid(), village_id=villages[n % 2].id,
                                       data={"group_name": str(1 + n // 500), "number": str(1 + n % 500)})
                     for n in range(start, min(houses, start + 5000))]
            records.insert_new(batch, {})
        db.session.commit()
    rows = []
    births = [f"19{60 + n % 40:02d}{1 + n % 12:02d}{1 + n % 28:02d}" for n in range(400)]
    counties = ["110105", "431121", "310115", "440305", "510104"]
    for n in range(people):
        house = n // PER_HOUSE
        village = "东村" if house % 2 == 0 else "西村"
        # Distinct by construction: (birth, county) cycles through 2,000 pairs, the serial counts the cycles.
        body = f"{counties[(n // 400) % 5]}{births[n % 400]}{2 * (n // 2000) + n % 2:03d}"
        number = body + resident_id_check_digit(body)
        migrant = n % 4 == 3
        rows.append(person_row(number, village=village, group=str(1 + house // 500), number=str(1 + house % 500),
                               create="是" if new_houses and n % PER_HOUSE == 0 else "",
                               name=f"人员{n}", phone=f"139{n:08d}", ethnicity="汉族",
                               category="外来人口" if migrant else "户籍人口",
                               relation="户主" if n % PER_HOUSE == 0 else "子",
                               reason="务工" if migrant else "", away="一年至两年" if migrant else ""))
    path.write_bytes(csv_bytes(rows, PEOPLE_HEADER, "gb18030"))


def phase(url: str, path: Path, check_only: bool) -> None:
    """In the child: run the command, print wall, CPU and peak RSS as JSON."""
    app = _app(url)
    runner = app.test_cli_runner()
    start, cpu = time.perf_counter(), time.process_time()
    result = runner.invoke(args=["import-people", str(path), "--max-rows", "1000000"]
                           + (["--check"] if check_only else []))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    if result.exit_code != 0:
        print(result.output[-3000:], file=sys.stderr)
        raise SystemExit(1)
    print(json.dumps({"wall": wall, "cpu": cpu, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "output": result.output.strip().splitlines()[-1]}))


def recount_matches(url: str) -> tuple[bool, int]:
    from sqlalchemy import func, select

    from fieldapp import records
    from fieldapp.extensions import db
    from fieldapp.models import Person, VillageCounter

    app = _app(url)
    with app.app_context():
        before = {c.village_id: (c.people, c.houses, c.orgs) for c in db.session.scalars(select(VillageCounter))}
        counted = records.recount()
        db.session.rollback()
        return before == counted, db.session.scalar(select(func.count()).select_from(Person))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--url", default=None)
    parser.add_argument("--new-houses", action="store_true",
                        help="register no house first: the file's first row per address says 新建房屋=是")
    parser.add_argument("--phase", choices=["check", "import"], help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        phase(args.url, Path(args.file), args.phase == "check")
        return
    url = args.url or "sqlite:///" + str(Path(tempfile.mkdtemp()) / "bench.sqlite")
    path = Path(tempfile.mkdtemp()) / "people.csv"
    start = time.perf_counter()
    build(url, args.people, path, args.new_houses)
    houses = -(-args.people // PER_HOUSE) if args.new_houses else args.people // PER_HOUSE + 1
    print(f"{url.split(':', 1)[0]}: {args.people} people, {houses} houses "
          f"({'created by the import' if args.new_houses else 'registered before'}), "
          f"{path.stat().st_size // 1024} KB GB18030 CSV (built in {time.perf_counter() - start:.0f} s)")
    for name in ("check", "import"):
        out = subprocess.run([sys.executable, __file__, "--phase", name, "--url", url, "--file", str(path)],
                             capture_output=True, text=True, cwd=ROOT)
        if out.returncode != 0:
            raise SystemExit(f"{name} failed:\n{out.stderr[-5000:]}")
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"  {name}: {figures['wall']:.1f} s wall, {figures['cpu']:.1f} s CPU, peak RSS {figures['rss_mb']:.0f} MB "
              f"({figures['wall'] / args.people * 1000:.2f} ms wall per person) -- {figures['output']}")
    same, count = recount_matches(url)
    print(f"  people in the register: {count}; counters equal recount: {same}")


if __name__ == "__main__":
    main()
