"""Where collection happens: the town (or street office), its villages/communities, and campaigns."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db


class Town(db.Model):
    """A town or sub-district office. Its own quotas are the totals the police station reports;
    organisation quotas live here because the police station collects organisations itself."""
    __tablename__ = "towns"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    office: Mapped[str] = mapped_column(String(64))  # the issuing office printed on collection IDs
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
