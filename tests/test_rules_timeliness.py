"""The 及时率 rules (rules/timeliness.py), around the 2024 National Day holiday: 10-01..10-07 off,
Sunday 09-29 and Saturday 10-12 are make-up working days."""
from __future__ import annotations

from datetime import date

from fieldapp.rules import review, timeliness as t


def test_due_days_around_national_day():
    # Collected Friday 09-27: the make-up Sunday 09-29 and Monday 09-30 are the two working days.
    assert review.review_due_on(date(2024, 9, 27)) == date(2024, 9, 30)
    # Collected Monday 09-30: the next working days are 10-08 and 10-09.
    assert review.review_due_on(date(2024, 9, 30)) == date(2024, 10, 9)
    # Collected Friday 10-11: the make-up Saturday 10-12 counts, then Monday 10-14.
    assert review.review_due_on(date(2024, 10, 11)) == date(2024, 10, 14)
    # Known Wednesday 10-09: 10-10, 10-11, make-up 10-12: collecting on Monday 10-14 is late.
    assert review.collect_due_on(date(2024, 10, 9)) == date(2024, 10, 12)
    assert review.collected_late(date(2024, 10, 9), date(2024, 10, 14))


def test_classify_each_kind():
    due = date(2024, 10, 9)
    assert t.classify(review.EXEMPT, None, None, None, date(2024, 10, 20)) == t.EXEMPT
    assert t.classify(review.APPROVED, None, None, False, date(2024, 10, 20)) == t.EXEMPT  # a reviewer's own decision
    assert t.classify(review.APPROVED, due, False, False, date(2024, 10, 20)) == t.TIMELY
    assert t.classify(review.RETURNED, due, False, True, date(2024, 10, 20)) == t.REVIEWED_LATE
    assert t.classify(review.CORRECTED, due, True, False, date(2024, 10, 20)) == t.COLLECTED_LATE
    # Pending: not judged through its due day (the holiday week does not make it overdue) ...
    assert t.classify(review.PENDING, due, False, None, date(2024, 10, 5)) == t.PENDING
    assert t.classify(review.PENDING, due, True, None, due) == t.PENDING
    # ... overdue the day after; collected late stays the reason when both hold.
    assert t.classify(review.PENDING, due, False, None, date(2024, 10, 10)) == t.OVERDUE
    assert t.classify(review.PENDING, due, True, None, date(2024, 10, 10)) == t.COLLECTED_LATE
    assert [t.is_judged(k) for k in (t.TIMELY, t.PENDING, t.EXEMPT, t.OVERDUE)] == [True, False, False, True]
    assert [t.is_late(k) for k in (t.TIMELY, t.COLLECTED_LATE, t.REVIEWED_LATE, t.OVERDUE)] == [False, True, True, True]


def test_rate_leaves_out_what_is_not_due():
    tally = t.Tally(collected=10, collected_late=2, reviewed=6, returned=1, timely=4, reviewed_late=1, overdue=2,
                    pending=4)
    assert (tally.judged, tally.late, tally.approved) == (8, 4, 5)
    assert tally.rate == 50.0
    assert t.Tally().rate is None
    total = t.Tally()
    total.add(tally)
    total.add(tally)
    assert (total.judged, total.timely, total.rate) == (16, 8, 50.0)


def test_decision_figures():
    assert t.decision_figures(review.APPROVED, False, False) == {"reviewed": 1, "returned": 0, "reviewed_late": 0,
                                                                 "timely": 1}
    assert t.decision_figures(review.RETURNED, True, False) == {"reviewed": 1, "returned": 1, "reviewed_late": 0,
                                                                "timely": 0}
    assert t.decision_figures(review.APPROVED, None, True)["timely"] == 0
