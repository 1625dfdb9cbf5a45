"""Reading and clearing fabrication flags, scoped like the records they are on.

Who sees a flag: anyone who sees its village (scope.village_filter), except that a flag on a person
from abroad, or on a change to one (Change.police_only), exists for police alone (as the person does).
Who clears one: the entry desk's roles (entries.review) as they review changes (scope.reviewable_changes):
the entry clerk clears the flags of everything but people from abroad, police those alone; and nobody
clears a flag on their own work (nobody reviews their own collection). Clearing keeps the row: it
writes who, when and the note, once (the first of two reviewers wins).
"""
from __future__ import annotations

from sqlalchemy import Select, and_, exists, func, or_, select, update

from .. import scope
from ..audit import audit
from ..extensions import db
from ..models import Account, Change, Flag, Person, utcnow
from ..rules.permissions import POLICE_ONLY_CATEGORIES, can

PAGE = 50
NOTE_MAX = 255


class NotClearable(Exception):
    """The flag is outside what the account may clear (the view answers 404)."""


class OwnWork(Exception):
    """The flag is on the account's own work (the view answers 403)."""


class AlreadyCleared(Exception):
    """Someone cleared the flag first (the view answers 409)."""


def police_only_clause():
    """True for flags on a person from abroad or on a change to one."""
    on_person = and_(Flag.entity == "person", exists().where(
        Person.id == Flag.entity_id, Person.category.in_(POLICE_ONLY_CATEGORIES)))
    on_change = exists().where(Change.id == Flag.change_id, Change.police_only.is_(True))
    return or_(on_person, on_change)


def visible(account: Account, with_cleared: bool = False) -> Select:
    """Flags `account` may see (module doc); open ones only unless `with_cleared`."""
    query = select(Flag).where(scope.village_filter(account, Flag.village_id))
    if not with_cleared:
        query = query.where(Flag.cleared_at.is_(None))
    if not can(account.role, "registry.police_only"):
        query = query.where(~police_only_clause())
    return query


def clearable(account: Account) -> Select:
    """Open flags `account` may clear (module doc), own work included: the caller tells that apart."""
    if not can(account.role, "entries.review"):
        return select(Flag).where(False)
    query = visible(account)
    if can(account.role, "registry.police_only"):
        query = query.where(police_only_clause())
    return query


def is_police_only(flag: Flag) -> bool:
    return bool(db.session.scalar(select(police_only_clause()).where(Flag.id == flag.id)))


def may_clear(account: Account, flag: Flag) -> bool:
    """The per-flag form of clearable() (for showing the clear form)."""
    if flag.cleared_at is not None or flag.account_id == account.id or not can(account.role, "entries.review"):
        return False
    return is_police_only(flag) == can(account.role, "registry.police_only")


def clearable_or_404(account: Account, flag_id: int) -> Flag:
    flag = db.session.scalar(clearable(account).where(Flag.id == scope.key_or_404(flag_id)))
    if flag is None:
        raise NotClearable()
    return flag


def _newest(query: Select) -> list[Flag]:
    return list(db.session.scalars(query.order_by(Flag.created_at.desc(), Flag.id.desc())))


def for_house(account: Account, house_id: int, person_ids=(), org_ids=()) -> list[Flag]:
    """Open flags on the house and on its records (the people and organisations shown with it)."""
    on = [Flag.house_id == house_id, and_(Flag.entity == "house", Flag.entity_id == house_id)]
    if person_ids:
        on.append(and_(Flag.entity == "person", Flag.entity_id.in_(list(person_ids))))
    if org_ids:
        on.append(and_(Flag.entity == "organisation", Flag.entity_id.in_(list(org_ids))))
    return _newest(visible(account).where(or_(*on)))


def for_record(account: Account, entity: str, entity_id: int) -> list[Flag]:
    return _newest(visible(account).where(Flag.entity == entity, Flag.entity_id == entity_id))


def for_change(account: Account, change_id: int) -> list[Flag]:
    return _newest(visible(account).where(Flag.change_id == change_id))


def for_changes(account: Account, change_ids) -> dict[int, list[Flag]]:
    """Open flags of many changes at once ({change_id: [flags]}): one query for a queue page."""
    out: dict[int, list[Flag]] = {}
    ids = list({int(i) for i in change_ids})
    if ids:
        for flag in _newest(visible(account).where(Flag.change_id.in_(ids))):
            out.setdefault(flag.change_id, []).append(flag)
    return out


def for_village(account: Account, village_id: int, kind: str | None = None, worker_id: int | None = None,
                page: int = 1) -> tuple[list[Flag], int]:
    """One page of a village's open flags, newest first, and how many there are in all."""
    query = visible(account).where(Flag.village_id == village_id)
    if kind:
        query = query.where(Flag.kind == kind)
    if worker_id:
        query = query.where(Flag.account_id == worker_id)
    total = db.session.scalar(query.with_only_columns(func.count(Flag.id)).order_by(None))
    rows = list(db.session.scalars(query.order_by(Flag.created_at.desc(), Flag.id.desc())
                                   .limit(PAGE).offset((max(page, 1) - 1) * PAGE)))
    return rows, total or 0


def workers_in(account: Account, village_id: int) -> list[tuple[int, str]]:
    """(account id, collection id) of those whose work has open flags in the village, for the filter."""
    ids = visible(account).where(Flag.village_id == village_id, Flag.account_id.is_not(None)) \
        .with_only_columns(Flag.account_id).distinct()
    return list(db.session.execute(select(Account.id, Account.collection_id).where(Account.id.in_(ids))
                                   .order_by(Account.collection_id)).all())


def flagged_houses(village_ids: list[int], with_police_only: bool) -> set[int]:
    """Houses of `village_ids` with an open flag (the map's "flagged"): one query on the
    flags(village_id, cleared_at) index; open flags are few next to the houses."""
    if not village_ids:
        return set()
    query = select(Flag.house_id).where(Flag.village_id.in_(village_ids), Flag.cleared_at.is_(None),
                                        Flag.house_id.is_not(None))
    if not with_police_only:
        query = query.where(~police_only_clause())
    return set(db.session.scalars(query))


def clear(account: Account, flag: Flag, note: str) -> None:
    """Clear `flag` with `note` (required). One UPDATE ... WHERE cleared_at IS NULL: when two
    reviewers clear at once, one row changes and the other gets AlreadyCleared. Audited (the note
    itself stays on the flag: it may name people)."""
    note = (note or "").strip()
    if not note:
        raise ValueError("clearing a flag needs a note")
    if flag.account_id == account.id:
        raise OwnWork()
    done = db.session.execute(
        update(Flag).where(Flag.id == flag.id, Flag.cleared_at.is_(None))
        .values(cleared_at=utcnow(), cleared_by_id=account.id, clear_note=note[:NOTE_MAX])
        .execution_options(synchronize_session=False)).rowcount
    if done != 1:
        raise AlreadyCleared()
    audit(account.id, "flag.clear", f"flag:{flag.id}", flag.kind)
    db.session.expire(flag)
