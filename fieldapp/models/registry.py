"""The registry itself: houses, people, where people live (residences) and organisations.

Current state lives in these rows; every change to them is also written as a Change (activity.py),
so nothing is overwritten without a trace. `version` counts changes to a row: forms and the phone
send the version they started from, and a mismatch is a concurrent edit, never a silent overwrite.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._base import new_uid, utcnow

HOUSE_USES = ("owner", "rented", "group_rental", "vacant", "commercial", "other")
PERSON_CATEGORIES = ("local", "migrant", "separated", "abroad")
PERSON_STATUSES = ("living", "left", "merged")
MOVE_IN_REASONS = ("work", "study", "family", "business", "other")
AWAY_DURATIONS = ("lt6m", "6m_1y", "1y_2y", "2y_5y", "gt5y")
ORG_KINDS = ("community_unit", "shop", "factory", "company", "school", "other")
ORG_STATUSES = ("open", "closed")


class House(db.Model):
    """A house (房屋): addressable down to the door, with its door code and, once visited, a position."""
    __tablename__ = "houses"
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uid)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    # The sub-area (片区/楼组) inside the village, when the village has them.
    sub_area_id: Mapped[int | None] = mapped_column(ForeignKey("sub_areas.id", ondelete="SET NULL"), index=True)
    sub_area = relationship("SubArea", lazy="select")
    door_code: Mapped[str] = mapped_column(String(16), unique=True)
    door_token: Mapped[str] = mapped_column(String(64), unique=True)
    # Address parts: a village house is group + number (3组27号); a town house is road/lane/number.
    group_name: Mapped[str | None] = mapped_column(String(32))
    road: Mapped[str | None] = mapped_column(String(64))
    lane: Mapped[str | None] = mapped_column(String(32))
    number: Mapped[str] = mapped_column(String(32))
    building: Mapped[str | None] = mapped_column(String(32))
    room: Mapped[str | None] = mapped_column(String(32))
    # Lower-cased concatenation of the parts: what address search matches against.
    address_key: Mapped[str] = mapped_column(String(255), index=True)
    # The door's identity (rules.address.address_identity): unique, so one address is one house.
    # NULL for a duplicate a phone created offline (flagged for a reviewer to merge), for a house
    # merged into another, and for duplicates that predate the rule.
    address_identity: Mapped[str | None] = mapped_column(String(255), unique=True)
    # Set when a reviewer merged this house into another (fieldapp/merging.py): it no longer counts.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("houses.id"))
    use: Mapped[str | None] = mapped_column(String(16))
    owner_name: Mapped[str | None] = mapped_column(String(64))
    owner_phone: Mapped[str | None] = mapped_column(String(16))
    tenant_name: Mapped[str | None] = mapped_column(String(64))
    tenant_phone: Mapped[str | None] = mapped_column(String(16))
    rental_registered: Mapped[bool] = mapped_column(default=False)
    rental_record_no: Mapped[str | None] = mapped_column(String(32))
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    # Where lat/lon came from: None for the register's (or demo) position, else the first visit with
    # a good GPS fix (accuracy within rules.visits), which then becomes the house's known position.
    position_accuracy_m: Mapped[float | None]
    position_visit_id: Mapped[int | None]  # no FK: visits already point at houses
    door_code_issued_at: Mapped[datetime | None]
    collected_at: Mapped[datetime | None]  # first registered at the door; None = only in the register
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    village = relationship("Village")
    residences: Mapped[list[Residence]] = relationship(back_populates="house")


class Person(db.Model):
    """A person (人员). Registered where they actually live (按现住地登记): house_id/village_id are the
    current residence, kept in step with the open Residence row; when they leave, the last ones stay."""
    __tablename__ = "people"
    __table_args__ = (
        UniqueConstraint("id_type", "id_number", name="uq_people_id_type_id_number"),
        Index("ix_people_village_status", "village_id", "status"),
        # Search (fieldapp/search/service.py): names from their first character. PostgreSQL's
        # pattern_ops serve LIKE 'prefix%' whatever the database collation; SQLite gets a plain index.
        Index("ix_people_name", "name", postgresql_ops={"name": "varchar_pattern_ops"}),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uid)
    name: Mapped[str] = mapped_column(String(64))
    sex: Mapped[str] = mapped_column(String(1))  # GB/T 2261.1
    id_type: Mapped[str] = mapped_column(String(3))  # rules.codes.ID_TYPE
    id_number: Mapped[str] = mapped_column(String(32))
    birth_date: Mapped[date | None]
    ethnicity: Mapped[str | None] = mapped_column(String(2))  # GB/T 3304
    nationality: Mapped[str | None] = mapped_column(String(3))  # ISO 3166-1 alpha-3, people from abroad
    phone: Mapped[str | None] = mapped_column(String(16), index=True)  # search by phone
    hukou_division: Mapped[str | None] = mapped_column(String(6))  # GB/T 2260
    hukou_address: Mapped[str | None] = mapped_column(String(128))
    hukou_type: Mapped[str | None] = mapped_column(String(1))
    category: Mapped[str] = mapped_column(String(16))  # PERSON_CATEGORIES; 'abroad' is police-only
    move_in_date: Mapped[date | None]
    move_in_reason: Mapped[str | None] = mapped_column(String(16))
    away_duration: Mapped[str | None] = mapped_column(String(8))
    employer_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    status: Mapped[str] = mapped_column(String(8), default="living")
    left_date: Mapped[date | None]
    left_reason: Mapped[str | None] = mapped_column(String(128))
    house_id: Mapped[int | None] = mapped_column(ForeignKey("houses.id"), index=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    # status 'merged': this record was the same person as another (fieldapp/merging.py).
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    house: Mapped[House | None] = relationship()
    employer = relationship("Organisation", foreign_keys=[employer_id])
    residences: Mapped[list[Residence]] = relationship(back_populates="person", order_by="Residence.id")


class Residence(db.Model):
    """A person living at a house from one date to another: moves add rows, history is never rewritten."""
    __tablename__ = "residences"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    house_id: Mapped[int] = mapped_column(ForeignKey("houses.id"), index=True)
    from_date: Mapped[date | None]
    to_date: Mapped[date | None]  # None while they live there
    relation: Mapped[str | None] = mapped_column(String(2))  # GB/T 4761, to the householder
    room: Mapped[str | None] = mapped_column(String(32))

    person: Mapped[Person] = relationship(back_populates="residences")
    house: Mapped[House] = relationship(back_populates="residences")


class Organisation(db.Model):
    """An organisation (单位): community unit, shop, factory... at a house; employees point to it."""
    __tablename__ = "organisations"
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uid)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    house_id: Mapped[int] = mapped_column(ForeignKey("houses.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    uscc: Mapped[str | None] = mapped_column(String(18), unique=True)
    legal_rep: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(16))
    employee_count: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(8), default="open")
    closed_date: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    house: Mapped[House] = relationship()
    village = relationship("Village")
