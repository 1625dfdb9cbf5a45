"""The entry desk's rules (seed 000: 信息录入人员 within 2 working days checks identity and
completeness, merges with what is registered and enters it).

Rules:
- Every change a collector collects (a web form or a phone's sync) waits for review: 'pending',
  due 2 working days after the town's calendar day it was collected (rules.workdays).
- Changes nobody collected at a door need no review ('exempt'): registers imported by the entry
  clerk, the demo's history, values a reviewer decided, door-code replacements, positions learnt
  from GPS, sub-area assignments, and a move a reviewer confirmed (it is approved by that decision).
- A change is collected late when its collection day is after the 3rd working day from the day
  it became known; it is reviewed late when its review day is after its due day. The 及时率 counts
  a change as timely only when neither is late.
- A reviewer approves ('approved') or returns it to the collector ('returned') with a reason per
  field; the collector's next change to the same record corrects it (the returned change becomes
  'corrected' and the new change, pending, names it). Nobody reviews their own collection.
Pure: no Flask, no database.
"""
from __future__ import annotations

from datetime import date
from . import workdays

PENDING, RETURNED, CORRECTED, APPROVED, EXEMPT = "pending", "returned", "corrected", "approved", "exempt"
# States a reviewer may still act on.
OPEN_STATES = (PENDING,)
# Where a change was collected from for it to need review (Change.source).
COLLECTED_SOURCES = frozenset({"web", "sync"})
# A reason given for returning one field: short enough to show beside it on a phone.
REASON_MAX = 200


def needs_review(source: str, reviewable: bool = True) -> bool:
    """Does a change from `source` wait for an entry clerk? `reviewable` False: the writer knows it
    is no collection (a door-code replacement, a GPS position, a sub-area assignment)."""
    return reviewable and source in COLLECTED_SOURCES


def review_due_on(collected_day: date) -> date:
    """The last day (inclusive) to review a change collected on `collected_day`."""
    return workdays.review_deadline(collected_day)


def collect_due_on(known_on: date) -> date:
    """The last day (inclusive) to collect a change that became known on `known_on`."""
    return workdays.collect_deadline(known_on)


def collected_late(known_on: date | None, collected_day: date) -> bool:
    """Collected after the 3rd working day from when it became known (unknown: not late)."""
    return known_on is not None and collected_day > collect_due_on(known_on)


def reviewed_late(due_on: date | None, reviewed_day: date) -> bool:
    """Reviewed after its due day (no due day: not late)."""
    return due_on is not None and reviewed_day > due_on


def clean_reasons(reasons: dict, fields) -> dict[str, str]:
    """The per-field reasons a reviewer typed, kept for the fields the change has (or '_' for the
    record as a whole), stripped, empty ones dropped, each cut to REASON_MAX characters."""
    allowed = set(fields) | {"_"}
    out = {}
    for name, text in reasons.items():
        text = (text or "").strip()
        if name in allowed and text:
            out[name] = text[:REASON_MAX]
    return out
