"""Progress against quota: figures from the counters, the town's own quotas, scoping by role."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from fieldapp.extensions import db
from fieldapp.models import Campaign, Phase
from fieldapp.progress.data import overview

from .builders import make_account, make_house, make_person, make_town


def _campaign(town):
    db.session.add(Campaign(town_id=town.id, name="2016 采集", start_date=date(2016, 4, 10), end_date=date(2016, 10, 31),
                            phases=[Phase(name="一", start_date=date(2016, 4, 27), end_date=date(2016, 5, 25),
                                          target_share=Decimal("0.6")),
                                    Phase(name="二", start_date=date(2016, 5, 26), end_date=date(2016, 6, 30),
                                          target_share=Decimal("1"))]))
    db.session.commit()


def test_overview_figures_and_phase_status(ctx):
    town, (east, west) = make_town(people_quota=10, houses_quota=4)
    _campaign(town)
    for n in range(6):
        make_person(make_house(east, number=str(n), collected=True))
    data = overview(town, [east, west], date(2016, 5, 25), with_total=True)
    by_name = {r.name: r for r in data.rows}
    assert (by_name["东村"].people.collected, by_name["东村"].people.percent) == (6, 60.0)
    assert by_name["东村"].houses.collected == 6 and by_name["东村"].houses.bar == 100.0  # over quota: bar full
    assert by_name["东村"].status == "on_track" and by_name["东村"].target == 6
    assert by_name["西村"].status == "behind"
    assert data.phase.name == "一" and data.days_left == 1
    assert (data.total.people.collected, data.total.people.quota) == (6, 20)
    assert data.total.orgs.quota == 10  # the town's own organisation quota
    later = overview(town, [east], date(2016, 5, 26), with_total=False)
    assert later.rows[0].status == "behind" and later.total is None


def test_no_campaign_means_no_status(ctx):
    town, villages = make_town()
    data = overview(town, villages, date(2016, 5, 1), with_total=True)
    assert data.campaign is None and all(r.status is None for r in data.rows)


def test_supervisor_sees_town_and_village_head_only_their_village(ctx, login):
    town, (east, west) = make_town()
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
