"""The entry desk's core: which changes wait for review, when they are due, approving, returning
and the correction that follows (rules/review.py, records.py, review/desk.py)."""
from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from fieldapp import records
from fieldapp.extensions import db
from fieldapp.models import Change
from fieldapp.review import desk
from fieldapp.rules import review as rules
from tests.builders import make_account, make_house, make_town, resident_id


def _collector_change(village, collector, **actor):
    house = make_house(village)
    person, _outcome, _ = records.add_person(
        records.Actor(collector.id, "sync", **actor), house,
        {"name": "张三", "sex": "1", "id_type": "111", "id_number": resident_id(), "category": "local"})
    db.session.commit()
    return person, db.session.scalar(select(Change).where(Change.entity == "person", Change.entity_id == person.id))


def test_rules_due_days_skip_weekends_and_holidays():
    # Collected Friday 2024-09-27: the National Day holiday runs 10-01..10-07, 09-29 is a make-up day.
    assert rules.review_due_on(date(2024, 9, 27)) == date(2024, 9, 30)
    # Known Monday 09-30: 10-08, 10-09, 10-10 are the three working days after it.
    assert rules.collect_due_on(date(2024, 9, 30)) == date(2024, 10, 10)
    assert rules.collected_late(date(2024, 9, 30), date(2024, 10, 10)) is False
    assert rules.collected_late(date(2024, 9, 30), date(2024, 10, 11)) is True
    assert rules.collected_late(None, date(2024, 10, 10)) is False
    assert rules.reviewed_late(date(2024, 10, 9), date(2024, 10, 10)) is True
    assert rules.reviewed_late(None, date(2024, 10, 10)) is False


def test_rules_clean_reasons_keeps_known_fields_only():
    kept = rules.clean_reasons({"name": "  写错了 ", "phone": "", "nope": "x", "_": "拍照不清" + "字" * 300},
                               {"name": [None, "a"], "phone": [None, "b"]})
    assert kept["name"] == "写错了" and "phone" not in kept and "nope" not in kept
    assert len(kept["_"]) == rules.REASON_MAX


def test_needs_review_by_source():
    assert rules.needs_review("sync") and rules.needs_review("web")
    assert not rules.needs_review("import") and not rules.needs_review("demo") and not rules.needs_review("review")
    assert not rules.needs_review("sync", reviewable=False)


def test_collected_change_waits_due_in_two_working_days(ctx):
    town, (village, _other) = make_town()
    collector = make_account(town, "collector", [village])
    # Thursday 2024-05-30 at 10:00 Beijing (02:00 UTC), known the Monday before: due Monday 06-03.
    _person, change = _collector_change(village, collector, known_on=date(2024, 5, 27),
                                        collected_at=datetime(2024, 5, 30, 2, 0))
    assert change.review_state == rules.PENDING
    assert change.review_due_on == date(2024, 6, 3)
    assert change.collected_late is False
    house_changes = db.session.scalars(select(Change).where(Change.entity == "house")).all()
    # "Registered at the door" is a trace, not a collection: exempt.
    assert {c.review_state for c in house_changes if "collected_at" in c.fields} == {rules.EXEMPT}


def test_approve_and_nobody_reviews_their_own(ctx):
    town, (village, _other) = make_town()
    collector = make_account(town, "collector", [village])
    reviewer = make_account(town, "reviewer", [village])
    _person, change = _collector_change(village, collector)
    # The collector holds no review permission, but the rule stands on its own too.
    assert desk.approve(collector, [change.id]) == 0
    assert desk.approve(reviewer, [change.id]) == 1
    db.session.commit()
    db.session.refresh(change)
    assert (change.review_state, change.reviewed_by_id, change.reviewed_late) == (rules.APPROVED, reviewer.id, False)
    assert desk.approve(reviewer, [change.id]) == 0  # decided once


def test_other_village_and_abroad_are_out_of_scope(ctx):
    town, (village, other) = make_town()
    collector = make_account(town, "collector", [village])
    reviewer = make_account(town, "reviewer", [other])
    _person, change = _collector_change(village, collector)
    assert desk.approve(reviewer, [change.id]) == 0
    with pytest.raises(desk.NotReviewable):
        desk.return_change(reviewer, change.id, {"name": "x"})
    police = make_account(town, "police", [village])
    assert desk.approve(police, [change.id]) == 0  # police review people from abroad only


def test_return_then_correction_reenters_queue(ctx):
    town, (village, _other) = make_town()
    collector = make_account(town, "collector", [village])
    reviewer = make_account(town, "reviewer", [village])
    person, change = _collector_change(village, collector)
    with pytest.raises(ValueError):
        desk.return_change(reviewer, change.id, {"name": "  "})
    desk.return_change(reviewer, change.id, {"name": "姓名与证件不符"})
    db.session.commit()
    db.session.refresh(change)
    assert change.review_state == rules.RETURNED and change.return_reasons == {"name": "姓名与证件不符"}
    records.update_person(records.Actor(collector.id, "sync"), person, {"name": "张叁"}, person.version)
    db.session.commit()
    db.session.refresh(change)
    correction = db.session.scalar(select(Change).where(Change.corrects_id == change.id))
    assert change.review_state == rules.CORRECTED
    assert correction.review_state == rules.PENDING and correction.fields["name"] == ["张三", "张叁"]
    assert desk.approve(reviewer, [correction.id]) == 1


def test_configured_holidays_move_due_days(make_app):
    """CALENDAR_HOLIDAYS from the deployment's configuration reach every deadline."""
    from fieldapp.rules import workdays
    make_app(CALENDAR_HOLIDAYS=["2099-02-02", "2099-02-03"])
    try:
        assert rules.review_due_on(date(2099, 1, 30)) == date(2099, 2, 5)
    finally:
        workdays.set_additions()
