"""及时率 (timeliness) of collection and entry: the rule behind the dashboard's figures and the
late-items list (seed 000: collect within 3 working days of becoming known, enter within 2 working
days of collection; rules.review sets the columns, rules.workdays counts the days).

Rules:
- One change is classified as
  * exempt: nobody collected it at a door (review_state 'exempt', or approved by a reviewer's own
    decision at write: no due day). Exempt changes are outside every figure here;
  * collected late: collected after the 3rd working day from when it became known. That lateness
    is final once the change is reviewed or overdue;
  * reviewed late: approved or returned after its due day (2 working days from collection);
  * overdue: still pending after its due day (counts as late, like a late review);
  * pending, not yet due: still pending and its due day has not passed: not judged yet;
  * timely: reviewed by its due day and collected in time.
- The rate = timely / judged, where judged = reviewed (approved, returned or corrected) + overdue.
  A change whose review is not due yet is left out (it may still be timely), even when it was
  collected late: it enters the rate on its due day or when it is reviewed.
- A period is a range of collection days (the town's calendar day the change was collected,
  rules.days): "the 及时率 of May" is about the changes collected in May, whenever reviewed.
- A reviewer's throughput is counted on the day of the decision: approved, returned, and how many
  of those decisions were late.
Pure: no Flask, no database.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from . import review

TIMELY, COLLECTED_LATE, REVIEWED_LATE, PENDING, OVERDUE, EXEMPT = (
    "timely", "collected_late", "reviewed_late", "pending", "overdue", "exempt")
# The decided states: a reviewer acted (a corrected change was returned first).
DECIDED_STATES = (review.APPROVED, review.RETURNED, review.CORRECTED)


def classify(review_state: str, review_due_on: date | None, collected_late: bool | None,
             reviewed_late: bool | None, today: date) -> str:
    """The class of one change on `today` (module docstring). Collected late wins over reviewed
    late: it is the earlier fault."""
    if review_state == review.EXEMPT or review_due_on is None:
        return EXEMPT
    if review_state == review.PENDING:
        if today <= review_due_on:
            return PENDING
        return COLLECTED_LATE if collected_late else OVERDUE
    if collected_late:
        return COLLECTED_LATE
    return REVIEWED_LATE if reviewed_late else TIMELY


def is_late(kind: str) -> bool:
    """Does a change of class `kind` count against the 及时率?"""
    return kind in (COLLECTED_LATE, REVIEWED_LATE, OVERDUE)


def is_judged(kind: str) -> bool:
    """Is a change of class `kind` in the rate's denominator?"""
    return kind in (TIMELY, COLLECTED_LATE, REVIEWED_LATE, OVERDUE)


@dataclass
class Tally:
    """Counts for one collector, village, town or period. `collected`: reviewable changes collected;
    `collected_late`: of those, collected late (judged or not); `reviewed`: decided (`returned`: returned to the collector); `timely`:
    decided with neither lateness; `reviewed_late`: decided after the due day; `overdue`: pending
    past the due day; `pending`: pending, due or not."""
    collected: int = 0
    collected_late: int = 0
    reviewed: int = 0
    returned: int = 0
    timely: int = 0
    reviewed_late: int = 0
    overdue: int = 0
    pending: int = 0

    @property
    def approved(self) -> int:
        return self.reviewed - self.returned

    @property
    def judged(self) -> int:
        return self.reviewed + self.overdue

    @property
    def late(self) -> int:
        return self.judged - self.timely

    @property
    def rate(self) -> float | None:
        """The 及时率 in percent, None when nothing is judged yet."""
        return rate(self.timely, self.judged)

    def add(self, other: Tally) -> None:
        for name in ("collected", "collected_late", "reviewed", "returned", "timely", "reviewed_late", "overdue", "pending"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def rate(timely: int, judged: int) -> float | None:
    """timely / judged in percent; None when nothing is judged."""
    return None if judged <= 0 else 100.0 * timely / judged


def decision_figures(review_state: str, collected_late: bool | None, reviewed_late: bool | None) -> dict[str, int]:
    """What one review decision (the change's state after it) adds to its collection day's figures
    (collector_days)."""
    late = bool(reviewed_late)
    return {"reviewed": 1, "returned": int(review_state != review.APPROVED), "reviewed_late": int(late),
            "timely": int(not late and not collected_late)}
