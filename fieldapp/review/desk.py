"""The entry desk's decisions on collected changes (rules/review.py states the rules).

- approve: the changes are entered ('approved'), with who and when, and whether it was late.
- return_change: the change goes back to its collector ('returned') with a reason per field; their
  phone shows it with the next package, and their next change to the record is its correction
  (records._correct_returned).
Both claim the change with one UPDATE on its state, so two reviewers deciding at once cannot both
win: the second finds nothing left to decide. Nobody decides on their own collection. Callers
commit.
"""
from __future__ import annotations

from sqlalchemy import and_, case, exists, or_, select, update

from .. import scope
from ..changefeed import note_review_decisions
from ..audit import audit
from ..extensions import db
from ..models import Account, Change, Flag, utcnow
from ..rules import review as rules
from ..rules.days import today as local_today


class NotReviewable(Exception):
    """The change is not one `account` may decide now: outside their scope, their own collection,
    or already decided."""


def open_changes(account: Account):
    """The pending changes `account` may decide: in scope (scope.reviewable_changes), not their own."""
    return scope.reviewable_changes(account).where(
        Change.review_state.in_(rules.OPEN_STATES),
        (Change.collected_by_id.is_(None)) | (Change.collected_by_id != account.id))


def approve(account: Account, change_ids) -> int:
    """Enter the pending changes among `change_ids` that `account` may decide; returns how many."""
    ids = list({int(i) for i in change_ids})
    if not ids:
        return 0
    today = local_today()
    allowed = open_changes(account).where(Change.id.in_(ids)).with_only_columns(Change.id)
    done = db.session.execute(
        update(Change).where(Change.id.in_(allowed), Change.review_state == rules.PENDING)
        .values(review_state=rules.APPROVED, reviewed_at=utcnow(), reviewed_by_id=account.id,
                reviewed_late=case((Change.review_due_on < today, True), else_=False))
        .execution_options(synchronize_session=False)).rowcount
    if done:
        audit(account.id, "review.approve", None, None, records=done)
    note_review_decisions(account.id, ids, done)  # the 及时率 and throughput figures (changefeed.py)
    return done


def return_change(account: Account, change_id: int, reasons: dict) -> Change:
    """Return one pending change to its collector with `reasons` ({field: reason}, '_' for the
    record as a whole; rules.review.clean_reasons). Raises ValueError when no reason is left and
    NotReviewable when the change is not `account`'s to decide."""
    change = db.session.scalar(open_changes(account).where(Change.id == change_id))
    if change is None:
        raise NotReviewable()
    kept = rules.clean_reasons(reasons, change.fields or {})
    if not kept:
        raise ValueError("a return needs a reason")
    claimed = db.session.execute(
        update(Change).where(Change.id == change.id, Change.review_state == rules.PENDING)
        .values(review_state=rules.RETURNED, reviewed_at=utcnow(), reviewed_by_id=account.id,
                reviewed_late=rules.reviewed_late(change.review_due_on, local_today()), return_reasons=kept)
        .execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        raise NotReviewable()
    audit(account.id, "review.return", f"change:{change.id}", ",".join(sorted(kept))[:255])
    note_review_decisions(account.id, [change.id], 1)  # the 及时率 and throughput figures (changefeed.py)
    db.session.expire(change)
    return change



def flag_on(change_id, entity, entity_id):
    """The rule for which flags concern a change: open, and on the change itself or on its record.
    The arguments are values or columns (of Change, or of a subquery of changes)."""
    return and_(Flag.cleared_at.is_(None),
                or_(Flag.change_id == change_id, and_(Flag.entity == entity, Flag.entity_id == entity_id)))


def open_flag_clause():
    """An open flag on the change or on its record (correlated to Change): such a change is never
    approved in bulk; the reviewer opens it and looks."""
    return exists().where(flag_on(Change.id, Change.entity, Change.entity_id))


def approve_unflagged(account: Account, change_ids) -> tuple[int, set[int]]:
    """Bulk approval: approve those among `change_ids` with no open flag. Returns how many were
    approved and the ids refused for an open flag."""
    ids = list({int(i) for i in change_ids})
    flagged = set(db.session.scalars(select(Change.id).where(Change.id.in_(ids), open_flag_clause()))) if ids else set()
    return approve(account, [i for i in ids if i not in flagged]), flagged
