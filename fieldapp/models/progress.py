"""Maintained daily figures for the dashboard: what each village gained per day, and what each
collector did per day. Both are updated in the same transaction as the change that moves them
(fieldapp/changefeed.py), so the dashboard's chart and per-collector columns read a few hundred small rows
instead of aggregating a million people or changes. `flask --app fieldapp recount` rebuilds them.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class VillageDay(db.Model):
    """Net change of a village's progress counters on one calendar day (may be negative: people
    who moved out). The running sum over days is the counter as of that day."""
    __tablename__ = "village_days"
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    people: Mapped[int] = mapped_column(default=0)
    houses: Mapped[int] = mapped_column(default=0)
    orgs: Mapped[int] = mapped_column(default=0)


class CollectorDay(db.Model):
    """One collector's work in one village on one day: registry changes written (and how many of
    them under a scanned door visit), visits recorded (and how many were QR scans: door proof)."""
    __tablename__ = "collector_days"
    __table_args__ = (Index("ix_collector_days_village_day", "village_id", "day"),)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    records: Mapped[int] = mapped_column(default=0)
    door_proof: Mapped[int] = mapped_column(default=0)
    visits: Mapped[int] = mapped_column(default=0)
    scans: Mapped[int] = mapped_column(default=0)
    # 及时率 (rules/timeliness.py), counted on the day the change was collected: changes that wait
    # for review, of those collected late, decided (approved or returned), returned, decided late,
    # decided with neither lateness.
    reviewable: Mapped[int] = mapped_column(default=0, server_default="0")
    collected_late: Mapped[int] = mapped_column(default=0, server_default="0")
    reviewed: Mapped[int] = mapped_column(default=0, server_default="0")
    returned: Mapped[int] = mapped_column(default=0, server_default="0")
    reviewed_late: Mapped[int] = mapped_column(default=0, server_default="0")
    timely: Mapped[int] = mapped_column(default=0, server_default="0")


class ReviewerDay(db.Model):
    """One reviewer's decisions on one village's changes on one day (the day of the decision):
    approved, returned, and how many of them after the change's due day. Issue 10 pays the entry
    allowance from these rows."""
    __tablename__ = "reviewer_days"
    __table_args__ = (Index("ix_reviewer_days_village_day", "village_id", "day"),)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    approved: Mapped[int] = mapped_column(default=0)
    returned: Mapped[int] = mapped_column(default=0)
    late: Mapped[int] = mapped_column(default=0)
