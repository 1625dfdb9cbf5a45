"""Plain builder functions for test data. Each writes through the same code paths as the app
(accounts, records) and commits, so what tests see is what users get."""
from __future__ import annotations

import csv
import html
import io
from datetime import date
from itertools import count

from openpyxl import Workbook
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


def make_other_town() -> tuple[Town, Village]:
    """A second town with one village: town-wide roles of the first town must not see into it."""
    town = Town(code="T2", name="外镇", office="外镇人民政府", people_quota=100, houses_quota=40, orgs_quota=10)
    village = Village(town=town, code="Z1", name="远村", people_quota=100, houses_quota=40, sort_order=1)
    db.session.add_all([town, village])
    db.session.flush()
    records.ensure_counters([village.id])
    db.session.commit()
    return town, village


def make_account(town: Town, role: str, villages=(), pin: str | None = PIN, collection_id: str | None = None) -> Account:
    account = Account(collection_id=collection_id or f"T-{next(_serial):04d}", name=f"{role} holder", role=role,
                      town_id=town.id, villages=list(villages),
                      password_hash=generate_password_hash(pin, method="pbkdf2:sha256:1000") if pin else None)
    db.session.add(account)
    db.session.commit()
    return account


def resident_id(birth: str = "19850312", county: str = "110105", male: bool = True) -> str:
    """A valid resident ID number with a fresh serial: 500 per birth date and county before they
    repeat (the serial's last digit is odd for men, so half of the thousand serials fit)."""
    n = next(_serial) % 500
    body = f"{county}{birth}{2 * n + (1 if male else 0):03d}"
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
    person, _outcome, _conflicts = records.add_person(records.Actor(actor_id), house, person_data(**overrides))
    db.session.commit()
    return person


def sign_in(client, collection_id: str, pin: str = PIN):
    response = client.post("/login", data={"collection_id": collection_id, "pin": pin})
    assert response.status_code == 303, response.text[:500]
    return response


def db_state() -> dict:
    """Everything a request could write, by name: row counts, version sums, counters, revocations.
    Equal before and after a request = the request wrote nothing. Ends the caller's transaction so
    it reads what other sessions committed."""
    from sqlalchemy import func, select

    from fieldapp.models import (Account, AuditEvent, Change, House, Organisation, Person, Residence,
                                 VillageCounter)
    db.session.rollback()
    queries = {
        "changes": select(func.count(Change.id)), "people": select(func.count(Person.id)),
        "houses": select(func.count(House.id)), "organisations": select(func.count(Organisation.id)),
        "residences": select(func.count(Residence.id)), "accounts": select(func.count(Account.id)),
        "audit_events": select(func.count(AuditEvent.id)), "house_versions": select(func.sum(House.version)),
        "person_versions": select(func.sum(Person.version)),
        "organisation_versions": select(func.sum(Organisation.version)),
        "counted_people": select(func.sum(VillageCounter.people)),
        "counted_houses": select(func.sum(VillageCounter.houses)),
        "counted_orgs": select(func.sum(VillageCounter.orgs)),
        "revoked": select(func.count(Account.id)).where(Account.revoked_at.is_not(None)),
        "session_versions": select(func.sum(Account.session_version)),
    }
    state = {name: db.session.scalar(query) or 0 for name, query in queries.items()}
    db.session.rollback()
    return state


def send(client, method: str, url: str, data: dict | None = None, **kwargs):
    """One request, with the test's own session idle (no open transaction holding a lock)."""
    db.session.rollback()
    return client.open(url, method=method, data=data, **kwargs)


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def english(client):
    """Switch the client's UI to English (the default is Chinese), so tests can match English text."""
    assert send(client, "POST", "/language/en", {"next": "/"}).status_code == 303
    return client


def table_csv(rows: list[list], header: list, encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    """A table as an uploaded CSV file: the header, then the rows (None as an empty cell), CRLF line
    ends; encoding 'utf-8-sig' gives a BOM, 'gbk' or 'gb18030' what Chinese Excel saves."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue().encode(encoding)


def table_xlsx(rows: list[list], header: list) -> bytes:
    """A table as an uploaded .xlsx file: the header, then the rows, on the first sheet."""
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
