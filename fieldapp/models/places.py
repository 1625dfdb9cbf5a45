"""Where collection happens: the town (or street office), its villages/communities, and campaigns."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db


class Town(db.Model):
    """A town or sub-district office. Its own quotas are the totals the police station reports;
    organisation quotas live here because the police station collects organisations itself."""
    __tablename__ = "towns"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)  # the town's code (GB/T 10114: 9 digits)
    name: Mapped[str] = mapped_column(String(64))
    office: Mapped[str] = mapped_column(String(64))  # the issuing office printed on collection IDs
    county_code: Mapped[str | None] = mapped_column(String(6))  # GB/T 2260 county-level division
    # Per-town setting: a collector assigned to sub-areas gets only those sub-areas' houses in their
    # work package (off: the whole of their villages, as before sub-areas existed).
    package_by_sub_area: Mapped[bool] = mapped_column(default=False)
    people_quota: Mapped[int | None]
    houses_quota: Mapped[int | None]
    orgs_quota: Mapped[int | None]
    lat: Mapped[float | None]
    lon: Mapped[float | None]

    villages: Mapped[list[Village]] = relationship(back_populates="town", order_by="Village.sort_order")
    campaigns: Mapped[list[Campaign]] = relationship(back_populates="town", order_by="Campaign.start_date")


class Village(db.Model):
    """A village (村) or residents' community (居委): the unit that owns houses, quotas and collectors."""
    __tablename__ = "villages"
    id: Mapped[int] = mapped_column(primary_key=True)
    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id"), index=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16), default="village")  # village | community
    people_quota: Mapped[int | None]
    houses_quota: Mapped[int | None]
    orgs_quota: Mapped[int | None]
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    sort_order: Mapped[int] = mapped_column(default=0)

    town: Mapped[Town] = relationship(back_populates="villages")
    sub_areas: Mapped[list[SubArea]] = relationship(back_populates="village", order_by="SubArea.sort_order")


SUB_AREA_KINDS = ("area", "building_group")  # 片区, 楼组


class SubArea(db.Model):
    """A part of a village that one collector or informant looks after: a 片区 (area) or a 楼组
    (building group, seed 000's unit for informants). Houses may belong to one; accounts are
    assigned to some (account_sub_areas) by their village head."""
    __tablename__ = "sub_areas"
    __table_args__ = (UniqueConstraint("village_id", "code", name="uq_sub_areas_village_code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16), default="area")  # SUB_AREA_KINDS
    sort_order: Mapped[int] = mapped_column(default=0)

    village: Mapped[Village] = relationship(back_populates="sub_areas")


class Campaign(db.Model):
    """A collection campaign with dated phases, each with the share of the quota due by its end."""
    __tablename__ = "campaigns"
    id: Mapped[int] = mapped_column(primary_key=True)
    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    start_date: Mapped[date]
    end_date: Mapped[date]

    town: Mapped[Town] = relationship(back_populates="campaigns")
    phases: Mapped[list[Phase]] = relationship(
        back_populates="campaign", order_by="Phase.start_date", cascade="all, delete-orphan")


class Phase(db.Model):
    __tablename__ = "phases"
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    start_date: Mapped[date]
    end_date: Mapped[date]  # inclusive
    target_share: Mapped[Decimal] = mapped_column(Numeric(5, 4))  # 0.6000 = 60 % of quota by end_date

    campaign: Mapped[Campaign] = relationship(back_populates="phases")
