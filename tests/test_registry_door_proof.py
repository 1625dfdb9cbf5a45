"""The house page's "visits and door proof" section: visits to the door by collector and method, and
each record collected here marked with or without door proof; for roles with visits.view only, and
without police-only records for anyone but police."""
from __future__ import annotations

from fieldapp import records
from fieldapp.extensions import db

from .builders import english, make_account, make_house, make_town, person_data
from .map_builders import make_visit


def test_supervisor_sees_visits_and_which_records_have_door_proof(ctx, login):
    town, (east, _west) = make_town()
    collector = make_account(town, "collector", [east], collection_id="T-0042")
    supervisor = make_account(town, "supervisor", [], collection_id="T-0002")
    house = make_house(east, number="27", group="3")
    make_visit(house, collector, method="scan")
    make_visit(house, collector, method="list")
    scanned = records.Actor(collector.id, "sync", visit_uid="v-1", door_proof=True)
    records.add_person(scanned, house, person_data(name="甲"))
    records.add_person(records.Actor(collector.id, "sync", visit_uid="v-2"), house, person_data(name="乙"))
    records.add_person(records.Actor(collector.id), house, person_data(name="丙", category="abroad", sex="1",
                                                                      nationality="VNM", id_type="414",
                                                                      id_number="E12345678", ethnicity=None,
                                                                      hukou_type=None))
    db.session.commit()

    client = login(supervisor)
    english(client)
    page = client.get(f"/houses/{house.id}").text
    assert "Visits and door proof" in page
    assert page.count("T-0042") >= 4  # two visits, two visible records
    assert "Scanned the door code" in page and "Picked from the list" in page
    # The house's own changes (registered from the register, then at the door with 甲) and the two
    # people; the record of the person from abroad is police-only: not counted, not listed.
    assert "2 with door proof, 2 without (newest 4)" in page
    assert "丙" not in page

    police = make_account(town, "police", [east])
    client = login(police)
    english(client)
    assert "2 with door proof, 3 without (newest 5)" in client.get(f"/houses/{house.id}").text


def test_collectors_do_not_get_the_section(ctx, login):
    town, (east, _west) = make_town()
    collector = make_account(town, "collector", [east])
    house = make_house(east)
    make_visit(house, collector)
    client = login(collector)
    english(client)
    page = client.get(f"/houses/{house.id}")
    assert page.status_code == 200 and "Visits and door proof" not in page.text
