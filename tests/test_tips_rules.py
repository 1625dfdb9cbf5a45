"""rules/tips.py and rules/badges.py: deadlines in working days, the life cycle, who may move a tip."""
from __future__ import annotations

from datetime import date, datetime

import pytest

from fieldapp.rules import tips as rules
from fieldapp.rules.days import local_day
from fieldapp.rules.badges import badge_status
from fieldapp.rules.permissions import ROLES, can


def beijing(y, m, d, hour=10, minute=0) -> datetime:
    """A naive UTC timestamp for a Beijing wall-clock time (UTC+8, no summer time)."""
    from datetime import timedelta
    return datetime(y, m, d, hour, minute) - timedelta(hours=8)


# --- deadline --------------------------------------------------------------------------------------

@pytest.mark.parametrize("arrived, due, why", [
    (beijing(2026, 3, 2), date(2026, 3, 5), "Monday -> Thursday: the day of arrival is not counted"),
    (beijing(2026, 3, 4), date(2026, 3, 9), "Wednesday -> Monday across a weekend"),
    (beijing(2026, 3, 6), date(2026, 3, 11), "Friday -> Wednesday across a weekend"),
    (beijing(2026, 3, 7), date(2026, 3, 11), "Saturday: counting starts Monday"),
    (beijing(2026, 9, 30), date(2026, 10, 10),
     "National Day 2026 (Oct 1-7 off) and the make-up working Saturday Oct 10 is day 3"),
    (beijing(2026, 2, 13), date(2026, 2, 25),
     "Spring Festival 2026: make-up Saturday Feb 14 is day 1, Feb 15-23 off, then Feb 24 and 25"),
    (beijing(2026, 9, 24), date(2026, 9, 30), "Mid-autumn Festival (Fri Sep 25 off)"),
    (beijing(2026, 9, 18), date(2026, 9, 22), "make-up working Sunday Sep 20 is day 1"),
    (beijing(2026, 10, 10), date(2026, 10, 14), "arriving on a make-up Saturday: that day is not counted either"),
])
def test_due_date_is_three_working_days_after_the_day_of_arrival(arrived, due, why):
    assert rules.due_on(arrived) == due, why
    assert rules.due_on(arrived).weekday() < 5 or due == date(2026, 10, 10)


def test_the_day_of_arrival_is_the_local_day_not_the_utc_day():
    # Friday 00:30 in Beijing is still Thursday 16:30 UTC: the tip arrived on Friday.
    arrived = beijing(2026, 3, 6, 0, 30)
    assert arrived.date() == date(2026, 3, 5)
    assert local_day(arrived) == date(2026, 3, 6)
    assert rules.due_on(arrived) == date(2026, 3, 11)  # not Tuesday the 10th, as a UTC count would give
    # Thursday 23:59 in Beijing arrived on Thursday.
    assert rules.due_on(beijing(2026, 3, 5, 23, 59)) == date(2026, 3, 10)


def test_overdue_only_after_the_due_day_and_only_while_unverified():
    due = date(2026, 3, 5)
    assert not rules.is_overdue("new", due, date(2026, 3, 5))  # the due day itself is on time
    assert rules.is_overdue("new", due, date(2026, 3, 6))
    assert rules.is_overdue("assigned", due, date(2026, 3, 6))
    for state in ("valid", "invalid", "closed"):
        assert not rules.is_overdue(state, due, date(2026, 4, 1)), state


@pytest.mark.parametrize("today, left", [
    (date(2026, 3, 2), 3), (date(2026, 3, 3), 2), (date(2026, 3, 5), 0),
    (date(2026, 3, 6), -1), (date(2026, 3, 7), -1), (date(2026, 3, 9), -2),
])
def test_working_days_left_counts_working_days_only(today, left):
    assert rules.working_days_left(date(2026, 3, 5), today) == left


def test_working_days_left_across_national_day():
    due = rules.due_on(beijing(2026, 9, 30))
    assert rules.working_days_left(due, date(2026, 9, 30)) == 3
    assert rules.working_days_left(due, date(2026, 10, 5)) == 3  # a holiday uses up nothing
    assert rules.working_days_left(due, date(2026, 10, 9)) == 1
    assert rules.working_days_left(due, date(2026, 10, 12)) == -1


# --- life cycle ------------------------------------------------------------------------------------

ALLOWED = {("take", "new"): "assigned", ("assign", "new"): "assigned", ("assign", "assigned"): "assigned",
           ("valid", "assigned"): "valid", ("invalid", "assigned"): "invalid",
           ("close", "valid"): "closed", ("close", "invalid"): "closed"}


@pytest.mark.parametrize("action", sorted(rules.TRANSITIONS))
@pytest.mark.parametrize("state", rules.STATES)
def test_state_machine_allows_exactly_the_listed_transitions(action, state):
    if (action, state) in ALLOWED:
        assert rules.next_state(action, state) == ALLOWED[(action, state)]
    else:
        with pytest.raises(rules.TipRuleError) as error:
            rules.next_state(action, state)
        assert error.value.code == "wrong_state"


def test_no_transition_leaves_closed_or_reopens_a_verified_tip():
    for action in rules.TRANSITIONS:
        for state in ("valid", "invalid", "closed"):
            try:
                target = rules.next_state(action, state)
            except rules.TipRuleError:
                continue
            assert target == "closed"


def attempt(action, state, role, **kw):
    return rules.Attempt(action=action, state=state, role=role, in_scope=kw.pop("in_scope", True), **kw)


@pytest.mark.parametrize("role", ROLES)
def test_who_may_take_assign_and_close(role):
    for action, permission in (("take", "tips.work"), ("assign", "tips.oversee"), ("close", "tips.oversee")):
        state = {"take": "new", "assign": "new", "close": "valid"}[action]
        extra = {"target_role": "collector", "target_in_village": True} if action == "assign" else {}
        if can(role, permission):
            assert rules.decide(attempt(action, state, role, **extra)) == ALLOWED[(action, state)]
        else:
            with pytest.raises(rules.TipRuleError) as error:
                rules.decide(attempt(action, state, role, **extra))
            assert error.value.code == "forbidden", (role, action)


def test_out_of_scope_is_refused_before_the_state_is_told():
    with pytest.raises(rules.TipRuleError) as error:
        rules.decide(attempt("take", "closed", "collector", in_scope=False))
    assert error.value.code == "out_of_scope"


@pytest.mark.parametrize("kw, code", [
    ({"is_assignee": False, "has_visit": True}, "not_assignee"),
    ({"is_assignee": True, "has_visit": False}, "no_visit"),
])
def test_verifying_needs_the_assignee_and_a_visit(kw, code):
    for action in ("valid", "invalid"):
        with pytest.raises(rules.TipRuleError) as error:
            rules.decide(attempt(action, "assigned", "collector", note="x", **kw))
        assert error.value.code == code


def test_invalid_needs_a_note_valid_does_not():
    ok = {"is_assignee": True, "has_visit": True}
    assert rules.decide(attempt("valid", "assigned", "collector", **ok)) == "valid"
    for note in ("", "   "):
        with pytest.raises(rules.TipRuleError) as error:
            rules.decide(attempt("invalid", "assigned", "collector", note=note, **ok))
        assert error.value.code == "note_required"
    assert rules.decide(attempt("invalid", "assigned", "police", note="nobody moved in", **ok)) == "invalid"


@pytest.mark.parametrize("target_role, in_village, ok", [
    ("collector", True, True), ("police", True, True), ("reviewer", True, True),
    ("collector", False, False), ("informant", True, False), ("village_head", True, False), (None, False, False),
])
def test_assign_only_to_a_worker_of_the_village(target_role, in_village, ok):
    a = attempt("assign", "assigned", "village_head", target_role=target_role, target_in_village=in_village)
    if ok:
        assert rules.decide(a) == "assigned"
    else:
        with pytest.raises(rules.TipRuleError) as error:
            rules.decide(a)
        assert error.value.code == "not_a_worker"


def test_a_visit_counts_only_at_or_after_arrival():
    arrived = datetime(2026, 3, 2, 2, 0)
    assert rules.visit_counts(arrived, arrived)
    assert rules.visit_counts(datetime(2026, 3, 2, 3, 0), arrived)
    assert not rules.visit_counts(datetime(2026, 3, 2, 1, 59), arrived)


def test_reward_month_is_local():
    assert rules.month_key(beijing(2026, 4, 1, 1, 0)) == "2026-04"  # still March 31 in UTC
    assert rules.month_key(datetime(2026, 3, 31, 15, 59)) == "2026-03"


def test_kinds_match_the_model():
    from fieldapp.models.field import TIP_KINDS, TIP_STATES
    assert rules.KINDS == TIP_KINDS
    assert rules.STATES == TIP_STATES


# --- badges ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("today, valid_from, valid_until, revoked, issued, expected", [
    (date(2026, 5, 1), None, None, None, date(2026, 4, 1), "valid"),
    (date(2026, 5, 1), date(2026, 5, 1), date(2026, 10, 31), None, None, "valid"),  # first day
    (date(2026, 10, 31), date(2026, 5, 1), date(2026, 10, 31), None, None, "valid"),  # last day
    (date(2026, 11, 1), date(2026, 5, 1), date(2026, 10, 31), None, None, "expired"),
    (date(2026, 4, 30), date(2026, 5, 1), date(2026, 10, 31), None, None, "not_yet_valid"),
    (date(2026, 3, 31), None, None, None, date(2026, 4, 1), "not_yet_valid"),
    (date(2026, 6, 1), date(2026, 5, 1), date(2026, 10, 31), datetime(2026, 5, 20), None, "revoked"),
    (date(2026, 11, 1), None, date(2026, 10, 31), datetime(2026, 5, 20), None, "revoked"),  # revoked wins
])
def test_badge_status(today, valid_from, valid_until, revoked, issued, expected):
    assert badge_status(today, valid_from, valid_until, revoked, issued) == expected
