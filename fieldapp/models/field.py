"""What happens at the door: visits (proof of presence), retired door codes, informant tips, and the
dashboard's event feed.

A visit is recorded when a collector opens a house (by scanning its door QR, typing its short code
or picking it from a list). Records carry the visit they were collected under: only a scanned visit
is door proof. Tips (信息提供情况登记) come from informants or from anyone at a door's public page and
become tasks for the village's collectors with a 3-working-day deadline.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._base import new_uid, utcnow

VISIT_METHODS = ("scan", "code", "list")
TIP_KINDS = ("move_in", "move_out", "new_rental", "group_rental", "org_opened", "org_closed", "other")
TIP_SOURCES = ("informant", "public")
# new -> assigned -> valid | invalid (verified, with the collector's note) -> closed
TIP_STATES = ("new", "assigned", "valid", "invalid", "closed")


class Visit(db.Model):
    """A collector at a door. `uid` is made on the phone (visits are recorded offline and synced).
    `at` is the phone's clock; `distance_m` is from the house's known position when one existed."""
    __tablename__ = "visits"
    __table_args__ = (
        Index("ix_visits_account_at", "account_id", "at"),
        Index("ix_visits_village_at", "village_id", "at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uid)
    house_id: Mapped[int] = mapped_column(ForeignKey("houses.id"), index=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    method: Mapped[str] = mapped_column(String(8))  # VISIT_METHODS
    at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    accuracy_m: Mapped[float | None]
    distance_m: Mapped[float | None]

    house = relationship("House")
    account = relationship("Account")

    @property
    def is_door_proof(self) -> bool:
        return self.method == "scan"


class RetiredDoorCode(db.Model):
    """A door code taken out of use (damaged or stolen label, reprint with a new code). Its token no
    longer opens the house; the public page says the code was retired. Only a hash of the token is
    kept, so a leaked database cannot be used to print working copies of old labels."""
    __tablename__ = "retired_door_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    house_id: Mapped[int] = mapped_column(ForeignKey("houses.id"), index=True)
    door_code: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    reason: Mapped[str] = mapped_column(String(16))  # damaged | stolen | reprint | other
    retired_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))


class Tip(db.Model):
    """A tip about a door (信息提供): what changed there, sent by an informant (with a collection ID) or
    by anyone from the door's public page (with a contact phone). It is a task for the village's
    collectors, due `due_on` (3 working days after it arrived); verifying it needs a visit."""
    __tablename__ = "tips"
    __table_args__ = (
        Index("ix_tips_village_state", "village_id", "state"),
        Index("ix_tips_informant_state", "informant_id", "state"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uid)
    house_id: Mapped[int | None] = mapped_column(ForeignKey("houses.id"), index=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    address_text: Mapped[str | None] = mapped_column(String(128))  # when the sender named no known house
    kind: Mapped[str] = mapped_column(String(16))  # TIP_KINDS
    happened_on: Mapped[date | None]
    details: Mapped[str | None] = mapped_column(Text)
    photo_uid: Mapped[str | None] = mapped_column(String(36))
    source: Mapped[str] = mapped_column(String(12))  # TIP_SOURCES
    informant_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    contact_phone: Mapped[str | None] = mapped_column(String(16))  # public tips only
    sender_key: Mapped[str | None] = mapped_column(String(64), index=True)  # keyed hash of the sender's IP, for rate limits
    submitted_at: Mapped[datetime]  # as the sender's phone recorded it
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    due_on: Mapped[date]
    state: Mapped[str] = mapped_column(String(12), default="new")  # TIP_STATES
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    assigned_at: Mapped[datetime | None]
    verified_at: Mapped[datetime | None]
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    verify_visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))
    verify_note: Mapped[str | None] = mapped_column(String(255))
    # valid | invalid once verified, kept when the tip is closed (the state then only says "closed"):
    # the informant's rewards count valid verdicts.
    verdict: Mapped[str | None] = mapped_column(String(8))
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    version: Mapped[int] = mapped_column(default=1)

    house = relationship("House")
    village = relationship("Village")
    informant = relationship("Account", foreign_keys=[informant_id])
    assigned_to = relationship("Account", foreign_keys=[assigned_to_id])
    verify_visit = relationship("Visit")


class DashboardEvent(db.Model):
    """An append-only feed of 'village X changed' for live dashboards. Every process writes rows in
    the same transaction as the change; every dashboard stream reads rows after its cursor. This is
    what makes live updates work across gunicorn workers with nothing but the database. Old rows
    are pruned; a stream whose cursor fell behind the oldest row just refetches everything."""
    __tablename__ = "dashboard_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    kind: Mapped[str] = mapped_column(String(16))  # change | visit | tip
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
