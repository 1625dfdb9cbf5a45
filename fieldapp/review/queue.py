"""The entry desk's queue (/review/queue) and one item in full (/review/entries/<id>): the queries.

Rules:
- The queue lists desk.open_changes (in scope, not the reviewer's own; police only police_only
  ones), overdue first (due before the town's today), then by due day and collection time.
- Filters: village, collector, only flagged (an open flag on the change or its record), only
  overdue. Lists are paged: a village can have thousands waiting.
- Counts on top (overdue, due today, flagged) are for the whole queue, not the filtered page.
- One item is shown when the change is reviewable by the account (any state, so a decided item
  still opens); anything else is a 404.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, case, exists, func, or_, select

from .. import scope
from ..extensions import db
from ..models import Account, Change, Flag, House, Organisation, Person, Residence, Village, Visit
from ..rules.days import today as local_today
from ..rules.identity_checks import duplicate_reasons, id_mismatches
from . import desk

PER_PAGE = 50
MAX_PAGE = 10_000  # clamped so OFFSET stays sane
DUPLICATES_SHOWN = 20


@dataclass
class Filters:
    village_id: int | None = None
    collector_id: int | None = None
    flagged: bool = False
    overdue: bool = False

    def args(self) -> dict:
        """The filters as URL arguments (for the pager and the form)."""
        return {k: v for k, v in {"village": self.village_id, "collector": self.collector_id,
                                  "flagged": 1 if self.flagged else None,
                                  "overdue": 1 if self.overdue else None}.items() if v}


def filtered(account: Account, filters: Filters):
    query = desk.open_changes(account)
    if filters.village_id:
        query = query.where(Change.village_id == filters.village_id)
    if filters.collector_id:
        query = query.where(Change.collected_by_id == filters.collector_id)
    if filters.flagged:
        query = query.where(desk.open_flag_clause())
    if filters.overdue:
        query = query.where(Change.review_due_on < local_today())
    return query


def ordered(query):
    today = local_today()
    return query.order_by(case((Change.review_due_on < today, 0), else_=1), Change.review_due_on.asc(),
                          Change.collected_at, Change.id)


def page(account: Account, filters: Filters, page_no: int):
    """One page of the filtered queue (Flask-SQLAlchemy Pagination of Change)."""
    page_no = min(max(page_no, 1), MAX_PAGE)
    return db.paginate(ordered(filtered(account, filters)), page=page_no, per_page=PER_PAGE, error_out=False)


def counts(account: Account) -> dict:
    """The whole queue's figures: waiting, overdue, due today, flagged."""
    today = local_today()
    base = desk.open_changes(account).subquery()
    flagged = exists().where(desk.flag_on(base.c.id, base.c.entity, base.c.entity_id))
    row = db.session.execute(select(
        func.count(),
        func.coalesce(func.sum(case((base.c.review_due_on < today, 1), else_=0)), 0),
        func.coalesce(func.sum(case((base.c.review_due_on == today, 1), else_=0)), 0),
        func.coalesce(func.sum(case((flagged, 1), else_=0)), 0)).select_from(base)).one()
    return {"waiting": row[0], "overdue": row[1], "due_today": row[2], "flagged": row[3]}


def waiting_count(account: Account) -> int:
    return db.session.scalar(desk.open_changes(account).with_only_columns(func.count(Change.id))) or 0


def collectors(account: Account) -> list[tuple[int, str, str]]:
    """(id, collection ID, name) of everyone whose changes wait for `account`, for the filter."""
    ids = desk.open_changes(account).with_only_columns(Change.collected_by_id).distinct().subquery()
    return list(db.session.execute(select(Account.id, Account.collection_id, Account.name)
                                   .where(Account.id.in_(select(ids.c.collected_by_id))).order_by(Account.collection_id)))


def flagged_ids(change_ids) -> set[int]:
    """The changes among `change_ids` with an open flag (on the change or its record)."""
    ids = list(change_ids)
    if not ids:
        return set()
    return set(db.session.scalars(select(Change.id).where(Change.id.in_(ids), desk.open_flag_clause())))


def records_of(account: Account, changes) -> dict[tuple[str, int], object]:
    """The records the changes are about, as far as `account` may see them, by (entity, id)."""
    wanted: dict[str, set[int]] = {}
    for change in changes:
        wanted.setdefault(change.entity, set()).add(change.entity_id)
    found = {}
    for entity, query, model in (("person", scope.people(account), Person), ("house", scope.houses(account), House),
                                 ("organisation", scope.organisations(account), Organisation)):
        if wanted.get(entity):
            for record in db.session.scalars(query.where(model.id.in_(wanted[entity]))):
                found[(entity, record.id)] = record
    return found


def houses_named(account: Account, changes) -> dict[int, House]:
    """Houses named by a house_id field in the changes (a person's new home), as far as visible."""
    ids = set()
    for change in changes:
        for value in (change.fields or {}).get("house_id") or ():
            if isinstance(value, int):
                ids.add(value)
    if not ids:
        return {}
    return {h.id: h for h in db.session.scalars(scope.houses(account).where(House.id.in_(ids)))}


def village_names(ids) -> dict[int, str]:
    ids = set(ids)
    if not ids:
        return {}
    return dict(db.session.execute(select(Village.id, Village.name).where(Village.id.in_(ids))).all())


def account_names(ids) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {i: f"{cid} {name}" for i, cid, name in db.session.execute(
        select(Account.id, Account.collection_id, Account.name).where(Account.id.in_(ids)))}


def change_or_none(account: Account, change_id: int) -> Change | None:
    """The change if `account` may review changes like it (any state)."""
    return db.session.scalar(scope.reviewable_changes(account).where(Change.id == scope.key_or_404(change_id)))


def is_open(account: Account, change: Change) -> bool:
    return db.session.scalar(desk.open_changes(account).where(Change.id == change.id)
                             .with_only_columns(Change.id)) is not None


def visit_of(change: Change) -> Visit | None:
    if not change.visit_uid:
        return None
    return db.session.scalar(select(Visit).where(Visit.uid == change.visit_uid))


def history(change: Change) -> list[Change]:
    """Every change to the record, oldest first."""
    return list(db.session.scalars(select(Change).where(Change.entity == change.entity,
                                                         Change.entity_id == change.entity_id)
                                   .order_by(Change.collected_at, Change.id)))


def residences(person: Person) -> list[Residence]:
    return list(db.session.scalars(select(Residence).where(Residence.person_id == person.id)
                                   .order_by(Residence.from_date.is_(None).desc(), Residence.from_date, Residence.id)))


def open_flags(change: Change) -> list[Flag]:
    return list(db.session.scalars(select(Flag).where(desk.flag_on(change.id, change.entity, change.entity_id))
                                   .order_by(Flag.created_at, Flag.id)))


def identity(person: Person) -> dict:
    return id_mismatches(person.id_type, person.id_number, person.sex, person.birth_date)


def duplicates(account: Account, person: Person) -> list[tuple[Person, list[str]]]:
    """People in `account`'s scope who may be `person` (rules.identity_checks.duplicate_reasons)."""
    hints = []
    if person.name and person.birth_date:
        hints.append(and_(Person.name == person.name, Person.birth_date == person.birth_date))
    if person.phone:
        hints.append(Person.phone == person.phone)
    if not hints:
        return []
    mine = {"name": person.name, "birth_date": person.birth_date, "phone": person.phone}
    out = []
    for other in db.session.scalars(scope.people(account).where(Person.id != person.id, or_(*hints))
                                    .order_by(Person.id).limit(DUPLICATES_SHOWN)):
        reasons = duplicate_reasons(mine, {"name": other.name, "birth_date": other.birth_date, "phone": other.phone})
        if reasons:
            out.append((other, reasons))
    return out
