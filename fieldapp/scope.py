"""Server-side scoping: every query for registry data starts here, never from a bare select().

A record outside the viewer's scope answers 404, the same as a record that does not exist, so a
typed-in ID from another village reveals nothing (rules.permissions states who sees what).
"""
from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user, login_required
from sqlalchemy import Select, select

from .extensions import db
from .models import Account, Change, House, Organisation, Person, Village
from .rules.permissions import POLICE_ONLY_CATEGORIES, can, is_town_wide, may_see_category


def require(permission: str):
    """View decorator: signed in, and the role holds `permission` (403 otherwise)."""
    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not can(current_user.role, permission):
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator


def village_filter(account: Account, column, scan: bool = False):
    """A WHERE clause limiting `column` (a village_id) to the account's villages. `scan`: the caller
    reads the table through anyway (a substring search); for a town-wide role the clause is then
    written `column + 0`, which no index serves: SQLite would otherwise look up every village of
    the town in the village_id index, 5-10x slower than one pass over the table (bench/search_scale.py)."""
    if is_town_wide(account.role):
        column = column + 0 if scan else column
        return column.in_(select(Village.id).where(Village.town_id == account.town_id))
    return column.in_(account.village_ids)


def villages(account: Account) -> list[Village]:
    return list(db.session.scalars(select(Village).where(village_filter(account, Village.id))
                                   .order_by(Village.sort_order, Village.id)))


# The largest key an INTEGER primary key can hold on every backend (PostgreSQL's int4).
MAX_ID = 2**31 - 1


def key_or_404(record_id: int) -> int:
    """An id typed into the URL beyond any key the database can hold names no record: 404, the same
    as any other missing record, rather than an overflow error from the driver (500)."""
    if not 0 < record_id <= MAX_ID:
        abort(404)
    return record_id


def village_or_404(account: Account, village_id: int) -> Village:
    village = db.session.scalar(select(Village).where(Village.id == key_or_404(village_id),
                                                      village_filter(account, Village.id)))
    return village or abort(404)


def houses(account: Account, scan: bool = False) -> Select:
    return select(House).where(village_filter(account, House.village_id, scan))


def house_or_404(account: Account, house_id: int) -> House:
    return db.session.scalar(houses(account).where(House.id == key_or_404(house_id))) or abort(404)


def people(account: Account, scan: bool = False) -> Select:
    """People the account may see: in its villages, and police-only categories for police alone."""
    query = select(Person).where(village_filter(account, Person.village_id, scan))
    if not can(account.role, "registry.police_only"):
        query = query.where(Person.category.not_in(POLICE_ONLY_CATEGORIES))
    return query


def person_or_404(account: Account, person_id: int) -> Person:
    return db.session.scalar(people(account).where(Person.id == key_or_404(person_id))) or abort(404)


def organisations(account: Account, scan: bool = False) -> Select:
    return select(Organisation).where(village_filter(account, Organisation.village_id, scan))


def organisation_or_404(account: Account, org_id: int) -> Organisation:
    return db.session.scalar(organisations(account).where(Organisation.id == key_or_404(org_id))) or abort(404)


def may_see_person(account: Account, person: Person) -> bool:
    return may_see_category(account.role, person.category)


def reviewable_changes(account: Account) -> Select:
    """Changes `account` may review at the entry desk (rules.review): in its villages; changes to
    people from abroad (police_only) for police alone, and police review only those (the entry clerk
    enters everything else). The caller adds the state and "not their own collection"."""
    query = select(Change).where(village_filter(account, Change.village_id))
    return query.where(Change.police_only.is_(can(account.role, "registry.police_only")))
