"""Fabrication flags as people see and handle them (fieldapp/flags): every kind in words with its
figures (unknown kinds and missing figures included), clearing with a note and who may, the house
page, the /flags list and the map's "flagged" state."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.flags import service
from fieldapp.models import Account, AuditEvent, Flag

from .builders import english, make_account, make_house, make_person, make_town, send, text_of
from .flags_builders import DETAILS, make_flag

ENGLISH = {
    "no_scan": "No scanned visit to this door for this record.",
    "gps_far": "GPS position 312 m from the house (reported accuracy 20 m, limit 100 m).",
    "impossible_pace": "Consecutive visits 5200 m apart in 4 minutes (78.0 km/h): faster than walking.",
    "doc_two_addresses": "The same document number was submitted at another address within 30 days.",
    "phone_many_people": "One phone number is on 9 unrelated people.",
    "tip_self_verified": "A tip was verified by the informant who sent it.",
    "informant_one_collector": "All 14 tips of this informant went to one collector and were all valid.",
    "identical_burst": "12 records with identical values within 10 minutes.",
    "consecutive_ids": "6 records with consecutive ID numbers.",
    "far_outside_village": "Recorded 4800 m outside the village.",
    "night": "Recorded at night (2 o'clock).",
    "duplicate_house": "Another house is registered at the same address.",
}


def _world():
    town, (east, west) = make_town()
    house = make_house(east, number="8")
    collector = make_account(town, "collector", [east])
    reviewer = make_account(town, "reviewer", [east])
    return town, east, west, house, collector, reviewer


def _clear(client, flag_id, note="核实过，定位漂移", next_url="/"):
    return send(client, "POST", f"/flags/{flag_id}/clear", {"note": note, "next": next_url})


def _flag(flag_id) -> Flag:
    db.session.rollback()
    return db.session.get(Flag, flag_id)


def test_every_kind_is_worded_with_its_figures_in_english(ctx, login):
    _town, east, _west, house, collector, reviewer = _world()
    other = make_house(east, number="9")
    for kind in ENGLISH:
        detail = dict(DETAILS[kind])
        if "other_house_id" in detail:
            detail["other_house_id"] = other.id
        make_flag(east.id, kind, detail, house_id=house.id, account_id=collector.id)
    page = send(english(login(reviewer)), "GET", f"/houses/{house.id}")
    assert page.status_code == 200
    text = text_of(page)
    for kind, sentence in ENGLISH.items():
        assert sentence in text, kind
    assert f"work of {collector.collection_id}" in text
    html = page.get_data(as_text=True)
    assert f"/review/houses/merge?keep={other.id}&amp;other={house.id}" in html  # duplicate_house: merge link
    assert html.count('class="flag-clear"') == len(ENGLISH)


def test_wording_is_chinese_by_default(ctx, login):
    _town, east, _west, house, collector, reviewer = _world()
    make_flag(east.id, "gps_far", house_id=house.id, account_id=collector.id)
    make_flag(east.id, "night", house_id=house.id, account_id=collector.id)
    text = text_of(send(login(reviewer), "GET", f"/houses/{house.id}"))
    assert "GPS 位置距房屋 312 米（定位精度 20 米，限值 100 米）。" in text
    assert "夜间采集（2 时）。" in text


@pytest.mark.parametrize("kind, detail, expected", [
    ("mystery_kind", {"x": 1}, "Flagged for a reviewer's look (mystery_kind)."),
    ("gps_far", {}, "GPS position far from the house."),
    ("impossible_pace", {"distance_m": "far", "minutes": 3, "speed_kmh": 9}, "Consecutive visits farther apart than walking allows."),
    ("night", {"hour": None}, "Recorded at night."),
    ("phone_many_people", [], "One phone number is on many unrelated people."),
    ("duplicate_house", {}, "Another house is registered at the same address."),
    ("duplicate_house", {"other_house_id": "nope"}, "Another house is registered at the same address."),
    ("doc_two_addresses", {"other_house_id": [1], "days": "many"},
     "The same document number was submitted at another address."),
])
def test_unknown_kinds_and_missing_figures_still_read_sensibly(ctx, login, kind, detail, expected):
    _town, east, _west, house, collector, reviewer = _world()
    make_flag(east.id, kind, detail, house_id=house.id, account_id=collector.id)
    page = send(english(login(reviewer)), "GET", f"/houses/{house.id}")
    assert page.status_code == 200
    assert expected in text_of(page)
    listed = send(login(reviewer), "GET", f"/flags?village={east.id}")
    assert listed.status_code == 200


def test_clearing_needs_a_note_and_comes_back_to_the_page(ctx, login):
    _town, east, _west, house, collector, reviewer = _world()
    flag = make_flag(east.id, "gps_far", house_id=house.id, account_id=collector.id)
    web = login(reviewer)
    empty = _clear(web, flag.id, note="   ", next_url=f"/houses/{house.id}")
    assert empty.status_code == 422
    assert "请写明可以解除标记的理由。" in text_of(empty) and _flag(flag.id).cleared_at is None
    long_note = "说明" * 200
    too_long = _clear(web, flag.id, note=long_note)
    assert too_long.status_code == 422 and long_note in text_of(too_long)  # the note is kept to shorten
    done = _clear(web, flag.id, next_url=f"/houses/{house.id}?tab=1")
    assert done.status_code == 303 and done.headers["Location"].endswith(f"/houses/{house.id}?tab=1")
    saved = _flag(flag.id)
    assert saved.cleared_at is not None and saved.cleared_by_id == reviewer.id and saved.clear_note == "核实过，定位漂移"
    events = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "flag.clear")))
    assert [(e.account_id, e.target) for e in events] == [(reviewer.id, f"flag:{flag.id}")]
    # Gone from the house page once cleared.
    assert f'id="flag-{flag.id}"' not in send(web, "GET", f"/houses/{house.id}").get_data(as_text=True)


def test_a_link_elsewhere_is_not_followed(ctx, login):
    _town, east, _west, house, collector, reviewer = _world()
    flag = make_flag(east.id, "no_scan", house_id=house.id, account_id=collector.id)
    done = _clear(login(reviewer), flag.id, next_url="//evil.example/")
    assert done.status_code == 303 and done.headers["Location"].endswith(f"/houses/{house.id}")


def test_a_second_clear_finds_it_cleared_and_changes_nothing(ctx, login):
    town, east, _west, house, collector, reviewer = _world()
    second = make_account(town, "reviewer", [east])
    flag = make_flag(east.id, "no_scan", house_id=house.id, account_id=collector.id)
    first_client, second_client = login(reviewer), login(second)
    assert _clear(first_client, flag.id, note="第一个").status_code == 303
    late = _clear(second_client, flag.id, note="第二个")
    assert late.status_code in (404, 409)  # an open flag is gone from what may be cleared
    saved = _flag(flag.id)
    assert saved.cleared_by_id == reviewer.id and saved.clear_note == "第一个"


def test_two_reviewers_clearing_at_once_one_wins(ctx):
    town, east, _west, house, collector, reviewer = _world()
    second = make_account(town, "reviewer", [east])
    flag = make_flag(east.id, "no_scan", house_id=house.id, account_id=collector.id)
    # Both loaded the open flag (the race): the single conditional UPDATE decides.
    mine = service.clearable_or_404(reviewer, flag.id)
    service.clear(reviewer, mine, "先到")
    db.session.commit()
    stale = db.session.get(Flag, flag.id)
    with pytest.raises(service.AlreadyCleared):
        service.clear(db.session.get(Account, second.id), stale, "后到")
    db.session.rollback()
    assert _flag(flag.id).clear_note == "先到"
    with pytest.raises(ValueError):
        service.clear(reviewer, stale, "  ")


def test_scope_of_clearing(ctx, login):
    town, east, west, house, collector, reviewer = _world()
    west_house = make_house(west, number="3")
    abroad = make_person(house, name="John", id_type="414", id_number="E12345678", sex="1",
                         birth_date=__import__("datetime").date(1980, 5, 1), category="abroad",
                         nationality="USA", ethnicity=None, hukou_type=None)
    on_west = make_flag(west.id, "no_scan", house_id=west_house.id, account_id=collector.id)
    on_abroad = make_flag(east.id, "night", house_id=house.id, entity="person", entity_id=abroad.id,
                          account_id=collector.id)
    plain = make_flag(east.id, "no_scan", house_id=house.id, account_id=collector.id)
    police = make_account(town, "police", [east])
    web = login(reviewer)
    assert _clear(web, on_west.id).status_code == 404
    assert _clear(web, on_abroad.id).status_code == 404
    assert _clear(web, 2**40).status_code == 404
    assert _clear(login(police), plain.id).status_code == 404  # police enter people from abroad only
    for role in ("collector", "informant", "village_head", "supervisor"):
        other = make_account(town, role, [] if role == "supervisor" else [east])
        assert _clear(login(other), plain.id).status_code == 403, role
    assert _clear(login(collector), plain.id).status_code == 403
    assert _clear(login(police), on_abroad.id).status_code == 303
    # The reviewer does not even see the flag on the person from abroad on the house page.
    html = send(web, "GET", f"/houses/{house.id}").get_data(as_text=True)
    assert f'id="flag-{plain.id}"' in html and f'id="flag-{on_abroad.id}"' not in html
    assert _flag(on_west.id).cleared_at is None and _flag(plain.id).cleared_at is None


def test_nobody_clears_a_flag_on_their_own_work(ctx, login):
    _town, east, _west, house, _collector, reviewer = _world()
    flag = make_flag(east.id, "no_scan", house_id=house.id, account_id=reviewer.id)
    assert _clear(login(reviewer), flag.id).status_code == 403
    html = send(login(reviewer), "GET", f"/houses/{house.id}").get_data(as_text=True)
    assert f'id="flag-{flag.id}"' in html and 'class="flag-clear"' not in html


def test_house_page_shows_the_house_and_its_records_flags_to_who_may_see_them(ctx, login):
    town, east, _west, house, collector, reviewer = _world()
    person = make_person(house, name="李四")
    on_person = make_flag(east.id, "phone_many_people", entity="person", entity_id=person.id,
                          account_id=collector.id)  # no house_id: found through the resident
    on_house = make_flag(east.id, "no_scan", house_id=house.id, account_id=collector.id)
    gone = make_flag(east.id, "night", house_id=house.id, account_id=collector.id, cleared=True)
    head = make_account(town, "village_head", [east])
    html = send(login(head), "GET", f"/houses/{house.id}").get_data(as_text=True)
    assert 'id="house-flags"' in html and f'id="flag-{on_person.id}"' in html and f'id="flag-{on_house.id}"' in html
    assert f'id="flag-{gone.id}"' not in html
    assert 'class="flag-clear"' not in html  # a village head sees them, clears none
    collector_page = send(login(collector), "GET", f"/houses/{house.id}").get_data(as_text=True)
    assert 'id="house-flags"' not in collector_page


def test_the_flags_list_filters_by_kind_and_collector_and_pages(ctx, login):
    town, east, west, house, collector, reviewer = _world()
    other = make_account(town, "collector", [east])
    for _ in range(service.PAGE + 2):
        make_flag(east.id, "no_scan", house_id=house.id, account_id=collector.id)
    night = make_flag(east.id, "night", house_id=house.id, account_id=other.id)
    make_flag(west.id, "night", house_id=house.id, account_id=other.id)
    web = english(login(reviewer))
    first = send(web, "GET", f"/flags?village={east.id}")
    assert first.status_code == 200 and f"{service.PAGE + 3} open flags." in text_of(first)
    assert first.get_data(as_text=True).count('class="flag"') == service.PAGE
    second = send(web, "GET", f"/flags?village={east.id}&page=2")
    assert second.get_data(as_text=True).count('class="flag"') == 3
    by_kind = send(web, "GET", f"/flags?village={east.id}&kind=night").get_data(as_text=True)
    assert by_kind.count('class="flag"') == 1 and f'id="flag-{night.id}"' in by_kind
    by_worker = send(web, "GET", f"/flags?village={east.id}&collector={other.id}").get_data(as_text=True)
    assert by_worker.count('class="flag"') == 1 and other.collection_id in by_worker
    assert send(web, "GET", f"/flags?village={west.id}").status_code == 404
    events = db.session.scalars(select(AuditEvent.action).where(AuditEvent.action == "view_flags")).all()
    assert len(events) == 4  # one per page shown, none for the refused one
    supervisor = make_account(town, "supervisor", [])
    assert send(login(supervisor), "GET", f"/flags?village={west.id}").status_code == 200
    assert send(login(collector), "GET", "/flags").status_code == 403


def test_the_map_shows_houses_with_open_flags_as_flagged(ctx, login):
    town, east, _west, house, collector, reviewer = _world()
    quiet = make_house(east, number="10")
    db.session.rollback()
    for h in (house, quiet):
        db.session.get(type(h), h.id).lat, db.session.get(type(h), h.id).lon = 30.001, 110.001
    db.session.commit()
    flag = make_flag(east.id, "gps_far", house_id=house.id, account_id=collector.id)
    supervisor = make_account(town, "supervisor", [])
    web = login(supervisor)

    def states():
        body = send(web, "GET", f"/map/points.json?village={east.id}").get_json()
        flagged = body["states"].index("flagged")
        return {row[0]: row[3] == flagged for block in body["villages"] for row in block["houses"]}

    assert states() == {house.id: True, quiet.id: False}
    assert send(web, "GET", f"/map/houses/{house.id}.json").get_json()["state"] == "flagged"
    assert _clear(login(reviewer), flag.id).status_code == 303
    assert states() == {house.id: False, quiet.id: False}
