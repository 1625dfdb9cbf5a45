"""Fabrication flags measured: recall and precision of the detectors on a synthetic campaign.

Builds a campaign (villages ~5 km apart, houses within 800 m of their centre, two collectors a village
but one village with a single collector, informants, weeks of visits from 08:00 to 22:30 local) of
honest door work with the awkward honest cases (stairwell GPS drift that the phone reports, two
collectors in one building, families sharing a phone across houses, twins, confirmed moves, summer
evenings, one-collector villages whose informant's tips all go to that collector), plants
fabrications of every kind among it, runs the real detectors and prints recall and precision.

- recall of a kind: planted fabrications of that kind whose flag was raised;
- precision of a kind: flags of that kind that point at fabricated work (a planted item of any kind:
  a record typed at night far from the village is fabricated whichever flag finds it).

`--db` also loads the campaign into a scratch SQLite database (bench/scratch.py) and runs the real
service (flags/detect.sweep), checking that it raises the same flags as the pure rules.

    .venv/bin/python bench/fabrication.py                 # 6 villages, 4 weeks
    .venv/bin/python bench/fabrication.py --villages 12 --weeks 8 --db
"""
from __future__ import annotations

import argparse
import math
import random
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fieldapp.rules import fabrication as fab  # noqa: E402
from fieldapp.rules.fabrication import ChangeFact, DocSubmission, PersonPhone, Place, TipFact, VisitFact  # noqa: E402

M_LAT = 1 / 111_195  # degrees of latitude per metre
CENTRE = (27.2, 108.9)
START = datetime(2026, 6, 1)  # a summer campaign: long evenings
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红梅"
KINDS = fab.KINDS


def offset(lat, lon, north_m, east_m):
    return lat + north_m * M_LAT, lon + east_m * M_LAT / math.cos(math.radians(lat))


def local(day: int, hour: float) -> datetime:
    """Naive UTC of `hour` (local, Beijing) on the campaign's `day`."""
    return START + timedelta(days=day, hours=hour - 8)


@dataclass
class Campaign:
    houses: dict[int, Place] = field(default_factory=dict)
    house_village: dict[int, int] = field(default_factory=dict)
    villages: dict[int, Place] = field(default_factory=dict)
    changes: list[ChangeFact] = field(default_factory=list)
    docs: list[DocSubmission] = field(default_factory=list)
    phones: list[PersonPhone] = field(default_factory=list)
    tips: list[TipFact] = field(default_factory=list)
    person_house: dict[int, int] = field(default_factory=dict)
    expected: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # kind -> keys
    fabricated: set[tuple] = field(default_factory=set)  # (entity, id) of planted work
    counters: Counter = field(default_factory=Counter)

    def next(self, name: str) -> int:
        self.counters[name] += 1
        return self.counters[name]


class Builder:
    def __init__(self, villages: int, weeks: int, seed: int, multipath: float = 0.002):
        self.rng = random.Random(seed)
        self.multipath = multipath
        self.c = Campaign()
        self.weeks = weeks
        self.n_villages = villages
        self.ids_used: set[str] = set()
        self.village_houses: dict[int, list[int]] = defaultdict(list)
        self.collectors: dict[int, list[int]] = {}
        self.people: list[tuple] = []  # (person_id, id_number, house_id, village_id, at)

    # Honest work ----------------------------------------------------------------------------------
    def build(self) -> Campaign:
        rng, c = self.rng, self.c
        account = 0
        for v in range(1, self.n_villages + 1):
            angle = 2 * math.pi * v / self.n_villages
            c.villages[v] = Place(*offset(*CENTRE, 5000 * math.sin(angle), 5000 * math.cos(angle)))
            for _ in range(rng.randint(120, 180)):
                h = c.next("house")
                lat, lon = offset(c.villages[v].lat, c.villages[v].lon, rng.uniform(-800, 800), rng.uniform(-800, 800))
                c.houses[h] = Place(lat, lon) if rng.random() > 0.05 else Place(None, None)  # some unknown
                c.house_village[h] = v
                self.village_houses[v].append(h)
            ones = 1 if v == 1 else 2  # village 1 has a single collector
            self.collectors[v] = list(range(account + 1, account + 1 + ones))
            account += ones
        self.next_account = account + 1
        for v in c.villages:
            for collector in self.collectors[v]:
                for day in range(self.weeks * 7):
                    if day % 7 != 6:  # one day off a week
                        self.honest_day(v, collector, day)
        self.honest_tips()
        self.honest_moves()
        self.shared_phones()
        self.plant_all()
        return c

    def position(self, house: int, day: int, acc: float | None = None) -> tuple[float | None, float | None, float]:
        """An honest fix at `house`: usually within 20 m; one in ten in a stairwell or behind concrete,
        drifting 40-150 m and reporting an accuracy of about that size; `multipath` of them (0.2 %) reflected
        between tall buildings, 120-300 m off while the phone reports 15-40 m (these honest visits get flags)."""
        rng, place = self.rng, self.c.houses[house]
        if place.lat is None:
            place = self.c.villages[self.c.house_village[house]]
            place = Place(*offset(place.lat, place.lon, rng.uniform(-700, 700), rng.uniform(-700, 700)))
        roll = rng.random()
        if roll < 0.1:
            drift, acc = rng.uniform(40, 150), acc or rng.uniform(50, 120)
        elif roll < 0.1 + self.multipath:  # multipath between tall buildings: far off, and the phone does not know
            drift, acc = rng.uniform(120, 300), acc or rng.uniform(15, 40)
        else:
            drift, acc = abs(rng.gauss(0, 12)), acc or rng.uniform(5, 25)
        angle = rng.uniform(0, 2 * math.pi)
        lat, lon = offset(place.lat, place.lon, drift * math.sin(angle), drift * math.cos(angle))
        return lat, lon, acc

    def id_number(self, born: datetime) -> str:
        while True:
            body = f"4312{self.rng.randint(20, 30):02d}{born:%Y%m%d}{self.rng.randint(0, 999):03d}"
            if body not in self.ids_used:
                self.ids_used.add(body)
                return body + "X"

    def visit(self, house, collector, at, method="scan", pos=None) -> VisitFact:
        lat, lon, acc = pos or self.position(house, 0)
        return VisitFact(self.c.next("visit"), collector, house, at, method, lat, lon, acc)

    def record(self, visit: VisitFact | None, village, house, collector, at, values=(), id_number=None,
               door_proof=True, entity="person") -> ChangeFact:
        cid = self.c.next("change")
        entity_id = self.c.next(entity)
        fact = ChangeFact(cid, entity, entity_id, collector, village, house, at, door_proof, visit, values,
                          id_number, True)
        self.c.changes.append(fact)
        if entity == "person":
            self.c.person_house[entity_id] = house
        return fact

    def family(self, visit: VisitFact, village: int, house: int, collector: int, at: datetime, size: int,
               surname: str | None = None, phone: str | None = None) -> list[ChangeFact]:
        """A household's members: one surname (spouses may differ), distinct birth dates, sometimes
        twins with near ID numbers, one shared phone or each their own."""
        rng = self.rng
        surname = surname or rng.choice(SURNAMES)
        shared = phone or (f"139{rng.randint(0, 99_999_999):08d}" if rng.random() < 0.5 else None)
        out, twins_body = [], None
        for i in range(size):
            born = datetime(rng.randint(1940, 2020), rng.randint(1, 12), rng.randint(1, 28))
            number = self.id_number(born)
            if twins_body is None and i and rng.random() < 0.05:  # twins: the previous one's neighbour
                prev = out[-1].id_number
                number = f"{int(prev[:17]) + 2:017d}X"
                twins_body = number
            values = (("birth_date", born.date().isoformat()), ("category", "local"), ("hukou_type", "1"),
                      ("sex", str(rng.randint(1, 2))))
            moment = at + timedelta(minutes=3 * i)
            fact = self.record(visit, village, house, collector, moment, values, number)
            out.append(fact)
            name = (surname if i == 0 or rng.random() < 0.7 else rng.choice(SURNAMES)) + rng.choice(GIVEN)
            phone_no = shared or f"138{rng.randint(0, 99_999_999):08d}"
            self.c.phones.append(PersonPhone(fact.entity_id, phone_no, house, name, village, fact.change_id, collector))
            self.c.docs.append(DocSubmission(fact.change_id, fact.entity_id, number, house, village, collector, moment))
            self.people.append((fact.entity_id, number, house, village, moment))
        return out

    def honest_day(self, v: int, collector: int, day: int) -> None:
        """A day's round: 8-20 doors, walking from one to the next (5-20 minutes), starting between
        08:00 and 10:00; on summer evenings some rounds run until 22:30."""
        rng = self.rng
        houses = self.village_houses[v]
        h = rng.choice(houses)
        hour = rng.uniform(8, 10) if rng.random() > 0.15 else rng.uniform(17.5, 19)
        for _ in range(rng.randint(8, 20)):
            if hour > 22.5:
                break
            at = local(day, hour)
            pos = self.position(h, day)
            vis = self.visit(h, collector, at, "scan", pos)
            self.family(vis, v, h, collector, at, rng.randint(1, 5))
            # next door: a near one mostly (same lane or building: another collector may be there too)
            here = self.c.houses[h]
            near = [x for x in rng.sample(houses, min(25, len(houses)))
                    if here.lat is None or self.c.houses[x].lat is None
                    or fab.distance_m(here.lat, here.lon, self.c.houses[x].lat, self.c.houses[x].lon) < 400]
            h = near[0] if near else rng.choice(houses)
            hour += rng.uniform(8, 25) / 60 + 0.05 * rng.randint(1, 5)

    def honest_tips(self) -> None:
        """Informants' tips, verified by the village's collectors (some invalid); in the single
        collector village, an honest informant's tips all go to that collector, all valid."""
        rng, c = self.rng, self.c
        for v, collectors in self.collectors.items():
            for _ in range(3):
                informant = self.new_account()
                for _ in range(rng.randint(3, 12)):
                    lone = len(collectors) == 1
                    verdict = "valid" if lone or rng.random() < 0.8 else "invalid"
                    c.tips.append(TipFact(c.next("tip"), informant, rng.choice(collectors), verdict, v,
                                          rng.choice(self.village_houses[v]), len(collectors)))
            c.tips.append(TipFact(c.next("tip"), None, collectors[0], "valid", v, None, len(collectors)))  # public

    def new_account(self) -> int:
        self.next_account += 1
        return self.next_account

    def honest_moves(self) -> None:
        """People who really moved within weeks, confirmed by a reviewer (a move, not a new entry)."""
        rng = self.rng
        for person, number, _house, v, at in rng.sample(self.people, max(1, len(self.people) // 200)):
            other = rng.choice(self.village_houses[v])
            cid = self.c.next("change")
            self.c.docs.append(DocSubmission(cid, person, number, other, v, None, at + timedelta(days=rng.randint(2, 20)),
                                             move=True))

    def shared_phones(self) -> None:
        """Families across houses sharing a grandparent's phone: one surname, 3-5 houses."""
        rng = self.rng
        for v in self.c.villages:
            for _ in range(3):
                phone, surname = f"137{rng.randint(0, 99_999_999):08d}", rng.choice(SURNAMES)
                for h in rng.sample(self.village_houses[v], rng.randint(3, 5)):
                    pid = self.c.next("person")
                    self.c.phones.append(PersonPhone(pid, phone, h, surname + rng.choice(GIVEN), v))

    # Fabrications ---------------------------------------------------------------------------------
    def plant(self, kind: str, facts: list[ChangeFact]) -> None:
        for f in facts:
            self.c.expected[kind].add(f"{kind}:change:{f.change_id}")
            self.c.fabricated.add((f.entity, f.entity_id))

    def fake(self, v: int, collector: int, at: datetime, *, method="scan", proof=True, pos=None, size=1,
             house=None) -> list[ChangeFact]:
        house = house or self.rng.choice(self.village_houses[v])
        vis = self.visit(house, collector, at, method, pos)
        return self.family(vis, v, house, collector, at, size)

    def plant_all(self) -> None:
        rng, c = self.rng, self.c
        days = self.weeks * 7
        n = max(3, self.n_villages * self.weeks // 2)  # plants of each kind

        def pick():
            """Where, who and which day: made-up records are typed away from the real rounds (on the
            collector's day off), so the real doors of the day stay honest."""
            v = rng.choice(list(c.villages))
            return v, rng.choice(self.collectors[v]), rng.choice([d for d in range(days) if d % 7 == 6])

        for _ in range(n):  # no_scan: typed code or list, no scan
            v, col, day = pick()
            facts = self.fake(v, col, local(day, rng.uniform(9, 17)), method=rng.choice(["code", "list"]))
            facts = [replace(f, door_proof=False) for f in facts]
            c.changes[-len(facts):] = facts
            self.plant("no_scan", facts)
        for _ in range(n):  # gps_far: made 300 m - 2 km from the house (in the village)
            v, col, day = pick()
            house = rng.choice([h for h in self.village_houses[v] if c.houses[h].lat is not None])
            p = c.houses[house]
            d, a = rng.uniform(300, 2000), rng.uniform(0, 2 * math.pi)
            pos = (*offset(p.lat, p.lon, d * math.sin(a), d * math.cos(a)), rng.uniform(8, 40))
            self.plant("gps_far", self.fake(v, col, local(day, rng.uniform(9, 17)), pos=pos, house=house))
        for _ in range(n):  # impossible_pace: a last "visit" of the day in a far village, minutes later
            v, col, day = pick()
            day -= rng.randint(1, 6)  # a working day
            mine = [f.visit for f in c.changes if f.visit and f.visit.collector_id == col
                    and f.visit.at.date() == local(day, 12).date()]
            if not mine:
                continue
            last = max(mine, key=lambda x: x.at)
            far_v = max(c.villages, key=lambda x: fab.distance_m(c.villages[x].lat, c.villages[x].lon,
                                                                  last.lat, last.lon))
            house = rng.choice([h for h in self.village_houses[far_v] if c.houses[h].lat is not None])
            pos = self.position(house, day, acc=10)
            self.plant("impossible_pace", self.fake(far_v, col, last.at + timedelta(minutes=rng.uniform(2, 15)),
                                                    pos=pos, house=house))
        for _ in range(n):  # doc_two_addresses: an existing document at another house, days later
            person, number, house, v, at = rng.choice(self.people)
            other = rng.choice([h for h in self.village_houses[v] if h != house])
            cid, col = c.next("change"), rng.choice(self.collectors[v])
            c.docs.append(DocSubmission(cid, person, number, other, v, col, at + timedelta(days=rng.randint(1, 25))))
            c.expected["doc_two_addresses"].add(f"doc_two_addresses:change:{cid}")
            c.fabricated.add(("person", person))
        for _ in range(n):  # phone_many_people: the collector's own number on 4-7 made-up people
            v, col, day = pick()
            phone = f"135{rng.randint(0, 99_999_999):08d}"
            for h in rng.sample(self.village_houses[v], rng.randint(4, 7)):
                pid = c.next("person")
                c.phones.append(PersonPhone(pid, phone, h, rng.choice(SURNAMES) + rng.choice(GIVEN), v, None, col))
                c.expected["phone_many_people"].add(f"phone_many_people:person:{pid}")
                c.fabricated.add(("person", pid))
        for _ in range(n):  # tip_self_verified: an informant who is also a collector
            v, col, day = pick()
            tid = c.next("tip")
            c.tips.append(TipFact(tid, col, col, "valid", v, None, len(self.collectors[v])))
            c.expected["tip_self_verified"].add(f"tip_self_verified:tip:{tid}")
            c.fabricated.add(("tip", tid))
        for _ in range(n):  # informant_one_collector: 5-10 tips, all valid, all one collector
            v = rng.choice([x for x in c.villages if len(self.collectors[x]) > 1])
            col, informant = rng.choice(self.collectors[v]), self.new_account()
            for _ in range(rng.randint(5, 10)):
                c.tips.append(TipFact(c.next("tip"), informant, col, "valid", v, None, 2))
            c.expected["informant_one_collector"].add(f"informant_one_collector:account:{informant}:{col}")
            c.fabricated.add(("account", informant))
        for _ in range(n):  # identical_burst: 4-6 copies of one record within 20 minutes
            v, col, day = pick()
            at, facts = local(day, rng.uniform(13, 16)), []
            values = (("birth_date", "1975-05-05"), ("category", "local"), ("hukou_type", "1"), ("sex", "1"))
            for i in range(rng.randint(4, 6)):
                house = rng.choice(self.village_houses[v])
                vis = self.visit(house, col, at + timedelta(minutes=4 * i))
                facts.append(self.record(vis, v, house, col, vis.at, values,
                                         self.id_number(datetime(1975, 5, 5))))
            self.plant("identical_burst", facts)
        for _ in range(n):  # consecutive_ids: 4-6 ID numbers counted up, within half an hour
            v, col, day = pick()
            at, facts = local(day, rng.uniform(13, 16)), []
            born = datetime(rng.randint(1950, 2000), rng.randint(1, 12), rng.randint(1, 28))
            body = int(f"431221{born:%Y%m%d}{rng.randint(100, 800):03d}")
            step = rng.choice([1, 2])  # counting up, or up by sex (every other number)
            for i in range(rng.randint(4, 6)):
                house = rng.choice(self.village_houses[v])
                vis = self.visit(house, col, at + timedelta(minutes=5 * i))
                values = (("birth_date", born.date().isoformat()), ("sex", str(1 + i % 2)), ("x", i))
                facts.append(self.record(vis, v, house, col, vis.at, values, f"{body + step * i:017d}X"))
            self.plant("consecutive_ids", facts)
        for _ in range(n):  # far_outside_village: typed up in town, 4-12 km from the village
            v, col, day = pick()
            d, a = rng.uniform(4000, 12000), rng.uniform(0, 2 * math.pi)
            pos = (*offset(c.villages[v].lat, c.villages[v].lon, d * math.sin(a), d * math.cos(a)), 15.0)
            self.plant("far_outside_village", self.fake(v, col, local(day, rng.uniform(9, 17)), pos=pos))
        for _ in range(n):  # night: made between 23:00 and 04:00
            v, col, day = pick()
            hour = rng.uniform(23, 28) % 24
            self.plant("night", self.fake(v, col, local(day, hour)))


def detect(c: Campaign, t: fab.Thresholds | None = None) -> list[fab.Finding]:
    t = t or fab.Thresholds()
    visits = list({f.visit.visit_id: f.visit for f in c.changes if f.visit}.values())
    return fab.detect_all(c.changes, houses=c.houses, villages=c.villages, visits=visits, docs=c.docs,
                          phones=c.phones, tips=c.tips, t=t)


def measure(c: Campaign, found: list[fab.Finding]) -> dict:
    """Per kind and overall: planted, caught, flags, correct flags, recall, precision."""
    by_kind: dict[str, dict] = {k: {"planted": len(c.expected.get(k, ())), "caught": 0, "flags": 0, "correct": 0}
                                for k in KINDS}
    keys = {f.key for f in found}
    for kind, expected in c.expected.items():
        by_kind[kind]["caught"] = len(expected & keys)
    for f in found:
        row = by_kind[f.kind]
        row["flags"] += 1
        row["correct"] += (f.entity, f.entity_id) in c.fabricated
    total = {k: sum(r[k] for r in by_kind.values()) for k in ("planted", "caught", "flags", "correct")}
    for row in [*by_kind.values(), total]:
        row["recall"] = row["caught"] / row["planted"] if row["planted"] else 1.0
        row["precision"] = row["correct"] / row["flags"] if row["flags"] else 1.0
    return {"kinds": by_kind, "overall": total}


def run(villages: int = 6, weeks: int = 4, seed: int = 12, t: fab.Thresholds | None = None,
        multipath: float = 0.002) -> dict:
    c = Builder(villages, weeks, seed, multipath).build()
    result = measure(c, detect(c, t))
    result["records"], result["campaign"] = len(c.changes), c
    return result


def run_service(c: Campaign, url: str | None = None) -> tuple[list[fab.Finding], float]:
    """Load the campaign into a scratch database (same ids as the facts) and run the real sweep
    (flags/detect.sweep); returns its flags as Findings and the sweep's seconds."""
    import tempfile
    import time
    import uuid
    from datetime import date

    from sqlalchemy import delete, select

    from bench.scratch import bench_town, scratch_app
    from fieldapp import records
    from fieldapp.extensions import db
    from fieldapp.flags import detect as service
    from fieldapp.models import Account, Change, Person, Tip, Visit
    from fieldapp.models.review import Flag

    tmp = tempfile.mkdtemp()
    app, _url = scratch_app(url, tmp)
    with app.app_context():
        villages = bench_town(1000, 1000, 10, len(c.villages))
        for v, row in zip(sorted(c.villages), villages):
            assert row.id == v
            row.lat, row.lon = c.villages[v].lat, c.villages[v].lon
        records.ensure_counters([v.id for v in villages])
        accounts = {f.collector_id for f in c.changes} | {x.verified_by_id for x in c.tips} | {
            x.informant_id for x in c.tips if x.informant_id}
        db.session.add_all([Account(id=a, collection_id=f"B-{a:05d}", name=f"bench {a}", role="collector",
                                    town_id=villages[0].town_id) for a in sorted(accounts)])
        for h in sorted(c.houses):
            house = records.create_house(records.Actor(None, "import"), c.house_village[h],
                                         {"group_name": "1", "number": str(h)})
            assert house.id == h
            house.lat, house.lon = c.houses[h].lat, c.houses[h].lon
        db.session.flush()
        db.session.execute(delete(Change))  # the houses' import changes: the campaign's own ids follow
        phones = {p.person_id: p for p in c.phones}
        people, ids_seen, visits = {}, set(), {}
        for f in c.changes:
            if f.visit is not None and f.visit.visit_id not in visits:
                v = f.visit
                visits[v.visit_id] = Visit(id=v.visit_id, uid=str(uuid.UUID(int=v.visit_id)), house_id=v.house_id,
                                           village_id=c.house_village[v.house_id], account_id=v.collector_id,
                                           method=v.method, at=v.at, lat=v.lat, lon=v.lon, accuracy_m=v.accuracy_m)
        db.session.add_all(visits.values())

        def person(pid, house, village, number=None):
            if pid in people:
                return
            p = phones.get(pid)
            number = number or f"P{pid:010d}"
            id_type = "111" if number not in ids_seen else "990"
            ids_seen.add(number)
            people[pid] = Person(id=pid, name=p.name if p else "某某", sex="1", id_type=id_type, id_number=number,
                                 category="local", status="living", house_id=house, village_id=village,
                                 phone=p.phone if p else None)
        changes = []
        for f in c.changes:
            person(f.entity_id, f.house_id, f.village_id, f.id_number)
            fields = {k: [None, v] for k, v in f.values} | {"house_id": [None, f.house_id]}
            if f.id_number:
                fields["id_number"] = [None, f.id_number]
            if f.entity_id in phones:
                fields["phone"] = [None, phones[f.entity_id].phone]
            changes.append(dict(id=f.change_id, entity="person", entity_id=f.entity_id, village_id=f.village_id,
                                kind="new", fields=fields, source="sync", collected_at=f.at, known_on=date(2026, 6, 1),
                                collected_by_id=f.collector_id, door_proof=f.door_proof, review_state="pending",
                                visit_uid=str(uuid.UUID(int=f.visit.visit_id)) if f.visit else None))
        next_id = max(c.counters["change"], len(changes)) + 1
        for p in c.phones:  # people known only by their phone (shared phones, planted numbers)
            if p.person_id not in people:
                person(p.person_id, p.house_id, p.village_id)
                changes.append(dict(id=next_id, entity="person", entity_id=p.person_id, village_id=p.village_id,
                                    kind="new", fields={"phone": [None, p.phone], "house_id": [None, p.house_id]},
                                    source="import", collected_at=START, known_on=date(2026, 6, 1),
                                    collected_by_id=p.collector_id, door_proof=False, review_state="exempt"))
                next_id += 1
        known = {x["id"] for x in changes}
        for d in c.docs:
            if d.change_id in known:
                continue
            person(d.person_id, d.house_id, d.village_id, d.id_number)
            changes.append(dict(id=d.change_id, entity="person", entity_id=d.person_id, village_id=d.village_id,
                                kind="update", fields={"house_id": [None, d.house_id]},
                                source="review" if d.move else "sync", collected_at=d.at, known_on=date(2026, 6, 1),
                                collected_by_id=d.collector_id, door_proof=True,
                                review_state="approved" if d.move else "pending"))
            known.add(d.change_id)
        db.session.add_all(people.values())
        db.session.flush()
        db.session.execute(Change.__table__.insert(), [{"visit_uid": None, **x} for x in changes])
        db.session.add_all([Tip(id=x.tip_id, house_id=x.house_id, village_id=x.village_id, kind="moved_in",
                                source="informant" if x.informant_id else "public", informant_id=x.informant_id,
                                submitted_at=START, due_on=date(2026, 6, 4), state="verified", verified_at=START,
                                verified_by_id=x.verified_by_id, verdict=x.verdict) for x in c.tips])
        db.session.commit()
        t0 = time.perf_counter()
        service.sweep()
        seconds = time.perf_counter() - t0
        found = [fab.Finding(key=f.key, kind=f.kind, entity=f.entity, entity_id=f.entity_id, village_id=f.village_id,
                             change_id=f.change_id, detail=f.detail) for f in db.session.scalars(select(Flag))]
    return found, seconds


def report(result: dict) -> str:
    lines = [f"{'kind':24} {'planted':>7} {'caught':>6} {'flags':>6} {'recall':>7} {'precision':>9}"]
    for kind, r in [*result["kinds"].items(), ("overall", result["overall"])]:
        lines.append(f"{kind:24} {r['planted']:7} {r['caught']:6} {r['flags']:6} {r['recall']:7.1%} {r['precision']:9.1%}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--villages", type=int, default=6)
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--multipath", type=float, default=0.002,
                        help="share of honest fixes far off with a confident accuracy (default 0.002)")
    parser.add_argument("--db", action="store_true", help="also run the service on a scratch database")
    parser.add_argument("--url", default=None, help="scratch database URL (wiped); default: a new SQLite file")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a threshold to try (a Thresholds field, e.g. gps_limit_m=200); repeatable")
    args = parser.parse_args()
    t = fab.Thresholds()
    for item in args.set:
        name, value = item.split("=", 1)
        t = replace(t, **{name: type(getattr(t, name))(value)})
    result = run(args.villages, args.weeks, args.seed, t, args.multipath)
    print(f"{args.villages} villages, {args.weeks} weeks, {result['records']} records, "
          f"{len(result['campaign'].tips)} tips, seed {args.seed}, multipath {args.multipath:.1%}, "
          f"thresholds {' '.join(args.set) or 'default'}")
    print(report(result))
    if args.db:
        c = result["campaign"]
        found, seconds = run_service(c, args.url)
        rules = {f.key for f in detect(c, t)}
        keys = {f.key for f in found}
        print(f"\nflags/detect.sweep on a scratch database: {len(found)} flags in {seconds:.1f} s; "
              f"same keys as the rules: {keys == rules} (only service {len(keys - rules)}, only rules {len(rules - keys)})")
        print(report(measure(c, found)))


if __name__ == "__main__":
    main()
