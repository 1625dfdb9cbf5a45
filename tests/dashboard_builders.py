"""Builders for the dashboard's tests: the Yuping-shaped campaign, visits and tips written directly
(their writers belong to other areas), and daily rows for "as of" figures. Each commits."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from fieldapp.extensions import db
from fieldapp.models import Campaign, Phase, Tip, VillageDay, Visit


def make_campaign(town, phases=((date(2016, 4, 27), date(2016, 5, 25), "0.6"),
                                (date(2016, 5, 26), date(2016, 6, 30), "1")),
                  start=date(2016, 4, 10), end=date(2016, 10, 31)) -> Campaign:
    campaign = Campaign(town_id=town.id, name="2016 采集", start_date=start, end_date=end,
                        phases=[Phase(name=f"第{i}阶段", start_date=s, end_date=e, target_share=Decimal(share))
                                for i, (s, e, share) in enumerate(phases, 1)])
    db.session.add(campaign)
    db.session.commit()
    return campaign


def add_visit(house, account, method="scan", at: datetime | None = None) -> Visit:
    visit = Visit(house_id=house.id, village_id=house.village_id, account_id=account.id, method=method,
                  at=at or datetime.utcnow())
    db.session.add(visit)
    db.session.commit()
    return visit


def add_tip(village, assigned_to=None, state="assigned", due_on=date(2016, 5, 6)) -> Tip:
    tip = Tip(village_id=village.id, kind="move_in", source="informant", submitted_at=datetime(2016, 5, 3, 8),
              due_on=due_on, state=state, assigned_to_id=assigned_to.id if assigned_to else None)
    db.session.add(tip)
    db.session.commit()
    return tip


def add_day(village, day: date, people=0, houses=0, orgs=0) -> None:
    """A day's net change, as if records had been collected then (bulk loads and rebuilds write these)."""
    row = db.session.get(VillageDay, (village.id, day))
    if row is None:
        db.session.add(VillageDay(village_id=village.id, day=day, people=people, houses=houses, orgs=orgs))
    else:
        row.people += people
        row.houses += houses
        row.orgs += orgs
    db.session.commit()
