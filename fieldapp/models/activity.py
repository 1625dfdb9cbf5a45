"""What happened: every registry change, maintained progress counters, and an audit trail."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._base import new_uid, utcnow

CHANGE_KINDS = ("new", "update", "cancel")
CHANGE_ENTITIES = ("house", "person", "organisation")
# The entry desk (rules/review.py): what happened to a change at review.
REVIEW_STATES = ("pending", "returned", "corrected", "approved", "exempt")


class Change(db.Model):
    """One change (变动) to one record: new, update or cancellation, with who and when.

    `fields` maps each changed field to [old, new]. known_on (the day the change became known) and
    collected_at drive the 3-working-day rule; reviewed_at the 2-working-day rule.

    Review (rules/review.py): a collected change waits ('pending') for an entry clerk, due
    `review_due_on`; it is 'approved' (entered) or 'returned' to its collector with a reason per
    field (`return_reasons`); the collector's next change to the record is its correction (that
    change's `corrects_id`) and the returned one becomes 'corrected'. Changes nobody collected at
    a door (imports, door-code replacements, positions from GPS) are 'exempt'.
    """
    __tablename__ = "changes"
    __table_args__ = (Index("ix_changes_entity", "entity", "entity_id"),
                      Index("ix_changes_review_queue", "review_state", "review_due_on"),
                      Index("ix_changes_reviewed_by_at", "reviewed_by_id", "reviewed_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uid)
    entity: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[int]
    version: Mapped[int] = mapped_column(default=1)  # the record's version after this change
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    fields: Mapped[dict] = mapped_column(JSON, default=dict)
    police_only: Mapped[bool] = mapped_column(default=False)
    source: Mapped[str] = mapped_column(String(8), default="web")  # web | sync | import | demo | review
    known_on: Mapped[date | None]
    collected_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    collected_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    # The visit this change was collected under (the phone sends its uid). Door proof means a visit
    # opened by scanning the door's QR; anything else is marked as having no door proof.
    visit_uid: Mapped[str | None] = mapped_column(String(36), index=True)
    door_proof: Mapped[bool] = mapped_column(default=False)
    # When it was approved or returned, and by whom (a returned change keeps them when corrected).
    reviewed_at: Mapped[datetime | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    review_state: Mapped[str] = mapped_column(String(10), default="pending", server_default="pending")
    review_due_on: Mapped[date | None]  # the last day (inclusive) to review it: 2 working days
    # Collected more than 3 working days after known_on (None: exempt from review).
    collected_late: Mapped[bool | None]
    reviewed_late: Mapped[bool | None]  # reviewed after review_due_on (None until reviewed)
    return_reasons: Mapped[dict | None] = mapped_column(JSON)  # {field: reason}, when returned
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("changes.id"))  # the returned change this fixes

    collected_by = relationship("Account", foreign_keys=[collected_by_id])


class VillageCounter(db.Model):
    """Maintained progress counts per village, updated in the same transaction as the change that
    moves them, so progress pages read 28 rows instead of counting a million people."""
    __tablename__ = "village_counters"
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), primary_key=True)
    people: Mapped[int] = mapped_column(default=0)  # people living here now
    houses: Mapped[int] = mapped_column(default=0)  # houses registered at the door
    orgs: Mapped[int] = mapped_column(default=0)  # open organisations


class AuditEvent(db.Model):
    """Security-relevant actions (sign-in, revealing a full ID number, issuing IDs) and every read of
    personal data. `target` names a record by table and key, never by personal data; `records` is
    how many records a read showed or sent.

    Rows are written only by fieldapp.audit (never added to the session directly): each carries its
    place in a hash chain (seq, prev_hash, row_hash), assigned when its transaction commits, so
    changing, deleting or inserting a row afterwards is detected (`flask --app fieldapp audit verify`)."""
    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    action: Mapped[str] = mapped_column(String(32), index=True)
    target: Mapped[str | None] = mapped_column(String(64), index=True)
    records: Mapped[int | None]
    detail: Mapped[str | None] = mapped_column(String(255))
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))
