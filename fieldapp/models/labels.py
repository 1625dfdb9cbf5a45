"""Blank door labels (issue 12, "New houses can get door proof"): label stock an office prints
before the houses exist. Each label has a door code and a token like a house's; it is issued to a
village and printed in a batch. A collector creating a new house scans one: when the house reaches
the server it takes the label's code and token (the label is then "bound"), and the scan is the
new house's door proof. A label is bound at most once (bound_house_id set by one conditional UPDATE)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ._base import utcnow


class BlankLabel(db.Model):
    __tablename__ = "blank_labels"
    __table_args__ = (Index("ix_blank_labels_village_batch", "village_id", "batch"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    # Never equal to a house's code or a retired one (doors.labels draws against all three tables).
    door_code: Mapped[str] = mapped_column(String(16), unique=True)
    door_token: Mapped[str] = mapped_column(String(64), unique=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    batch: Mapped[str] = mapped_column(String(32))  # one printing: reprinted together
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    bound_house_id: Mapped[int | None] = mapped_column(ForeignKey("houses.id"), unique=True)
    bound_at: Mapped[datetime | None]
    bound_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
