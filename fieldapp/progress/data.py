"""Progress figures from the maintained counters (one row per village), never from counting people.

Rules:
- collected people = people living in the village now; houses = houses registered at the door;
  organisations = open organisations (records.py keeps the counters in step).
- the town's quotas are its own figures (the police station's totals), not the sum of the villages':
  organisations are collected by the police station and have only a town quota.
- a village's status and target come from the town's current campaign (rules.campaign).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from ..extensions import db
from ..models import Campaign, Town, Village, VillageCounter
from ..rules import campaign as rules


@dataclass
class Figure:
    collected: int
    quota: int | None

    @property
    def percent(self) -> float | None:
        return rules.percent(self.collected, self.quota)

    @property
    def bar(self) -> float:
        """Width of a progress bar, 0..100 (a village over its quota fills the bar)."""
        return min(100.0, self.percent or 0.0)


@dataclass
class Row:
    village: Village | None  # None for the town's total row
    name: str
    people: Figure
    houses: Figure
    orgs: Figure
    status: str | None = None
    target: int | None = None  # people due by the end of the current phase


@dataclass
class Overview:
    town: Town
    campaign: rules.Campaign | None
    phase: rules.Phase | None
    days_left: int | None
    target_share: float | None
    rows: list[Row]
    total: Row | None


def to_rules(campaign: Campaign) -> rules.Campaign:
    return rules.Campaign(campaign.name, campaign.start_date, campaign.end_date,
                          tuple(rules.Phase(p.name, p.start_date, p.end_date, p.target_share)
                                for p in campaign.phases))


def current_campaign(town: Town, today: date) -> rules.Campaign | None:
    """The campaign running today, else the most recent one that started before today."""
    campaigns = [c for c in town.campaigns if c.start_date <= today]
    running = [c for c in campaigns if c.end_date >= today]
    chosen = (running or campaigns or [None])[-1]
    return to_rules(chosen) if chosen is not None else None


def overview(town: Town, villages: list[Village], today: date, with_total: bool) -> Overview:
    counters = {c.village_id: c for c in db.session.scalars(
        select(VillageCounter).where(VillageCounter.village_id.in_([v.id for v in villages])))}
    campaign = current_campaign(town, today)
    rows = []
    for village in villages:
        c = counters.get(village.id) or VillageCounter(people=0, houses=0, orgs=0)
        row = Row(village, village.name, Figure(c.people, village.people_quota),
                  Figure(c.houses, village.houses_quota), Figure(c.orgs, village.orgs_quota))
        if campaign is not None and village.people_quota:
            row.status = rules.progress_status(c.people, village.people_quota, campaign, today)
            row.target = rules.target_count(village.people_quota, rules.target_share_on(campaign, today))
        rows.append(row)
    total = None
    if with_total:
        total = Row(None, town.name,
                    Figure(sum(r.people.collected for r in rows), town.people_quota),
                    Figure(sum(r.houses.collected for r in rows), town.houses_quota),
                    Figure(sum(r.orgs.collected for r in rows), town.orgs_quota))
        if campaign is not None and town.people_quota:
            total.status = rules.progress_status(total.people.collected, town.people_quota, campaign, today)
            total.target = rules.target_count(town.people_quota, rules.target_share_on(campaign, today))
    return Overview(town=town, campaign=campaign, phase=rules.current_phase(campaign, today) if campaign else None,
                    days_left=rules.days_left_in_phase(campaign, today) if campaign else None,
                    target_share=rules.target_share_on(campaign, today) if campaign else None,
                    rows=rows, total=total)
