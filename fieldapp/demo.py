"""The Yuping 2016 demo: the town, its 28 villages and quotas (the seed's table, shipped in
fieldapp/data/), the campaign and its phases, a synthetic house register sized to each village's
housing quota, synthetic households so progress is not zero, and a demo collection ID per role.

Everything personal here is invented: names are drawn from common characters, ID numbers carry
valid check digits but random serials, phones are in the 170 range. Positions are synthetic too
(the seed gives none): villages scattered around an arbitrary town centre.

Core bulk inserts (not ORM ones, which split batches wherever rows differ in which columns are
None) keep the load to a few seconds; Change rows are still written (source 'demo') so every
record has its history, and the counters are then rebuilt by records.recount(), their one owner.
That history reads as entered at the desk (approved by the demo's reviewers); a recent slice in
the first village waits for review, so the entry clerk's queue (/review/queue) has work in it.
"""
from __future__ import annotations

import csv
import math
import random
from datetime import date, datetime, timedelta
from importlib import resources

from sqlalchemy import insert, select, update
from werkzeug.security import generate_password_hash

from . import merging, records
from .extensions import db
from .models import (Account, Campaign, Change, Conflict, Flag, House, MoveRequest, Organisation, Person, Phase, Residence,
                     Tip, Town, Village, Visit, new_uid)
from .rules.address import address_key
from .rules import review
from .rules.campaign import YUPING_2016
from .rules.days import zone
from .rules.days import today as local_today
from .rules.doorcode import new_door_code, new_door_token
from .rules.identifiers import resident_id_check_digit, uscc_check_char
from .rules.tips import KINDS as TIP_KINDS
from .rules.tips import due_on
from .rules.visits import distance_m

DEMO_PIN = "yuping2016"
TOWN_NAME, TOWN_OFFICE, STATION = "余坪镇", "余坪镇人民政府", "余坪派出所"
CENTRE = (27.93, 110.56)  # synthetic
LOCAL_COUNTY = "431226"  # a real-format county code (Hunan), standing in for Yuping's county
MIGRANT_COUNTIES = ("360121", "450102", "522101", "500101", "421002", "441302", "510108", "430102")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华红玉萍建国志文辉宇浩然欣怡子涵梓轩雨桐"

# (collection ID, role, name, villages: 'all', 'first', 'second' or 'first5')
ACCOUNTS = (
    ("YP-0001", "admin", "系统管理员", "all"),
    ("YP-0002", "supervisor", "镇综治办 李照求", "all"),
    ("YP-0003", "supervisor", "派出所 杨康", "all"),
    ("YP-0010", "village_head", "余坪村 村支书", "first"),
    ("YP-0020", "reviewer", "派出所 信息录入员", "all"),
    ("YP-0042", "collector", "余坪村 采集员", "first"),
    ("YP-0043", "collector", "上新村 采集员", "second"),
    ("YP-0050", "police", "社区民警", "first5"),
    ("YP-0060", "informant", "余坪村 楼组信息员", "first"),
)


def quota_rows() -> tuple[list[dict], dict]:
    """The seed's table: (village rows, the police station's totals row)."""
    text = resources.files("fieldapp").joinpath("data/yuping_2016_quotas.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))

    def ints(row):
        return {k: int(row[k]) if row[k] else None for k in ("population_quota", "housing_quota", "organization_quota")}

    villages = [{"name": r["unit"], **ints(r)} for r in rows if r["unit"] != STATION]
    total = next({"name": r["unit"], **ints(r)} for r in rows if r["unit"] == STATION)
    return villages, total


def load(seed: int = 2016) -> list[tuple[str, str, str]]:
    """Load the demo into an empty, migrated database (caller commits). Returns the demo sign-ins."""
    rng = random.Random(seed)
    village_rows, total = quota_rows()
    town = Town(code="YP", name=TOWN_NAME, office=TOWN_OFFICE, people_quota=total["population_quota"],
                houses_quota=total["housing_quota"], orgs_quota=total["organization_quota"],
                lat=CENTRE[0], lon=CENTRE[1])
    db.session.add(town)
    villages = []
    for i, row in enumerate(village_rows):
        angle, radius = 2 * math.pi * i / len(village_rows), 0.03 + 0.05 * ((i * 7) % 5) / 4
        villages.append(Village(town=town, code=f"YP{i + 1:02d}", name=row["name"], kind="village",
                                people_quota=row["population_quota"], houses_quota=row["housing_quota"],
                                orgs_quota=row["organization_quota"], sort_order=i + 1,
                                lat=round(CENTRE[0] + radius * math.sin(angle), 5),
                                lon=round(CENTRE[1] + radius * math.cos(angle) * 1.13, 5)))
    db.session.add_all(villages)
    campaign = Campaign(town=town, name=YUPING_2016.name, start_date=YUPING_2016.start, end_date=YUPING_2016.end,
                        phases=[Phase(name=p.name, start_date=p.start, end_date=p.end, target_share=p.target_share)
                                for p in YUPING_2016.phases])
    db.session.add(campaign)
    db.session.flush()
    logins = _accounts(town, villages)
    collectors = [a.id for a in logins[1] if a.role in ("collector", "police")]
    informant = next(a.id for a in logins[1] if a.role == "informant")
    # Who entered the demo's history at the desk: the entry clerk, and the police for people from abroad.
    reviewers = {a.role: a.id for a in logins[1] if a.role in ("reviewer", "police")}
    records.ensure_counters([v.id for v in villages])
    used: set[str] = set()  # document numbers handed out so far: people are unique by document
    for index, village in enumerate(villages):
        _village(rng, village, index, collectors, used, reviewers)
        _tips(rng, village, collectors, informant)
    _conflicts(rng, villages[0], collectors)
    _desk_queue(rng, villages[0], reviewers)
    _move_request(villages, logins[1])
    merging.demo_duplicate([v.id for v in villages], collectors[0])  # one duplicate house pair, flagged
    records.recount()
    return [(a.collection_id, a.role, where) for a, where in zip(logins[1], logins[0])]


def _accounts(town: Town, villages: list[Village]):
    pin_hash = generate_password_hash(DEMO_PIN)
    scopes = {"all": villages, "first": villages[:1], "second": villages[1:2], "first5": villages[:5]}
    made, where = [], []
    for cid, role, name, scope in ACCOUNTS:
        account = Account(collection_id=cid, role=role, name=name, town_id=town.id, password_hash=pin_hash,
                          activated_at=datetime(2016, 4, 25), issued_at=datetime(2016, 4, 25),
                          office=STATION if "派出所" in name or role == "police" else TOWN_OFFICE,
                          villages=list(scopes[scope]))
        made.append(account)
        where.append("whole town" if scope == "all" else "、".join(v.name for v in scopes[scope]))
    db.session.add_all(made)
    db.session.flush()
    return where, made


def _campaign_moment(rng: random.Random) -> datetime:
    start = datetime(2016, 4, 27, 8)
    return start + timedelta(days=rng.randrange(0, 65), minutes=rng.randrange(0, 600))


def _village(rng: random.Random, village: Village, index: int, collectors: list[int], used: set,
             reviewers: dict) -> None:
    """One village: its house register, some collected households and an organisation or two."""
    houses_quota, people_quota = village.houses_quota or 0, village.people_quota or 0
    # Villages progress unevenly: some are nearly done, some barely started.
    target_people = int(people_quota * [0.92, 0.65, 0.35, 0.55, 0.18, 0.75, 0.45][index % 7])
    per_group = rng.randint(22, 40)
    house_rows, codes = [], set()
    for n in range(houses_quota):
        code = new_door_code()
        while code in codes:
            code = new_door_code()
        codes.add(code)
        parts = {"group_name": str(n // per_group + 1), "number": str(n % per_group + 1)}
        house_rows.append({
            "uid": new_uid(), "village_id": village.id, "door_code": code, "door_token": new_door_token(),
            **parts, "address_key": address_key(parts, village.name), "rental_registered": False,
            "lat": round(village.lat + rng.gauss(0, 0.004), 6), "lon": round(village.lon + rng.gauss(0, 0.004), 6),
            "use": None, "collected_at": None, "version": 1})

    # Visit houses in random order until the village's share of people is registered.
    households, people_count = [], 0
    order = list(range(houses_quota))
    rng.shuffle(order)
    for h in order:
        if people_count >= target_people:
            break
        row = house_rows[h]
        row["use"] = rng.choices(("owner", "rented", "group_rental", "vacant"), (78, 14, 2, 6))[0]
        row["collected_at"], row["version"] = _campaign_moment(rng), 2
        if row["use"] != "vacant":
            size = rng.choice((1, 2, 2, 3, 3, 3, 4, 4, 5, 6)) if row["use"] != "group_rental" else rng.randint(6, 12)
            households.append((row, [_person(rng, row["use"], row["collected_at"], m, used) for m in range(size)]))
            people_count += size
    db.session.execute(insert(House.__table__), house_rows)
    house_ids = dict(db.session.execute(select(House.door_code, House.id).where(House.village_id == village.id)).all())

    visits = _visits(rng, village, [r for r in house_rows if r["collected_at"]], house_ids, collectors)
    change_rows = [_change(rng, collectors, "house", house_ids[r["door_code"]], village, "update", r["collected_at"],
                           {"use": [None, r["use"]]}, version=2, visit=visits[r["door_code"]])
                   for r in house_rows if r["collected_at"]]
    members, member_doors = [], []
    for row, people in households:
        for person in people:
            person.update(house_id=house_ids[row["door_code"]], village_id=village.id, uid=new_uid(),
                          status="living", version=1)
            members.append((person, person.pop("_relation"), row["collected_at"]))
            member_doors.append(row["door_code"])
    if members:
        db.session.execute(insert(Person.__table__), [m for m, _r, _t in members])
        person_ids = dict(db.session.execute(select(Person.id_number, Person.id)
                                             .where(Person.village_id == village.id)).all())
        db.session.execute(insert(Residence.__table__), [
            {"person_id": person_ids[m["id_number"]], "house_id": m["house_id"], "from_date": m["move_in_date"],
             "relation": relation} for m, relation, _t in members])
        change_rows += [_change(rng, collectors, "person", person_ids[m["id_number"]], village, "new", moment,
                                {"name": [None, m["name"]], "house_id": [None, m["house_id"]]},
                                police_only=m["category"] == "abroad", visit=visits[door])
                        for (m, _r, moment), door in zip(members, member_doors)]
    change_rows += _organisations(rng, village, index, list(house_ids.values()), collectors)
    _reviewed(rng, change_rows, reviewers)
    db.session.execute(insert(Change.__table__), change_rows)


# Hours from collection to review in the demo's history: mostly the same or the next working day,
# a few after the 2 working days (the 及时率 then has late items to show).
REVIEW_DELAYS_H = (2, 3, 5, 7, 20, 22, 26, 30, 44, 50)
LATE_DELAYS_H = (100, 130, 170)


def _reviewed(rng, rows, reviewers) -> None:
    """The demo's history as entered at the desk: approved by the entry clerk (the police for
    people from abroad) with realistic review times, late ones marked as the rules would."""
    # The town's offset from UTC during the campaign (one conversion, not two per row: the load stays fast).
    offset = zone().utcoffset(datetime(2016, 6, 1))
    for row in rows:
        due = review.review_due_on((row["collected_at"] + offset).date())
        delay = rng.choice(LATE_DELAYS_H) if rng.random() < 0.04 else rng.choice(REVIEW_DELAYS_H)
        at = row["collected_at"] + timedelta(hours=delay)
        row.update(review_state=review.APPROVED, review_due_on=due, collected_late=False,
                   reviewed_at=at, reviewed_late=(at + offset).date() > due,
                   reviewed_by_id=reviewers["police" if row["police_only"] else "reviewer"])


# Days before today the demo's pending changes were collected: overdue ones, ones due today or
# tomorrow, fresh ones (the weekends and holidays in between decide which is which).
PENDING_DAYS_AGO = (9, 8, 7, 6, 5, 4, 4, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0)


def _desk_queue(rng, village, reviewers) -> None:
    """A realistic queue for the entry clerk in the first village: recent collections waiting
    (some overdue, some due today or tomorrow, relative to the real today), two of them flagged for
    having no door scan, and one returned to its collector with reasons."""
    changes = list(db.session.scalars(select(Change).where(
        Change.village_id == village.id, Change.entity == "person", Change.police_only.is_(False))
        .order_by(Change.id).limit(len(PENDING_DAYS_AGO) * 20)))[::20]
    today = local_today()
    now = datetime.utcnow()
    for change, days_ago in zip(changes, PENDING_DAYS_AGO):
        day = today - timedelta(days=days_ago)
        # Collected in working hours of that day (Beijing time = UTC+8), never in the future.
        moment = min(datetime(day.year, day.month, day.day, 1) + timedelta(minutes=rng.randrange(0, 480)), now)
        change.source, change.collected_at, change.known_on = "sync", moment, day
        change.review_state, change.review_due_on, change.collected_late = review.PENDING, review.review_due_on(day), False
        change.reviewed_at = change.reviewed_by_id = change.reviewed_late = None
        if change.visit_uid is not None:  # the door visit it was collected under moves with it
            db.session.execute(update(Visit).where(Visit.uid == change.visit_uid).values(at=moment, received_at=moment))
    db.session.flush()
    unscanned = [c for c in changes if not c.door_proof][:2] or changes[-2:]
    for change in unscanned:
        db.session.add(Flag(key=f"no_scan:change:{change.id}", kind="no_scan", entity="person",
                            entity_id=change.entity_id, change_id=change.id, village_id=village.id,
                            account_id=change.collected_by_id, detail={}))
    returned = changes[-1]
    returned.review_state, returned.reviewed_by_id = review.RETURNED, reviewers["reviewer"]
    returned.reviewed_at, returned.reviewed_late = now, False
    returned.return_reasons = {"name": "姓名与身份证不一致，请核对证件", "_": "请补拍户主照片"}


def _move_request(villages, accounts) -> None:
    """One person registered in the second village asks to move into the first: what the
    reviewer's move requests list (/review/moves) shows."""
    person = db.session.scalar(select(Person).where(Person.village_id == villages[1].id, Person.category == "local")
                               .order_by(Person.id).limit(1))
    house = db.session.scalar(select(House).where(House.village_id == villages[0].id, House.use == "rented")
                              .order_by(House.id).limit(1))
    if person is None or house is None:
        return
    collector = next(a for a in accounts if a.collection_id == "YP-0042")
    data = {n: getattr(person, n) for n in ("name", "sex", "id_type", "id_number", "birth_date", "ethnicity",
                                             "phone", "category")}
    data.update(move_in_date=local_today() - timedelta(days=1), move_in_reason="work")
    # Written as moves.request_move does (demo sits below moves in the layers).
    db.session.add(MoveRequest(person_id=person.id, from_village_id=person.village_id, to_house_id=house.id,
                               to_village_id=house.village_id, police_only=False, source="sync",
                               data={n: records.json_value(v) for n, v in data.items()}, relation=None, room=None,
                               requested_by_id=collector.id, known_on=local_today(), collected_at=datetime.utcnow()))


def _change(rng, collectors, entity, entity_id, village, kind, moment, fields, version=1, police_only=False,
            visit: dict | None = None) -> dict:
    """A Change row; collected under `visit` when given (by its collector, with door proof if scanned)."""
    return {"uid": new_uid(), "entity": entity, "entity_id": entity_id, "version": version, "village_id": village.id,
            "kind": kind, "fields": fields, "police_only": police_only, "source": "demo", "known_on": moment.date(),
            "collected_at": moment, "collected_by_id": visit["account_id"] if visit else rng.choice(collectors),
            "visit_uid": visit["uid"] if visit else None, "door_proof": bool(visit) and visit["method"] == "scan",
            "review_state": "exempt"}


def _visits(rng, village, collected_rows, house_ids, collectors) -> dict[str, dict]:
    """One visit per collected house, at its collection time: mostly opened by scanning the door's
    QR (door proof), some by typed code or from the list, so the dashboard and map show both.
    Returns the visit rows by door code."""
    visits = {}
    for row in collected_rows:
        accuracy = rng.choice((5.0, 8.0, 12.0, 20.0, 35.0, 80.0))
        lat, lon = row["lat"] + rng.gauss(0, 0.00008), row["lon"] + rng.gauss(0, 0.00008)
        visits[row["door_code"]] = {
            "uid": new_uid(), "house_id": house_ids[row["door_code"]], "village_id": village.id,
            "account_id": rng.choice(collectors), "device_id": None,
            "method": rng.choices(("scan", "code", "list"), (85, 10, 5))[0], "at": row["collected_at"],
            "received_at": row["collected_at"], "lat": round(lat, 6), "lon": round(lon, 6), "accuracy_m": accuracy,
            "distance_m": round(distance_m(lat, lon, row["lat"], row["lon"]), 1)}
    if visits:
        db.session.execute(insert(Visit.__table__), list(visits.values()))
    return visits


def _tips(rng, village, collectors, informant) -> None:
    """A few informant tips per village in every state, dated in the campaign, so task lists, overdue
    markers and reward facts have something to show."""
    house_ids = list(db.session.scalars(select(House.id).where(House.village_id == village.id).limit(200)))
    rows = []
    for _ in range(rng.randint(2, 5)):
        received = _campaign_moment(rng)
        state = rng.choice(("new", "assigned", "valid", "invalid", "closed"))
        worker = rng.choice(collectors)
        verified = received + timedelta(days=rng.randint(0, 4)) if state in ("valid", "invalid", "closed") else None
        house_id = rng.choice(house_ids)
        verdict = (state if state != "closed" else rng.choice(("valid", "invalid"))) if verified else None
        rows.append({
            "uid": new_uid(), "house_id": house_id, "village_id": village.id, "address_text": None,
            "kind": rng.choice(TIP_KINDS), "happened_on": (received - timedelta(days=rng.randint(0, 10))).date(),
            "details": None, "photo_uid": None, "source": "informant", "informant_id": informant,
            "contact_phone": None, "sender_key": None, "submitted_at": received, "received_at": received,
            "due_on": due_on(received), "state": state,
            "assigned_to_id": worker if state != "new" else None, "assigned_at": received if state != "new" else None,
            "verified_at": verified, "verified_by_id": worker if verified else None,
            "verify_visit_id": _proof_visit(village, house_id, worker, verified) if verified else None,
            "verify_note": "已上门核实" if verified else None, "verdict": verdict, "closed_at": verified if state == "closed" else None,
            "closed_by_id": None, "version": 1})
    db.session.execute(insert(Tip.__table__), rows)


def _conflicts(rng, village, collectors) -> None:
    """A few fields two collectors filled in differently at the same door, both offline (sync keeps
    the second value for the reviewer): what /review/conflicts shows in the demo's first village."""
    houses = list(db.session.scalars(select(House).where(House.village_id == village.id, House.use == "owner")
                                     .order_by(House.id).limit(40)))
    people = list(db.session.scalars(select(Person).where(Person.village_id == village.id, Person.phone.is_not(None))
                                     .order_by(Person.id).limit(40)))
    moment = datetime(2016, 5, 20, 10)
    named = rng.choice(people)
    # A given name heard three ways: the first visit's, the record's now, the second collector's.
    first, second = [c for c in GIVEN if c != named.name[-1]][:2]
    # (entity, record, field, value at both editors' base version, the second editor's value)
    picks = [("house", rng.choice(houses), "use", None, "rented"),
             ("person", named, "name", named.name[:-1] + first, named.name[:-1] + second),
             ("person", rng.choice(people), "phone", None, f"139{rng.randrange(10**8):08d}")]
    for n, (entity, record, name, base, submitted) in enumerate(picks):
        db.session.add(Conflict(entity=entity, entity_id=record.id, field=name, base=base, current=getattr(record, name),
                                submitted=submitted, account_id=rng.choice(collectors),
                                created_at=moment + timedelta(hours=n * 5)))


def _proof_visit(village, house_id: int, account_id: int, at: datetime) -> int:
    """The scanned visit a collector made to verify a tip (verifying needs one)."""
    visit = Visit(house_id=house_id, village_id=village.id, account_id=account_id, method="scan", at=at, received_at=at)
    db.session.add(visit)
    db.session.flush()
    return visit.id


def _resident_id(rng: random.Random, county: str, born: date, male: bool, used: set) -> str:
    """A valid, unused number: the serial's last digit is odd for men (GB 11643)."""
    while True:
        serial = rng.randrange(0, 100) * 10 + rng.choice((1, 3, 5, 7, 9) if male else (0, 2, 4, 6, 8))
        body = f"{county}{born:%Y%m%d}{serial:03d}"
        if body not in used:
            used.add(body)
            return body + resident_id_check_digit(body)


def _person(rng: random.Random, use: str, moment: datetime, member: int, used: set) -> dict:
    """A synthetic household member: householder first, then spouse, children, elders."""
    category = "local"
    if use in ("rented", "group_rental"):
        category = rng.choices(("migrant", "separated", "abroad"), (85, 13, 2))[0]
    male = rng.random() < 0.5 if member else rng.random() < 0.7
    age = (rng.randint(28, 75) if member < 2 else rng.choice((rng.randint(1, 25), rng.randint(70, 92))))
    born = date(2016 - age, rng.randint(1, 12), rng.randint(1, 28))
    relation = "02" if member == 0 else ("10" if member == 1 else ("20" if age < 30 else "50"))
    person = dict.fromkeys(("hukou_division", "nationality", "move_in_reason", "away_duration"))  # same keys in every row
    person |= {
        "name": rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2)))),
        "sex": "1" if male else "2", "birth_date": born, "ethnicity": "01" if rng.random() < 0.93 else "09",
        "phone": f"17{rng.randrange(0, 10**9):09d}" if age >= 16 and rng.random() < 0.8 else None,
        "category": category, "move_in_date": (moment - timedelta(days=rng.randint(30, 3000))).date(),
        "_relation": relation, "hukou_type": "2" if category == "local" else rng.choice(("1", "2")),
    }
    if category == "abroad":
        person.update(id_type="414", id_number=_passport(rng, used), nationality=rng.choice(("VNM", "KOR", "MMR")),
                      ethnicity=None, hukou_type=None, move_in_reason=rng.choice(("work", "family")), away_duration=None)
        return person
    county = LOCAL_COUNTY if category == "local" else rng.choice(MIGRANT_COUNTIES)
    person.update(id_type="111", id_number=_resident_id(rng, county, born, male, used), hukou_division=county,
                  nationality=None)
    if category != "local":
        person.update(move_in_reason=rng.choice(("work", "work", "business", "family", "study")),
                      away_duration=rng.choice(("lt6m", "6m_1y", "1y_2y", "2y_5y", "gt5y")))
    return person


def _passport(rng: random.Random, used: set) -> str:
    while (number := f"E{rng.randrange(10**7, 10**8)}") in used:
        pass
    used.add(number)
    return number


def _uscc(rng: random.Random, prefix: str, county: str) -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = prefix + county + "".join(rng.choice(alphabet) for _ in range(9))
    return body + uscc_check_char(body)


def _organisations(rng, village, index, house_ids, collectors) -> list[dict]:
    """Each village's collective economic organisation (credit code N2…, village level) and a shop or
    two; returns their Change rows."""
    specs = [(f"{village.name}股份经济合作社", "community_unit", "N2")]
    specs += [(f"{village.name}{rng.choice('兴旺福顺')}{kind}", k, "92")
              for kind, k in (("便利店", "shop"), ("农机修理部", "shop"))[: 1 + index % 2]]
    if index % 4 == 0:
        specs.append((f"余坪{rng.choice('宏达鑫源')}建材有限公司", "factory", "91"))
    rows = [{"uid": new_uid(), "village_id": village.id, "house_id": rng.choice(house_ids), "name": name,
             "kind": kind, "uscc": _uscc(rng, prefix, LOCAL_COUNTY), "status": "open", "version": 1,
             "employee_count": rng.randint(1, 40)} for name, kind, prefix in specs]
    db.session.execute(insert(Organisation.__table__), rows)
    org_ids = dict(db.session.execute(select(Organisation.uid, Organisation.id)
                                      .where(Organisation.village_id == village.id)).all())
    return [_change(rng, collectors, "organisation", org_ids[row["uid"]], village, "new", _campaign_moment(rng),
                    {"name": [None, row["name"]]}) for row in rows]
