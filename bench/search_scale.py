"""Search latency at a million people (fieldapp/search), on SQLite or PostgreSQL.

Builds a scratch database (SQLite by default, or --url for PostgreSQL; it is wiped) through the
migrations and fills it with plain executemany: 1,000,000 people with Chinese names drawn like real
ones (100 common surnames weighted by frequency, one- or two-character given names from 240 common
characters), valid resident ID numbers and mobile numbers; 300,000 houses with valid door codes and
group/number addresses; 20,000 organisations with valid credit codes; 28 villages.

Then times fieldapp.search.service.search() (everything a POST /search does but the template and
the audit row) for a town-wide supervisor (all 1,000,000 people) and a village collector (one
village, about 36,000 people), for each kind of query, and one whole POST /search through the test
client (form, search, audit row, page). Prints median and 95th percentile in ms, and the query plans
(EXPLAIN) of the name, phone and document lookups.

    .venv/bin/python bench/search_scale.py
    .venv/bin/python bench/search_scale.py --url postgresql+psycopg://postgres@127.0.0.1/scratch_search
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, select, text

sys.path.insert(0, str(Path(__file__).parent))
from scratch import bench_town, scratch_app, timed  # noqa: E402

from fieldapp import records  # noqa: E402
from fieldapp.extensions import db  # noqa: E402
from fieldapp.models import Account, House, Organisation, Person  # noqa: E402
from fieldapp.rules.address import address_key  # noqa: E402
from fieldapp.rules.doorcode import check_character  # noqa: E402
from fieldapp.rules.identifiers import resident_id_check_digit, uscc_check_char  # noqa: E402
from fieldapp.rules.search import classify  # noqa: E402
from fieldapp.search import service  # noqa: E402

BATCH = 20_000
# The 100 commonest surnames, most frequent first (weights fall off like the census shares).
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
            "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN = ("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉斌宇浩凯健俊帆帅旭宁"
         "龙林欣婷雪琳晨阳佳怡嘉瑞子轩梓涵一诺欣怡浩然宇轩雨泽思远博文天佑俊杰志强建国建华国华国强海燕春梅"
         "秋菊冬梅丽华文华红梅小红小明小军德华德明晓东晓明晓燕永强永红永明永刚金凤金花金龙玉兰玉梅玉珍淑珍"
         "淑英淑兰桂兰桂芳秀珍秀芳凤英凤兰兰英翠兰翠英荣华立新立军卫东卫国卫红少华少军宏伟振华振国")
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
DOOR_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTWXYZ"


def base(n: int, alphabet: str, width: int) -> str:
    out = []
    for _ in range(width):
        n, r = divmod(n, len(alphabet))
        out.append(alphabet[r])
    return "".join(reversed(out))


def door_code(n: int) -> str:
    payload = base(n * 7919 + 12345, DOOR_ALPHABET, 7)
    return payload + check_character(payload)


def resident_id(n: int, rng: random.Random) -> str:
    body = f"3101{n % 100:02d}{1940 + rng.randrange(70)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}{n % 1000:03d}"
    body = body[:17]
    return body + resident_id_check_digit(body)


def person_name(rng: random.Random, weights: list[float]) -> str:
    surname = rng.choices(SURNAMES, weights)[0]
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
    return surname + given


def fill(people: int, houses: int, orgs: int, villages: int = 28, seed: int = 2016) -> dict:
    """Fill the database; returns a few real values to search for."""
    rng = random.Random(seed)
    weights = [1 / (i + 5) for i in range(len(SURNAMES))]
    vs = bench_town(people, houses, orgs, villages)
    vids, vnames = [v.id for v in vs], [v.name for v in vs]
    for start in range(0, houses, BATCH):
        rows = []
        for n in range(start, min(start + BATCH, houses)):
            parts = {"group_name": str(n // villages % 20 + 1), "number": str(n // villages // 20 + 1)}
            rows.append({"uid": f"h{n}", "village_id": vids[n % villages], "door_code": door_code(n),
                         "door_token": f"t{n}", **parts, "address_key": address_key(parts, vnames[n % villages]),
                         "rental_registered": False, "version": 1})
        db.session.execute(insert(House.__table__), rows)
    first_house = db.session.scalar(select(House.id).order_by(House.id).limit(1))
    sample = {}
    id_numbers = set()
    for start in range(0, people, BATCH):
        rows = []
        for n in range(start, min(start + BATCH, people)):
            number = resident_id(n, rng)
            while number in id_numbers:
                number = resident_id(n + rng.randrange(10**6), rng)
            id_numbers.add(number)
            house = n % houses
            rows.append({"uid": f"p{n}", "name": person_name(rng, weights), "sex": "1", "id_type": "111",
                         "id_number": number, "phone": f"13{n:09d}", "category": "local",
                         "status": "living" if n % 10 else "left", "house_id": first_house + house,
                         "village_id": vids[house % villages], "version": 1})
        db.session.execute(insert(Person.__table__), rows)
        if start == 0:
            sample["person"] = rows[1234]
    for start in range(0, orgs, BATCH):
        rows = []
        for n in range(start, min(start + BATCH, orgs)):
            body = "92310115" + base(n * 104729 + 7, USCC_ALPHABET, 9)
            rows.append({"uid": f"o{n}", "village_id": vids[n % villages], "house_id": first_house + n * 13 % houses,
                         "name": f"{rng.choice(SURNAMES)}{rng.choice(GIVEN)}{('五金店', '小吃店', '制衣厂', '超市')[n % 4]}{n}",
                         "kind": "shop", "uscc": body + uscc_check_char(body), "status": "open", "version": 1})
        db.session.execute(insert(Organisation.__table__), rows)
        if start == 0:
            sample["org"] = rows[77]
    records.recount()
    db.session.add_all([Account(collection_id="B-SUP", name="督导", role="supervisor", town_id=vs[0].town_id),
                        Account(collection_id="B-COL", name="采集员", role="collector", town_id=vs[0].town_id,
                                villages=[vs[sample["person"]["village_id"] - vids[0]]])])
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    sample["door_code"] = door_code(4321)
    return sample


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)]


def explain(sql_query) -> str:
    compiled = sql_query.compile(db.engine, compile_kwargs={"literal_binds": True})
    prefix = "EXPLAIN QUERY PLAN " if db.engine.dialect.name == "sqlite" else "EXPLAIN "
    rows = db.session.execute(text(prefix + str(compiled))).all()
    db.session.rollback()
    return "\n".join("    " + " ".join(str(c) for c in row) for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--houses", type=int, default=300_000)
    parser.add_argument("--orgs", type=int, default=20_000)
    parser.add_argument("--url", help="database URL (default: a temporary SQLite file); it is wiped")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    app, url = scratch_app(args.url, tmp.name)
    with app.app_context():
        t0 = time.perf_counter()
        sample = fill(args.people, args.houses, args.orgs)
        load = time.perf_counter() - t0
        person, org = sample["person"], sample["org"]
        given = person["name"][1:]
        queries = [
            ("resident ID (full)", person["id_number"]),
            ("mobile", "+86 " + person["phone"]),
            ("name, full (prefix)", person["name"]),
            ("name, common 张伟 (prefix)", "张伟"),
            ("surname only 王 (prefix)", "王"),
            ("given name only (contains: scan)", given if len(given) >= 2 else "伟明"),
            ("no such name (prefix, then scan)", "欧阳不存在"),
            ("door code", sample["door_code"]),
            ("address 3组27号 (exact parts)", "3组27号"),
            ("address substring 村7", "村7"),
            ("organisation name (contains)", "五金店7"),
            ("credit code", org["uscc"]),
        ]
        supervisor = db.session.scalar(select(Account).where(Account.collection_id == "B-SUP"))
        collector = db.session.scalar(select(Account).where(Account.collection_id == "B-COL"))
        ids = {"supervisor": supervisor.id, "collector": collector.id}
        db.session.rollback()
        backend = url.split(":")[0].split("+")[0]
        print(f"backend {backend}, {args.people:,} people, {args.houses:,} houses, {args.orgs:,} organisations,"
              f" load {load:.0f} s; {args.runs} runs each")
        print(f"{'query':40} {'role':11} {'found':>5} {'median ms':>10} {'p95 ms':>8} {'cpu ms':>7}")
        for label, q in queries:
            classified = classify(q)
            for role, account_id in ids.items():
                def run(account_id=account_id, classified=classified):
                    return service.search(db.session.get(Account, account_id), classified)
                found = run().count
                times, cpu = timed(run, args.runs)
                print(f"{label:40} {role:11} {found:5d} {statistics.median(times):10.1f} {p95(times):8.1f}"
                      f" {statistics.median(cpu):7.1f}")
        # Paging deep into a common name: page 50 of "张" (rows 981-1000 in name order).
        classified = classify("张")
        times, cpu = timed(lambda: service.search(db.session.get(Account, ids["supervisor"]), classified, "people",
                                                  50), args.runs)
        print(f"{'surname 张, page 50 of people':40} {'supervisor':11} {'20':>5} {statistics.median(times):10.1f}"
              f" {p95(times):8.1f} {statistics.median(cpu):7.1f}")

        # The whole request: form, search, audit row (its own commit), page.
        app.config["WTF_CSRF_ENABLED"] = False
        client = app.test_client()
        with client.session_transaction() as session:
            from fieldapp import login_sessions
            account = db.session.get(Account, ids["supervisor"])
            token = login_sessions.start(account, "bench")
            db.session.commit()
            session["_user_id"] = token
            session["_fresh"] = True
        for label, q in (("POST /search name 张伟", "张伟"), ("POST /search resident ID", person["id_number"])):
            status = client.post("/search", data={"q": q}).status_code
            assert status == 200, status
            times, cpu = timed(lambda q=q: client.post("/search", data={"q": q}), args.runs)
            print(f"{label:40} {'supervisor':11} {'':>5} {statistics.median(times):10.1f} {p95(times):8.1f}"
                  f" {statistics.median(cpu):7.1f}")

        account = db.session.get(Account, ids["supervisor"])
        print("\nplan: name prefix 王, town-wide")
        print(explain(service._people(account).where(service.name_starts_with("王"))
                      .order_by(*service.name_order()).limit(11)))
        print("plan: names containing 伟明 (the fallback), town-wide")
        print(explain(service._people(account, scan=True).where(Person.name.contains("伟明", autoescape=True))
                      .order_by(*service.name_order(scan=True)).limit(11)))
        print("plan: phone")
        print(explain(service._people(account).where(Person.phone.in_([person["phone"]])).limit(11)))
        print("plan: resident ID")
        print(explain(service._people(account).where(Person.id_type.in_(service._ID_TYPES),
                                                      Person.id_number.in_([person["id_number"]])).limit(11)))


if __name__ == "__main__":
    main()
