"""The change feed, writer side: what every write transaction records for the live dashboards.

Writers call note_village_changed() inside their transaction; one DashboardEvent row per village
and kind is inserted when the transaction commits, in commit order (_write_events), so a
rolled-back write tells nobody. The readers
(fieldapp/live.py: one poller per process, the dashboards' event streams) read those rows; with
FIELDAPP_REDIS_URL set, a commit that added rows also publishes a wake-up so every process's
poller reads them at once instead of at its next poll.

The same transactions keep the dashboard's daily figures (models/progress.py): note_counter_delta()
is called next to every progress-counter increment (records._bump_counter), and a flush hook counts
each new Change and Visit per collector and day. Both are upserts of one small row, so they cost one
statement and stay right under savepoints (a sync item rolled back alone takes its figures with it).
Days are the town's calendar days (rules/days.py).

Nothing here imports the readers: live.py imports this module, never the reverse.
"""
from __future__ import annotations

import logging
from datetime import date, datetime

from sqlalchemy import case, delete, event, func, select, text
from sqlalchemy.orm import Session

from .database import commit_order_lock, pending_at_commit
from .extensions import db
from .models import (Change, CollectorDay, DashboardEvent, House, Organisation, Person, ReviewerDay, Visit,
                     VillageDay)
from .rules import days, review, timeliness

log = logging.getLogger(__name__)

_PENDING = "fieldapp.changefeed.pending"  # session.info: (village_id, kind) -> the transaction that noted it
CHANNEL = "fieldapp:dashboard"  # the Redis pub/sub channel of wake-ups


# --- writers: the event feed ----------------------------------------------------------------------

def note_village_changed(village_id: int, kind: str = "change") -> None:
    """Record that `village_id`'s figures changed in the current transaction (once per village and
    kind, however many records the transaction touches: a 1,000-item push adds a handful of rows).
    The rows are written when the transaction commits (_write_events); a note made inside a
    savepoint that is rolled back goes with it."""
    session = db.session()
    pending = session.info.setdefault(_PENDING, {})
    pending.setdefault((village_id, kind), session.get_nested_transaction() or session.get_transaction())


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session, transaction) -> None:
    # A savepoint rolled back (one sync item refused): its notes, and those of savepoints inside it,
    # go with it. The whole transaction rolling back is _forget's.
    pending = session.info.get(_PENDING)
    if not pending or not transaction.nested:
        return
    for key, noted_in in list(pending.items()):
        while noted_in is not None and noted_in is not transaction:
            noted_in = noted_in.parent
        if noted_in is transaction:
            del pending[key]


FEED_LOCK = 0x6669656C  # "fiel": the advisory lock that orders feed rows by commit (PostgreSQL)


@event.listens_for(Session, "before_commit")
def _write_events(session) -> None:
    # Readers take every row with an id above the last one they saw. On PostgreSQL an id comes from
    # a sequence when the row is inserted, and a transaction that took a lower id may commit after
    # one that took a higher id: readers have moved past it and that change never reaches a
    # dashboard (pushes in parallel, two app servers). So the rows are inserted at the very end of
    # the transaction under a transaction-level lock held until the commit: ids follow commit
    # order. SQLite serialises writers, so the lock is PostgreSQL's only.
    pending = pending_at_commit(session, _PENDING)
    if not pending:
        return
    connection = session.connection()
    commit_order_lock(connection, FEED_LOCK)
    now = datetime.utcnow()
    connection.execute(DashboardEvent.__table__.insert(), [
        {"village_id": village_id, "kind": kind, "at": now} for village_id, kind in sorted(pending)])


@event.listens_for(Session, "after_commit")
def _committed(session) -> None:
    # SQLAlchemy fires after_commit for a released SAVEPOINT too, and a sync push releases one per
    # item: nothing is visible to other processes then. Waking them there made their poll find
    # nothing, and the real commit had nobody left to tell (the 5 s safety poll delivered instead).
    if session.in_nested_transaction():
        return
    # With Redis, wake every process's poller now that the rows can be read.
    if session.info.pop(_PENDING, None):
        _publish_wakeup()


@event.listens_for(Session, "after_transaction_end")
def _forget(session, transaction) -> None:
    # The next transaction notes its villages afresh (a rolled-back savepoint: _drop_rolled_back).
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


# --- writers: daily figures -----------------------------------------------------------------------

def _upsert(connection, table, keys: dict, amounts: dict) -> None:
    """INSERT the row or add `amounts` to the existing one, atomically (ON CONFLICT DO UPDATE exists
    with the same syntax on SQLite >= 3.24 and PostgreSQL)."""
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table).values({**keys, **amounts})
    stmt = stmt.on_conflict_do_update(index_elements=list(keys),
                                      set_={name: table.c[name] + stmt.excluded[name] for name in amounts})
    connection.execute(stmt)


def note_counter_delta(village_id: int, deltas: dict[str, int]) -> None:
    """Add a progress-counter change to the village's figures for today (the day it reached the
    server): the chart's cumulative line is the running sum of these rows."""
    amounts = {"people": 0, "houses": 0, "orgs": 0}
    amounts.update({k: v for k, v in deltas.items() if k in amounts})
    _upsert(db.session.connection(), VillageDay.__table__, {"village_id": village_id, "day": days.today()},
            amounts)


@event.listens_for(Session, "after_flush")
def _count_collector_work(session, _context) -> None:
    # Every Change and Visit a collector causes is counted here, whoever wrote it (web form, sync,
    # the doors helper's visits), without each writer having to remember.
    work = []
    for obj in session.new:
        if isinstance(obj, Change) and obj.collected_by_id is not None:
            work.append((obj.collected_by_id, obj.village_id, obj.collected_at, change_work(obj.door_proof,
                                                                                           obj.review_state,
                                                                                           obj.collected_late)))
        elif isinstance(obj, Visit) and obj.account_id is not None:
            work.append((obj.account_id, obj.village_id, obj.at, {"visits": 1, "scans": int(obj.method == "scan")}))
    add_collector_work(session.connection(), work)


def change_work(door_proof, review_state, collected_late) -> dict[str, int]:
    """What one new Change adds to its collector's day: a record, door proof, and for the 及时率 a
    change that waits for review (rules/timeliness.py) and whether it was collected late."""
    waits = review_state == review.PENDING
    return {"records": 1, "door_proof": int(bool(door_proof)), "reviewable": int(waits),
            "collected_late": int(waits and bool(collected_late))}


def add_collector_work(connection, work) -> None:
    """Add `work` — (account_id, village_id, moment, {records|door_proof|visits|scans: n}) — to the
    per-collector daily figures, one upsert per collector, village and day. Counted on the day the
    work was done (the phone's clock, as the Change and Visit rows keep it), so a phone that syncs
    tomorrow still credits today, as a rebuild from the rows would. Writers that insert Change rows
    with executemany (which the flush hook above does not see) call this themselves."""
    tally: dict[tuple[int, int, date], dict[str, int]] = {}
    day_of: dict = {}
    for account_id, village_id, moment, amounts in work:
        if moment not in day_of:
            # No moment yet (the column's default fills it at insert time): that is now.
            day_of[moment] = days.local_day(moment) if moment is not None else days.today()
        row = tally.setdefault((account_id, village_id, day_of[moment]), _zero())
        for name, n in amounts.items():
            row[name] += n
    for (account_id, village_id, day), amounts in tally.items():
        _upsert(connection, CollectorDay.__table__,
                {"account_id": account_id, "village_id": village_id, "day": day}, amounts)


def _zero() -> dict[str, int]:
    return {"records": 0, "door_proof": 0, "visits": 0, "scans": 0, "reviewable": 0, "collected_late": 0,
            "reviewed": 0, "returned": 0, "reviewed_late": 0, "timely": 0}


def note_review_decisions(account_id: int, change_ids, decided: int) -> None:
    """Count the review decisions `account_id` just made on `decided` of `change_ids` (review/desk.py
    calls this at the end of approve and return_change, in the same transaction): the collection
    day's 及时率 figures (collector_days) and the reviewer's day (reviewer_days), and a dashboard
    event per village. The decided rows are re-read: one decision stamps every row it claims with
    the same reviewed_at, so the latest reviewed_at among `change_ids` by this reviewer is this
    decision's (an earlier decision on the same ids has an earlier one)."""
    ids = list({int(i) for i in change_ids})
    if not decided or not ids:
        return
    session = db.session
    rows = session.execute(
        select(Change.collected_by_id, Change.village_id, Change.collected_at, Change.collected_late,
               Change.reviewed_late, Change.review_state, Change.reviewed_at)
        .where(Change.id.in_(ids), Change.reviewed_by_id == account_id,
               Change.review_state.in_((review.APPROVED, review.RETURNED)))).all()
    if not rows:
        return
    latest = max(r.reviewed_at for r in rows)
    connection = session.connection()
    collectors: dict[tuple[int, int, date], dict[str, int]] = {}
    reviewers: dict[tuple[int, date], dict[str, int]] = {}
    for r in rows:
        if r.reviewed_at != latest:
            continue
        if r.collected_by_id is not None:
            row = collectors.setdefault((r.collected_by_id, r.village_id, days.local_day(r.collected_at)),
                                        {"reviewed": 0, "returned": 0, "reviewed_late": 0, "timely": 0})
            for name, n in timeliness.decision_figures(r.review_state, r.collected_late, r.reviewed_late).items():
                row[name] += n
        mine = reviewers.setdefault((r.village_id, days.local_day(r.reviewed_at)),
                                    {"approved": 0, "returned": 0, "late": 0})
        mine["approved" if r.review_state == review.APPROVED else "returned"] += 1
        mine["late"] += int(bool(r.reviewed_late))
    for (collector_id, village_id, day), amounts in collectors.items():
        _upsert(connection, CollectorDay.__table__,
                {"account_id": collector_id, "village_id": village_id, "day": day},
                {**{n: 0 for n in ("records", "door_proof", "visits", "scans", "reviewable", "collected_late")},
                 **amounts})
    for (village_id, day), amounts in reviewers.items():
        _upsert(connection, ReviewerDay.__table__, {"account_id": account_id, "village_id": village_id, "day": day},
                amounts)
        note_village_changed(village_id)


def _day_of(column, dialect: str):
    # The town's calendar day of a UTC column (rules/days.py), in SQL: the zone's offset now, since
    # Chinese time has no DST.
    hours = int(datetime.now(days.zone()).utcoffset().total_seconds() // 3600)
    if dialect == "postgresql":
        return func.date(column + text(f"interval '{hours} hours'"))
    return func.date(column, f"{hours:+d} hours")


def rebuild_daily() -> None:
    """Rebuild both daily tables from the records (repair tool, and for bulk loads such as the demo
    that insert rows without the ORM). A village's day figures are the records living/open now,
    dated by when each was first collected, so their running sum ends at today's counters; the
    people who have since left are not in the history (the counters never count them either)."""
    session = db.session
    session.execute(delete(VillageDay))
    session.execute(delete(CollectorDay))
    session.execute(delete(ReviewerDay))
    dialect = session.connection().dialect.name

    def day_of(column):  # 'YYYY-MM-DD' on SQLite, a date on PostgreSQL
        return _day_of(column, dialect)
    first_new = {}  # entity -> select(entity_id, first collected_at)
    for entity in ("person", "organisation"):
        first_new[entity] = (select(Change.entity_id.label("eid"), func.min(Change.collected_at).label("at"))
                             .where(Change.entity == entity, Change.kind == "new")
                             .group_by(Change.entity_id).subquery())
    figures: dict[tuple[int, date], dict[str, int]] = {}

    def add(rows, name):
        for village_id, day, count in rows:
            if day is None:
                continue
            day = day if isinstance(day, date) else date.fromisoformat(str(day)[:10])
            figures.setdefault((village_id, day), {"people": 0, "houses": 0, "orgs": 0})[name] += count

    for model, entity, name, alive in ((Person, "person", "people", Person.status == "living"),
                                       (Organisation, "organisation", "orgs", Organisation.status == "open")):
        sub = first_new[entity]
        when = day_of(func.coalesce(sub.c.at, model.created_at))
        add(session.execute(select(model.village_id, when, func.count())
                            .outerjoin(sub, sub.c.eid == model.id).where(alive)
                            .group_by(model.village_id, when)), name)
    add(session.execute(select(House.village_id, day_of(House.collected_at), func.count())
                        .where(House.collected_at.is_not(None))
                        .group_by(House.village_id, day_of(House.collected_at))), "houses")
    if figures:
        session.execute(VillageDay.__table__.insert(),
                        [{"village_id": v, "day": d, **f} for (v, d), f in figures.items()])

    work: dict[tuple[int, int, date], dict[str, int]] = {}
    def n_if(condition):
        return func.sum(case((condition, 1), else_=0))
    # 及时率 figures (rules/timeliness.py): a change waits for review unless exempt or approved by a
    # reviewer's own decision at write (no due day); decided = approved, returned or corrected.
    waits = Change.review_due_on.is_not(None)
    decided = waits & Change.review_state.in_(timeliness.DECIDED_STATES)
    for account_id, village_id, day, records, proof, reviewable, late_in, reviewed, returned, reviewed_late, timely \
            in session.execute(
            select(Change.collected_by_id, Change.village_id, day_of(Change.collected_at), func.count(),
                   n_if(Change.door_proof.is_(True)), n_if(waits), n_if(waits & Change.collected_late.is_(True)),
                   n_if(decided), n_if(decided & (Change.review_state != review.APPROVED)),
                   n_if(decided & Change.reviewed_late.is_(True)),
                   n_if(decided & Change.reviewed_late.is_not(True) & Change.collected_late.is_not(True)))
            .where(Change.collected_by_id.is_not(None))
            .group_by(Change.collected_by_id, Change.village_id, day_of(Change.collected_at))):
        day = day if isinstance(day, date) else date.fromisoformat(str(day)[:10])
        row = work.setdefault((account_id, village_id, day), _zero())
        row["records"] += records
        row["door_proof"] += int(proof or 0)
        for name, n in (("reviewable", reviewable), ("collected_late", late_in), ("reviewed", reviewed),
                        ("returned", returned), ("reviewed_late", reviewed_late), ("timely", timely)):
            row[name] += int(n or 0)
    for account_id, village_id, day, visits, scans in session.execute(
            select(Visit.account_id, Visit.village_id, day_of(Visit.at), func.count(),
                   func.sum(case((Visit.method == "scan", 1), else_=0)))
            .group_by(Visit.account_id, Visit.village_id, day_of(Visit.at))):
        day = day if isinstance(day, date) else date.fromisoformat(str(day)[:10])
        row = work.setdefault((account_id, village_id, day), _zero())
        row["visits"] += visits
        row["scans"] += int(scans or 0)
    if work:
        session.execute(CollectorDay.__table__.insert(),
                        [{"account_id": a, "village_id": v, "day": d, **f} for (a, v, d), f in work.items()])

    decisions = (Change.review_state.in_(timeliness.DECIDED_STATES) & Change.review_due_on.is_not(None)
                 & Change.reviewed_by_id.is_not(None) & Change.reviewed_at.is_not(None))
    # A corrected change was returned first (rules/review.py).
    approved = Change.review_state == review.APPROVED
    reviewer_rows = [
        {"account_id": a, "village_id": v, "day": d if isinstance(d, date) else date.fromisoformat(str(d)[:10]),
         "approved": int(ok or 0), "returned": int(back or 0), "late": int(late or 0)}
        for a, v, d, ok, back, late in session.execute(
            select(Change.reviewed_by_id, Change.village_id, day_of(Change.reviewed_at), n_if(approved),
                   n_if(~approved), n_if(Change.reviewed_late.is_(True)))
            .where(decisions)
            .group_by(Change.reviewed_by_id, Change.village_id, day_of(Change.reviewed_at)))]
    if reviewer_rows:
        session.execute(ReviewerDay.__table__.insert(), reviewer_rows)


# --- the optional Redis wake-up -------------------------------------------------------------------

def redis_client(app):
    """The app's Redis client when FIELDAPP_REDIS_URL is set (e.g. redis://127.0.0.1:6379/0) and
    redis-py is installed, else None. One client per process, shared by publisher and subscriber."""
    url = app.config.get("REDIS_URL")
    if not url:
        return None
    clients = app.extensions.setdefault("fieldapp.redis", {})
    if url not in clients:
        try:
            import redis  # optional dependency: only needed when FIELDAPP_REDIS_URL is set
        except ImportError:
            log.warning("FIELDAPP_REDIS_URL is set but redis-py is not installed: polling the database")
            clients[url] = None
        else:
            clients[url] = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    return clients[url]


def _publish_wakeup() -> None:
    from flask import current_app, has_app_context
    if not has_app_context():
        return
    client = redis_client(current_app)
    if client is None:
        return
    try:
        client.publish(CHANNEL, "1")
    except Exception:  # Redis down: the database poll still delivers, a little later
        log.warning("dashboard wake-up via Redis failed", exc_info=True)


