"""Dashboard figures from maintained tables, never from counting people or changes.

Rules:
- collected people = people living in the village now; houses = houses registered at the door;
  organisations = open organisations (records.py keeps the counters in step).
- 及时率 (rules/timeliness.py) per village, town and collector over a period of collection days,
  from collector_days alone (the overdue ones: the pending of collection days whose due day passed).
- the town's quotas are its own figures (the police station's totals), not the sum of the villages':
  organisations are collected by the police station and have only a town quota.
- a village's status and targets come from the town's campaign on the "as of" day (rules.campaign).
  As of today the figures are the live counters; as of an earlier day they are the counters less
  what the daily table (village_days) says was added after that day.
- per-collector figures come from collector_days (one row per collector, village and day) and the
  open tips (indexed by village and state); a week starts on Monday.
Every query here reads at most (villages x days) small rows: see bench/dashboard_scale.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import case, func, select

from ..extensions import db
from ..models import (Account, Campaign, Change, CollectorDay, House, ReviewerDay, Tip, Town, Village,
                      VillageCounter, VillageDay, Visit, account_villages)
from ..rules.days import today as local_today, zone
from ..rules import campaign as rules
from ..rules import review as review_rules
from ..rules import timeliness
from ..rules.timeliness import Tally

OPEN_TIP_STATES = ("new", "assigned")
COLLECTING_ROLES = ("collector", "police", "reviewer")
SORT_KEYS = ("order", "name", "people", "houses", "orgs", "status")
# Worst first when sorting by status: behind villages lead.
STATUS_RANK = {rules.STATUS_BEHIND: 0, rules.STATUS_ON_TRACK: 1, rules.STATUS_NOT_STARTED: 2, rules.STATUS_DONE: 3,
               None: 4}


@dataclass
class Figure:
    collected: int
    quota: int | None
    target: int | None = None  # due by the end of the current phase (None: no campaign or quota)

    @property
    def percent(self) -> float | None:
        return rules.percent(self.collected, self.quota)

    @property
    def bar(self) -> float:
        """Width of a progress bar, 0..100 (a village over its quota fills the bar)."""
        return min(100.0, self.percent or 0.0)

    def as_json(self) -> dict:
        percent = self.percent
        return {"collected": self.collected, "quota": self.quota,
                "percent": None if percent is None else round(percent, 1), "bar": round(self.bar, 1),
                "target": self.target}


@dataclass
class Row:
    village: Village | None  # None for the town's total row
    name: str
    people: Figure
    houses: Figure
    orgs: Figure
    status: str | None = None
    target: int | None = None  # people due by the end of the current phase
    review: Tally = field(default_factory=Tally)  # 及时率 over the period (Overview.since..as_of)

    @property
    def village_id(self) -> int | None:
        return self.village.id if self.village is not None else None

    def as_json(self) -> dict:
        return {"village_id": self.village_id, "name": self.name, "status": self.status,
                "people": self.people.as_json(), "houses": self.houses.as_json(), "orgs": self.orgs.as_json(),
                "review": tally_json(self.review)}


@dataclass
class Overview:
    town: Town
    campaign: rules.Campaign | None
    phase: rules.Phase | None
    days_left: int | None
    target_share: float | None
    rows: list[Row]
    total: Row | None
    as_of: date = field(default_factory=local_today)
    since: date | None = None  # the 及时率's period: changes collected since..as_of

    @property
    def behind(self) -> int:
        return sum(1 for r in self.rows if r.status == rules.STATUS_BEHIND)


def to_rules(campaign: Campaign) -> rules.Campaign:
    return rules.Campaign(campaign.name, campaign.start_date, campaign.end_date,
                          tuple(rules.Phase(p.name, p.start_date, p.end_date, p.target_share)
                                for p in campaign.phases))


def current_campaign(town: Town, today: date) -> rules.Campaign | None:
    """The campaign running today, else the most recent one that started before today, else (a day
    before any campaign) the first one to come, so its phases can be shown as not started."""
    campaigns = [c for c in town.campaigns if c.phases]
    started = [c for c in campaigns if c.start_date <= today]
    running = [c for c in started if c.end_date >= today]
    chosen = (running or started or campaigns[:1] or [None])[-1]
    return to_rules(chosen) if chosen is not None else None


def _counts(village_ids: list[int], as_of: date, today: date) -> dict[int, tuple[int, int, int]]:
    counts = {vid: (0, 0, 0) for vid in village_ids}
    for c in db.session.execute(select(VillageCounter.village_id, VillageCounter.people, VillageCounter.houses,
                                       VillageCounter.orgs).where(VillageCounter.village_id.in_(village_ids))):
        counts[c[0]] = (c[1], c[2], c[3])
    if as_of < today:
        for vid, p, h, o in db.session.execute(
                select(VillageDay.village_id, func.sum(VillageDay.people), func.sum(VillageDay.houses),
                       func.sum(VillageDay.orgs))
                .where(VillageDay.village_id.in_(village_ids), VillageDay.day > as_of)
                .group_by(VillageDay.village_id)):
            now = counts[vid]
            counts[vid] = (now[0] - int(p or 0), now[1] - int(h or 0), now[2] - int(o or 0))
    return counts


def _judge(row: Row, campaign: rules.Campaign | None, as_of: date) -> None:
    """Targets for every figure with a quota; the row's status is judged on people (the quota the
    campaign's phase targets are set for)."""
    if campaign is None:
        return
    share = rules.target_share_on(campaign, as_of)
    for figure in (row.people, row.houses, row.orgs):
        if figure.quota is not None:
            figure.target = rules.target_count(figure.quota, share)
    if row.people.quota is not None:
        row.status = rules.progress_status(row.people.collected, row.people.quota, campaign, as_of)
        row.target = row.people.target


def overview(town: Town, villages: list[Village], as_of: date, with_total: bool, sort: str = "order",
             descending: bool = False, today: date | None = None, since: date | None = None) -> Overview:
    """Figures for `villages` (already scoped by the caller) and, for town-wide viewers, the town.
    The 及时率 covers changes collected from `since` (default: default_since) to `as_of`."""
    today = today or local_today()
    counts = _counts([v.id for v in villages], as_of, today)
    campaign = current_campaign(town, as_of)
    since = since or default_since(campaign, as_of)
    reviews = review_tallies([v.id for v in villages], since, as_of, today)
    rows = []
    for village in villages:
        people, houses, orgs = counts[village.id]
        row = Row(village, village.name, Figure(people, village.people_quota),
                  Figure(houses, village.houses_quota), Figure(orgs, village.orgs_quota))
        _judge(row, campaign, as_of)
        for tally in reviews.get(village.id, {}).values():
            row.review.add(tally)
        rows.append(row)
    sort_rows(rows, sort, descending)
    total = None
    if with_total:
        total = Row(None, town.name,
                    Figure(sum(r.people.collected for r in rows), town.people_quota),
                    Figure(sum(r.houses.collected for r in rows), town.houses_quota),
                    Figure(sum(r.orgs.collected for r in rows), town.orgs_quota))
        _judge(total, campaign, as_of)
        for r in rows:
            total.review.add(r.review)
    return Overview(town=town, campaign=campaign, phase=rules.current_phase(campaign, as_of) if campaign else None,
                    days_left=rules.days_left_in_phase(campaign, as_of) if campaign else None,
                    target_share=rules.target_share_on(campaign, as_of) if campaign else None,
                    rows=rows, total=total, as_of=as_of, since=since)


def default_since(campaign: rules.Campaign | None, as_of: date) -> date:
    """The 及时率's period when none is asked for: from the campaign's start (when it started by
    `as_of`), else from the first of `as_of`'s month."""
    if campaign is not None and campaign.start <= as_of:
        return campaign.start
    return as_of.replace(day=1)


def tally_json(t: Tally) -> dict:
    rate = t.rate
    return {"pending": t.pending, "approved": t.approved, "returned": t.returned, "overdue": t.overdue,
            "late": t.late, "judged": t.judged, "rate": None if rate is None else round(rate, 1)}


def utc_bounds(since: date, until: date) -> tuple[datetime, datetime]:
    """The stored (naive UTC) moments of the town's days since..until: [start, end)."""
    def start_of(day: date) -> datetime:
        return datetime.combine(day, time(), tzinfo=zone()).astimezone(UTC).replace(tzinfo=None)
    return start_of(since), start_of(until + timedelta(days=1))


def last_overdue_day(today: date) -> date:
    """The latest collection day whose changes, still pending, are overdue on `today`: the due day
    (rules.review.review_due_on) only grows with the collection day, so every earlier day's are too."""
    day = today - timedelta(days=1)
    while review_rules.review_due_on(day) >= today:
        day -= timedelta(days=1)
    return day


def review_tallies(village_ids: list[int], since: date, until: date, today: date
                   ) -> dict[int, dict[int, Tally]]:
    """{village_id: {collector_id: Tally}} for the changes collected since..until (rules/timeliness.py),
    from the maintained collector_days rows alone: pending = waiting - decided, and the pending ones
    are overdue when their collection day is at most last_overdue_day(today)."""
    out: dict[int, dict[int, Tally]] = {}
    if not village_ids or since > until:
        return out
    overdue_day = last_overdue_day(today)
    waiting = CollectorDay.reviewable - CollectorDay.reviewed
    for account_id, village_id, reviewable, late_in, reviewed, returned, reviewed_late, timely, overdue in \
            db.session.execute(
            select(CollectorDay.account_id, CollectorDay.village_id, func.sum(CollectorDay.reviewable),
                   func.sum(CollectorDay.collected_late), func.sum(CollectorDay.reviewed),
                   func.sum(CollectorDay.returned), func.sum(CollectorDay.reviewed_late), func.sum(CollectorDay.timely),
                   func.sum(case((CollectorDay.day <= overdue_day, waiting), else_=0)))
            .where(CollectorDay.village_id.in_(village_ids), CollectorDay.day >= since, CollectorDay.day <= until)
            .group_by(CollectorDay.account_id, CollectorDay.village_id)):
        t = out.setdefault(village_id, {}).setdefault(account_id, Tally())
        t.collected, t.collected_late, t.reviewed = int(reviewable or 0), int(late_in or 0), int(reviewed or 0)
        t.returned, t.reviewed_late, t.timely = int(returned or 0), int(reviewed_late or 0), int(timely or 0)
        t.pending = max(0, t.collected - t.reviewed)
        t.overdue = max(0, int(overdue or 0))
    return out


def sort_rows(rows: list[Row], key: str, descending: bool) -> None:
    """Sort in place: the town's own order, name, percentage of a quota (no quota sorts last) or
    status (behind first). Ties keep the town's order."""
    rows.sort(key=lambda r: r.village.sort_order if r.village else 0)
    if key == "name":
        rows.sort(key=lambda r: r.name, reverse=descending)
    elif key in ("people", "houses", "orgs"):
        with_pct = [r for r in rows if getattr(r, key).percent is not None]
        without = [r for r in rows if getattr(r, key).percent is None]
        with_pct.sort(key=lambda r: getattr(r, key).percent, reverse=descending)
        rows[:] = with_pct + without
    elif key == "status":
        rows.sort(key=lambda r: STATUS_RANK.get(r.status, 4), reverse=descending)
    elif descending:
        rows.reverse()


# --- per collector -----------------------------------------------------------------------------------

@dataclass
class CollectorRow:
    account_id: int
    collection_id: str
    name: str
    today: int = 0
    week: int = 0
    door_proof: int = 0  # records this week collected under a scanned door visit
    visits: int = 0  # visits this week
    scans: int = 0  # ... of which opened by scanning the door's QR code (door proof)
    open_tips: int = 0
    overdue_tips: int = 0
    review: Tally = field(default_factory=Tally)  # 及时率 of their collection over the period


@dataclass
class Collectors:
    rows: list[CollectorRow]
    unassigned_tips: int
    unassigned_overdue: int
    week_start: date
    since: date | None = None


def collectors(town_id: int, village_ids: list[int], as_of: date, since: date | None = None) -> Collectors:
    """Work per collector in `village_ids` on the `as_of` day and in its week (Monday..as_of), and the
    open tip tasks (new or assigned) assigned to each; overdue = due before `as_of`. Collectors of
    these villages with nothing yet are listed too, with zeros."""
    week_start = as_of - timedelta(days=as_of.weekday())
    rows: dict[int, CollectorRow] = {}
    work = db.session.execute(
        select(CollectorDay.account_id,
               func.sum(case((CollectorDay.day == as_of, CollectorDay.records), else_=0)),
               func.sum(CollectorDay.records), func.sum(CollectorDay.door_proof),
               func.sum(CollectorDay.visits), func.sum(CollectorDay.scans))
        .where(CollectorDay.village_id.in_(village_ids), CollectorDay.day >= week_start, CollectorDay.day <= as_of)
        .group_by(CollectorDay.account_id)).all()
    tips = db.session.execute(
        select(Tip.assigned_to_id, func.count(), func.sum(case((Tip.due_on < as_of, 1), else_=0)))
        .where(Tip.village_id.in_(village_ids), Tip.state.in_(OPEN_TIP_STATES))
        .group_by(Tip.assigned_to_id)).all()
    staff = select(account_villages.c.account_id).where(account_villages.c.village_id.in_(village_ids))
    ids = {w[0] for w in work} | {t[0] for t in tips if t[0] is not None}
    accounts = db.session.execute(
        select(Account.id, Account.collection_id, Account.name)
        .where(Account.town_id == town_id,
               (Account.id.in_(ids)) | (Account.id.in_(staff) & Account.role.in_(COLLECTING_ROLES)
                                        & Account.revoked_at.is_(None)))).all()
    for account_id, collection_id, name in accounts:
        rows[account_id] = CollectorRow(account_id, collection_id, name)
    for account_id, today_n, week_n, proof, visits, scans in work:
        if account_id in rows:
            r = rows[account_id]
            r.today, r.week, r.door_proof, r.visits, r.scans = (int(today_n or 0), int(week_n or 0), int(proof or 0),
                                                                 int(visits or 0), int(scans or 0))
    unassigned = unassigned_overdue = 0
    for account_id, open_n, overdue in tips:
        if account_id is None or account_id not in rows:
            unassigned += open_n
            unassigned_overdue += int(overdue or 0)
        else:
            rows[account_id].open_tips, rows[account_id].overdue_tips = open_n, int(overdue or 0)
    for by_collector in review_tallies(village_ids, since or as_of.replace(day=1), as_of, local_today()).values():
        for account_id, tally in by_collector.items():
            if account_id in rows:
                rows[account_id].review.add(tally)
    ordered = sorted(rows.values(), key=lambda r: (-r.overdue_tips, -r.week, r.collection_id))
    return Collectors(ordered, unassigned, unassigned_overdue, week_start, since or as_of.replace(day=1))


# --- the daily chart ---------------------------------------------------------------------------------

@dataclass
class Series:
    """Cumulative people per day over the campaign window, with the expected line and phase targets."""
    start: date
    end: date  # last day drawn (the campaign's last phase end, or as_of when later)
    as_of: date
    quota: int | None
    collected: list[tuple[date, int]]  # cumulative at the end of each day start..min(as_of, end)
    expected: list[tuple[date, int]]  # rules.expected_count on the line's corners and weekly days
    targets: list[tuple[rules.Phase, int]]  # each phase's target count on its last day


def daily_series(village_ids: list[int], quota: int | None, campaign: rules.Campaign, as_of: date) -> Series:
    """The cumulative people line for the chart: the sum of village_days up to each day (what came
    before the campaign is the starting level), against rules.expected_count for every day."""
    start = campaign.phases[0].start - timedelta(days=1)
    end = campaign.phases[-1].end
    rows = db.session.execute(
        select(VillageDay.day, func.sum(VillageDay.people))
        .where(VillageDay.village_id.in_(village_ids), VillageDay.day <= as_of)
        .group_by(VillageDay.day).order_by(VillageDay.day)).all()
    level, index = 0, 0
    while index < len(rows) and rows[index][0] <= start:
        level += int(rows[index][1] or 0)
        index += 1
    per_day = {d: int(n or 0) for d, n in rows[index:]}
    collected = []
    day = start
    last = min(as_of, end)
    while day <= last:
        level += per_day.get(day, 0)
        collected.append((day, level))
        day += timedelta(days=1)
    expected, targets = [], []
    if quota:
        # The expected line is straight within a phase and flat between phases, so its corners
        # (phase ends and the days before phase starts) draw it exactly; the weekly days and the
        # as-of day are added for the table that stands in for the chart.
        corners = {start, end, last} | {start + timedelta(days=7 * k) for k in range((end - start).days // 7 + 1)}
        for phase in campaign.phases:
            corners |= {phase.start - timedelta(days=1), phase.end}
        expected = [(d, rules.expected_count(quota, campaign, d)) for d in sorted(corners) if start <= d <= end]
        targets = [(p, rules.target_count(quota, p.target_share)) for p in campaign.phases]
    return Series(start, end, as_of, quota, collected, expected, targets)


# --- houses not yet visited -----------------------------------------------------------------------

def not_visited(village_id: int):
    """Houses of the village nobody has been to: no Visit row and never registered at the door
    (collected_at NULL). Both conditions use indexes (visits.house_id; houses.village_id)."""
    return (select(House).where(House.village_id == village_id, House.collected_at.is_(None),
                                ~select(Visit.id).where(Visit.house_id == House.id).exists()))


# --- late items and reviewer throughput (rules/timeliness.py) ----------------------------------------

def late_changes(village_ids: list[int], since: date, until: date, today: date, collector_id: int | None = None):
    """The changes collected since..until in `village_ids` that count as late (rules.timeliness):
    decided and collected or reviewed late, or pending past their due day; newest first. Changes
    to people from abroad (police only) are left out: this list is for the entry desk's
    supervisors. The period's range on changes.collected_at uses its index."""
    start, end = utc_bounds(since, until)
    decided = Change.review_state.in_(timeliness.DECIDED_STATES)
    late = ((decided & ((Change.collected_late.is_(True)) | (Change.reviewed_late.is_(True))))
            | ((Change.review_state == review_rules.PENDING) & (Change.review_due_on < today)))
    query = (select(Change).where(Change.village_id.in_(village_ids), Change.collected_at >= start,
                                  Change.collected_at < end, Change.review_due_on.is_not(None),
                                  Change.police_only.is_(False), late)
             .order_by(Change.collected_at.desc(), Change.id.desc()))
    if collector_id is not None:
        query = query.where(Change.collected_by_id == collector_id)
    return query


@dataclass
class ThroughputRow:
    account_id: int
    collection_id: str
    name: str
    period: str  # 'YYYY-MM-DD' or 'YYYY-MM'
    approved: int = 0
    returned: int = 0
    late: int = 0

    @property
    def decided(self) -> int:
        return self.approved + self.returned


def throughput(village_ids: list[int], since: date, until: date, by_month: bool) -> list[ThroughputRow]:
    """Decisions per reviewer and day (or month) in `village_ids` from reviewer_days (one row per
    reviewer, village and day): approved, returned and late; ordered by period, then reviewer."""
    if not village_ids:
        return []
    found: dict[tuple[str, int], ThroughputRow] = {}
    for account_id, collection_id, name, day, approved, returned, late in db.session.execute(
            select(ReviewerDay.account_id, Account.collection_id, Account.name, ReviewerDay.day,
                   func.sum(ReviewerDay.approved), func.sum(ReviewerDay.returned), func.sum(ReviewerDay.late))
            .join(Account, Account.id == ReviewerDay.account_id)
            .where(ReviewerDay.village_id.in_(village_ids), ReviewerDay.day >= since, ReviewerDay.day <= until)
            .group_by(ReviewerDay.account_id, Account.collection_id, Account.name, ReviewerDay.day)):
        period = day.strftime("%Y-%m") if by_month else day.isoformat()
        row = found.setdefault((period, account_id), ThroughputRow(account_id, collection_id, name, period))
        row.approved += int(approved or 0)
        row.returned += int(returned or 0)
        row.late += int(late or 0)
    return sorted(found.values(), key=lambda r: (r.period, r.collection_id))
