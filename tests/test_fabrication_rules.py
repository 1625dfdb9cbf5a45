"""rules/fabrication.py: each detector, with the honest awkward cases it must leave alone."""
from datetime import datetime, timedelta

from fieldapp.rules import fabrication as fab
from fieldapp.rules.fabrication import ChangeFact, DocSubmission, PersonPhone, Place, Thresholds, TipFact, VisitFact

T0 = datetime(2026, 6, 1, 2, 0)  # 10:00 in Beijing
LAT, LON = 30.0, 120.0
M_LAT = 1 / 111_195  # degrees of latitude per metre


def visit(i=1, at=T0, north_m=0.0, acc=10.0, method="scan", collector=7, house=1):
    return VisitFact(visit_id=i, collector_id=collector, house_id=house, at=at, method=method,
                     lat=LAT + north_m * M_LAT, lon=LON, accuracy_m=acc)


def change(i=1, v=None, at=T0, proof=True, collector=7, values=(), id_number=None, at_door=True, entity="person"):
    return ChangeFact(change_id=i, entity=entity, entity_id=100 + i, collector_id=collector, village_id=1,
                      house_id=1, at=at, door_proof=proof, visit=v, values=values, id_number=id_number,
                      at_door=at_door)


def kinds(found):
    return sorted(f.key for f in found)


def test_thresholds_from_config():
    t = Thresholds.from_config({"FABRICATION_GPS_LIMIT_M": "150", "FABRICATION_BURST_COUNT": 6})
    assert (t.gps_limit_m, t.burst_count, t.pace_kmh) == (150.0, 6, 25)


def test_no_scan_spares_scans_and_office_edits():
    found = fab.no_scan([change(1, proof=False), change(2, proof=True), change(3, proof=False, v=visit()),
                         change(4, proof=False, at_door=False), change(5, proof=False, v=visit(method="code"))])
    assert kinds(found) == ["no_scan:change:1", "no_scan:change:5"]


def test_gps_far_allows_reported_accuracy_in_a_stairwell():
    houses = {1: Place(LAT, LON)}
    stairwell = change(1, v=visit(north_m=140, acc=60))   # 140 m off, 60 m accuracy: 80 m, fine
    far = change(2, v=visit(north_m=400, acc=30))
    vague = change(3, v=visit(north_m=2000, acc=5000))    # accuracy capped: still far
    no_fix = change(4, v=VisitFact(1, 7, 1, T0, "scan"))
    found = fab.gps_far([stairwell, far, vague, no_fix], houses)
    assert kinds(found) == ["gps_far:change:2", "gps_far:change:3"]
    assert found[0].detail == {"distance_m": 400, "accuracy_m": 30, "limit_m": 100}
    assert fab.gps_far([far], {}) == []  # no known position: nothing to compare


def test_impossible_pace_ignores_drift_between_neighbours():
    a = change(1, v=visit(1, T0))
    drift = change(2, v=visit(2, T0 + timedelta(minutes=1), north_m=250, acc=40))  # neighbour door
    walk = change(3, v=visit(3, T0 + timedelta(minutes=20), north_m=1200))
    jump = change(4, v=visit(4, T0 + timedelta(minutes=25), north_m=9000))
    found = fab.impossible_pace([a, drift, walk, jump])
    assert kinds(found) == ["impossible_pace:change:4"]
    assert found[0].detail["speed_kmh"] > 90 and found[0].detail["minutes"] == 5


def test_impossible_pace_uses_the_days_other_visits():
    later = change(2, v=visit(2, T0 + timedelta(minutes=10), north_m=10_000))
    assert fab.impossible_pace([later], visits=[visit(1, T0)]) != []
    other = visit(1, T0, collector=8)  # another collector's visit is no neighbour
    assert fab.impossible_pace([later], visits=[other]) == []


def test_far_outside_village():
    villages = {1: Place(LAT, LON)}
    found = fab.far_outside_village([change(1, v=visit(north_m=2500)), change(2, v=visit(north_m=8000))], villages)
    assert kinds(found) == ["far_outside_village:change:2"]


def test_night_spares_summer_evenings_and_office_work():
    def at_local(hour):
        return datetime(2026, 6, 1, hour) - timedelta(hours=8)
    found = fab.night([change(1, at=at_local(21)), change(2, at=at_local(23)), change(3, at=at_local(3)),
                       change(4, at=at_local(7)), change(5, at=at_local(23), at_door=False)])
    assert kinds(found) == ["night:change:2", "night:change:3"]
    assert found[0].detail == {"hour": 23}


def test_identical_burst_spares_a_family():
    same = (("category", "resident"), ("birth_date", "1980-01-01"), ("sex", "1"))
    copies = [change(i, at=T0 + timedelta(minutes=3 * i), values=same) for i in range(1, 6)]
    family = [change(10 + i, at=T0 + timedelta(minutes=3 * i),
                     values=(("category", "resident"), ("birth_date", f"19{70 + i}-01-01"), ("sex", "1")))
              for i in range(5)]
    spread = [change(20 + i, at=T0 + timedelta(hours=2 * i), values=same + (("x", 1),)) for i in range(5)]
    found = fab.identical_burst(copies + family + spread)
    assert kinds(found) == [f"identical_burst:change:{i}" for i in range(1, 6)]
    assert found[0].detail == {"count": 5, "minutes": 12}


def test_consecutive_ids_spares_twins():
    base = 33010219900101001
    counted = [change(i, at=T0 + timedelta(minutes=i), id_number=f"{base + 2 * i}X") for i in range(1, 6)]
    twins = [change(10 + i, at=T0 + timedelta(minutes=i), id_number=f"{base + 500 + i}1") for i in range(2)]
    found = fab.consecutive_ids(counted + twins)
    assert kinds(found) == [f"consecutive_ids:change:{i}" for i in range(1, 6)]
    assert found[0].detail == {"count": 5}


def test_doc_two_addresses_spares_confirmed_moves_and_old_addresses():
    def sub(i, house, day, move=False, number="330102199001010011"):
        return DocSubmission(i, 50, number, house, 1, 7, T0 + timedelta(days=day), move)
    found = fab.doc_two_addresses([sub(1, 1, 0), sub(2, 2, 3), sub(3, 3, 5, move=True),
                                   sub(4, 1, 0, number="A"), sub(5, 2, 90, number="A"),
                                   sub(6, 1, 0, number="B"), sub(7, 1, 2, number="B")])
    assert kinds(found) == ["doc_two_addresses:change:2"]
    assert found[0].detail == {"other_house_id": 1, "days": 3}


def test_phone_many_people_spares_families():
    def p(i, house, name, phone="13800000000"):
        return PersonPhone(i, phone, house, name, 1)
    household = [p(i, 1, n) for i, n in enumerate(["王伟", "李娜", "王芳", "王强", "王磊"])]
    family = [p(10 + i, 10 + i, "张" + str(i), "13900000000") for i in range(5)]  # one surname, 5 houses
    made_up = [p(20 + i, 20 + i, name, "13700000000") for i, name in enumerate(["赵一", "钱二", "孙三", "周四"])]
    found = fab.phone_many_people(household + family + made_up)
    assert kinds(found) == [f"phone_many_people:person:{20 + i}" for i in range(4)]
    assert found[0].detail == {"count": 4}
    assert fab.surname("欧阳修") == "欧阳"


def test_tips():
    def tip(i, informant, verifier, verdict="valid", collectors=2):
        return TipFact(i, informant, verifier, verdict, 1, village_collectors=collectors)
    assert kinds(fab.tip_self_verified([tip(1, 5, 5), tip(2, 5, 6), tip(3, None, 6)])) == ["tip_self_verified:tip:1"]
    pair = [tip(i, 5, 6) for i in range(5)]
    checked = [tip(10 + i, 8, 6, "valid" if i else "invalid") for i in range(6)]
    lone_village = [tip(20 + i, 9, 6, collectors=1) for i in range(6)]
    few = [tip(30 + i, 11, 6) for i in range(3)]
    found = fab.informant_one_collector(pair + checked + lone_village + few)
    assert [f.detail for f in found] == [{"informant_id": 5, "collector_id": 6, "tips": 5}]


def test_detect_all_deduplicates():
    c = change(1, proof=False)
    found = fab.detect_all([c, c])
    assert kinds(found) == ["no_scan:change:1"]
