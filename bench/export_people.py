"""Exports at scale: 1,000,000 people exported as .xlsx and as CSV (target: each within 60 s and
200 MB of resident memory).

Builds a scratch database (SQLite by default, or --url for PostgreSQL; it is wiped) with N people
(every field filled: names, valid resident ID numbers, phones, codes, dates, household registration
places), their residences (relation, some rooms), M houses and a supervisor, then runs each export
in a fresh child process, exactly as POST /exports does (exports.service.write into an unnamed
temporary file, under a read transaction, rows from a server-side cursor), and reports its wall time,
CPU time, peak RSS (ru_maxrss of the child) and file size. The child then checks the file: the CSV's
line count, or the .xlsx's first and last rows read back with openpyxl.

    .venv/bin/python bench/export_people.py --url postgresql+psycopg://postgres@127.0.0.1/scratch   # wiped
    .venv/bin/python bench/export_people.py --people 100000
    .venv/bin/python bench/export_people.py --url ... --reuse          # the data is already there
    .venv/bin/python bench/export_people.py --openpyxl 20000           # openpyxl write_only, for comparison

--sink null writes to a sink that drops the bytes (what a response streamed to a fast client costs)
instead of the temporary file, to compare the two.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from scratch import scratch_app  # noqa: E402

from sqlalchemy import func, insert, select  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

from fieldapp import create_app, records  # noqa: E402
from fieldapp.extensions import db  # noqa: E402
from fieldapp.models import Account, House, Person, Residence, Town, Village  # noqa: E402
from fieldapp.rules.identifiers import resident_id_check_digit  # noqa: E402

BATCH = 20_000
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉梅文斌辉鹏宇浩然子涵欣怡晨阳思雨佳琪"
COUNTIES = ("431226", "430102", "310115", "320106", "510104", "110105", "440305", "330106", "420106", "350203")
CATEGORIES = ("local", "local", "migrant", "migrant", "separated")
REASONS = ("work", "study", "family", "business", "other")
AWAY = ("lt6m", "6m_1y", "1y_2y", "2y_5y", "gt5y")
RELATIONS = ("02", "10", "20", "30", "51", "99")


def person_row(n: int, houses: int, vids: list[int], first_house: int) -> dict:
    county = COUNTIES[n % len(COUNTIES)]
    born = date(1950, 1, 1) + timedelta(days=(n // 1000) % 20000)
    body = f"{county}{born:%Y%m%d}{n % 1000:03d}"
    category = CATEGORIES[n % len(CATEGORIES)] if n % 100 else "abroad"
    house = n % houses
    return {"id": n + 1, "uid": f"p{n:07d}", "name": SURNAMES[n % len(SURNAMES)] + GIVEN[n % 37] + GIVEN[(n // 37) % 40],
            "sex": "1" if n % 1000 % 2 else "2", "id_type": "111" if category != "abroad" else "414",
            "id_number": body + resident_id_check_digit(body) if category != "abroad" else f"E{n:08d}",
            "birth_date": born, "ethnicity": "01" if n % 12 else "03", "nationality": "USA" if category == "abroad" else None,
            "phone": f"13{n % 10}{n:08d}", "hukou_division": county if category != "abroad" else None,
            "hukou_address": f"某县某镇{n % 90}村{n % 12}组" if category != "abroad" else None,
            "hukou_type": "2" if n % 3 else "1", "category": category, "move_in_date": date(2010, 1, 1) + timedelta(days=n % 2500),
            "move_in_reason": REASONS[n % 5] if category != "local" else None,
            "away_duration": AWAY[n % 5] if category in ("migrant", "separated") else None,
            "status": "living" if n % 10 else "left", "left_date": None if n % 10 else date(2016, 6, 1),
            "left_reason": None if n % 10 else "搬离", "house_id": first_house + house, "village_id": vids[house % len(vids)],
            "created_at": datetime(2016, 5, 1, 2, 0), "updated_at": datetime(2016, 5, 2, 3, 0), "version": 1}


def fill(people: int, houses: int, villages: int = 28) -> None:
    town = Town(code="431226101", name="基准镇", office="基准镇人民政府", county_code="431226", people_quota=people,
                houses_quota=houses, orgs_quota=400)
    db.session.add(town)
    db.session.flush()
    vs = [Village(town_id=town.id, code=f"431226101{i:03d}", name=f"第{i}村", sort_order=i) for i in range(villages)]
    db.session.add_all(vs)
    db.session.flush()
    vids = [v.id for v in vs]
    for start in range(0, houses, BATCH):
        db.session.execute(insert(House.__table__), [
            {"uid": f"h{n}", "village_id": vids[n % villages], "door_code": f"{n:08d}", "door_token": f"t{n}",
             "group_name": str(n % 12 + 1), "road": None if n % 4 else "人民路", "lane": None if n % 8 else str(n % 50),
             "number": str(n % 400 + 1), "building": None, "room": None if n % 5 else str(100 + n % 20),
             "address_key": f"k{n}", "use": ("owner", "rented", "group_rental", "vacant")[n % 4],
             "owner_name": "房东" + SURNAMES[n % 50], "owner_phone": f"139{n:08d}", "rental_registered": n % 2 == 0,
             "version": 1, "collected_at": datetime(2016, 5, 1, 2, 0)} for n in range(start, min(start + BATCH, houses))])
    first_house = db.session.scalar(select(func.min(House.id)))
    for start in range(0, people, BATCH):
        batch = [person_row(n, houses, vids, first_house) for n in range(start, min(start + BATCH, people))]
        db.session.execute(insert(Person.__table__), batch)
        db.session.execute(insert(Residence.__table__), [
            {"person_id": p["id"], "house_id": p["house_id"], "from_date": p["move_in_date"],
             "to_date": p["left_date"], "relation": RELATIONS[p["id"] % 6], "room": "B" if p["id"] % 7 == 0 else None}
            for p in batch])
        db.session.commit()
    db.session.add(Account(collection_id="B-SUP", name="督导", role="supervisor", town_id=town.id,
                           password_hash=generate_password_hash("bench", method="pbkdf2:sha256:1000")))
    records.recount()
    db.session.commit()


class NullSink:
    """Drops what is written: a response streamed to a client that reads as fast as it is written."""
    def __init__(self):
        self.size = 0

    def write(self, data) -> int:
        self.size += len(data)
        return len(data)

    def flush(self):
        pass

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self.size

    def close(self):
        pass

    @property
    def closed(self) -> bool:
        return False


def child(url: str, fmt: str, sink: str, preset: str) -> None:
    """One export in this (fresh) process; prints a JSON line of figures."""
    from fieldapp.exports import service

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.collection_id == "B-SUP"))
        _ = account.town
        request = service.Request(dataset="people", preset=preset, fmt=fmt, masked=True)
        out = NullSink() if sink == "null" else tempfile.TemporaryFile()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # the app, imported and connected
        t0, c0 = time.perf_counter(), time.process_time()
        count = service.write(account, request, out)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        size = out.tell()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        check = ""
        if sink != "null":
            out.seek(0)
            if fmt == "csv":
                lines = sum(1 for _ in out)
                assert lines == count + 1, (lines, count)
                check = f"{lines:,} lines"
            else:
                # Rows counted in the sheets' XML as it inflates (openpyxl would first scan a sheet
                # without a <dimension> to size it: minutes for a million rows; tests open small ones).
                import zipfile
                with zipfile.ZipFile(out) as book:
                    sheets = [n for n in book.namelist() if n.startswith("xl/worksheets/")]
                    lines = 0
                    for name in sheets:
                        with book.open(name) as sheet:
                            while chunk := sheet.read(1 << 22):
                                lines += chunk.count(b"</row>")
                assert lines == count + len(sheets), (lines, count)
                check = f"{len(sheets)} sheet(s), {lines:,} rows"
            out.close()
    print(json.dumps({"fmt": fmt, "sink": sink, "preset": preset, "rows": count, "wall": wall, "cpu": cpu,
                      "rss_mb": rss, "rss_before_mb": before, "size_mb": size / 2**20, "check": check}))


def openpyxl_rate(rows: int) -> None:
    """openpyxl's write_only mode with the same cells, for comparison (rows/s)."""
    import openpyxl

    from fieldapp.rules.export_columns import layout
    width = len(layout("people", "standard").headers)
    row = ["张三丰", "1", "男", "111", "居民身份证", "110105********0011", "19850312", "01", "汉族"] * (width // 9 + 1)
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("人员")
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(rows):
        sheet.append(row[:width])
    with tempfile.TemporaryFile() as out:
        book.save(out)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"openpyxl write_only: {rows:,} rows x {width} cells in {wall:.1f} s (CPU {cpu:.1f} s) = "
          f"{rows / cpu:,.0f} rows per CPU second (1,000,000 rows: {1_000_000 / (rows / cpu):.0f} CPU s)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--houses", type=int, default=300_000)
    parser.add_argument("--url", help="database URL (default: a temporary SQLite file); it is wiped")
    parser.add_argument("--reuse", action="store_true", help="keep the data already in --url")
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument("--preset", default="standard")
    parser.add_argument("--sink", default="file", choices=("file", "null"))
    parser.add_argument("--openpyxl", type=int, default=0, help="also time openpyxl write_only on this many rows")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.openpyxl:
        openpyxl_rate(args.openpyxl)
    tmp = tempfile.TemporaryDirectory()
    if args.reuse:
        url = args.url
    else:
        app, url = scratch_app(args.url, tmp.name)
        with app.app_context():
            t0 = time.perf_counter()
            fill(args.people, args.houses)
            if url.startswith("postgresql"):
                from sqlalchemy import text
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text("VACUUM ANALYZE"))
            print(f"filled {args.people:,} people, {args.houses:,} houses in {time.perf_counter() - t0:.0f} s")
            db.engine.dispose()
    print(f"backend {url.split(':')[0]}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for fmt in args.formats.split(","):
        out = subprocess.run([sys.executable, __file__, "--child", url, fmt, args.sink, args.preset],
                             capture_output=True, text=True, check=True)
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{fmt:4} ({args.preset}, {args.sink}): {figures['rows']:,} rows in {figures['wall']:.1f} s "
              f"(CPU {figures['cpu']:.1f} s), peak RSS {figures['rss_mb']:.0f} MB "
              f"({figures['rss_before_mb']:.0f} MB before the first row), file {figures['size_mb']:.0f} MB, "
              f"{figures['check']}")


if __name__ == "__main__":
    main()
