"""Phase arithmetic as the dashboard shows it, at the boundaries: the first and last day of a phase,
the day after, between phases, after the campaign, and a quota of 0. Plus the campaign editor's
checks (rules.phases)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from fieldapp.progress.data import overview
from fieldapp.rules import phases as rules

from .builders import make_house, make_person, make_town
from .dashboard_builders import make_campaign

# Phase 1: 2016-04-27 .. 2016-05-25 (60%), phase 2: 2016-05-26 .. 2016-06-30 (100%); quota 100.
CASES = [
    # day,               collected, status,        target, days left, phase
    (date(2016, 4, 26),  0,         "not_started", 0,      None,      None),
    (date(2016, 4, 27),  3,         "on_track",    60,     29,        "第1阶段"),   # first day: 1/29 of 60 -> 3
    (date(2016, 4, 27),  2,         "behind",      60,     29,        "第1阶段"),
    (date(2016, 5, 25),  60,        "on_track",    60,     1,         "第1阶段"),   # last day: the whole 60
    (date(2016, 5, 25),  59,        "behind",      60,     1,         "第1阶段"),
    (date(2016, 5, 26),  60,        "behind",      100,    36,        "第2阶段"),   # day after: phase 2's first
    (date(2016, 5, 26),  62,        "on_track",    100,    36,        "第2阶段"),   # 60 + 40/36 -> ceil 62
    (date(2016, 6, 30),  99,        "behind",      100,    1,         "第2阶段"),
    (date(2016, 6, 30),  100,       "done",        100,    1,         "第2阶段"),
    (date(2016, 7, 1),   99,        "behind",      100,    None,      None),        # after the last phase
]


@pytest.mark.parametrize("day,collected,status,target,days_left,phase", CASES)
def test_status_target_and_days_left_at_phase_boundaries(ctx, day, collected, status, target, days_left, phase):
    town, (east,) = make_town(villages=("东村",), people_quota=100)
    make_campaign(town)
    house = make_house(east, collected=True)
    for _ in range(collected):
        make_person(house)
    figures = overview(town, [east], day, with_total=False, today=day)
    row = figures.rows[0]
    assert (row.status, row.target, figures.days_left) == (status, target, days_left)
    assert (figures.phase.name if figures.phase else None) == phase


def test_gap_between_phases_keeps_the_earlier_target(ctx):
    town, (east,) = make_town(villages=("东村",), people_quota=10)
    make_campaign(town, phases=((date(2016, 5, 1), date(2016, 5, 10), "0.5"),
                                (date(2016, 5, 20), date(2016, 5, 31), "1")))
    figures = overview(town, [east], date(2016, 5, 15), with_total=False, today=date(2016, 5, 15))
    assert figures.phase is None and figures.days_left is None
    assert figures.rows[0].target == 5 and figures.rows[0].status == "behind"


def test_a_quota_of_zero_is_done_and_never_divides(ctx):
    town, (east,) = make_town(villages=("东村",), people_quota=0, houses_quota=0)
    make_campaign(town)
    figures = overview(town, [east], date(2016, 5, 1), with_total=False, today=date(2016, 5, 1))
    row = figures.rows[0]
    assert row.status == "done" and row.target == 0
    assert row.people.percent is None and row.people.bar == 0.0


def test_a_village_without_quota_has_no_status(ctx):
    town, (east,) = make_town(villages=("东村",))
    east.people_quota = None
    make_campaign(town)
    row = overview(town, [east], date(2016, 5, 1), with_total=False, today=date(2016, 5, 1)).rows[0]
    assert row.status is None and row.target is None


D = rules.Draft


def test_editor_checks_accept_the_yuping_preset():
    phases = [D("一", date(2016, 4, 27), date(2016, 5, 25), Decimal("0.6")),
              D("二", date(2016, 5, 26), date(2016, 6, 30), Decimal("1"))]
    assert rules.check(date(2016, 4, 10), date(2016, 10, 31), phases) == []


@pytest.mark.parametrize("phases,problem", [
    ([D("一", date(2016, 5, 2), date(2016, 5, 1), Decimal("1"))], (0, "end_date", rules.PHASE_ENDS_BEFORE_START)),
    ([D("一", date(2016, 3, 31), date(2016, 5, 1), Decimal("1"))], (0, "start_date", rules.PHASE_OUTSIDE_CAMPAIGN)),
    ([D("一", date(2016, 5, 1), date(2016, 11, 1), Decimal("1"))], (0, "end_date", rules.PHASE_OUTSIDE_CAMPAIGN)),
    ([D("一", date(2016, 5, 1), date(2016, 5, 10), Decimal("0.6")),
      D("二", date(2016, 5, 10), date(2016, 5, 20), Decimal("1"))], (1, "start_date", rules.PHASES_OVERLAP)),
    ([D("一", date(2016, 5, 1), date(2016, 5, 10), Decimal("0.6")),
      D("二", date(2016, 5, 11), date(2016, 5, 20), Decimal("0.6"))], (1, "target_percent", rules.SHARE_NOT_INCREASING)),
    ([D("一", date(2016, 5, 1), date(2016, 5, 10), Decimal("1.2"))], (0, "target_percent", rules.SHARE_OUT_OF_RANGE)),
    ([D("一", date(2016, 5, 1), date(2016, 5, 10), Decimal("0"))], (0, "target_percent", rules.SHARE_OUT_OF_RANGE)),
    ([], (None, "phases", rules.NO_PHASES)),
])
def test_editor_checks_name_the_phase_and_field(phases, problem):
    assert problem in rules.check(date(2016, 4, 1), date(2016, 10, 31), phases)


def test_editor_checks_campaign_dates():
    phases = [D("一", date(2016, 5, 1), date(2016, 5, 10), Decimal("1"))]
    assert (None, "end_date", rules.CAMPAIGN_ENDS_BEFORE_START) in rules.check(date(2016, 6, 1), date(2016, 5, 1), phases)
