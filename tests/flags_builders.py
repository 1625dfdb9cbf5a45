"""Builders for fabrication-flag tests (tests/test_flags_*.py and the permission matrix): Flag rows
inserted directly, as the detectors would write them."""
from __future__ import annotations

from itertools import count

from fieldapp.extensions import db
from fieldapp.models import Flag, utcnow

_serial = count(1)

# A detail with every key each kind's sentence uses (rendered in tests/test_flags_http.py).
DETAILS = {
    "no_scan": {},
    "gps_far": {"distance_m": 312.4, "accuracy_m": 20, "limit_m": 100},
    "impossible_pace": {"distance_m": 5200, "minutes": 4, "speed_kmh": 78},
    "doc_two_addresses": {"other_house_id": None, "days": 30},
    "phone_many_people": {"count": 9},
    "tip_self_verified": {"tip_id": 1},
    "informant_one_collector": {"informant_id": 1, "collector_id": 2, "tips": 14},
    "identical_burst": {"count": 12, "minutes": 10},
    "consecutive_ids": {"count": 6},
    "far_outside_village": {"distance_m": 4800},
    "night": {"hour": 2},
    "duplicate_house": {"other_house_id": None},
}


def make_flag(village_id: int, kind: str = "no_scan", detail: dict | None = None, house_id: int | None = None,
              entity: str = "house", entity_id: int | None = None, account_id: int | None = None,
              change_id: int | None = None, cleared: bool = False) -> Flag:
    flag = Flag(key=f"{kind}:test:{next(_serial)}", kind=kind, entity=entity,
                entity_id=entity_id if entity_id is not None else (house_id or 0), change_id=change_id,
                house_id=house_id, village_id=village_id, account_id=account_id,
                detail=DETAILS.get(kind, {}) if detail is None else detail,
                cleared_at=utcnow() if cleared else None, clear_note="已核实" if cleared else None)
    db.session.add(flag)
    db.session.commit()
    return flag


# --- the permission matrix (tests/test_permissions.py) -------------------------------------------

def add_flag_targets(world) -> None:
    """An open flag on each target's house (own / west / town2), and one on the person from abroad
    (police only), all on the work of a collector who is none of the matrix's accounts."""
    for key in ("own", "west", "town2", "abroad"):
        target = world.targets[key]
        if key == "abroad":
            flag = make_flag(target.village, "night", house_id=target.house, entity="person", entity_id=target.person)
        else:
            flag = make_flag(target.village, "gps_far", house_id=target.house)
        target.flag = flag.id


def matrix_url_args(endpoint: str, target) -> dict | None:
    if endpoint == "flags.clear":
        return {"flag_id": target.flag}
    if endpoint == "flags.index":
        return {"village": target.village}
    return None


def matrix_post_data(endpoint: str, target) -> dict | None:
    if endpoint == "flags.clear":
        return {"note": "核实过，定位漂移", "next": "/"}
    return None
