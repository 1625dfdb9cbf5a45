"""Dashboard figures: counters, the town's own quotas, "as of" a day, sorting, per-collector work,
the daily series, houses not yet visited, and the pages for each role."""
from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import select

from fieldapp import records
from fieldapp.extensions import db
from fieldapp.models import CollectorDay, VillageDay
from fieldapp.progress import chart, data
from fieldapp.progress.data import overview
from fieldapp.rules import days

from .builders import make_account, make_house, make_person, make_town
from .dashboard_builders import add_day, add_tip, add_visit, make_campaign

MAY25 = date(2016, 5, 25)


def test_overview_figures_and_phase_status(ctx):
    town, (east, west) = make_town(people_quota=10, houses_quota=4)
    make_campaign(town)
    for n in range(6):
        make_person(make_house(east, number=str(n), collected=True))
    data_ = overview(town, [east, west], MAY25, with_total=True, today=MAY25)
    by_name = {r.name: r for r in data_.rows}
    assert (by_name["东村"].people.collected, by_name["东村"].people.percent) == (6, 60.0)
    assert by_name["东村"].review.judged == 0  # no collected change is due for review yet
    assert by_name["东村"].houses.collected == 6 and by_name["东村"].houses.bar == 100.0  # over quota: bar full
    assert by_name["东村"].status == "on_track" and by_name["东村"].target == 6
    assert by_name["东村"].houses.target == 3  # ceil(0.6 * 4)
    assert by_name["西村"].status == "behind"
    assert data_.phase.name == "第1阶段" and data_.days_left == 1 and data_.behind == 1
    assert (data_.total.people.collected, data_.total.people.quota) == (6, 20)
    assert data_.total.orgs.quota == 10  # the town's own organisation quota
    later = overview(town, [east], MAY25 + timedelta(days=1), with_total=False, today=MAY25 + timedelta(days=1))
    assert later.rows[0].status == "behind" and later.total is None


def test_as_of_an_earlier_day_takes_back_what_came_later(ctx):
    town, (east, west) = make_town(people_quota=10)
    make_campaign(town)
    for n in range(4):
        make_person(make_house(east, number=str(n), collected=True))
    today = days.today()
    # The maintained table has today's additions; say two of the people came in on 2016-05-01.
    assert db.session.get(VillageDay, (east.id, today)).people == 4
    add_day(east, today, people=-2)
    add_day(east, date(2016, 5, 1), people=2)
    figures = {r.name: r for r in overview(town, [east, west], date(2016, 5, 1), with_total=True).rows}
    assert figures["东村"].people.collected == 2
    assert {r.name: r for r in overview(town, [east], date(2016, 4, 30), with_total=False).rows}[
        "东村"].people.collected == 0
    assert overview(town, [east], today, with_total=False).rows[0].people.collected == 4  # live counters


def test_no_campaign_means_no_status(ctx):
    town, villages = make_town()
    data_ = overview(town, villages, date(2016, 5, 1), with_total=True)
    assert data_.campaign is None and all(r.status is None for r in data_.rows)


def test_sorting_by_percentage_status_and_name(ctx):
    town, villages = make_town(villages=("甲村", "乙村", "丙村"), people_quota=10)
    make_campaign(town)
    for village, n in zip(villages, (1, 9, 5)):
        for i in range(n):
            make_person(make_house(village, number=str(i), collected=True))
    def names(**kw):
        return [r.name for r in overview(town, villages, MAY25, with_total=False, today=MAY25, **kw).rows]
    assert names() == ["甲村", "乙村", "丙村"]  # the town's order
    assert names(sort="people", descending=True) == ["乙村", "丙村", "甲村"]
    assert names(sort="people") == ["甲村", "丙村", "乙村"]
    assert names(sort="status") == ["甲村", "丙村", "乙村"]  # behind first (1 and 5 < 6 due), then on track


def test_daily_table_follows_the_counters_and_rebuild_agrees(ctx):
    town, (east, west) = make_town()
    collector = make_account(town, "collector", [east])
    house = make_house(east, collected=True)
    people = [make_person(house, actor_id=collector.id) for _ in range(3)]
    records.mark_left(records.Actor(collector.id), people[0], days.today(), "搬走", people[0].version)
    db.session.commit()
    today = days.today()
    row = db.session.get(VillageDay, (east.id, today))
    assert (row.people, row.houses) == (2, 1)  # 3 in, 1 out; the house registered at the door
    work = db.session.get(CollectorDay, (collector.id, east.id, today))
    assert work.records == 4 and work.door_proof == 0  # three new people and one leave
    before = {(r.village_id, r.day, r.people, r.houses) for r in db.session.scalars(select(VillageDay))}
    records.recount()
    db.session.commit()
    after = {(r.village_id, r.day, r.people, r.houses) for r in db.session.scalars(select(VillageDay))}
    assert after == before
    assert db.session.get(CollectorDay, (collector.id, east.id, today)).records == 4


def test_a_rolled_back_savepoint_takes_its_daily_figures_with_it(ctx):
    town, (east, _west) = make_town()
    house = make_house(east, collected=True)
    with db.session.begin_nested() as savepoint:
        records.add_person(records.Actor(None), house, _person())
        savepoint.rollback()
    db.session.commit()
    assert db.session.get(VillageDay, (east.id, days.today())).people == 0


def _person():
    from .builders import person_data
    return person_data()


def test_collectors_today_week_door_proof_and_tips(ctx):
    town, (east, west) = make_town()
    make_campaign(town)
    ann = make_account(town, "collector", [east], collection_id="T-ANN")
    bob = make_account(town, "collector", [west], collection_id="T-BOB")
    make_account(town, "collector", [east], collection_id="T-IDLE")  # idle: listed with zeros
    house = make_house(east, collected=True)
    as_of = days.today()
    for _ in range(2):
        make_person(house, actor_id=ann.id)
    make_person(make_house(west, collected=True), actor_id=bob.id)
    add_visit(house, ann, "scan")
    add_visit(house, ann, "list")
    add_tip(east, ann, due_on=as_of - timedelta(days=1))  # overdue
    add_tip(east, ann, due_on=as_of + timedelta(days=2))
    add_tip(east, None, state="new", due_on=as_of - timedelta(days=3))  # nobody's yet, overdue
    add_tip(east, ann, state="closed", due_on=as_of - timedelta(days=9))  # done: not open
    # A day last week is outside this week's figures.
    db.session.add(CollectorDay(account_id=ann.id, village_id=east.id, day=as_of - timedelta(days=8), records=50,
                                door_proof=0, visits=0, scans=0))
    db.session.commit()
    result = data.collectors(town.id, [east.id], as_of)
    rows = {r.collection_id: r for r in result.rows}
    assert set(rows) == {"T-ANN", "T-IDLE"}  # bob works in another village
    a = rows["T-ANN"]
    assert (a.today, a.week, a.visits, a.scans, a.open_tips, a.overdue_tips) == (2, 2, 2, 1, 2, 1)
    assert (rows["T-IDLE"].week, rows["T-IDLE"].open_tips) == (0, 0)
    assert (result.unassigned_tips, result.unassigned_overdue) == (1, 1)
    assert result.rows[0].collection_id == "T-ANN"  # overdue work first


def test_daily_series_is_cumulative_against_expected(ctx):
    town, (east, _west) = make_town(people_quota=100)
    campaign = data.current_campaign(make_campaign(town).town, MAY25)
    add_day(east, date(2016, 4, 1), people=5)  # before the first phase: the starting level
    add_day(east, date(2016, 4, 27), people=10)
    add_day(east, date(2016, 5, 1), people=20)
    series = data.daily_series([east.id], 100, campaign, date(2016, 5, 2))
    assert series.collected[0] == (date(2016, 4, 26), 5)
    assert dict(series.collected)[date(2016, 4, 30)] == 15 and series.collected[-1] == (date(2016, 5, 2), 35)
    assert dict(series.expected)[MAY25] == 60 and dict(series.expected)[date(2016, 6, 30)] == 100
    assert [count for _p, count in series.targets] == [60, 100]
    drawn = chart.build(series)
    assert drawn.collected_path.startswith("M") and drawn.collected_path.count("L") == len(series.collected) - 1
    assert len(drawn.targets) == 2 and drawn.today_x is not None


def test_houses_not_yet_visited(ctx):
    town, (east, west) = make_town()
    collector = make_account(town, "collector", [east])
    untouched = make_house(east, number="1")
    visited = make_house(east, number="2")
    make_house(east, number="3", collected=True)
    make_house(west, number="4")
    add_visit(visited, collector)
    ids = [h.id for h in db.session.scalars(data.not_visited(east.id))]
    assert ids == [untouched.id]


def test_supervisor_sees_town_and_village_head_only_their_village(ctx, login):
    town, (east, west) = make_town()
    make_campaign(town)
    make_person(make_house(east, collected=True))
    supervisor = make_account(town, "supervisor")
    head = make_account(town, "village_head", [west])
    town_page = login(supervisor).get("/progress")
    assert town_page.status_code == 200
    assert "东村" in town_page.text and "西村" in town_page.text and "测试镇" in town_page.text
    village_page = login(head).get("/progress")
    assert village_page.status_code == 200
    assert "西村" in village_page.text and "东村" not in village_page.text and "测试镇" not in village_page.text
    bars = re.findall(r"<progress[^>]*aria-label=\"[^\"]+\"", village_page.text)
    assert len(bars) == 2  # people and houses for the one village, each labelled


def test_village_page_lists_houses_not_visited_paged_in_address_order(ctx, app, login):
    town, (east, west) = make_town()
    head = make_account(town, "village_head", [east])
    for number in ("10", "9", "2"):
        make_house(east, number=number, group="1")
    make_house(east, number="1", group="1", collected=True)
    app.config["PAGE_SIZE"] = 2
    client = login(head)
    first = client.get(f"/progress/villages/{east.id}")
    assert first.status_code == 200
    listed = re.findall(r"<strong>([^<]+)</strong>", first.text.split('id="not-visited"')[1])
    assert len(listed) == 2 and "2号" in listed[0] and "9号" in listed[1]  # natural order: 2 before 9 before 10
    assert "page=2" in first.text
    second = client.get(f"/progress/villages/{east.id}?page=2")
    assert "10号" in second.text.split('id="not-visited"')[1]
    assert client.get(f"/progress/villages/{west.id}").status_code == 404


def test_sort_links_work_without_javascript_and_mark_the_column(ctx, login):
    town, villages = make_town(villages=("甲村", "乙村"), people_quota=10)
    make_campaign(town)
    for i in range(5):
        make_person(make_house(villages[1], number=str(i), collected=True))
    page = login(make_account(town, "supervisor")).get("/progress?sort=people&dir=desc")
    assert page.status_code == 200
    body = page.text.split('id="villages"')[1]
    assert body.index("乙村") < body.index("甲村")
    assert 'aria-sort="descending"' in body


def test_as_of_form_keeps_a_bad_date_and_says_what_to_do(ctx, login):
    town, _villages = make_town()
    make_campaign(town)
    page = login(make_account(town, "supervisor")).get("/progress?as_of=2016-13-45")
    assert page.status_code == 200
    assert 'aria-invalid="true"' in page.text and "2016-13-45" in page.text
    past = login(make_account(town, "supervisor")).get("/progress?as_of=2016-05-25")
    assert 'data-live="0"' in past.text and 'value="2016-05-25"' in past.text


def test_figures_json_is_scoped_and_totals_the_whole_scope(ctx, login):
    town, (east, west) = make_town()
    make_person(make_house(east, collected=True))
    make_person(make_house(west, collected=True))
    supervisor = login(make_account(town, "supervisor"))
    body = supervisor.get(f"/progress/figures?villages={east.id}").json
    assert [r["village_id"] for r in body["rows"]] == [east.id]
    assert body["total"]["people"]["collected"] == 2  # the total is over every village in scope
    head = login(make_account(town, "village_head", [east]))
    body = head.get(f"/progress/figures?villages={east.id},{west.id}").json
    assert [r["village_id"] for r in body["rows"]] == [east.id] and body["total"] is None
    assert head.get("/progress/figures?villages=x").status_code == 400


def test_panels_fragment_is_scoped_and_has_the_chart_and_collectors(ctx, login):
    town, (east, west) = make_town()
    make_campaign(town)
    make_account(town, "collector", [east], collection_id="T-PANEL")
    head = login(make_account(town, "village_head", [east]))
    fragment = head.get(f"/progress/panels?village={east.id}")
    assert fragment.status_code == 200
    assert "<svg" in fragment.text and "T-PANEL" in fragment.text and "<html" not in fragment.text
    assert head.get(f"/progress/panels?village={west.id}").status_code == 404
    assert head.get("/progress/panels").status_code == 200
