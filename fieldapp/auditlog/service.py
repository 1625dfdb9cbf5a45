"""What the audit page may show and how its filters read (no HTTP here).

Rules:
- Only roles with `audit.view` read the log, each for their own town like every other page: the
  rows of accounts of their town, and the rows without an account that name a tip of their town (a
  resident's tip from a door's page). An admin also sees the other rows without an account: what
  the server's commands did (pruning, imports), which belong to no town. Rows naming a person from
  abroad are police-only, like the person.
- Filtering by a record ("who has looked at this person", which a resident may ask under PIPL)
  needs the record to be one the viewer may see (scope; 404 otherwise, as everywhere). For a
  person it lists every row naming them and every row naming a house they have lived in (a house
  page lists its residents).
- Rows name records by table and key, so the page and its CSV never hold personal data.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, UTC

from sqlalchemy import Select, String, and_, cast, literal, or_, select

from .. import scope
from ..extensions import db
from ..models import Account, AuditEvent, Person, Residence, Tip, Village
from ..rules import days
from ..rules.permissions import POLICE_ONLY_CATEGORIES, can

EXPORT_MAX_ROWS = 100_000  # a CSV of every read of a town for years would not open in Excel anyway
RECORD_KINDS = ("person", "house", "account", "device", "tip", "village", "organisation", "move_request", "conflict")


@dataclass
class Filters:
    account_id: int | None = None
    record: str | None = None  # "person:12"
    action: str | None = None
    since: date | None = None
    until: date | None = None


def visible_rows(viewer: Account) -> Select:
    """Every audit row `viewer` may read (see the module docstring)."""
    query = select(AuditEvent)
    town_accounts = select(Account.id).where(Account.town_id == viewer.town_id)
    town_tips = (select(literal("tip:") + cast(Tip.id, String)).join(Village, Village.id == Tip.village_id)
                 .where(Village.town_id == viewer.town_id))
    anonymous = AuditEvent.account_id.is_(None)
    if viewer.role != "admin":
        anonymous = and_(anonymous, AuditEvent.target.in_(town_tips))
    else:
        any_tip = AuditEvent.target.like("tip:%")
        anonymous = and_(anonymous, or_(AuditEvent.target.is_(None), ~any_tip, AuditEvent.target.in_(town_tips)))
    query = query.where(or_(AuditEvent.account_id.in_(town_accounts), anonymous))
    if not can(viewer.role, "registry.police_only"):
        # People from abroad are police-only: not even their keys in who-read-what.
        hidden = select(literal("person:") + cast(Person.id, String)).where(Person.category.in_(POLICE_ONLY_CATEGORIES))
        query = query.where(or_(AuditEvent.target.is_(None), AuditEvent.target.not_in(hidden)))
    return query


def parse_record(text: str | None) -> tuple[str, int] | None:
    """'person:12' -> ('person', 12); anything else -> None."""
    kind, _sep, key = (text or "").strip().partition(":")
    if kind not in RECORD_KINDS or not (key.isascii() and key.isdigit()) or not 0 < int(key) <= scope.MAX_ID:
        return None
    return kind, int(key)


def record_targets(viewer: Account, kind: str, key: int) -> list[str]:
    """The targets that mean `kind:key` was read. People and houses must be in the viewer's scope
    (404 otherwise); a person's rows include those of every house they have lived in."""
    if kind == "person":
        person = scope.person_or_404(viewer, key)
        houses = set(db.session.scalars(select(Residence.house_id).where(Residence.person_id == person.id)))
        houses.add(person.house_id)
        return [f"person:{person.id}"] + [f"house:{h}" for h in sorted(h for h in houses if h is not None)]
    if kind == "house":
        return [f"house:{scope.house_or_404(viewer, key).id}"]
    return [f"{kind}:{key}"]


def filtered(viewer: Account, filters: Filters) -> Select:
    """The viewer's rows narrowed by `filters`, newest first. Dates are the town's calendar days."""
    query = visible_rows(viewer)
    if filters.account_id is not None:
        query = query.where(AuditEvent.account_id == filters.account_id)
    if filters.record:
        kind, key = parse_record(filters.record)
        query = query.where(AuditEvent.target.in_(record_targets(viewer, kind, key)))
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.since:
        query = query.where(AuditEvent.at >= _utc_start(filters.since))
    if filters.until:
        query = query.where(AuditEvent.at < _utc_start(filters.until + timedelta(days=1)))
    return query.order_by(AuditEvent.seq.desc())


def _utc_start(day: date) -> datetime:
    """Midnight of the town's `day`, as the naive UTC the rows keep."""
    return datetime.combine(day, time(), tzinfo=days.zone()).astimezone(UTC).replace(tzinfo=None)


def account_by_collection_id(viewer: Account, collection_id: str) -> Account | None:
    """The account the filter names, if the viewer may see its rows (an account of their town)."""
    return db.session.scalar(select(Account).where(Account.collection_id == collection_id.strip().upper(),
                                                   Account.town_id == viewer.town_id))


def actions() -> list[str]:
    """The kinds of rows logged so far, for the filter's choices."""
    return list(db.session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))


def collection_ids(account_ids) -> dict[int, str]:
    ids = {i for i in account_ids if i is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(Account.id, Account.collection_id).where(Account.id.in_(ids))).all())


CSV_COLUMNS = ("seq", "time", "collection_id", "action", "target", "records", "detail", "row_hash")


def export_csv(query: Select, format_time) -> tuple[bytes, int]:
    """The rows as CSV, UTF-8 with a byte-order mark (Excel then reads the Chinese right), at most
    EXPORT_MAX_ROWS; returns the bytes and the number of rows."""
    rows = list(db.session.scalars(query.limit(EXPORT_MAX_ROWS)))
    names = collection_ids(r.account_id for r in rows)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow([r.seq, format_time(r.at), names.get(r.account_id, ""), r.action, r.target or "",
                         "" if r.records is None else r.records, r.detail or "", r.row_hash])
    return ("\ufeff" + out.getvalue()).encode("utf-8"), len(rows)
