"""Builders for the printed forms' tests (test_prints, the browser test, the permission matrix)."""
from __future__ import annotations

from datetime import timedelta

from fieldapp import records
from fieldapp.extensions import db
from fieldapp.models import Organisation, SubArea, utcnow
from fieldapp.rules.identifiers import uscc_check_char

from .builders import make_account, make_house
from .tips_builders import make_tip, make_visit


def credit_code(org: str = "MA4L0PR01") -> str:
    body = "91" + "430100" + org
    return body + uscc_check_char(body)


def make_sub_area(village, code: str = "A1", name: str = "一片区", kind: str = "area") -> SubArea:
    area = SubArea(village_id=village.id, code=code, name=name, kind=kind)
    db.session.add(area)
    db.session.commit()
    return area


def make_org(house, name: str, **fields) -> Organisation:
    org = records.add_organisation(records.Actor(None, "import"), house, {"name": name, "kind": "shop", **fields})
    db.session.commit()
    return org


def furnished_house(village, collector, number: str = "1", group: str = "1", people: int = 2, sub_area=None,
                    scanned: bool = True):
    """A registered house with `people` residents (the first the householder, with a phone), one
    shop and a visit by `collector` (scanned at the door unless told otherwise)."""
    house = make_house(village, number=number, group=group, collected=True, use="rented",
                       owner_name="房东" + number, owner_phone="13700001111", tenant_name="租客" + number,
                       tenant_phone="13900002222")
    if sub_area is not None:
        house.sub_area_id = sub_area.id
        db.session.commit()
    made = []
    for n in range(people):
        person, _outcome, _conflicts = records.add_person(
            records.Actor(None), house, _person(f"住户{number}之{n + 1}", phone="13812345678" if n == 0 else None),
            relation="02" if n == 0 else "10")
        db.session.commit()
        made.append(person)
    make_org(house, f"{number}号小卖部", uscc=credit_code(f"MA4L{int(number):04d}X"[:9]), legal_rep="店主" + number,
             phone="13611112222", employee_count=3)
    make_visit(house, collector, at=utcnow() - timedelta(hours=2), method="scan" if scanned else "list")
    return house, made


def _person(name: str, phone: str | None):
    from .builders import person_data
    return person_data(name=name, phone=phone)


def informant_with_tips(village, other_village, collector, house):
    """An informant of `village` with tips in this quarter: one verified valid, one not valid, one
    waiting, and one about `other_village` (outside a village head's scope there)."""
    informant = make_account(village.town, "informant", [village, other_village])
    now = utcnow()
    valid = make_tip(village, house, informant, state="valid", details="三楼新搬来两人", verified_at=now,
                     verified_by_id=collector.id)
    invalid = make_tip(village, None, informant, state="invalid", address_text="东村5组9号", verified_at=now,
                       verified_by_id=collector.id, verdict="invalid")
    waiting = make_tip(village, house, informant, kind="group_rental")
    elsewhere = make_tip(other_village, None, informant, address_text="西村2组1号")
    public = make_tip(village, house, None)  # a public tip: no informant, not on anyone's form
    return informant, {"valid": valid.id, "invalid": invalid.id, "waiting": waiting.id,
                       "elsewhere": elsewhere.id, "public": public.id}


# --- the permission matrix (tests/test_permissions.py) -------------------------------------------

def add_print_targets(world) -> None:
    """A sub-area holding each target's house, and an informant of each target's village."""
    from fieldapp.models import Account, House, Village

    for key in ("own", "west", "town2"):
        target = world.targets[key]
        village = db.session.get(Village, target.village)
        area = make_sub_area(village, code=f"S-{key}"[:12], name=f"{key}片区")
        db.session.get(House, target.house).sub_area_id = area.id
        informant = Account(collection_id=f"INF-{key}"[:16], name=f"{key}信息员", role="informant",
                            town_id=village.town_id, villages=[village])
        db.session.add(informant)
        db.session.flush()
        target.sub_area, target.informant = area.id, informant.id
    db.session.commit()


def matrix_url_args(endpoint: str, target) -> dict | None:
    args = {
        "prints.house": {"house_id": target.house},
        "prints.village": {"village_id": target.village},
        "prints.sub_area": {"sub_area_id": getattr(target, "sub_area", None)},
        "prints.informant": {"account_id": getattr(target, "informant", None)},
    }
    return args.get(endpoint)
