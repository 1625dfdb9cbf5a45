"""The entry desk's own table: fabrication flags (准确率 starts here).

A flag says why a collected record may not come from a real door visit (seed 003: 坚决防止不经走访
确认…虚假信息): no scanned visit, GPS far from the house, an impossible pace, and so on
(rules/fabrication.py names the kinds and their thresholds). Flags are raised by detectors after
the record is written and stay until a reviewer clears one with a note; clearing never deletes.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._base import utcnow


class Flag(db.Model):
    """One reason to doubt one record. `key` makes raising idempotent across workers and re-runs
    (the detector names what it flagged, e.g. 'no_scan:change:123'): a second insert of the same key
    is a no-op. `entity`/`entity_id` name the record (house, person, organisation, or a tip or an
    informant's account for tip flags), `change_id` the collected change when there is one, and
    `detail` the figures behind the reason (distances, counts, the other address), from which the
    UI words it in the reader's language."""
    __tablename__ = "flags"
    __table_args__ = (Index("ix_flags_entity", "entity", "entity_id"),
                      Index("ix_flags_village_open", "village_id", "cleared_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(96), unique=True)
    kind: Mapped[str] = mapped_column(String(24), index=True)
    entity: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[int]
    change_id: Mapped[int | None] = mapped_column(ForeignKey("changes.id"), index=True)
    house_id: Mapped[int | None] = mapped_column(ForeignKey("houses.id"), index=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)  # whose work
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    cleared_at: Mapped[datetime | None]
    cleared_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    clear_note: Mapped[str | None] = mapped_column(String(255))

    change = relationship("Change")
