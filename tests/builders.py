"""Plain builder functions for test data. Each writes through the same code paths as the app
(accounts, records) and commits, so what tests see is what users get."""
from __future__ import annotations

from datetime import date
from itertools import count

from werkzeug.security import generate_password_hash

from fieldapp import records
from fieldapp.extensions import db
from fieldapp.models import Account, Town, Village
from fieldapp.rules.identifiers import resident_id_check_digit

_serial = count(1)
PIN = "secret-pin-1"


def make_town(villages=("东村", "西村"), people_quota=100, houses_quota=40) -> tuple[Town, list[Village]]:
    town = Town(code="T1", name="测试镇", office="测试镇人民政府", people_quota=people_quota * len(villages),
                houses_quota=houses_quota * len(villages), orgs_quota=10)
    made = [Village(town=town, code=f"V{i}", name=name, people_quota=people_quota, houses_quota=houses_quota,
                    sort_order=i, lat=30.0, lon=110.0) for i, name in enumerate(villages, 1)]
    db.session.add_all([town, *made])
    db.session.flush()
    records.ensure_counters([v.id for v in made])
    db.session.commit()
    return town, made


def make_account(town: Town, role: str, villages=(), pin: str | None = PIN, collection_id: str | None = None) -> Account:
    account = Account(collection_id=collection_id or f"T-{next(_serial):04d}", name=f"{role} holder", role=role,
                      town_id=town.id, villages=list(villages),
                      password_hash=generate_password_hash(pin, method="pbkdf2:sha256:1000") if pin else None)
    db.session.add(account)
    db.session.commit()
    return account


def resident_id(birth: str = "19850312", county: str = "110105", male: bool = True) -> str:
    """A valid resident ID number with a fresh serial (odd last serial digit = male)."""
    n = next(_serial) % 100
    body = f"{county}{birth}{n:02d}{(1 if male else 2) + 2 * (n % 4)}"
    return body + resident_id_check_digit(body)


def make_house(village: Village, number: str = "1", group: str | None = "1", collected: bool = False, **fields):
    house = records.create_house(records.Actor(None, "import"), village.id,
                                 {"group_name": group, "number": number, **fields}, collected=collected)
    db.session.commit()
    return house


def person_data(**overrides) -> dict:
    data = {"name": "张三", "id_type": "111", "id_number": resident_id(), "sex": None, "birth_date": None,
            "ethnicity": "01", "nationality": None, "phone": None, "hukou_division": None, "hukou_address": None,
            "hukou_type": "1", "category": "local", "move_in_date": date(2016, 1, 1), "move_in_reason": None,
            "away_duration": None, "employer_id": None}
    data.update(overrides)
    if data["id_type"] == "111":
        from fieldapp.rules.identifiers import resident_id_birth_date, resident_id_sex
        data["sex"] = data["sex"] or str(resident_id_sex(data["id_number"]))
        data["birth_date"] = data["birth_date"] or resident_id_birth_date(data["id_number"])
    return data


def make_person(house, actor_id=None, **overrides):
    person, _outcome = records.add_person(records.Actor(actor_id), house, person_data(**overrides))
    db.session.commit()
    return person


def sign_in(client, collection_id: str, pin: str = PIN):
    response = client.post("/login", data={"collection_id": collection_id, "pin": pin})
    assert response.status_code == 303, response.text[:500]
    return response
