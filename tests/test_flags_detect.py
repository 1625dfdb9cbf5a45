"""flags/detect.py: facts gathered from the database, flags inserted once by key, hooks that never
fail a save, and the `flags scan` sweep."""
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from fieldapp import records
from fieldapp.extensions import db
from fieldapp.flags import detect
from fieldapp.models import Tip, Visit
from fieldapp.models.review import Flag
from fieldapp.rules.fabrication import Finding
from tests.builders import make_account, make_house, make_town, person_data

NIGHT = datetime(2026, 6, 1, 15, 30)  # 23:30 in Beijing


def _flags():
    return sorted((f.kind, f.entity, f.change_id is not None) for f in db.session.scalars(select(Flag)))


def test_sweep_raises_each_flag_once(ctx, runner):
    town, (village, _) = make_town()
    collector = make_account(town, "collector", [village])
    house = make_house(village, lat=30.0, lon=110.0)
    visit = Visit(house_id=house.id, village_id=village.id, account_id=collector.id, method="code", at=NIGHT,
                  lat=30.01, lon=110.0, accuracy_m=20)  # 1.1 km from the house
    db.session.add(visit)
    db.session.flush()
    records.add_person(records.Actor(collector.id, "sync", collected_at=NIGHT, visit_uid=visit.uid), house,
                       person_data())
    honest = records.add_person(records.Actor(collector.id, "sync", collected_at=NIGHT - timedelta(hours=10),
                                              door_proof=True), house, person_data())[0]
    db.session.commit()
    detect.sweep()
    first = _flags()
    assert first == [("gps_far", "person", True), ("night", "person", True), ("no_scan", "person", True)]
    assert db.session.scalar(select(func.count()).where(Flag.entity_id == honest.id)) == 0
    far = db.session.scalar(select(Flag).where(Flag.kind == "gps_far"))
    assert far.detail == {"distance_m": 1112, "accuracy_m": 20, "limit_m": 100}
    assert (far.house_id, far.village_id, far.account_id) == (house.id, village.id, collector.id)
    result = runner.invoke(args=["flags", "scan", "--since", "2026-01-01"])
    assert result.exit_code == 0, result.output
    assert _flags() == first  # idempotent


def test_insert_is_a_no_op_for_a_known_key(ctx):
    town, (village, _) = make_town()
    finding = Finding(key="night:change:0", kind="night", entity="person", entity_id=1, village_id=village.id,
                      detail={"hour": 23})
    detect.insert_findings([finding, finding])
    detect.insert_findings([finding])
    db.session.commit()
    assert db.session.scalar(select(func.count(Flag.id))) == 1


def test_a_failing_detector_never_fails_the_save(ctx, monkeypatch, caplog):
    town, (village, _) = make_town()
    collector = make_account(town, "collector", [village])

    def broken(ids):
        raise RuntimeError("detector bug")
    monkeypatch.setattr(detect, "scan_changes", broken)
    detect.after_web_save(collector.id)  # returns, logs
    assert "flags scan" in caplog.text


def test_web_save_flags_a_record_without_a_scan(ctx):
    town, (village, _) = make_town()
    collector = make_account(town, "collector", [village])
    house = make_house(village)
    records.add_person(records.Actor(collector.id, "web"), house, person_data())
    db.session.commit()
    detect.after_web_save(collector.id)
    assert _flags() == [("no_scan", "person", True)]


def test_tip_verified_by_its_own_informant(ctx):
    town, (village, _) = make_town()
    both = make_account(town, "collector", [village])
    house = make_house(village)
    now = datetime(2026, 6, 1, 2)
    tip = Tip(house_id=house.id, village_id=village.id, kind="moved_in", source="informant", informant_id=both.id,
              submitted_at=now, due_on=date(2026, 6, 4), state="verified", verified_at=now, verified_by_id=both.id,
              verdict="valid")
    db.session.add(tip)
    db.session.commit()
    detect.after_tip_verified(tip.id)
    flag = db.session.scalar(select(Flag))
    assert (flag.kind, flag.entity, flag.entity_id, flag.detail) == ("tip_self_verified", "tip", tip.id,
                                                                     {"tip_id": tip.id})
