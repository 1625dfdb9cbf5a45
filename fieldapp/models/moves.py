"""Move requests (迁入待核实): a registration of a document already registered outside the
submitter's scope. It moves nobody by itself; a reviewer decides (fieldapp/moves.py)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._base import new_uid, utcnow

MOVE_STATUSES = ("pending", "confirmed", "refused")


class MoveRequest(db.Model):
    """What the submitter typed at the receiving house, kept as typed (`data`, JSON values), and the
    person it names. `from_village_id` is where the person was registered when it was asked: the
    sending village, which must be told (`acknowledged_*`) before a reviewer who sees only the
    receiving village may confirm. Who collected it and how (source, known_on, collected_at, visit,
    door proof) is kept so that the Change written on confirmation is attributed to the visit."""
    __tablename__ = "move_requests"
    __table_args__ = (Index("ix_move_requests_status_to_village", "status", "to_village_id"),
                      Index("ix_move_requests_status_from_village", "status", "from_village_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uid)  # the phone's person uid
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    from_village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    to_house_id: Mapped[int] = mapped_column(ForeignKey("houses.id"))
    to_village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    relation: Mapped[str | None] = mapped_column(String(16))
    room: Mapped[str | None] = mapped_column(String(16))
    # Police-only when the registered person or the submission is a person from abroad.
    police_only: Mapped[bool] = mapped_column(default=False)
    source: Mapped[str] = mapped_column(String(8), default="web")  # web | sync
    item_uid: Mapped[str | None] = mapped_column(String(36), index=True)  # the phone's push item
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    known_on: Mapped[date | None]
    collected_at: Mapped[datetime | None]
    visit_uid: Mapped[str | None] = mapped_column(String(36))
    door_proof: Mapped[bool] = mapped_column(default=False)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    status: Mapped[str] = mapped_column(String(12), default="pending")
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    note: Mapped[str | None] = mapped_column(String(255))

    person = relationship("Person")
    to_house = relationship("House")
    from_village = relationship("Village", foreign_keys=[from_village_id])
    to_village = relationship("Village", foreign_keys=[to_village_id])
    requested_by = relationship("Account", foreign_keys=[requested_by_id])
